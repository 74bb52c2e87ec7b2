"""The contracts: what a kernel or timing table is, and how one is stored.

The kernel table's schema (:mod:`.schema`), the metric table every counter is derived from
(:mod:`.metrics`), dictionary-typed text columns (:mod:`.columns`), the kernel table
(:mod:`.kernels`: ``Trace`` and its Parquet file) and the timing table (:mod:`.timing`), the
checks every stored table passes when read (:mod:`.checks`), what a table's rows stand for
(:mod:`.sampling`), the layout of a partitioned dataset (:mod:`.partitions`) and safe output
files (:mod:`.files`). No loading of other formats, no analysis, no views.
"""
