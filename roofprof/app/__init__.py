"""The application layer: one function per use case (what a command does, with its
defaults and its engine), returning data and notes. The command line (:mod:`roofprof.cli`) and
the Python API (``roofprof.summary``, ``roofprof.plot``, ...) both call these, so they cannot
disagree. No click here.
"""
