"""Golden transcripts of the command line: every README command that runs without a GPU, and
the other commands' main paths and error paths, run in-process and written down exactly.

A scenario is a list of command lines run one after another in a fresh folder holding the
fixtures (``fixtures/``, ``tests/data/``, and the README's placeholder names linked to real
fixtures). Its transcript records, per command, the exit code, stdout, stderr and every file the
command wrote: text files whole, Parquet files as their schema, metadata and a digest of their
rows, images as their kind and size in pixels. Temporary paths and dataset file ids are
normalised, so a transcript is the same on every machine.

``tests/test_golden_cli.py`` checks each transcript against a fresh run; the transcripts in
``tests/golden/cli/`` were captured before the package was rearranged into layers (issue 23)
and kept as they were, so the command line's behaviour did not change. After an intended change
of output, write them again and review the diff:

    python -m tests.golden_cli --write            # every scenario
    python -m tests.golden_cli --write datasets   # one

``--hash`` also records a SHA-256 of every image file, byte for byte (stable only on one
machine with one matplotlib: a check before and after a refactoring, not a committed test).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "cli"
FAKE_NCU = ROOT / "tests" / "fake_ncu.py"

#: README placeholders, each a link to the real fixture that stands for it
LINKS = {
    "a.ncu-rep": "fixtures/known_work.ncu-rep",
    "b.csv": "fixtures/known_work_raw.csv",
    "run.ncu-rep": "fixtures/llama_annotated.ncu-rep",
}

#: scenario name -> command lines, run in order in one folder
SCENARIOS: dict[str, list[str]] = {
    "setup": [
        "roofprof summary fixtures/llama_annotated.ncu-rep --by phase",
        "roofprof plot fixtures/llama_annotated.ncu-rep --by phase -o llama.png",
    ],
    "reading": [
        "roofprof convert a.ncu-rep b.csv -o trace.parquet",
        "roofprof summary trace.parquet --by range --depth 2 --top 10 --level l2",
        "roofprof summary trace.parquet --by kernel --top 10",
        "roofprof summary trace.parquet --by device",
        "roofprof summary trace.parquet --format json -o summary.json",
        "roofprof summary trace.parquet --by category --format csv",
        "roofprof summary a.ncu-rep fixtures/llama_small.ncu-rep --by trace,phase",
        "roofprof convert run.ncu-rep -o run.parquet",
        "roofprof summary run.parquet --by op,phase --filter decode",
        "roofprof plot trace.parquet",
        "roofprof plot trace.parquet -o roofline.html",
        "roofprof plot run.parquet -o h.png --level dram,l2,l1 --filter decode",
        "roofprof convert run.ncu-rep -o t.parquet --reader ncu-report",
        "roofprof summary run.ncu-rep --strict",
        "roofprof summary fixtures/sol_roofline_chart.ncu-rep --by kernel",
        "roofprof summary fixtures/known_work_raw_display_units.csv --by category",
    ],
    "llm": [
        "roofprof convert fixtures/llama_annotated.ncu-rep -o run.parquet",
        "roofprof summary run.parquet --by phase",
        "roofprof summary run.parquet --by op,phase",
        "roofprof summary run.parquet --by category,phase --format json",
        "roofprof plot run.parquet --by op,phase -o ops.png "
        "--filter '^(qkv|o|gate|up|down)_proj$|^attention$|^lm_head$'",
        "roofprof plot --sweep fixtures/batch_1.ncu-rep fixtures/batch_4.ncu-rep "
        "fixtures/batch_16.ncu-rep -o sweep.png",
        "roofprof summary fixtures/spec_verify.ncu-rep --by op,range --depth 2 --top 8",
    ],
    "multigpu": [
        "roofprof summary fixtures/tp2_record.parquet --by device,phase",
        "roofprof convert fixtures/tp2_timing.parquet --dataset tp_ds --run tp --rank-by device",
        "roofprof ranks tp_ds --by phase",
        "roofprof ranks tp_ds --view spread",
        "roofprof ranks tp_ds --by run --format json",
        "roofprof join fixtures/tp2_timing.parquet fixtures/tp2_record.parquet "
        "-o tp_joined.parquet",
        "roofprof summary tp_joined.parquet --by device,phase --with-counters",
        "roofprof summary tp_joined.parquet --by device,phase --with-counters --format json",
    ],
    "production": [
        "roofprof summary fixtures/llama_graph_kineto.json.gz --by phase",
        "roofprof summary fixtures/llama_graph_nsys.sqlite --by op,phase --filter decode --top 4",
        "roofprof summary fixtures/llama_graph_nsys_graphmode.sqlite --by phase",
        "roofprof latency fixtures/llama_kineto.json.gz --range '^(prefill|decode)$'",
        "roofprof latency fixtures/llama_graph_nsys.sqlite",
        "roofprof latency fixtures/llama_sample.timing.parquet --format json --by path",
        "roofprof latency fixtures/llama_sample.timing.parquet --range '^(prefill|decode)$' "
        "-o latency.png",
        "roofprof latency fixtures/llama_kineto.json.gz --per-request '^generate$'",
        "roofprof latency fixtures/llama_kineto.json.gz --per-request '^x$' --top 3",
        "roofprof join fixtures/llama_sample.timing.parquet fixtures/llama_sample.ncu-rep "
        "-o joined.parquet",
        "roofprof summary joined.parquet --by phase",
        "roofprof summary joined.parquet --by phase --with-counters",
        "roofprof join fixtures/llama_kineto.json.gz fixtures/llama_sample.ncu-rep "
        "-o joined_kineto.parquet",
        "roofprof convert fixtures/llama_sample.timing.parquet -o timing_kernels.parquet",
        "roofprof summary fixtures/llama_sample.timing.parquet --by phase",
    ],
    "models": [
        "roofprof gpus",
        "roofprof gpus H100",
        "roofprof gpus H100 --format json",
        "roofprof gpus --check fixtures/llama_annotated.ncu-rep",
        "roofprof gpus --check fixtures/llama_annotated.ncu-rep --format csv",
        "roofprof model Llama-3-8B --gpu H100 --batch 32 --prompt 1024 --phase decode",
        "roofprof model tests/data/llama_large_config.json --trace "
        "fixtures/llama_annotated.ncu-rep --batch 2 --prompt 1024 --logits all "
        "--phase prefill --phase decode",
        "roofprof model Llama-2-7B --weight-dtype int4 --group-size 128 --format json",
        "roofprof summary fixtures/llama_annotated.ncu-rep --model "
        "tests/data/llama_large_config.json --batch 2 --prompt 1024 --logits all "
        "--filter '_proj$'",
        "roofprof summary fixtures/batch_1.ncu-rep --model tests/data/llama_small_config.json "
        "--batch 1 --prompt 128 --filter gemm",
        "roofprof summary fixtures/llama_annotated.ncu-rep --model "
        "tests/data/llama_large_config.json --batch 2 --prompt 1024 --format json",
        "roofprof plot fixtures/llama_annotated.ncu-rep --model "
        "tests/data/llama_large_config.json --batch 2 --prompt 1024 --logits all -o model.png",
        "roofprof summary fixtures/llama_annotated.ncu-rep --batch 2",
        "roofprof whatif fixtures/llama_annotated.ncu-rep --gpu H200",
        "roofprof whatif fixtures/llama_annotated.ncu-rep --gpu H200 --against "
        "fixtures/h200_llama_annotated.ncu-rep",
        "roofprof whatif fixtures/llama_annotated.ncu-rep --gpu A100-SXM4-80GB --by op "
        "--format json",
        "roofprof diff fixtures/batch_1.ncu-rep fixtures/batch_4.ncu-rep --kernels 3",
        "roofprof diff fixtures/batch_1.ncu-rep fixtures/batch_4.ncu-rep --fail-if-slower 5%",
        "roofprof diff fixtures/batch_1.ncu-rep fixtures/batch_4.ncu-rep --repeat-a "
        "fixtures/batch_1.ncu-rep --by kernel --format csv --plot moves.png",
    ],
    "report": [
        "roofprof report fixtures/llama_annotated.ncu-rep -o report.md",
        "roofprof report fixtures/llama_annotated.ncu-rep -o model_report.md --model "
        "tests/data/llama_large_config.json --batch 2 --prompt 1024 --logits all",
        "roofprof report fixtures/llama_annotated.ncu-rep -o report.html",
        "roofprof report joined_placeholder.parquet -o x.html",
        "roofprof report fixtures/llama_sample.timing.parquet -o timing_report.md",
        "roofprof report fixtures/llama_sample.ncu-rep -o sample_report.md --timing "
        "fixtures/llama_sample.timing.parquet",
    ],
    "datasets": [
        "roofprof convert fixtures/llama_annotated.ncu-rep --dataset fleet --run r1 --host n1 "
        "--rank 0",
        "roofprof convert fixtures/llama_annotated.ncu-rep --dataset fleet --run r1 --host n1 "
        "--rank 1",
        "roofprof convert fixtures/h200_llama_annotated.ncu-rep --dataset fleet --run r1 "
        "--host n2 --rank 2",
        "roofprof summary fleet --by phase",
        "roofprof summary fleet --by rank,phase --where 'rank >= 1'",
        "roofprof summary 'fleet/run=r1/host=*/rank=*/*.parquet' --by trace --where 'rank >= 1'",
        "roofprof summary fleet --by phase --engine pandas",
        "roofprof summary fleet --by op,phase --filter decode",
        "roofprof ranks fleet --by phase",
        "roofprof ranks fleet --view spread",
        "roofprof ranks fleet --by phase --engine pandas --format csv",
        "roofprof plot fleet --by phase -o fleet.png",
        "roofprof plot fleet --by phase --where 'rank >= 1' -o fleet.html",
        "roofprof convert fleet --where 'rank = 2' -o rank2.parquet",
        "roofprof whatif fleet --gpu H200 --where 'rank = 0'",
        "roofprof report fleet -o fleet_report.md --where 'rank <= 1'",
        "roofprof summary fleet --by phase --engine duckdb --depth 1",
        "roofprof summary fleet --where 'color = 1'",
    ],
    "record": [
        "roofprof record -o rec -q -- python3 -c 'print(\"program says hi\")'",
        "roofprof record -o rec2 --range decode --no-convert -q -- python3 -c pass",
        "roofprof record -o rec -q -- python3 -c pass",
        "roofprof summary rec.parquet --by category",
    ],
    "errors": [
        "roofprof summary nonexistent.parquet",
        "roofprof summary fixtures/llama_annotated.ncu-rep -o fixtures/llama_annotated.ncu-rep",
        "roofprof summary fixtures/llama_annotated.ncu-rep --by nosuchcolumn",
        "roofprof summary fixtures/MANIFEST.md",
        "roofprof plot fixtures/llama_annotated.ncu-rep -o plot.txt",
        "roofprof plot fixtures/llama_annotated.ncu-rep --sweep",
        "roofprof convert fixtures/llama_annotated.ncu-rep -o out.csv",
        "roofprof convert fixtures/llama_annotated.ncu-rep --run r1",
        "roofprof join fixtures/llama_sample.ncu-rep fixtures/llama_sample.ncu-rep -o j.parquet",
        "roofprof latency fixtures/llama_annotated.ncu-rep",
        "roofprof whatif fixtures/llama_annotated.ncu-rep --gpu NoSuchGPU",
        "roofprof model NoSuchModel",
        "roofprof model Llama-3-8B --gpu H100 --trace fixtures/llama_annotated.ncu-rep",
        "roofprof diff fixtures/batch_1.ncu-rep fixtures/batch_4.ncu-rep --noise -3",
        "roofprof ranks fixtures/llama_annotated.ncu-rep",
        "roofprof gpus --where 'rank = 1'",
        "roofprof summary fixtures/llama_annotated.ncu-rep --where 'rank = 1'",
        "roofprof summary fixtures/llama_annotated.ncu-rep --engine duckdb",
        "roofprof report fixtures/llama_annotated.ncu-rep -o report.txt",
        "roofprof summary fixtures/llama_annotated.ncu-rep --model Llama-3-8B "
        "fixtures/batch_1.ncu-rep",
        "roofprof record --dry-run -o run -- python serve.py",
        "roofprof record --dry-run -o decode --range decode --per-config 1 --kernel gemm "
        "-- python serve.py",
        "roofprof record --sample 1 --per-config 2 -o run -- python serve.py",
    ],
}

_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")


def _normalise(text: str, cwd: Path) -> str:
    for folder in (str(cwd.resolve()), str(cwd)):
        text = text.replace(folder + "/", "").replace(folder, ".")
    return _UUID.sub("<uuid>", text)


def _png_size(data: bytes) -> str:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return f"PNG {width}x{height}"


def _parquet(path: Path) -> str:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(b"roofprof", b"{}"))
    for key in ("created", "roofprof_version"):
        meta.pop(key, None)
    rows = json.dumps(table.to_pylist(), default=str, sort_keys=True)
    schema = ", ".join(f"{f.name}: {f.type}" for f in table.schema)
    return (f"rows {table.num_rows}; columns {schema}\n"
            f"meta {json.dumps(meta, sort_keys=True, default=str)}\n"
            f"rows sha256 {hashlib.sha256(rows.encode()).hexdigest()}")


def _describe(path: Path, cwd: Path, hash_images: bool) -> str:
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _normalise(_parquet(path), cwd)
    if suffix in (".png", ".pdf", ".svg", ".html"):
        kind = _png_size(data) if suffix == ".png" else f"{suffix[1:]} file"
        if hash_images:
            kind += f"; sha256 {hashlib.sha256(data).hexdigest()}"
        return kind
    try:
        return _normalise(data.decode("utf-8"), cwd)
    except UnicodeDecodeError:  # a report ncu wrote
        return f"{len(data)} bytes; sha256 {hashlib.sha256(data).hexdigest()}"


def _files(cwd: Path) -> dict[str, float]:
    return {str(p.relative_to(cwd)): p.stat().st_mtime_ns for p in cwd.rglob("*")
            if p.is_file() and not p.is_symlink() and not any(
                part in ("fixtures", "tests", ".bin") for part in p.relative_to(cwd).parts[:1])}


@contextmanager
def _environment(cwd: Path) -> Iterator[None]:
    saved = dict(os.environ)
    here = Path.cwd()
    os.environ.update({"ROOFPROF_NCU": str(cwd / ".bin" / "ncu"), "SOURCE_DATE_EPOCH": "0",
                       "COLUMNS": "200"})
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)


def prepare(cwd: Path) -> None:
    """The fixtures and the README's placeholder names, linked into ``cwd``."""
    (cwd / "fixtures").symlink_to(ROOT / "fixtures")
    (cwd / "tests").mkdir()
    (cwd / "tests" / "data").symlink_to(ROOT / "tests" / "data")
    for name, target in LINKS.items():
        (cwd / name).symlink_to(ROOT / target)
    # tests/fake_ncu.py as an executable ncu (record --dry-run asks it for the chip's metrics)
    (cwd / ".bin").mkdir()
    ncu = cwd / ".bin" / "ncu"
    ncu.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(FAKE_NCU))} '
                   '"$@"\n')
    ncu.chmod(0o755)


def transcript(name: str, cwd: Path, hash_images: bool = False) -> str:
    """Run scenario ``name`` in the empty folder ``cwd``; its transcript."""
    from click.testing import CliRunner

    from roofprof.cli import main

    prepare(cwd)
    out: list[str] = []
    with _environment(cwd):
        for line in SCENARIOS[name]:
            before = _files(cwd)
            result = CliRunner().invoke(main, shlex.split(line)[1:])
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                raise AssertionError(f"{line}: {result.exception!r}") from result.exception
            out.append(f"=== $ {line}")
            out.append(f"--- exit {result.exit_code}")
            out.append("--- stdout")
            out.append(_normalise(result.stdout, cwd).rstrip("\n"))
            out.append("--- stderr")
            out.append(_normalise(result.stderr, cwd).rstrip("\n"))
            after = _files(cwd)
            for f in sorted(after):
                if before.get(f) != after[f]:
                    out.append(f"--- file {_normalise(f, cwd)}")
                    out.append(_describe(cwd / f, cwd, hash_images).rstrip("\n"))
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    import tempfile

    write = "--write" in argv
    hash_images = "--hash" in argv
    names = [a for a in argv if not a.startswith("--")] or list(SCENARIOS)
    target = Path(next((a.split("=", 1)[1] for a in argv if a.startswith("--into=")),
                       str(GOLDEN)))
    target.mkdir(parents=True, exist_ok=True)
    changed = 0
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            text = transcript(name, Path(tmp), hash_images)
        path = target / f"{name}.txt"
        old = path.read_text() if path.exists() else None
        if old != text:
            changed += 1
            if write:
                path.write_text(text)
        print(f"{name}: {'same' if old == text else 'written' if write else 'differs'}")
    return 1 if changed and not write else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
