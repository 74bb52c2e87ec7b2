"""`import roofprof` and `roofprof --help` stay light; click lives only in roofprof/cli/."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HEAVY = ("pandas", "pyarrow", "matplotlib", "plotly", "ncu_report", "numpy", "click", "torch")


def _loaded(code: str) -> list[str]:
    probe = code + ("\nimport sys\nprint('LOADED:', "
                    f"' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("LOADED:"))
    return line.split()[1:]


def test_import_roofprof_loads_nothing_heavy() -> None:
    assert _loaded("import roofprof") == []


def test_help_loads_no_analysis_or_reader_libraries() -> None:
    code = ("from roofprof.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert _loaded(code) == ["click"]


def test_only_the_cli_imports_click() -> None:
    root = Path(__file__).resolve().parent.parent
    offenders = [str(p.relative_to(root)) for d in ("roofprof", "parsers")
                 for p in (root / d).rglob("*.py")
                 if "cli" not in p.relative_to(root).parts[1:2]
                 and re.search(r"^\s*(import click|from click\b)", p.read_text(), re.M)]
    assert offenders == []


def test_a_parsers_module_in_the_working_directory_does_not_shadow_roofprofs(
        tmp_path: Path) -> None:
    """Issue 9: `python -m roofprof` from a folder holding a parsers.py still works."""
    (tmp_path / "parsers.py").write_text("raise SystemExit('the wrong parsers was imported')\n")
    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "known_work.ncu-rep"
    done = subprocess.run([sys.executable, "-m", "roofprof", "summary", str(fixture), "--by",
                           "category"], cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "gemm" in done.stdout


def test_the_paths_users_reach_from_earlier_versions_still_lead_somewhere() -> None:
    """ARCHITECTURE.md, "Paths kept from earlier versions"."""
    code = ("import roofprof, roofprof.torch\n"
            "print(roofprof.catalog.get('H200').name, roofprof.model.compare.compare.__name__,\n"
            "      roofprof.whatif.whatif.__name__, roofprof.sampling.time_shares_of.__name__,\n"
            "      roofprof.columns.concat.__name__, roofprof.torch.annotate.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["H200", "compare", "whatif", "time_shares_of", "concat",
                                   "annotate"]
