"""The application layer: one function per use case (what a command does, with its defaults and
its engine), returning data and notes. The command line (:mod:`roofprof.cli`) and the Python API
(``roofprof.summary``, ``roofprof.plot``, ...) both call these, so they cannot disagree. No click
here. The defaults are :mod:`roofprof.app.defaults`.

=============  ====================================  ========================================
use case       function                              returns
=============  ====================================  ========================================
summary        :func:`roofprof.app.summary.summary`  :class:`~roofprof.app.summary.Summary`
plot           :func:`roofprof.app.plot.plot`        a :class:`~roofprof.views.chart.scene.Scene`
convert        :func:`roofprof.app.convert.convert`  the files written
join           :func:`roofprof.app.join.join`        the join's facts
latency        :func:`roofprof.app.latency.latency`  :class:`~roofprof.app.latency.Latency`
model          :func:`roofprof.app.model.model`      :class:`~roofprof.app.model.Model`
whatif         :func:`roofprof.app.whatif.whatif`    :class:`~roofprof.app.whatif.WhatIf`
diff           :func:`roofprof.app.diff.diff`        :class:`~roofprof.app.diff.Diff`
report         :func:`roofprof.app.report.report`    a :class:`~roofprof.views.report.Report`
ranks          :func:`roofprof.app.ranks.ranks`      a table
gpus           :func:`roofprof.app.gpus.gpus`        :class:`~roofprof.app.gpus.Gpus`
record, trace  :mod:`roofprof.app.capture`           ncu's command line; the timing table
=============  ====================================  ========================================

Which existing files a command's outputs may replace (never one holding measurements without
``--force``) is decided once, in :mod:`roofprof.app.outputs`.
"""
