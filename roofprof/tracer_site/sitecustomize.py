"""Put on PYTHONPATH by ``roofprof trace``: start CUPTI tracing in every Python process of the
traced program (``roofprof.tracer_hook``), then run the ``sitecustomize`` this one hides, if any.
"""

import contextlib
import importlib
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
try:
    from roofprof import tracer_hook

    tracer_hook.start()
except Exception:  # never into the program; tracer_hook records its own failures
    pass
finally:
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    del sys.modules["sitecustomize"]
    with contextlib.suppress(ImportError):
        importlib.import_module("sitecustomize")
