"""Write a run's (or a study's) outputs: CSV tables, ``summary.json`` and a self-contained HTML report.

``write_run(result, out_dir, format="csv")`` writes ``timeseries``, ``events``, ``liquidations``
and ``positions`` tables (CSV, or Parquet with ``format="parquet"``), ``run.json``,
``summary.json`` and ``report.html`` (KPI strip, interactive plotly charts with plotly.js inlined,
tables in collapsible sections) and returns the HTML path. ``write_study(study, out_dir)`` writes
one such folder per variant plus ``comparison.csv`` and ``study.html`` and returns the study HTML
path. Identical inputs give byte-identical files. ``frames.load_run(run_dir)`` reads a run folder
back (``perpsim report``). Pages, charts and units are :mod:`protocol.pages`'s.
"""

from __future__ import annotations

from protocol.report.writer import write_run, write_study

__all__ = ["write_run", "write_study"]
