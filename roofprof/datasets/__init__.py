"""Partitioned datasets out of core: the group math as one generated SQL query on DuckDB
(:mod:`.sql`) and on Spark (:mod:`.spark`), the numbers of a dataset's plot
(:mod:`.plot_numbers`), each file checked by its footer before an engine reads it and an
engine's error turned into one naming the file (:mod:`.footers`), and adding files to a
dataset (:mod:`.write`). The folder layout itself is :mod:`roofprof.tables.partitions`.
"""
