"""A fake of NVIDIA's ``cupti-python`` for CPU tests of roofprof's tracer hook (like
tests/fake_ncu.py for ncu): the same module layout, names and record attributes as the real
bindings' ``cupti/cupti.pyi`` (13.0.1), replaying records from the JSON file named by
``FAKE_CUPTI_RECORDS`` when the hook flushes. Not a CUPTI: nothing here touches a GPU."""

__all__ = ["cupti"]
