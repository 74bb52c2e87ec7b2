"""sampling.in_scope: which launches a recording's ncu filters let it profile."""

from __future__ import annotations

import pytest

from roofprof.tables.sampling import from_ncu_argv, in_scope

RANGES = ["prefill/model/layer.0", "decode/model", "warmup/model", "", "decode/graph/x",
          "outer/decode/model"]
KERNELS = ["gemm", "nccl_allreduce", "gemm", "copy", "softmax", "gemm"]


def test_no_filter_means_every_launch() -> None:
    assert in_scope(RANGES, KERNELS, from_ncu_argv(["ncu", "python", "x.py"])) is None


@pytest.mark.parametrize(("argv", "expected"), [
    (["--nvtx-include", "prefill/", "--nvtx-include", "decode/"], "110011"),
    (["--nvtx-include", "decode/graph/"], "000010"),  # b inside a
    (["--nvtx-exclude", "warmup/"], "110111"),
    (["--nvtx-include", "decode/", "--kernel-name", "regex:^(?!nccl)"], "000011"),
    (["-k", "gemm"], "101001"),  # a plain name is matched exactly
])
def test_includes_excludes_and_kernel_names(argv: list[str], expected: str) -> None:
    mask = in_scope(RANGES, KERNELS, from_ncu_argv(["ncu", *argv, "python", "x.py"]))
    assert mask is not None
    assert "".join("1" if m else "0" for m in mask) == expected
