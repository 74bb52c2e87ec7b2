# Source on the GPU host (bash): put the wheels carried in .whl/ (click, nvtx, cupti-python,
# pyelftools; see BENCHMARKS.md) and this checkout on python3's path, with a `roofprof` command.
#     . bench/device_env.sh
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "device_env: wheel install failed" >&2
printf '#!/bin/sh\nexec python3 -m roofprof "$@"\n' > /tmp/site/roofprof
chmod +x /tmp/site/roofprof
export PYTHONPATH="/tmp/site:$PWD" PATH="/tmp/site:$PATH"
