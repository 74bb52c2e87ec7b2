"""The command line has no defaults of its own: an option not given reaches the application
function as None, which takes its default from roofprof.app.defaults (or the options record
of the use case); the help states those defaults, and states them right."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import click

from roofprof.analysis.model import Options
from roofprof.app import defaults
from roofprof.capture.ncu_command import RecordOptions
from roofprof.cli import main
from roofprof.cli.common import OUTPUTS
from roofprof.tables.partitions import DEFAULTS

#: options whose default only picks how the command prints (no use case sees them)
PRESENTATION = {("latency", "fmt")}


def _options() -> list[tuple[str, click.Option]]:
    return [(name, p) for name, cmd in main.commands.items() for p in cmd.params
            if isinstance(p, click.Option)]


def _unset(value: Any) -> bool:
    """No default (None; click 8.3 says so with a sentinel)."""
    return value is None or type(value).__name__ == "Sentinel"


def test_no_option_has_a_default_of_its_own() -> None:
    own = [f"{name} {p.opts[-1]} = {p.default!r}" for name, p in _options()
           if not p.is_flag and not p.multiple and not _unset(p.default)
           and (name, p.name) not in PRESENTATION]
    assert own == []


def _stated(p: click.Option) -> str | None:
    m = re.search(r"\[default: ([^\]]+)\]", p.help or "")
    return m.group(1) if m else None


def test_the_help_states_the_defaults_the_use_cases_apply() -> None:
    known: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(Options)}
    known.update({f.name: f.default for f in dataclasses.fields(RecordOptions)
                  if f.default is not dataclasses.MISSING})
    known.update({"level": defaults.LEVEL, "levels": defaults.LEVEL, "reader": defaults.READER,
                  "tolerance": defaults.TOLERANCE, "spread": defaults.SPREAD,
                  "kernels": defaults.DIFF_KERNELS, "gate": defaults.GATE,
                  "label_top": defaults.LABELS, "graph_nodes": defaults.GRAPH_NODES,
                  "metric": defaults.LATENCY_METRIC, "view": defaults.RANKS_VIEW,
                  "run": DEFAULTS["run"], "host": DEFAULTS["host"], "rank": DEFAULTS["rank"]})
    engines = {"summary": defaults.ENGINE, "plot": defaults.ENGINE,
               "ranks": defaults.RANKS_ENGINE}
    checked = 0
    for name, p in _options():
        stated = _stated(p)
        if stated is None or p.name is None:
            continue
        want = engines.get(name) if p.name == "engine" else known.get(p.name)
        if p.name == "by":
            assert stated.split(";")[0].strip() in (defaults.BY, defaults.BY_COMPARE,
                                                    defaults.LATENCY_BY), (name, stated)
        elif p.name == "noise":
            assert float(stated) == defaults.NOISE_PCT
        elif p.name == "weight_dtype":  # options_for: as given, else the config's, else bf16
            assert stated.endswith(f"else {known['weight_dtype']}")
        elif want is not None:
            assert stated == str(want), (name, p.opts[-1], stated, want)
        else:  # a default in words ("the config's quantization, else bf16"), or another option
            assert stated.startswith("--") or " " in stated, (name, p.opts[-1], stated)
            continue
        checked += 1
    assert checked >= 25


def test_each_grouping_default_is_stated_with_its_reason() -> None:
    """Two defaults of --by, on purpose (roofprof.app.defaults says why): one trace's view by
    range, a comparison by phase; each command's help says which and why."""
    by = {name: p for name, p in _options() if p.name == "by" and name != "latency"}
    assert set(by) == {"summary", "plot", "whatif", "diff", "ranks"}
    for name, p in by.items():
        stated = _stated(p)
        assert stated is not None, name
        if name in ("summary", "plot"):
            assert stated.split(";")[0] == defaults.BY == "range", name
            assert "By range unless given: the NVTX tree" in (p.help or ""), name
        else:
            assert stated == defaults.BY_COMPARE == "phase", name
            assert "By phase unless given: a few groups that match from run to run" \
                in (p.help or ""), name


def test_every_command_that_writes_a_file_takes_force() -> None:
    """One overwrite policy (roofprof.app.outputs): each command writing a file has --force,
    the only way to replace a file that holds measurements."""
    writers = {name for name, cmd in main.commands.items()
               if {p.name for p in cmd.params} & set(OUTPUTS)}
    assert writers >= {"summary", "plot", "convert", "join", "report", "whatif", "diff",
                       "ranks", "model", "gpus", "record", "trace"}
    without = {name for name in writers
               if "force" not in {p.name for p in main.commands[name].params}}
    # latency's module is being changed elsewhere: it refuses alike, telling to remove the file
    assert without <= {"latency"}
    for name in writers - without:
        force = next(p for p in main.commands[name].params if p.name == "force")
        assert isinstance(force, click.Option)
        assert force.is_flag
        assert force.opts == ["-f", "--force"], name
