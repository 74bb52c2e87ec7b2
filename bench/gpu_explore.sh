#!/usr/bin/env bash
# One-off exploration on a GPU host: ncu's own metadata that roofprof's metric table is built
# from (help text, chips, per-chip metric lists, section files) and a probe of candidate peak
# metrics on a bf16 GEMM. Usage: bash bench/gpu_explore.sh OUTDIR
set -u
out=${1:?usage: gpu_explore.sh OUTDIR}
mkdir -p "$out"
ncu --version > "$out/ncu_version.txt" 2>&1
nvidia-smi > "$out/nvidia_smi.txt" 2>&1
nvidia-smi --query-gpu=name,driver_version,compute_cap,clocks.max.sm,clocks.max.mem --format=csv >> "$out/nvidia_smi.txt" 2>&1
ncu --help > "$out/ncu_help.txt" 2>&1
ncu --list-chips > "$out/ncu_chips.txt" 2>&1
ncu --query-metrics > "$out/metrics_local.txt" 2>&1
for chip in tu102 ga100 ga102 ad102 gh100 gb100 gb202; do
  ncu --query-metrics --chip $chip > "$out/metrics_$chip.txt" 2>&1
  ncu --query-metrics-mode suffix --query-metrics --chip $chip --metrics \
    sm__ops_path_tensor_src_bf16_dst_fp32,dram__bytes,lts__t_bytes > "$out/suffix_$chip.txt" 2>&1
done
base=$(dirname "$(readlink -f "$(which ncu)")")
tar czf "$out/sections.tgz" -C "$base" sections 2>/dev/null || tar czf "$out/sections.tgz" -C /opt/nvidia/nsight-compute/2025.3.1 sections
python3 - "$out" <<'EOF'
import re, subprocess, sys
out = sys.argv[1]
have = {l.split()[0] for l in open(f"{out}/metrics_local.txt") if re.match(r"^[a-z0-9]+__", l)}
cands = [m for m in open(f"{out}/metrics_local.txt").read().split() if m.startswith("sm__ops_path_tensor")]
peaks = sorted({c + ".sum.peak_sustained" for c in cands if c in have})
sums = sorted({c + ".sum" for c in cands if c in have})
extra = ["sm__cycles_elapsed.avg.per_second", "gpu__time_duration.sum", "sm__inst_executed_pipe_tensor.sum",
         "dram__bytes.sum.peak_sustained", "dram__cycles_elapsed.avg.per_second"]
ms = ",".join(peaks + sums + extra)
open(f"{out}/probe_metrics.txt", "w").write(ms.replace(",", "\n"))
r = subprocess.run(["ncu", "--clock-control", "none", "--nvtx", "--nvtx-include", "gemm_bf16/",
                    "--nvtx-include", "gemm_fp8/", "--nvtx-include", "gemm_int8/", "--nvtx-include", "gemm_fp16/",
                    "--metrics", ms, "--csv", "--page", "raw", "--print-units", "base",
                    "python3", "fixtures/workloads/known_work.py", "gemm_bf16", "gemm_fp16", "gemm_fp8", "gemm_int8"],
                   capture_output=True, text=True)
open(f"{out}/probe_tensor.csv", "w").write(r.stdout)
open(f"{out}/probe_tensor.err", "w").write(r.stderr)
EOF
