"""Put on PYTHONPATH by ``roofprof trace``: start CUPTI tracing in every Python process of the
traced program, then run the ``sitecustomize`` this one hides, if any.

The hook (``roofprof/capture/tracer_hook.py``) is loaded from the file ``roofprof trace`` names in
``ROOFPROF_TRACE_HOOK``, so the traced program gets no foreign ``site-packages`` on its path. The
hook imports ``roofprof.capture``'s tracer modules (standard library only at import time): the
traced program's Python must be able to import roofprof.
"""

import contextlib
import importlib
import importlib.util
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
try:
    _spec = importlib.util.spec_from_file_location("roofprof_tracer_hook",
                                                   os.environ["ROOFPROF_TRACE_HOOK"])
    if _spec is not None and _spec.loader is not None:
        _hook = importlib.util.module_from_spec(_spec)
        sys.modules["roofprof_tracer_hook"] = _hook
        _spec.loader.exec_module(_hook)
        _hook.start()
except Exception:  # never into the program; the hook records its own failures
    pass
finally:
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    _self = sys.modules.pop("sitecustomize", None)
    with contextlib.suppress(ImportError):
        importlib.import_module("sitecustomize")
    # site.py's `import sitecustomize` reads sys.modules when this returns: leave a module there
    if "sitecustomize" not in sys.modules and _self is not None:
        sys.modules["sitecustomize"] = _self
