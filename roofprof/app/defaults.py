"""The defaults of every use case, in one place.

The application functions (:mod:`roofprof.app`) fill what a caller leaves out (``None``) from
here, and the command line's help states them from here: it has no defaults of its own. Light
on purpose (no imports): ``roofprof --help`` reads it.
"""

from __future__ import annotations

# Two defaults of --by, on purpose. ``summary`` and ``plot`` look at one trace: by range they
# show the NVTX tree as the program annotated it, for any program (phase needs LLM phase
# names: any other program is one group, ``other``), and --top and --depth keep it short.
# ``whatif``, ``diff`` and ``ranks`` put runs, GPUs or ranks side by side: their groups must be
# few and must match from one side to the other; by range an LLM's paths are hundreds of
# groups (a row per layer and module), by phase they are prefill, decode, ...
#: how ``summary`` and ``plot`` group kernels
BY = "range"
#: ``plot --sweep`` (several traces, one point each per group)
BY_SWEEP = "phase"
#: ``plot`` of several files at once (a glob, a list): one colour per file
BY_SEVERAL = "trace"
#: ``whatif``, ``diff`` and ``ranks``: what is compared (above: why not :data:`BY`)
BY_COMPARE = "phase"
#: ``latency``: range instances grouped by name (``path``: by full path)
LATENCY_BY = "range"
#: ``latency -o PLOT``: what the plot draws (``wall``, ``gpu_span`` or ``kernel``)
LATENCY_METRIC = "wall"

#: the memory level whose traffic and bandwidth set the roof
LEVEL = "dram"
#: how a dataset folder is read by ``summary`` and ``plot`` (out of core where it can)
ENGINE = "auto"
#: how ``ranks`` reads a dataset folder
RANKS_ENGINE = "duckdb"
#: ``ranks``: a row per group and rank (``spread``: a row per group)
RANKS_VIEW = "rank"
#: how ``.ncu-rep`` reports are read: roofprof's own decoder (``ncu-report``: NVIDIA's)
READER = "roofprof"

#: ``plot``: the kernel names labelled, by GPU time
LABELS = 5
#: ``diff``: the kernels whose time changed most, listed under the groups
DIFF_KERNELS = 10
#: ``diff``: changes under this percentage are noise (a floor under the repeat runs' spread)
NOISE_PCT = 0.0
#: ``diff --fail-if-slower``: what the gate looks at (``group``: any group)
GATE = "total"
#: ``join``: signatures whose samples differ by more than this fraction are reported
SPREAD = 0.05
#: ``gpus --check``: relative difference reported as a disagreement
TOLERANCE = 0.10
#: ``trace``: CUDA graph replays recorded node by node (``none``: each replay as a whole)
GRAPH_NODES = "all"
