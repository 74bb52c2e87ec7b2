#!/usr/bin/env bash
# The GPU work left on issue 11, in parts that each fit one device command (<= 10 min), for a
# session with device time. From the repository root on the GPU host, with the wheels in .whl/:
#     bash bench/gpu_issue11.sh PART OUTDIR
#     PART: tests | overhead | graphlevel | overhead-7b | production | big | nsys | graphrecord
#           | instances
#           | next (instances, then tests: what the next session with a GPU should run first)
# tests       GPU tests of trace, join, record --sample and graphs (about 2 min)
# overhead    trace overhead on the 4-layer decode loop, eager and CUDA graph, 2 rounds,
#             torch.profiler beside it, and the CUPTI buffer tuning (about 5 min)
# overhead-7b the same on the 7B-shaped model with a range per module call, without
#             torch.profiler (about 5 min)
# production  bench_production's 2-layer accuracy part (about 3 min)
# big         the 32-layer hidden-4096 run: record --sample 1 (target <= 3 min); then plain
#             record stopped after the time that is left
# graphrecord `roofprof record` of the CUDA-graph example (ncu profiles graph kernel nodes by
#             default, --graph-profiling node): which phase and op its replayed kernels get
# instances   does ncu's --filter-mode per-launch-config (record --per-config) count template
#             instances when told --kernel-name-base mangled / demangled? (about 3 min; the
#             2-layer run has 57 instance x grid x block configurations, 37 by function name)
#             (BASES="mangled demangled" leaves out the default, already measured)
# nsys        an Nsight Systems capture of the small graph example, exported to SQLite and read
#             by roofprof (the nsys parser has only been tested on a file built in the schema)
#             (GRAPH=graph: nsys' default --cuda-graph-trace=graph, one record per replay: the
#             reader's replay rows have only been tested on the node export made graph-level)
# graphlevel  trace overhead with --graph-nodes none on the 4-layer CUDA-graph loop, 1,000
#             steps, 3 rounds (about 3 min)
# ab-graph    the same, paired rounds in ABBA order on pinned cores (PIN, default 4-11), 6
#             rounds, mean and median step (about 6 min)
# ab-eager    the eager 4-layer loop, 200 steps, 4 rounds, with and without the `zeroed`
#             buffer tuning (about 6 min)
# probe-graph what each CUPTI record family costs the CUDA-graph loop with graph-level records
#             (bench/cupti_probe.py, 1,000 steps, pinned), 2 rounds, beside the whole tracer
# probe-7b    the same on the 7B-shaped graph loop (GPU-bound): graph-level records alone,
#             with kernel records, with kernel records off while graphs are instantiated
#             (EAGER=1: the eager 7B loop, 30 steps, by record family, and the `zeroed` tuning)
# ab-7b-eager the 7B-shaped model in eager mode (every kernel recorded), 30 steps, 3 rounds
# peers-7b    the 7B-shaped graph loop plain, under torch.profiler (CUDA activities) and under
#             nsys (--cuda-graph-trace=graph): what other CUPTI-based tools pay (2 rounds)
# inprocess   CUPTI attached and detached in alternating blocks inside one process
#             (bench/inprocess_ab.py): the eager 4-layer loop (800 steps, blocks of 40) and the
#             eager 7B-shaped loop (120 steps, blocks of 10)
# ab-7b       the 7B-shaped model (32 layers, hidden 4096) replaying a CUDA graph, traced with
#             --graph-nodes none: the production setting (3 rounds, about 6 min)
set -u
part=${1:?usage: gpu_issue11.sh PART OUTDIR}
out=${2:?usage: gpu_issue11.sh PART OUTDIR}
mkdir -p "$out"
. bench/device_env.sh
SMALL="--layers 2 --hidden 512 --heads 8 --kv-heads 2 --vocab 8000 --batch 2 --prompt 128 --new-tokens 4"
case "$part" in
tests)
  ROOFPROF_GPU_TESTS=1 timeout 500 python3 -m pytest -v -p no:cacheprovider \
    tests/test_gpu_timing.py 2>&1 | tee "$out/gpu_timing_tests.log" | tail -20 ;;
overhead)  # the launch-bound 4-layer loop: the worst case
  for g in "" --graph; do
    timeout 150 python3 bench/bench_trace_overhead.py --steps 100 --rounds 2 --kineto $g \
      2>&1 | tee -a "$out/trace_overhead.txt"
    echo "with ROOFPROF_TRACE_TUNING=zeroed" | tee -a "$out/trace_overhead.txt"
    ROOFPROF_TRACE_TUNING=zeroed timeout 60 python3 bench/bench_trace_overhead.py \
      --steps 100 --rounds 1 $g 2>&1 | tee -a "$out/trace_overhead.txt"
  done ;;
graphlevel)
  timeout 280 python3 bench/bench_trace_overhead.py --graph --graph-nodes none --steps 1000 \
    --rounds 3 2>&1 | tee "$out/trace_overhead_graphlevel.txt" ;;
ab-graph)
  nproc; lscpu | grep -E "Model name|^CPU\(s\)|NUMA node" ; SECONDS=0
  timeout 540 python3 bench/bench_trace_overhead.py --graph --graph-nodes none --steps 1000 \
    --rounds 6 --pin "${PIN:-4-11}" --json "$out/ab_graph.json" 2>&1 | tee "$out/ab_graph.txt"
  echo "wall ${SECONDS}s" ;;
ab-eager)
  SECONDS=0
  timeout 540 python3 bench/bench_trace_overhead.py --steps 200 --rounds 4 --pin "${PIN:-4-11}" \
    --arm zeroed:ROOFPROF_TRACE_TUNING=zeroed --json "$out/ab_eager.json" 2>&1 \
    | tee "$out/ab_eager.txt"
  echo "wall ${SECONDS}s" ;;
probe-graph|probe-7b)
  SECONDS=0
  loop="--graph --steps 1000"; modes="plain K,G K,G,a K,G,a,M tracer"
  if [ "$part" = probe-7b ] && [ -n "${EAGER:-}" ]; then  # every kernel launched eagerly
    loop="--steps 30 --layers 32 --hidden 4096 --heads 32 --kv-heads 8"
    modes="plain R K K,a K,a,M tracer tracer-zeroed"
  elif [ "$part" = probe-7b ]; then
    loop="--graph --steps 200 --events --layers 32 --hidden 4096 --heads 32 --kv-heads 8"
    modes="plain G K,G K,G,I tracer"
  fi
  [ -n "${MODES:-}" ] && modes=$MODES
  for r in 1 2; do
    for mode in $modes; do
      if [ "${mode%%-*}" = tracer ]; then
        tuning=""; [ "$mode" = tracer-zeroed ] && tuning=zeroed
        got=$(ROOFPROF_TRACE_TUNING=$tuning taskset -c "${PIN:-4-11}" timeout 100 \
          python3 -m roofprof trace --graph-nodes none \
          -f -o "$out/probe_$r.parquet" -- python3 bench/decode_loop.py $loop 2>/dev/null | grep '^{"ms')
      else
        got=$(taskset -c "${PIN:-4-11}" timeout 100 python3 bench/cupti_probe.py "$mode" $loop \
          2>/dev/null | grep '^{' | tr '\n' ' ')
      fi
      echo "round $r $mode $got" | tee -a "$out/$part.txt"
    done
  done
  echo "wall ${SECONDS}s" ;;
ab-7b-eager)
  SECONDS=0
  timeout 400 python3 bench/bench_trace_overhead.py --steps 30 --rounds 3 --pin "${PIN:-4-11}" \
    --layers 32 --hidden 4096 --heads 32 --kv-heads 8 --json "$out/ab_7b_eager.json" 2>&1 \
    | tee "$out/ab_7b_eager.txt"
  echo "wall ${SECONDS}s" ;;
peers-7b)
  SECONDS=0
  nsys=$(command -v nsys || ls /opt/nvidia/nsight-compute/*/host/target-linux-x64/nsys 2>/dev/null | head -1)
  [ -d .whl/libdw ] && export LD_LIBRARY_PATH="$PWD/.whl/libdw${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  loop="bench/decode_loop.py --graph --steps 200 --events --layers 32 --hidden 4096 --heads 32 --kv-heads 8"
  for r in 1 2; do
    for tool in plain kineto nsys; do
      case $tool in
      plain) got=$(taskset -c "${PIN:-4-11}" timeout 100 python3 $loop 2>/dev/null | grep '^{') ;;
      kineto) got=$(taskset -c "${PIN:-4-11}" timeout 100 python3 $loop --kineto 2>/dev/null | grep '^{') ;;
      nsys) got=$(taskset -c "${PIN:-4-11}" timeout 150 "$nsys" profile -s none --cpuctxsw=none \
              -t cuda,nvtx --cuda-graph-trace=graph -f true -o "$out/peer_$r" python3 $loop \
              2>/dev/null | grep '^{') ;;
      esac
      echo "round $r $tool $got" | tee -a "$out/peers_7b.txt"
    done
  done
  echo "wall ${SECONDS}s" ;;
inprocess)
  SECONDS=0
  if [ -n "${RECORDS:-}" ]; then  # by record family: RECORDS="kernel api kernel,api none"
    for rec in $RECORDS; do
      taskset -c "${PIN:-4-11}" timeout 100 python3 bench/inprocess_ab.py --block 40 \
        --steps 800 --records "$rec" 2>&1 | grep -E '^\{"in|Error|error' \
        | tee -a "$out/inprocess_records.txt"
    done
    echo "wall ${SECONDS}s"; exit 0
  fi
  for r in 1 2; do
    taskset -c "${PIN:-4-11}" timeout 150 python3 bench/inprocess_ab.py --block 40 --steps 800 \
      2>&1 | grep -E '^\{|Error|error' | tee -a "$out/inprocess.txt"
  done
  taskset -c "${PIN:-4-11}" timeout 200 python3 bench/inprocess_ab.py --block 10 --steps 120 \
    --layers 32 --hidden 4096 --heads 32 --kv-heads 8 2>&1 | grep -E '^\{|Error|error' \
    | tee -a "$out/inprocess.txt"
  echo "wall ${SECONDS}s" ;;
ab-7b)
  SECONDS=0
  timeout 540 python3 bench/bench_trace_overhead.py --graph --graph-nodes none --steps 200 \
    --rounds 3 --pin "${PIN:-4-11}" --layers 32 --hidden 4096 --heads 32 --kv-heads 8 \
    --json "$out/ab_7b.json" 2>&1 | tee "$out/ab_7b.txt"
  echo "wall ${SECONDS}s" ;;
overhead-7b)  # the issue's 7B-shaped model (32 layers, hidden 4096), a range per module call
  for g in "" --graph; do
    timeout 170 python3 bench/bench_trace_overhead.py --steps 30 --rounds 2 $g --layers 32 \
      --hidden 4096 --heads 32 --kv-heads 8 --annotate 2>&1 | tee -a "$out/trace_overhead_7b.txt"
  done ;;
production)
  timeout 560 python3 bench/bench_production.py "$out/prod" --skip-big 2>&1 \
    | tee "$out/production_accuracy.txt" | tail -20 ;;
big)
  timeout 580 python3 bench/bench_production.py "$out/prod" --skip-accuracy --limit 240 2>&1 \
    | tee "$out/production_big.txt" | tail -20 ;;
nsys)
  nsys=$(command -v nsys || ls /opt/nvidia/nsight-systems/*/bin/nsys /usr/local/cuda/bin/nsys \
    /opt/nvidia/nsight-compute/*/host/target-linux-x64/nsys 2>/dev/null | head -1)
  [ -n "$nsys" ] || { echo "no nsys on this machine"; exit 1; }
  # the nsys bundled with ncu imports its capture with QdstrmImporter, which needs libdw.so.1
  # (missing on the device: "Importer error status"); carry Debian's in .whl/libdw:
  #   apt-get download libdw1 libelf1 && dpkg-deb -x libdw1_*.deb x && dpkg-deb -x libelf1_*.deb x
  #   cp -L x/usr/lib/x86_64-linux-gnu/{libdw.so.1,libelf.so.1} .whl/libdw/
  [ -d .whl/libdw ] && export LD_LIBRARY_PATH="$PWD/.whl/libdw${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  "$nsys" --version
  # no CPU sampling or context switches: the last capture without these options wrote 2.5 GB
  timeout 300 "$nsys" profile -s none --cpuctxsw=none -t cuda,nvtx \
    --cuda-graph-trace="${GRAPH:-node}" \
    -f true -o "$out/llama_graph_nsys" python3 examples/kineto_llama.py $SMALL --graph \
    --no-profiler 2>&1 | tail -5
  ls -la "$out"
  if [ ! -f "$out/llama_graph_nsys.nsys-rep" ] && [ -f "$out/llama_graph_nsys.qdstrm" ]; then
    importer=$(ls /opt/nvidia/*/*/host/*/QdstrmImporter 2>/dev/null | head -1)
    echo "importing with $importer"
    timeout 200 "$importer" -i "$out/llama_graph_nsys.qdstrm" 2>&1 | tail -3
  fi
  timeout 120 "$nsys" export --type sqlite -f true -o "$out/llama_graph_nsys.sqlite" \
    "$out/llama_graph_nsys.nsys-rep" 2>&1 | tail -3
  rm -f "$out/llama_graph_nsys.qdstrm"
  python3 -m roofprof summary "$out/llama_graph_nsys.sqlite" --by phase
  python3 -m roofprof latency "$out/llama_graph_nsys.sqlite" --range '^(prefill|decode)$' ;;
graphrecord)
  timeout 500 python3 -m roofprof record -f -o "$out/graph_record" --range prefill \
    --range decode -- python3 examples/kineto_llama.py $SMALL --graph --no-profiler 2>&1 | tail -5
  python3 -m roofprof summary "$out/graph_record.parquet" --by phase
  python3 -m roofprof summary "$out/graph_record.parquet" --by op,phase --top 12 ;;
instances)
  for base in ${BASES:-function mangled demangled}; do
    timeout 170 python3 -m roofprof record -q -f -o "$out/inst_$base" --per-config 1 --range \
      prefill --range decode --ncu-args "--kernel-name-base $base" -- python3 \
      examples/kineto_llama.py $SMALL --no-profiler 2>&1 | tail -3
    python3 - "$out/inst_$base.parquet" <<'PY'
import sys, roofprof
k = roofprof.load(sys.argv[1]).kernels
print(sys.argv[1], len(k), "profiled;", k.groupby(["kernel", "grid", "block"]).ngroups,
      "function x config;", k.groupby(["kernel_demangled", "grid", "block"]).ngroups,
      "instance x config; names:", k["kernel"].iloc[:2].tolist())
PY
  done ;;
next)
  timeout 330 bash "$0" instances "$out/instances"
  timeout 250 bash "$0" tests "$out/tests" ;;
*) echo "unknown part $part"; exit 2 ;;
esac
