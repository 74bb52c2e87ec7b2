# Source on the GPU host (bash): put the wheels carried in .whl/ (click, nvtx, cupti-python,
# pyelftools; see BENCHMARKS.md) and this checkout on python3's path, with a `roofprof` command.
#     . bench/device_env.sh
# .whl/ is made here (ignored: `echo /.whl/ >> .git/info/exclude`), for the host's Python 3.12,
# one wheel each (19 MB in all, 2026-12-06): pandas 3.1.1, nvtx 0.2.17, cupti-python 13.0.1 (it
# matches the host's CUPTI 13.0; its own dependencies come with the host's torch), click 8.5.1,
# pytest 9.2.0 with pluggy, iniconfig, packaging, pygments, hypothesis with sortedcontainers,
# tzdata, python-dateutil, pyelftools; each by
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#       --platform manylinux2014_x86_64 -d .whl NAME==VERSION
# (duckdb's 25 MB wheel would put the tree over the 64 MiB the device takes: the one-GPU tests do
# not need it; tests/test_gpu_multi.py's dataset steps do).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "device_env: wheel install failed" >&2
printf '#!/bin/sh\nexec python3 -m roofprof "$@"\n' > /tmp/site/roofprof
chmod +x /tmp/site/roofprof
export PYTHONPATH="/tmp/site:$PWD" PATH="/tmp/site:$PATH"
# roofprof needs pandas 3 (its text columns are categoricals); --no-deps above does not check it
python3 -c 'import pandas, sys; v = pandas.__version__; print(f"device_env: pandas {v}", file=sys.stderr); sys.exit(int(v.split(".")[0]) < 3)' \
  || echo "device_env: roofprof needs pandas>=3.0: move .whl/optional/pandas-3*.whl into .whl/" >&2
