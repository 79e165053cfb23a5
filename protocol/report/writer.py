"""``write_run`` / ``write_study``: put a run's or a study's files in a folder."""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path
from typing import Any, Iterator, cast

from protocol.pages import shell as page
from protocol.pages import units
from protocol.report import kpi, plots, tables
from protocol.sim.provenance import SCENARIO_FILE, Provenance
from protocol.sim.result import RunResult, StudyResult
from protocol.values import flatten

FORMATS = ("csv", "parquet")
LIQUIDATIONS_SHOWN = 500  # rows of the liquidations table on the page (the file has them all)


def _setting(value: Any) -> str:
    """An override's value as written after ``--set KEY=`` (TOML-like)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str)
    return str(value)


def overrides_text(provenance: Provenance) -> str:
    """``key = value, ...`` of the run's overrides by key (as ``run.json`` has them), or
    ``none``."""
    return ", ".join(f"{k} = {_setting(v)}" for k, v in sorted(provenance.overrides.items())) \
        or "none"


def modules_text(provenance: Provenance) -> str:
    """``kind: Contract, ...`` (with the user's contracts' short sha256), or ``stock``."""
    if not provenance.modules:
        return "stock"
    text = ", ".join(f"{kind}: {name}" for kind, name in sorted(provenance.modules.items()))
    if provenance.contracts_sha256:
        text += f" (contracts sha256 {provenance.contracts_sha256[:12]})"
    return text


def changes_line(provenance: Provenance) -> str:
    """The report header's line of what the run changed: its overrides, and its rule modules
    when they are not the stock ones."""
    text = f"overrides: {overrides_text(provenance)}"
    if provenance.modules:
        text += f" · modules: {modules_text(provenance)}"
    return text


def _metadata(result: RunResult) -> list[tuple[str, object]]:
    blocks = result.summary.get("blocks", max(len(result.rows) - 1, 0))
    p = result.provenance
    fields = [("scenario", result.scenario), ("variant", p.variant), ("seed", result.seed),
              ("backend", result.backend), ("margin mode", result.mode),
              ("simulated", f"{units.blocks(blocks, result.block_time)} of {result.block_time} s"),
              ("markets", ", ".join(result.markets)), ("venue preset", p.preset),
              ("cohorts", ", ".join(result.cohorts)),
              ("keepers", ", ".join(result.keepers)), ("overrides", overrides_text(p)),
              ("modules", modules_text(p)), ("contracts", p.contracts),
              ("contracts sha256", p.contracts_sha256),
              ("perpsim", " ".join(x for x in (p.perpsim_version, p.commit and f"commit {p.commit}") if x)),
              ("scenario as run", SCENARIO_FILE if p.scenario_toml is not None else None)]
    return [(k, v) for k, v in fields if v not in (None, "")]


def _eth_price(summary: dict[str, Any], key: str) -> Any:
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "keepers":
        return (summary.get("keepers", {}).get(parts[1]) or {}).get("eth_price_usd")
    return None


def _definition(key: str) -> str:
    """The tooltip of a totals row whose name alone is ambiguous (the two LP returns)."""
    if key == "pool.lp_return":
        return kpi.LP_RETURN_SHARE
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "cohorts" and parts[2] == "return" \
            and plots.is_lp_cohort(parts[1]):
        return kpi.LP_RETURN_COHORT
    return ""


def summary_rows(result: RunResult) -> Iterator[tuple[Any, str]]:
    """The run totals in human units, ``(name, text)``; the name a :class:`~page.Tip` with its
    definition where two rows could be confused (the LP returns)."""
    for key, value in flatten(result.summary):
        if key.endswith("eth_price_usd"):
            continue
        name, tip = units.human_key(key), _definition(key)
        yield (page.Tip(name, tip) if tip else name), units.human(key, value,
                                                                  _eth_price(result.summary, key))


def _liquidation_rows(result: RunResult) -> Iterator[list[str]]:
    for m in result.liquidations[:LIQUIDATIONS_SHOWN]:
        yield [f"{m.block:,} ({units.duration(m.block * result.block_time)})", m.market,
               plots.mark_side(m), m.mode, units.usd(m.price), units.usd(m.notional, cents=False),
               m.cohort or units.DASH, "" if m.leverage is None else f"{m.leverage}x",
               units.usd(m.entry_price), m.keeper or units.DASH, units.usd(m.penalty),
               units.usd(m.reward), units.usd(m.gas), units.usd(m.bad_debt),
               units.DASH if m.latency is None else f"{m.latency:,}"]


def run_html(result: RunResult) -> str:
    """The run report: KPI strip, charts, then run details, totals and liquidations in
    collapsible sections."""
    title = f"perpsim run: {result.scenario}" + (f" ({result.mode})" if result.mode else "")
    blocks = result.summary.get("blocks", max(len(result.rows) - 1, 0))
    meta = (f"seed {result.seed} · {result.backend} · "
            f"{units.blocks(blocks, result.block_time)} of {result.block_time} s · "
            f"markets {', '.join(result.markets)}")
    shown = min(len(result.liquidations), LIQUIDATIONS_SHOWN)
    sections = [
        kpi.kpi_strip(kpi.kpis(result)),
        "<h2>Charts</h2>",
        *page.plots(plots.run_plots(result)),
        "<h2>Details</h2>",
        page.details("Run", page.table(["field", "value"], _metadata(result), "run", "Run"),
                     "details-run"),
        page.details("Totals", page.table(["metric", "value"], summary_rows(result), "summary",
                                          "Run totals (summary.json, in human units)"),
                     "details-summary"),
        page.details(f"Liquidations ({len(result.liquidations):,})", page.table(
            ["block (time)", "market", "side", "mode", "price", "notional", "cohort",
             "leverage", "entry price", "keeper", "penalty", "reward", "gas", "bad debt",
             "latency (blocks)"], _liquidation_rows(result), "liquidations",
            f"First {shown:,} of {len(result.liquidations):,} (all in liquidations.csv)"),
            "details-liquidations"),
    ]
    return page.document(title, sections, meta, changes_line(result.provenance))


def write_run(result: RunResult, out_dir: Path, format: str = "csv") -> Path:
    """Write the run's tables (``timeseries``, ``events``, ``liquidations``, ``positions``; as
    ``.csv``, or ``.parquet`` with ``format="parquet"``), ``run.json`` (what the run was: seed,
    backend, overrides, modules and the sha256 of the user's contracts, perpsim version and
    commit), ``scenario.toml`` (the scenario as run, when it came from TOML: ``perpsim run`` on
    it gives the same numbers), ``summary.json`` and ``report.html`` into ``out_dir`` (created
    if needed); return the ``report.html`` path."""
    if format not in FORMATS:
        raise ValueError(f"format: must be one of {', '.join(FORMATS)}, got {format!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if format == "parquet":
        # Function-level: pandas and pyarrow load only for the Parquet tables, not for every run.
        from protocol.report.frames import write_parquet

        write_parquet(result, out)
    else:
        tables.write_timeseries(result.rows, out / "timeseries.csv")
        tables.write_events(result.events, out / "events.csv")
        tables.write_liquidations(result.liquidations, out / "liquidations.csv")
        tables.write_positions(result.positions, out / "positions.csv")
    tables.write_json(tables.run_info(result), out / "run.json")
    scenario_file = out / SCENARIO_FILE
    if result.provenance.scenario_toml is not None:
        scenario_file.write_text(result.provenance.scenario_toml, encoding="utf-8")
    elif scenario_file.exists():
        scenario_file.unlink()  # an earlier run's: not what this one ran
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


def comparison_cell(metric: str, value: Any) -> str:
    """A comparison value in the unit its metric names (``... $``, ``... %``, blocks)."""
    if value is None:
        return units.DASH
    if metric.endswith("$"):
        return units.usd(value)
    if metric.endswith("%"):
        return f"{float(value):,.2f}%"
    if "(block)" in metric:
        return units.count(value)
    return units.human(metric.replace(" ", "_"), value)


def study_html(study: StudyResult, dirs: dict[str, str]) -> str:
    modes = _modes(study)
    links = "".join(f'<li><a href="{escape(d)}/report.html">{escape(m)}</a></li>'
                    for m, d in dirs.items())
    sections = [
        page.table(["metric", *modes],
                   ([metric, *(comparison_cell(metric, per_mode.get(m)) for m in modes)]
                    for metric, per_mode in study.comparison.items()),
                   "comparison", "Side by side (comparison.csv has the exact values)"),
        "<h2>Charts</h2>",
        *page.plots(plots.study_plots(study)),
        f"<h2>Runs</h2><ul>{links}</ul>",
    ]
    first = next(iter(study.runs.values()), None)
    return page.document(f"perpsim study: {study.scenario}", sections,
                         "The same scenario, seed, traders and prices under " + " and ".join(modes),
                         changes_line(first.provenance) if first is not None else "")


def write_study(study: StudyResult, out_dir: Path, format: str = "csv") -> Path:
    """Write ``<out_dir>/<mode>/`` (via :func:`write_run`) per run, ``comparison.csv``,
    ``scenario.toml`` (the study's scenario as run) and ``study.html`` (comparison table in human units, the variants in shared charts, links to
    each run report); return the ``study.html`` path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dirs = {mode: mode_dir(mode) for mode in study.runs}
    if len(set(dirs.values())) != len(dirs):
        raise ValueError(f"modes collide as folder names: {dirs}")
    for mode, run in study.runs.items():
        write_run(run, out / dirs[mode], format)
    tables.write_comparison(study.comparison, _modes(study), out / "comparison.csv")
    texts = {run.provenance.scenario_toml for run in study.runs.values()} - {None}
    if len(texts) == 1:  # the study's scenario as run, as in each run's folder
        (out / SCENARIO_FILE).write_text(cast(str, texts.pop()), encoding="utf-8")  # None taken out
    html_path = out / "study.html"
    html_path.write_text(study_html(study, dirs), encoding="utf-8")
    return html_path
