"""The README's "Production runs" commands are the real ones: those on the bundled captures run
and print what the section says; those needing a GPU or the user's files parse with the options
they show."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
from click.testing import CliRunner

from roofprof.cli import main

ROOT = Path(__file__).resolve().parent.parent
SECTION = (ROOT / "README.md").read_text().split("## Production runs", 1)[1].split("\n## ")[0]


def commands() -> list[list[str]]:
    return [shlex.split(ln.split("#")[0] if "  #" in ln else ln)
            for ln in SECTION.splitlines() if ln.startswith("    roofprof ")]


def test_the_section_shows_the_recipe_and_the_existing_traces() -> None:
    names = [c[1] for c in commands()]
    assert {"trace", "record", "join", "summary", "latency"} <= set(names)
    assert len(commands()) >= 11


def test_every_command_parses_with_the_options_it_shows() -> None:
    for argv in commands():
        group_ctx = main.make_context("roofprof", [argv[1]], resilient_parsing=True)
        command = main.get_command(group_ctx, argv[1])
        assert isinstance(command, click.Command), argv
        command.make_context(argv[1], argv[2:], parent=group_ctx)  # raises on a bad option


def test_the_commands_on_the_bundled_captures_run(tmp_path: Path) -> None:
    bundled = [c for c in commands() if any(a.startswith("fixtures/") for a in c)]
    assert len(bundled) == 4
    outputs = []
    for argv in bundled:
        args = [str(ROOT / a) if a.startswith("fixtures/") else a for a in argv[1:]]
        args = [str(tmp_path / a) if a.endswith(".parquet") else a for a in args]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (argv, result.output)
        outputs.append(result.output)
    assert "decode       377" in outputs[0]  # the graph replays are decode kernels
    # Nsight Systems: replayed kernels carry their capture's op (2 layers x q, k, v x 3 replays)
    assert "qkv_proj · decode              18" in outputs[1]
    assert outputs[2].splitlines()[2].split()[:2] == ["decode", "3"]  # three decode steps
    assert "counters by time:" in outputs[3]
    # the sampled pass was asked for prefill and decode: coverage inside them is said apart
    assert "of the launches ncu could profile (inside its filters" in outputs[3]
    assert (tmp_path / "joined.parquet").exists()
