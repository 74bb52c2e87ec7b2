"""The spark-submit entry point (roofprof/spark_job.py): run by pyspark's own spark-submit on a
local[1] master over a dataset given as a file:// URI (listed by Spark's file system, partitions
picked by --where), its JSON equals DuckDB's summary of the same folder. Local folders are
checked before any Spark starts."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from roofprof.datasets import sql as dataset_sql
from roofprof.datasets.spark import is_uri
from roofprof.datasets.write import append
from roofprof.errors import RoofprofWarning
from roofprof.spark_job import main
from roofprof.views import tables as table

from .conftest import FIXTURES

ROOT = Path(__file__).resolve().parent.parent


def _dataset(directory: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        for rank in (0, 3):
            append([FIXTURES / "llama_small.ncu-rep"], directory, run="r1", host="n1",
                   rank=rank)
        append([FIXTURES / "spec_verify.ncu-rep"], directory, run="r2", host="n2", rank=3)
    return directory


def test_uris_are_not_local_paths() -> None:
    for uri in ("s3a://bucket/fleet", "gs://b/f", "hdfs://nn:8020/f", "file:///tmp/f"):
        assert is_uri(uri)
    for path in ("fleet", "/tmp/fleet", "C:/fleet", "./s3a:/x"):
        assert not is_uri(path)


def test_a_local_folder_is_checked_before_spark_starts(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       ) -> None:
    assert main(["summary", str(tmp_path / "absent"), "--by", "phase"]) == 2
    assert "not a folder" in capsys.readouterr().err
    d = _dataset(tmp_path / "fleet")
    assert main(["summary", str(d), "--where", "rank = 9", "-o", str(tmp_path / "o.json")]) == 2
    assert "no dataset files matching --where 'rank = 9'" in capsys.readouterr().err
    assert main(["summary", str(d), "--where", "gpu = 1"]) == 2
    assert "expected a partition column" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9)
    return a == b


def test_spark_submit_equals_duckdb_on_a_uri(tmp_path: Path) -> None:
    pyspark = pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    d = _dataset(tmp_path / "fleet")
    out = tmp_path / "out.json"
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable,
           "PYSPARK_DRIVER_PYTHON": sys.executable}
    proc = subprocess.run(
        [str(submit), "--master", "local[1]", "--conf", "spark.ui.enabled=false",
         str(ROOT / "roofprof" / "spark_job.py"), "summary", d.resolve().as_uri(),
         "--by", "rank,phase", "--level", "l1", "--where", "rank = 3", "-o", str(out)],
        capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # spark-submit passes the Python driver's stderr on through its own stdout
    assert f"roofprof: wrote {out}" in proc.stdout + proc.stderr
    got = json.loads(out.read_text(encoding="utf-8"))
    want = json.loads(table.to_json(dataset_sql.summarize(d, by="rank,phase", level="l1",
                                                          where="rank = 3")))
    assert [r["group"] for r in got] == [r["group"] for r in want]
    assert {r["group"].split(" · ")[0] for r in got} == {"3"}
    # TMA kernels at L1: partly measured groups, with why (both engines alike, below)
    assert any(r["coverage"] < 1 and "TMA" in r["reason"] for r in got)
    for a, b in zip(got, want, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert _same(a[key], b[key]), (a["group"], key, a[key], b[key])
