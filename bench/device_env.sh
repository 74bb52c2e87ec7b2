# Source on the GPU host (bash): put the wheels carried in .whl/ (click, nvtx, cupti-python,
# pyelftools; see BENCHMARKS.md) and this checkout on python3's path, with a `roofprof` command.
#     . bench/device_env.sh
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "device_env: wheel install failed" >&2
printf '#!/bin/sh\nexec python3 -m roofprof "$@"\n' > /tmp/site/roofprof
chmod +x /tmp/site/roofprof
export PYTHONPATH="/tmp/site:$PWD" PATH="/tmp/site:$PATH"
# roofprof needs pandas 3 (its text columns are categoricals); --no-deps above does not check it
python3 -c 'import pandas, sys; v = pandas.__version__; print(f"device_env: pandas {v}", file=sys.stderr); sys.exit(int(v.split(".")[0]) < 3)' \
  || echo "device_env: roofprof needs pandas>=3.0: move .whl/optional/pandas-3*.whl into .whl/" >&2
