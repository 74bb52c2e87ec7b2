"""``summary --engine spark`` says nothing but its table (issue 25, "Pictures"): no Spark log
line (its log4j profile, WARN lines, the shell's log level, progress bars) and no pyspark
FutureWarning about pandas 3 shown as a ``roofprof: warning:`` line.

The command runs in a fresh process, as a user runs it: Spark's driver is a Java process that
writes to the command's stderr itself (CliRunner, which captures Python's, never sees those
lines), its start-up lines come once per Java process, and pyspark's warning once per Python
process. Needs pyspark and Java 17+ (as tests/test_dataset_spark.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from roofprof.datasets.write import append
from roofprof.errors import RoofprofWarning
from tests.conftest import FIXTURES, ROOT

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java", allow_module_level=True)

#: what Java itself prints starting any Spark driver (Spark's launcher always adds the vector
#: incubator module; the JVM names it on stderr, outside Spark's logging), and the notice Java
#: gives where JAVA_TOOL_OPTIONS or _JAVA_OPTIONS is set
JAVA_OWN = ("WARNING: Using incubator modules: jdk.incubator.vector", "Picked up ")


def roofprof(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "roofprof", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300, check=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("spark_quiet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        for rank in (0, 1):
            append([FIXTURES / "known_work.ncu-rep"], folder, run="r1", host="n1", rank=rank)
    return folder


def test_summary_on_spark_prints_its_table_and_nothing_else(dataset: Path) -> None:
    spark = roofprof("summary", str(dataset), "--engine", "spark")
    assert spark.returncode == 0, spark.stderr
    others = [line for line in spark.stderr.splitlines() if not line.startswith(JAVA_OWN)]
    assert others == [], spark.stderr
    for noise in ("WARN ", "log4j", "log level", "[Stage", "FutureWarning", "pandas",
                  "roofprof: warning"):
        assert noise not in spark.stderr, noise
    # quiet, not different: the table is DuckDB's, line for line
    duckdb = roofprof("summary", str(dataset), "--engine", "duckdb")
    assert duckdb.returncode == 0, duckdb.stderr
    assert spark.stdout == duckdb.stdout
    assert "gemm_fp32_square" in spark.stdout
