"""``import roofprof.torch``: NVTX ranges for PyTorch models (the public path; the code is
:mod:`roofprof.capture.torch_modules`)."""

from roofprof.capture.torch_modules import Annotation, annotate, mark_phases, phase_for

__all__ = ["Annotation", "annotate", "mark_phases", "phase_for"]
