"""N launches of a tiny elementwise kernel inside an NVTX range "loop": a large synthetic report.

Usage: python bench/tiny_kernels.py [N]      (needs torch with CUDA)
"""

from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=1000, metavar="N",
                    help="launches of the kernel (%(default)s)")
    n = ap.parse_args().n
    import torch  # a GPU program: imported once the options are read

    import roofprof

    x = torch.randn(4096, device="cuda")
    x.add_(1)
    torch.cuda.synchronize()
    with roofprof.range("loop"):
        for _ in range(n):
            x.add_(1)
        torch.cuda.synchronize()
    print(f"tiny_kernels: {n} launches")


if __name__ == "__main__":
    main()
