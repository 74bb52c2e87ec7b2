#!/usr/bin/env bash
# Issue 15 on a host with 2 GPUs (nvidia-h200-x2), from the repository root, wheels in .whl/:
#     bash bench/gpu_issue15.sh PART OUTDIR
#     PART: tests   the machine, then tests/test_gpu_multi.py without --include-nccl: record,
#                   trace, join and ranks of examples/tp_llama.py on 2 ranks (at most 9 min);
#                   the recordings are kept under OUTDIR/keep for the README and fixtures
#           nccl    the --include-nccl recording, whatever it does (at most 5 min)
set -u
part=${1:?usage: gpu_issue15.sh PART OUTDIR}
out=${2:?usage: gpu_issue15.sh PART OUTDIR}
mkdir -p "$out/keep"
. bench/device_env.sh
# NVLink multicast stays off (KINDS.md: it can put the host's shared GPUs out of service)
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export ROOFPROF_GPU_TESTS=1 ROOFPROF_GPU_KEEP="$out/keep"
case "$part" in
tests)
  { nvidia-smi -L; nvidia-smi topo -m; ncu --version | tail -1
    python3 -c 'import torch; print("torch", torch.__version__, "gpus", torch.cuda.device_count())'
  } 2>&1 | tee "$out/machine.txt"
  timeout 560 python3 -m pytest -m gpu -v -rA -p no:cacheprovider tests/test_gpu_multi.py \
    -k "not include_nccl" 2>&1 | tee "$out/gpu_multi_tests.log" | tail -30 ;;
nccl)
  timeout 400 python3 -m pytest -m gpu -v -rA -p no:cacheprovider tests/test_gpu_multi.py \
    -k include_nccl 2>&1 | tee "$out/gpu_multi_nccl.log" | tail -30 ;;
*) echo "unknown part $part"; exit 2 ;;
esac
