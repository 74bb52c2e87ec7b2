"""Pure analysis: tables in, tables out; no I/O, no drawing, no text views.

The roofline group math (:mod:`.roofline`, :mod:`.grouping`, :mod:`.reasons`) that every view
uses, and what is built on it: the join of timing and counters, latency and requests, ranks,
the GPU catalog, the analytic model, what-if, diff and the numbers of the written report.
"""
