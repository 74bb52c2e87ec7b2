"""The ``roofprof`` command line: click only, and nothing else in roofprof imports click.

Each command (one module per command or pair of commands) parses its options, calls one
application function (:mod:`roofprof.app`), hands the result to a view (:mod:`roofprof.views`)
and writes it; errors become one line and their exit code (:mod:`.common`). A command decides
nothing about what to compute and has no defaults of its own: options not given reach the
application function as None. The application and view modules are imported inside each
command, so that ``roofprof --help`` loads nothing but click (tests/test_imports.py).
"""

from roofprof.cli.main import main

__all__ = ["main"]
