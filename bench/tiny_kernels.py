"""N launches of a tiny elementwise kernel inside an NVTX range "loop": a large synthetic report.

Usage: python bench/tiny_kernels.py N
"""

from __future__ import annotations

import sys

import torch

import roofprof

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
x = torch.randn(4096, device="cuda")
x.add_(1)
torch.cuda.synchronize()
with roofprof.range("loop"):
    for _ in range(n):
        x.add_(1)
    torch.cuda.synchronize()
print(f"tiny_kernels: {n} launches")
