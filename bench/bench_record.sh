#!/usr/bin/env bash
# Wall time of `roofprof record` against `ncu --set roofline` and the program alone, on the
# Llama example (issue 3). Run on a GPU host from the repository root:
#     bash bench/bench_record.sh OUTDIR [ROOFLINE_LIMIT_S] [decode]
# ("decode" runs only the 33-token decode-loop comparison)
# Writes OUTDIR/bench_record.txt. Both profilers run with --clock-control none. A run of
# `ncu --set roofline` that outlasts ROOFLINE_LIMIT_S (default 240) is stopped and reported as a
# lower bound ("> N s").
set -u
out=${1:?usage: bench_record.sh OUTDIR [ROOFLINE_LIMIT_S]}
limit=${2:-240}
only=${3:-all}
mkdir -p "$out"
res="$out/bench_record.txt"
LLAMA=(python3 examples/llama_generate.py --layers 1 --hidden 512 --heads 8 --kv-heads 2
       --vocab 8000 --batch 4 --prompt 128)
t() {  # label, then the command; prints "label seconds rc"
  local label=$1; shift
  local t0; t0=$(date +%s%N)
  "$@" >"$out/$label.log" 2>&1
  local rc=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  printf '%-34s %6d.%01d s  rc=%s\n' "$label" $((ms / 1000)) $((ms % 1000 / 100)) "$rc" | tee -a "$res"
}
tl() {  # like t, but stopped after $limit seconds
  local label=$1; shift
  local t0; t0=$(date +%s%N)
  timeout -s INT "$limit" "$@" >"$out/$label.log" 2>&1
  local rc=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ "$rc" -eq 124 ]; then
    printf '%-34s > %4d s  (stopped at the limit)\n' "$label" $((ms / 1000)) | tee -a "$res"
  else
    printf '%-34s %6d.%01d s  rc=%s\n' "$label" $((ms / 1000)) $((ms % 1000 / 100)) "$rc" | tee -a "$res"
  fi
}
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; ncu --version | tail -1; } >> "$res"
if [ "$only" != decode ]; then
echo "== whole program, 3 tokens (prefill + 2 decode steps)" | tee -a "$res"
t  program_3tok                "${LLAMA[@]}" --new-tokens 3
t  roofprof_record_3tok        python3 -m roofprof record -q -f --no-convert -o "$out/r3" -- "${LLAMA[@]}" --new-tokens 3
tl ncu_roofline_3tok           ncu --set roofline --nvtx --clock-control none --import-sass no -f -o "$out/n3" "${LLAMA[@]}" --new-tokens 3
fi
echo "== decode loop, 33 tokens (32 decode steps), decode range only" | tee -a "$res"
t  program_33tok               "${LLAMA[@]}" --new-tokens 33
t  roofprof_per_config_33tok   python3 -m roofprof record -q -f --no-convert -o "$out/p33" --range decode --per-config 1 -- "${LLAMA[@]}" --new-tokens 33
tl ncu_roofline_33tok          ncu --set roofline --nvtx --nvtx-include decode/ --clock-control none --import-sass no -f -o "$out/n33" "${LLAMA[@]}" --new-tokens 33
grep -h "kernels profiled" "$out"/roofprof_*.log | tee -a "$res"
grep -c '==PROF== Profiling' "$out"/ncu_roofline_*.log | tee -a "$res"
cat "$res"
