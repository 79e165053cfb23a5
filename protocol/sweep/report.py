"""``sweep.html``: a self-contained, interactive report of a sweep, readable offline.

Top to bottom: what was swept (axes, fixed ``--set`` overrides, seeds), the aggregates across the
grid (one axis: lines with bootstrap confidence bands; two or more: heatmaps, the worst over any
further axes), the frontier of two objectives with its Pareto-optimal settings, the aggregates
table (each figure with its interval, fitted to the page), the distributions over seeds and the
failed runs. Money is USD, drawdowns, returns and shares are % (as in the CLI's table).

Charts are plotly with plotly.js inlined once; identical inputs give byte-identical files.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Optional, Sequence

from protocol.pages.figures import Plot, div
from protocol.pages.shell import document
from protocol.pages.units import money, param, percent
from protocol.sweep.aggregate import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    P95,
    STATISTICS,
    PointAggregate,
    Statistic,
    keeper_statistic,
    min_seeds,
    point_key,
)
from protocol.sweep.charts import (
    HEATMAPS,
    distribution_chart,
    frontier_chart,
    heatmap,
    point_label,
    short_keys,
    trend_chart,
)
from protocol.sweep.frontier import DEFAULT_FRONTIER, condition_keys, frontiers, objective
from protocol.sweep.run import RunRecord
from protocol.sweep.sweep import SweepResult
from protocol.sweep.units import (
    short_reason,
    show,
    show_interval,
    titled,
    too_few_seeds_note,
)

__all__ = ["REPORT_NAME", "money", "percent", "sweep_html", "write_sweep_report"]

REPORT_NAME = "sweep.html"


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def _seeds_summary(records: Sequence[RunRecord]) -> str:
    by_point: dict[str, set[int]] = {}
    for r in records:
        by_point.setdefault(point_key(r.params), set()).add(r.seed)
    if not by_point:
        return "0"
    counts = sorted({len(s) for s in by_point.values()})
    seeds = sorted(set().union(*by_point.values()))
    count = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        listed = f"{seeds[0]}–{seeds[-1]}"
    else:
        listed = ", ".join(str(s) for s in seeds)
    return f"{count} (seeds {listed})"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], table_id: str, caption: str,
           numeric_from: int) -> str:
    """A table of ready HTML cells; columns from ``numeric_from`` on are right-aligned."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(
        f'<td class="num">{c}</td>' if i >= numeric_from else f"<td>{c}</td>"
        for i, c in enumerate(row)) + "</tr>" for row in rows)
    return (f'<table id="{table_id}"><caption>{escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>")


def _header(result: SweepResult, scenario: str) -> str:
    axes = "; ".join(f"{a.key} = {', '.join(param(v) for v in a.values)}" for a in result.axes)
    fixed = "; ".join(f"{k} = {param(v)}" for k, v in sorted(result.fixed.items()))
    total = len(result.records)
    rows = [
        ("scenario", scenario),
        ("axes", axes or "none (seeds only)"),
        ("fixed overrides", fixed or "none"),
        ("grid points", str(len(result.points))),
        ("seeds per point", _seeds_summary(result.records)),
        ("runs total", str(total)),
        ("runs executed now", str(max(total - result.skipped, 0))),
        ("skipped (resumed)", str(result.skipped)),
        ("failed", str(len(result.failed))),
        ("wall time", _seconds(result.wall_seconds)),
        ("intervals", f"{CONFIDENCE * 100:.0f}% confidence intervals over each point's seeds: "
                      "exact order-statistic (binomial, distribution-free) intervals for the "
                      "tail quantiles VaR95, LaR95, SaR95 and LP return p5, which need at least "
                      f"{min_seeds(P95)} seeds; bootstrap intervals ({BOOTSTRAP_RESAMPLES:,} "
                      f"resamples, seed {BOOTSTRAP_SEED}) for means and worst cases; a wide "
                      "interval means more seeds are needed"),
    ]
    return _table(["field", "value"], [(escape(k), escape(v)) for k, v in rows], "sweep", "Sweep",
                  numeric_from=2)


def _figure_cell(stat: Statistic, a: PointAggregate) -> str:
    value = a.value(stat.name)
    if value is None:
        reason = a.reasons.get(stat.name)
        return (f'<span class="too-few" title="{escape(reason)}">{escape(short_reason(reason))}</span>'
                if reason else "")
    interval = show_interval(stat, a.ci.get(stat.name))
    return escape(show(stat, value)) + (f'<span class="ci">{escape(interval)}</span>' if interval else "")


def _aggregates_table(result: SweepResult) -> str:
    """One row per grid point; each figure over its seeds with its interval below it, keepers
    grouped in one column, so the table fits the page."""
    keys = [a.key for a in result.axes]
    names = short_keys(keys)
    stats = [s for s in STATISTICS if any(a.shown(s.name) for a in result.aggregates)]
    keepers = sorted({k for a in result.aggregates for k in a.keeper_profit_mean})
    header = ([f'<abbr title="{escape(k)}">{escape(names[k])}</abbr>' for k in keys]
              + ["runs (failed)"] + [escape(titled(s)) for s in stats]
              + (["keeper net profit, mean (USD)"] if keepers else []))
    by_key = {point_key(a.params): a for a in result.aggregates}
    failed_at: dict[str, int] = {}
    for r in result.failed:
        failed_at[point_key(r.params)] = failed_at.get(point_key(r.params), 0) + 1
    rows = []
    for params in result.points or [a.params for a in result.aggregates]:
        pk = point_key(params)
        row = [escape(param(params.get(k))) for k in keys]
        a = by_key.get(pk)
        if a is None:  # every run of this point failed (or none finished)
            rows.append(row + [f"0 ({failed_at.get(pk, 0)})"] + [""] * (len(header) - len(row) - 1))
            continue
        row += [f"{a.runs} ({a.failed})"] + [_figure_cell(s, a) for s in stats]
        if keepers:
            row.append("<br>".join(f"{escape(k)}: {_figure_cell(keeper_statistic(k), a)}"
                                   for k in keepers if k in a.keeper_profit_mean))
        rows.append(row)
    caption = (f"Per grid point over its seeds, each with its {CONFIDENCE * 100:.0f}% confidence "
               "interval below (money in USD; drawdowns, returns and shares in %)")
    return _table(header, rows, "aggregates", caption, numeric_from=len(keys))


def _failed_section(result: SweepResult) -> str:
    if not result.failed:
        return '<h2>Failed runs</h2>\n<p id="failed">No failed runs.</p>'
    items = []
    for r in result.failed:
        first = r.error.splitlines()[0] if r.error else ""
        params = json.dumps(r.params, sort_keys=True, default=str)
        tb = (f"<details><summary>traceback</summary><pre>{escape(r.traceback)}</pre></details>"
              if r.traceback else "")
        items.append((f"<code>{escape(r.key)}</code>", escape(params), str(r.seed),
                      f"{escape(first)}{tb}"))
    rows = "\n".join(f'<tr><td>{k}</td><td>{p}</td><td class="num">{s}</td><td class="err">{e}</td></tr>'
                     for k, p, s, e in items)
    return ("<h2>Failed runs</h2>\n<table id=\"failed\"><caption>Runs that raised (retried on the "
            "next invocation)</caption><thead><tr><th>key</th><th>params</th><th>seed</th>"
            f"<th>error</th></tr></thead><tbody>\n{rows}\n</tbody></table>")


def _figure(plot: Plot) -> str:
    return (f'<figure id="chart-{plot.key}">{div(plot)}'
            f"<figcaption>{escape(plot.title)}</figcaption></figure>")


def _none(text: str) -> str:
    return f'<p class="none">{escape(text)}</p>'


def _too_few_seeds(result: SweepResult) -> str:
    """The warning that tail quantiles have no figure, or ``""``."""
    note = too_few_seeds_note(result.aggregates, STATISTICS)
    return f'<p class="warn" id="too-few-seeds">{escape(note)}</p>' if note else ""


def _grid_section(result: SweepResult) -> list[str]:
    out = ["<h2>Across the grid</h2>"]
    if not result.axes:
        return out + [_none("No swept axis (seeds only): nothing to chart across the grid.")]
    if len(result.axes) == 1:
        plots = [trend_chart(result.axes[0], result.aggregates)]
    else:
        plots = [heatmap(name, worst, result.axes, result.aggregates) for name, worst in HEATMAPS]
        if plots[0] is None:  # VaR95 from too few seeds: the mean bad debt in its place
            plots[0] = heatmap("bad_debt_mean", max, result.axes, result.aggregates)
    drawn = [_figure(p) for p in plots if p is not None]
    if not result.aggregates:
        return out + [_none("No grid point finished a run: nothing to chart.")]
    missing = [s for s in STATISTICS if any(s.name in a.reasons for a in result.aggregates)
               and not any(a.value(s.name) is not None for a in result.aggregates)]
    if missing:  # no chart pretends to show them
        drawn.append(_none("Not charted, too few seeds: "
                           + ", ".join(s.label for s in missing) + "."))
    return out + drawn


def _frontier_section(result: SweepResult, frontier: tuple[str, str]) -> list[str]:
    x, y = objective(frontier[0]), objective(frontier[1])
    out = [f"<h2>Frontier: {escape(x.label)} against {escape(y.label)}</h2>"]
    keys = [a.key for a in result.axes]
    names = short_keys(keys)
    conditions = condition_keys(keys, result.conditions)
    design = [k for k in keys if k not in conditions]
    source = ("--conditions" if result.conditions is not None
              else "by default: prices, liquidity, keepers, agents, oracle delays and outages, "
                   "blocks; --conditions overrides")
    out.append(f'<p id="design-conditions">Design parameters: '
               f"{escape(', '.join(design) or 'none')}. Conditions, compared separately, one "
               f"frontier per combination: {escape(', '.join(conditions) or 'none')} "
               f"({escape(source)}). A Pareto point is <em>not distinguishable</em> from another when "
               f"their {CONFIDENCE * 100:.0f}% intervals overlap on every objective where it is "
               "better (it may be dominated); a dominated point is listed when the Pareto point "
               "that dominates it does so only within the intervals (it may be optimal).</p>")
    if keys and not design:
        return out + [_none("Every swept key is a condition, so no design choice is compared and "
                            "nothing is Pareto-optimal; name the conditions with --conditions "
                            "(e.g. --conditions none) to compare them.")]
    groups = frontiers(result.aggregates, x, y, conditions)
    if not any(len(g.points) >= 2 for g in groups):
        missing = [s for s in (x, y) if any(s.name in a.reasons for a in result.aggregates)]
        why = (" " + "; ".join(sorted({a.reasons[s.name] for a in result.aggregates for s in missing
                                       if s.name in a.reasons}))
               + ". Run more seeds, or compare means: --frontier bad_debt_mean,fees_paid_mean."
               if missing else "")
        return out + [_none("A frontier needs at least two grid points with both objectives under "
                            "the same conditions." + why)]
    for i, group in enumerate(groups, 1):
        suffix = "" if len(groups) == 1 else f"-{i}"
        where = point_label(group.condition, names) if conditions else ""
        if where:
            out.append(f"<h3>At {escape(where)}</h3>")
        title = f"Frontier{' at ' + where if where else ''}: {titled(x)} against {titled(y)}"
        plot = frontier_chart(x, y, group, {k: names[k] for k in design}, key=f"frontier{suffix}",
                              title=title)
        if plot is None:
            out.append(_none("Only one grid point with both objectives here: nothing to compare."))
            continue
        design_names = {k: names[k] for k in design}

        def label(a: PointAggregate) -> str:
            return point_label({k: a.params[k] for k in design}, design_names)

        rows = []
        front = {point_key(a.params) for a in group.front}
        listed = list(group.front) + [a for a in group.points
                                      if point_key(a.params) not in front and group.tied(a)]
        for a in listed:
            tied = group.tied(a)
            status = "Pareto-optimal" if point_key(a.params) in front else "dominated"
            if tied:
                status += ", not distinguishable from " + "; ".join(label(b) for b in tied)
            rows.append((escape(label(a)), escape(status), _figure_cell(x, a), _figure_cell(y, a)))
        table = _table(["setting", "status", escape(titled(x)), escape(titled(y))], rows,
                       f"pareto{suffix}",
                       f"Pareto-optimal settings{' at ' + where if where else ''}: no other "
                       f"setting has {x.better} {x.label} and {y.better} {y.label} at once; below "
                       f"them the dominated settings that the {CONFIDENCE * 100:.0f}% intervals "
                       "cannot tell apart from one", numeric_from=2)
        out += [_figure(plot), table]
    return out


def sweep_html(result: SweepResult, scenario: Optional[str] = None,
               frontier: tuple[str, str] = DEFAULT_FRONTIER) -> str:
    """The whole ``sweep.html`` page as text. ``frontier`` names the two objectives (columns of
    aggregates.csv, e.g. ``("var95_bad_debt", "fees_paid_mean")``)."""
    scenario = scenario or result.scenario or "(unnamed scenario)"
    names = short_keys([a.key for a in result.axes])
    sections = [_header(result, scenario), _too_few_seeds(result), *_grid_section(result),
                *_frontier_section(result, frontier), "<h2>Aggregates</h2>",
                _aggregates_table(result), "<h2>Distributions over seeds</h2>"]
    dist = distribution_chart(result.aggregates, names)
    sections.append(_figure(dist) if dist else _none("No finished run: no distribution to show."))
    sections.append(_failed_section(result))
    return document(f"perpsim sweep: {scenario}", [s for s in sections if s])


def write_sweep_report(result: SweepResult, out: Path, *, scenario: Optional[str] = None,
                       frontier: tuple[str, str] = DEFAULT_FRONTIER) -> Path:
    """Write ``<out>/sweep.html`` (``out`` is the sweep folder, created if needed) and return its
    path. ``scenario`` names the scenario in the header (default: ``result.scenario``);
    ``frontier`` the two objectives of the frontier view. Identical inputs give identical files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_NAME
    path.write_text(sweep_html(result, scenario, frontier), encoding="utf-8")
    return path
