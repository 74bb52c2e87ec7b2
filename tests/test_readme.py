"""The README's commands are the real ones."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from roofprof.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def setup_commands() -> list[str]:
    section = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [ln.strip() for ln in section.splitlines()
            if ln.startswith("    ") and ln.strip().startswith("python3 -m venv")]


def test_exactly_two_setup_commands() -> None:
    assert len(setup_commands()) == 2


def test_ci_runs_the_readmes_test_command() -> None:
    test_cmd = setup_commands()[1]
    assert "pytest" in test_cmd
    assert test_cmd in (ROOT / ".ci" / "run").read_text()


def test_the_main_job_command_works_on_the_bundled_trace(tmp_path: Path) -> None:
    main_cmd = setup_commands()[0]
    roofprof_parts = [p.strip() for p in main_cmd.split("&&") if p.strip().startswith("roofprof")]
    assert roofprof_parts
    for part in roofprof_parts:
        argv = shlex.split(part)[1:]
        argv = [str(ROOT / a) if a.startswith("fixtures/") else a for a in argv]
        argv = [str(tmp_path / a) if a.endswith(".png") else a for a in argv]
        result = CliRunner().invoke(main, argv)
        assert result.exit_code == 0, result.output
    pngs = [a for part in roofprof_parts for a in shlex.split(part) if a.endswith(".png")]
    assert pngs
    for png in pngs:
        assert (tmp_path / png).stat().st_size > 10_000


def test_the_readmes_sample_output_is_what_the_main_job_prints() -> None:
    sample = re.search(r"```\n(group .*?)```", README, re.S)
    assert sample is not None
    summary = next(p.strip() for p in setup_commands()[0].split("&&")
                   if p.strip().startswith("roofprof summary"))
    argv = [str(ROOT / a) if a.startswith("fixtures/") else a for a in shlex.split(summary)[1:]]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == sample.group(1).strip()
