"""sampling.in_scope: which launches a recording's ncu filters let it profile."""

from __future__ import annotations

import numpy as np

from roofprof.sampling import from_ncu_argv, in_scope

RANGES = ["prefill/model/layer.0", "decode/model", "warmup/model", "", "decode/graph/x",
          "outer/decode/model"]
KERNELS = ["gemm", "nccl_allreduce", "gemm", "copy", "softmax", "gemm"]


def scope(*argv: str) -> np.ndarray | None:
    return in_scope(RANGES, KERNELS, from_ncu_argv(["ncu", *argv, "python", "x.py"]))


def test_no_filter_means_every_launch() -> None:
    assert scope() is None


def test_includes_excludes_and_kernel_names() -> None:
    both = scope("--nvtx-include", "prefill/", "--nvtx-include", "decode/")
    assert both is not None
    assert both.tolist() == [True, True, False, False, True, True]
    nested = scope("--nvtx-include", "decode/graph/")
    assert nested is not None
    assert nested.tolist() == [False, False, False, False, True, False]
    out = scope("--nvtx-exclude", "warmup/")
    assert out is not None
    assert out.tolist() == [True, True, False, True, True, True]
    names = scope("--nvtx-include", "decode/", "--kernel-name", "regex:^(?!nccl)")
    assert names is not None
    assert names.tolist() == [False, False, False, False, True, True]
    exact = scope("-k", "gemm")
    assert exact is not None
    assert exact.tolist() == [True, False, True, False, False, True]
