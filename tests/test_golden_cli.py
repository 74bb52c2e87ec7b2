"""The command line's output is what it was: each scenario of tests/golden_cli.py, run again,
gives its transcript in tests/golden/cli/ byte for byte (stdout, stderr, exit codes, the files
written). The transcripts were captured before the package moved into layers (issue 23)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden_cli import GOLDEN, SCENARIOS, transcript


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_command_line_prints_and_writes_what_it_did(name: str, tmp_path: Path) -> None:
    expected = (GOLDEN / f"{name}.txt").read_text()
    got = transcript(name, tmp_path)
    if got != expected:  # the first differing line, readable in the failure
        for i, (a, b) in enumerate(zip(got.splitlines(), expected.splitlines(), strict=False)):
            assert a == b, f"{name}.txt line {i + 1}"
    assert got == expected


def test_every_scenario_has_its_transcript_and_no_transcript_is_left_over() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.txt")) == sorted(SCENARIOS)
