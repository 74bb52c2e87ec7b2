"""The README's `$ roofprof ...` blocks, run in-process: their output must be the real one."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from roofprof.cli import main

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"```\n\$ (roofprof [^\n]*)\n(.*?)```", re.S)


def blocks(command: str) -> list[tuple[str, str]]:
    """(command line, shown output) of every README block running ``roofprof COMMAND``."""
    readme = (ROOT / "README.md").read_text()
    return [(cmd, out) for cmd, out in _BLOCK.findall(readme)
            if shlex.split(cmd)[1] == command]


def check(command: str) -> int:
    """Run each README block of ``command`` from the repository root; return how many."""
    found = blocks(command)
    for cmd, shown in found:
        argv = [str(ROOT / a) if (ROOT / a).exists() and "/" in a else a
                for a in shlex.split(cmd)[1:]]
        result = CliRunner().invoke(main, argv)
        assert result.exit_code == 0, (cmd, result.output)
        got = result.stdout.replace(str(ROOT) + "/", "")
        assert got.strip() == shown.strip(), cmd
    return len(found)
