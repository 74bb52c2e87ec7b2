"""What a join found (:func:`roofprof.analysis.join_report.report`) as text: coverage by
time, unmatched kernels, disagreeing samples."""

from __future__ import annotations

from typing import Any


def format_report(facts: dict[str, Any], top: int = 10) -> str:
    """The join's facts as text: coverage by time, unmatched kernels, disagreeing samples."""
    cover, launches = facts["coverage_by_time"], facts["launches"]
    lines = ["counters by time: " + ", ".join(
        f"{name} {100 * cover[name]:.1f}% ({launches[name]} launches)"
        for name in ("launch", "signature", "none"))]
    inside = facts.get("in_scope")
    if inside and inside["time"] < 1.0:
        within = inside["coverage_by_time"]
        lines.append(f"  of the launches ncu could profile (inside its filters, "
                     f"{100 * inside['time']:.1f}% of the time): " + ", ".join(
                         f"{name} {100 * within[name]:.1f}%"
                         for name in ("launch", "signature", "none")))
    if not facts.get("template_instances", True):
        lines.append("template instances unknown (kernel names not demangled: install "
                     "binutils' c++filt where you trace): signatures use function base names")
    if facts["unmatched"]:
        lines.append("unmatched kernels (no profiled launch; counters null), by time:")
        lines += [f"  {u['kernel'][:70]}"
                  + (f" grid {u['grid']} block {u['block']}" if u["grid"] is not None else "")
                  + f": {u['launches']} launches, {u['time_ns'] / 1e3:.1f} µs"
                  + (" (another template instance was profiled)"
                     if u.get("other_instance_profiled") else "")
                  + (" (CUDA graph replays timed as a whole: their kernels were not recorded; "
                     "trace with --graph-nodes all, or nsys --cuda-graph-trace=node)"
                     if u.get("graph_replay") else "")
                  for u in facts["unmatched"][:top]]
        other = facts.get("unmatched_other_instance", {})
        if other.get("launches"):
            lines.append(
                f"{other['launches']} launches ({100 * other['time']:.1f}% of the time) have no "
                "counters because only another template instance of their kernel was profiled "
                "(ncu's --per-config counts configurations by function name unless told "
                "--kernel-name-base mangled, as roofprof record now does); to measure them, "
                "record again with `roofprof record --per-config N` (each instance its own "
                "configuration), or profile those kernels with `roofprof record --kernel "
                "REGEX`, or the whole range with `--range NAME` and no --per-config")
    if facts["disagreeing"]:
        lines.append(f"{facts['disagreeing_count']} signature(s) whose samples disagree by more "
                     f"than {100 * facts['spread_threshold']:.0f}% in FLOPs or DRAM bytes "
                     "(their mean is used):")
        several = len({d.get("device") for d in facts["disagreeing"]}) > 1
        lines += [f"  {d['kernel'][:70]} grid {d['grid']} block {d['block']}"
                  + (f" device {d.get('device')}" if several else "") + f": {d['samples']} "
                  f"samples, spread {100 * d['spread']:.1f}%, {d['launches']} launches "
                  f"[{d['key']}]" for d in facts["disagreeing"][:top]]
    return "\n".join(lines) + "\n"
