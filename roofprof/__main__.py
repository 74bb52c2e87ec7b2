"""``python -m roofprof``: the command line.

``python -m`` puts the working directory first on ``sys.path``; a ``parsers.py`` (or any
module named like one of roofprof's top-level packages) there would shadow roofprof's own
``parsers`` package. Unless roofprof itself is being run from that directory (a source
checkout), the working directory is taken off the path before anything else is imported.
"""

import os
import sys

_here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.path and os.path.abspath(sys.path[0] or os.getcwd()) != _here:
    del sys.path[0]

from roofprof.cli import main  # noqa: E402

main(prog_name="roofprof")
