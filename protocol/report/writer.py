"""``write_run`` / ``write_study``: put a run's or a study's files in a folder."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

from protocol.report import charts, page, tables
from protocol.report.values import flatten
from protocol.sim.result import RunResult, StudyResult


def _metadata(result: RunResult) -> list[tuple[str, object]]:
    return [("scenario", result.scenario), ("seed", result.seed), ("backend", result.backend),
            ("mode", result.mode), ("block time (s)", result.block_time),
            ("blocks", len(result.rows)), ("markets", ", ".join(result.markets)),
            ("cohorts", ", ".join(result.cohorts)), ("keepers", ", ".join(result.keepers))]


def run_html(result: RunResult) -> str:
    """The run report: metadata, summary table and every chart."""
    title = f"perpsim run: {result.scenario}" + (f" ({result.mode})" if result.mode else "")
    sections = [
        page.table(["field", "value"], _metadata(result), "run", "Run"),
        "<h2>Summary</h2>",
        page.table(["metric", "value"], flatten(result.summary), "summary", "Run totals"),
        "<h2>Charts</h2>",
        *(page.figure(c) for c in charts.run_charts(result)),
    ]
    return page.document(title, sections)


def write_run(result: RunResult, out_dir: Path) -> Path:
    """Write ``timeseries.csv``, ``events.csv``, ``liquidations.csv``, ``summary.json`` and
    ``report.html`` into ``out_dir`` (created if needed); return the ``report.html`` path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables.write_timeseries(result.rows, out / "timeseries.csv")
    tables.write_events(result.events, out / "events.csv")
    tables.write_liquidations(result.liquidations, out / "liquidations.csv")
    tables.write_json(result.summary, out / "summary.json")
    html_path = out / "report.html"
    html_path.write_text(run_html(result), encoding="utf-8")
    return html_path


def mode_dir(mode: str) -> str:
    """Folder name for a mode's run (anything but ``[A-Za-z0-9._-]`` becomes ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(mode)) or "_"


def _modes(study: StudyResult) -> list[str]:
    """The study's modes in run order, then any mode only named in the comparison."""
    modes = list(study.runs)
    for per_mode in study.comparison.values():
        modes += [m for m in per_mode if m not in modes]
    return modes


def write_study(study: StudyResult, out_dir: Path) -> Path:
    """Write ``<out_dir>/<mode>/`` (via :func:`write_run`) per run, ``comparison.csv`` and
    ``study.html`` (comparison table, per-mode charts, links to each run report);
    return the ``study.html`` path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dirs = {mode: mode_dir(mode) for mode in study.runs}
    if len(set(dirs.values())) != len(dirs):
        raise ValueError(f"modes collide as folder names: {dirs}")
    for mode, run in study.runs.items():
        write_run(run, out / dirs[mode])
    modes = _modes(study)
    tables.write_comparison(study.comparison, modes, out / "comparison.csv")
    links = "".join(f'<li><a href="{escape(d)}/report.html">{escape(m)}</a></li>'
                    for m, d in dirs.items())
    sections = [
        "<h2>Comparison</h2>",
        page.table(["metric", *modes],
                   ([metric, *(per_mode.get(m) for m in modes)]
                    for metric, per_mode in study.comparison.items()),
                   "comparison", "Metrics per margin mode"),
        "<h2>Charts</h2>",
        *(page.figure(c) for c in charts.study_charts(study)),
        f"<h2>Runs</h2><ul>{links}</ul>",
    ]
    html_path = out / "study.html"
    html_path.write_text(page.document(f"perpsim study: {study.scenario}", sections),
                         encoding="utf-8")
    return html_path
