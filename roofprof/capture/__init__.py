"""Capture on a GPU host: the NVTX helpers users put in their code (:mod:`.nvtx`,
:mod:`.torch_modules`), ``roofprof record`` (:mod:`.record` runs Nsight Compute with the command
line of :mod:`.ncu_command`) and ``roofprof trace`` (:mod:`.tracer` runs the program with the
CUPTI hook :mod:`.tracer_hook` injected through ``tracer_site/``, whose buffers
:mod:`.tracer_records` decodes at exit).
"""
