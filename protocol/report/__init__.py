"""Write a run's (or a study's) outputs: CSV tables, ``summary.json`` and a self-contained HTML report.

``write_run(result, out_dir)`` writes ``timeseries.csv``, ``events.csv``, ``liquidations.csv``,
``summary.json`` and ``report.html`` (charts embedded as base64 PNG) and returns the HTML path.
``write_study(study, out_dir)`` writes one such folder per margin mode plus ``comparison.csv`` and
``study.html`` and returns the study HTML path. Identical inputs give byte-identical files.
"""

from __future__ import annotations

from protocol.report.writer import write_run, write_study

__all__ = ["write_run", "write_study"]
