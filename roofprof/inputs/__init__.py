"""Loading any input into a table.

Detection and the parsers' plain columns (``parsers/``) turned into the kernel table
(:mod:`.derive` evaluates the metric table) or the timing table (:mod:`.timing`), the
attribution rules (:mod:`.attribution`: phase, category, op), and reading several inputs,
glob patterns and dataset folders as one (:mod:`.load`). ``roofprof.load`` is
:func:`roofprof.inputs.load.load`.
"""
