"""The ``roofprof`` command line: click only. Each command parses its options, calls one
application function (:mod:`roofprof.app`), hands the result to a view and writes it; errors
become one line and their exit code. Nothing else in roofprof imports click.
"""

from roofprof.cli.commands import main

__all__ = ["main"]
