#!/usr/bin/env bash
# Issue 15 on a host with 2 GPUs (nvidia-h200-x2), from the repository root, wheels in .whl/:
#     bash bench/gpu_issue15.sh PART OUTDIR
#     PART: tests   the machine, then tests/test_gpu_multi.py without --include-nccl: record,
#                   trace, join and ranks of examples/tp_llama.py on 2 ranks (at most 9 min);
#                   the recordings are kept under OUTDIR/keep for the README and fixtures
#           nccl    the --include-nccl recording, whatever it does (at most 5 min)
#           shmem   --include-nccl with ncu's --communicator shmem (at most 4 min)
#           rawtrace the tracer hook's raw CUPTI records of both ranks (about 1 min)
# The wheels carried in .whl/ must include duckdb (`roofprof ranks` reads the dataset with it).
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
shmem)  # --include-nccl with ncu's shared-memory communicator (its docs' advice for collectives
  # launched from one process tree): NCCL kernels only, then every kernel; 100 s each at most
  TP="python3 -m torch.distributed.run --standalone --nproc-per-node 2 examples/tp_llama.py
      --layers 2 --hidden 512 --heads 8 --kv-heads 2 --ffn 1408 --vocab 8000 --batch 2
      --prompt 64 --new-tokens 3 --dtype bfloat16"
  COMM="--communicator shmem --communicator-shmem-num-peers 2"
  for what in nccl all; do
    k=""; [ "$what" = nccl ] && k="--kernel nccl"
    mkdir -p "$out/keep/shmem_$what"
    /usr/bin/time -f "%e s" timeout -s KILL 100 roofprof record -o "$out/keep/shmem_$what/tp" \
      --include-nccl $k --range prefill --range decode --ncu-args "$COMM" -- $TP \
      > "$out/keep/shmem_$what/stdout.txt" 2> "$out/keep/shmem_$what/stderr.txt"
    echo "shmem $what: exit $?"; tail -3 "$out/keep/shmem_$what/stderr.txt"
    pkill -9 -f tp_llama.py; sleep 2
  done 2>&1 | tee "$out/shmem.txt" ;;
rawtrace)  # the tracer hook's raw records of both ranks (DIR/<pid>.pickle, as roofprof trace
  # reads them): NCCL's ncclCommInitRankConfig range never closed in the 2-H200 trace, so every
  # launch sat inside it; its marker records say whether the pop was lost or unpaired
  mkdir -p "$out/keep/raw"
  ROOFPROF_TRACE_DIR="$out/keep/raw" timeout 120 python3 -m torch.distributed.run --standalone \
    --nproc-per-node 2 -m roofprof.capture.tracer_hook examples/tp_llama.py --layers 2 --hidden 512 \
    --heads 8 --kv-heads 2 --ffn 1408 --vocab 8000 --batch 2 --prompt 64 --new-tokens 3 \
    --dtype bfloat16 2>&1 | tail -5 ;;
*) echo "unknown part $part"; exit 2 ;;
esac
# the device tool brings back plain files of a shallow tree only: the recordings as one archive
tar czf "$out/keep_$part.tgz" -C "$out" keep && rm -rf "$out/keep"
