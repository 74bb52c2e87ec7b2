"""Every table and text output roofprof makes from the real fixtures, dumped for comparison
between two versions of the code (dict-strings: the timing and kernel tables' text columns
became dictionary-typed; their values must not change).

Run from a tree's root:   python bench/dump_tables.py OUT.pickle
Compare two dumps:        python bench/dump_tables.py --compare BEFORE.pickle AFTER.pickle

A table is dumped as its columns' dtypes and values (text columns decoded to Python strings,
nulls as None, list cells as lists, the tree's own path as ``<root>``); the comparison reports
every value that differs and every dtype that changed (expected: ``string`` -> ``category`` for
text columns only).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import pickle
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))
FIX = ROOT / "fixtures"


def cell(v: Any) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(v, (list, tuple, np.ndarray)):
        return [cell(x) for x in v]
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    return v.replace(str(ROOT), "<root>") if isinstance(v, str) else v


def frame(df: Any) -> dict[str, Any]:
    return {"columns": list(df.columns),
            "dtypes": {c: str(df[c].dtype) for c in df.columns},
            "values": {c: [cell(v) for v in df[c].astype(object).tolist()] for c in df.columns}}


def outputs() -> dict[str, Any]:
    from click.testing import CliRunner

    import roofprof
    from roofprof.analysis.join import join
    from roofprof.capture import tracer
    from roofprof.cli import main as cli
    from roofprof.inputs.timing import load_timing
    from tests.test_tracer import EAGER, GRAPH, records_from_kineto

    out: dict[str, Any] = {}
    warnings.simplefilter("ignore")
    for name, path in (("eager", EAGER), ("graph", GRAPH)):
        for at in ("launch", "end"):
            rec = records_from_kineto(path, at)
            out[f"tracer:{name}:{at}"] = frame(tracer.from_parts(rec, source="t.parquet").kernels)
    for f in ("llama_kineto.json.gz", "llama_graph_kineto.json.gz", "llama_graph_nsys.sqlite",
              "llama_sample.timing.parquet"):
        out[f"timing:{f}"] = frame(load_timing(FIX / f).kernels)
    for f in sorted(FIX.glob("*.ncu-rep")) + sorted(FIX.glob("*_raw.csv")) + [
            FIX / "llama_full_record.parquet", FIX / "llama_kineto.json.gz",
            FIX / "llama_sample.timing.parquet"]:
        with contextlib.suppress(roofprof.RoofprofError):
            out[f"load:{f.name}"] = frame(roofprof.load(f).kernels)
    joined = join(load_timing(FIX / "llama_sample.timing.parquet"),
                  roofprof.load(FIX / "llama_sample.ncu-rep"))
    out["join"] = frame(joined.kernels)
    runner = CliRunner()
    tmp = Path(tempfile.mkdtemp())
    timed, counted = str(FIX / "llama_sample.timing.parquet"), str(FIX / "llama_sample.ncu-rep")
    commands = [
        ["summary", counted, "--by", "phase"], ["summary", counted, "--by", "op"],
        ["summary", counted, "--by", "range", "--format", "json"],
        ["summary", timed, "--by", "kernel"], ["summary", timed, "--by", "range"],
        ["summary", str(FIX / "llama_annotated.ncu-rep"), "--by", "category"],
        ["latency", timed], ["latency", timed, "--by", "path"],
        ["latency", str(FIX / "llama_kineto.json.gz"), "--format", "json"],
        ["latency", timed, "--per-request", "^(prefill|decode)$"],
        ["diff", counted, str(FIX / "llama_small.ncu-rep"), "--by", "op"],
        ["whatif", counted, "--gpu", "H200"],
        ["summary", str(FIX / "llama_graph_nsys.sqlite"), "--by", "op,phase"],
        # a new folder each run: a joined table is never replaced unasked (roofprof.app.outputs)
        ["join", timed, counted, "-o", str(tmp / "dump_join.parquet")],
        ["summary", str(tmp / "dump_join.parquet"), "--by", "op,phase", "--format", "csv"],
    ]
    for cmd in commands:
        r = runner.invoke(cli, cmd)
        out["cli:" + " ".join(Path(c).name for c in cmd)] = (
            r.exit_code, r.output.replace(str(ROOT), "<root>").replace(str(tmp), "/tmp"))
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


def compare(before: dict[str, Any], after: dict[str, Any]) -> int:
    bad = 0
    for key in sorted(set(before) | set(after)):
        if key not in before or key not in after:
            print(f"{key}: only in {'after' if key not in before else 'before'}")
            bad += 1
            continue
        b, a = before[key], after[key]
        if not isinstance(b, dict):
            if b != a:
                print(f"{key}: output differs\n--- before\n{b[1]}\n--- after\n{a[1]}")
                bad += 1
            continue
        if b["columns"] != a["columns"]:
            print(f"{key}: columns differ {b['columns']} -> {a['columns']}")
            bad += 1
        for col in b["columns"]:
            if col not in a["values"]:
                continue
            if b["dtypes"][col] != a["dtypes"][col]:
                print(f"{key}: {col} dtype {b['dtypes'][col]} -> {a['dtypes'][col]}")
            if not same(b["values"][col], a["values"][col]):
                diff = [i for i, (x, y) in enumerate(zip(b["values"][col], a["values"][col],
                                                         strict=False)) if not same(x, y)]
                print(f"{key}: {col} values differ at {len(diff)} rows, e.g. "
                      f"{[(b['values'][col][i], a['values'][col][i]) for i in diff[:3]]}")
                bad += 1
    print(f"{len(before)} outputs compared, {bad} differ in values")
    return bad


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", type=Path)
    ap.add_argument("--compare", nargs=2, type=Path)
    args = ap.parse_args()
    if args.out is None and not args.compare:
        ap.error("give OUT.pickle, or --compare BEFORE.pickle AFTER.pickle")
    if args.compare:
        before, after = (pickle.loads(p.read_bytes()) for p in args.compare)
        sys.exit(1 if compare(before, after) else 0)
    with contextlib.redirect_stderr(io.StringIO()):
        data = outputs()
    args.out.write_bytes(pickle.dumps(data))
    print(f"{len(data)} outputs -> {args.out}")


if __name__ == "__main__":
    main()
