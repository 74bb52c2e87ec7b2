"""The README's "Datasets" section is real: its commands run in order on the bundled fixtures
(convert many with --rank, summarise, a glob, the per-rank views), and each output block is
exactly what the commands above it print."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from roofprof.cli import main

ROOT = Path(__file__).resolve().parent.parent
SECTION = (ROOT / "README.md").read_text().split("## Datasets", 1)[1].split("\n## ", 1)[0]


def steps() -> list[tuple[list[list[str]], str]]:
    """(the commands since the previous output block, that block) in the section's order;
    the commands after the last block come with an empty block."""
    out: list[tuple[list[list[str]], str]] = []
    commands: list[list[str]] = []
    for chunk in re.split(r"(```\n.*?```)", SECTION, flags=re.S):
        if chunk.startswith("```"):
            out.append((commands, chunk[4:-3]))
            commands = []
            continue
        commands += [shlex.split(ln.strip()) for ln in chunk.splitlines()
                     if ln.startswith("    roofprof ")]
    out.append((commands, ""))
    return out


def printed(commands: list[list[str]]) -> str:
    """What the commands print on stdout (in the current folder; fixtures/ from the
    repository), separated by a blank line; each must succeed."""
    outputs = []
    for argv in commands:
        args = [str(ROOT / a) if a.startswith("fixtures/") else a for a in argv[1:]]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (argv, result.output)
        if result.stdout:
            outputs.append(result.stdout)
    return "\n".join(outputs)


def test_the_section_shows_the_workflow() -> None:
    names = [c[1] for commands, _ in steps() for c in commands]
    assert names.count("convert") >= 3
    assert {"summary", "ranks"} <= set(names)
    ranks = [c for commands, _ in steps() for c in commands if c[1] == "ranks"]
    assert any("--view" not in c for c in ranks)  # the per-rank view
    assert any("*" in a for commands, _ in steps() for c in commands for a in c)  # a glob


def test_every_output_block_is_what_its_commands_print(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = 0
    for commands, block in steps():
        got = printed(commands)
        if block:
            assert got.strip() == block.strip(), commands
            blocks += 1
    assert blocks >= 3
