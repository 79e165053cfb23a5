"""``sweep.html``: a self-contained report of a sweep (header, aggregates table, VaR95 heatmap,
per-point distributions over seeds, failed runs).

Charts are drawn by :func:`protocol.report.charts.render` (fixed style, no PNG metadata) and
embedded by :func:`protocol.report.page.figure`, so identical inputs give byte-identical files,
like the run report.

With more than two axes the heatmap is over the first two axes and each cell shows the *maximum*
VaR95 bad debt over the values of the remaining axes (the worst case); the chart title says so.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from protocol.report import page
from protocol.report.charts import FIGSIZE, Chart, render
from protocol.report.values import cell, to_float
from protocol.sweep.aggregate import PointAggregate, point_key
from protocol.sweep.run import RunRecord
from protocol.sweep.sweep import SweepResult

REPORT_NAME = "sweep.html"
EXTRA_STYLE = """<style>
.wide { overflow-x: auto; }
.wide table { font-size: 0.85em; }
td.err { max-width: 30em; }
details pre { white-space: pre-wrap; font-size: 0.8em; background: #f6f6f6; padding: 0.5em; }
</style>"""


# --- formatting -----------------------------------------------------------------------------

def money(value: Any) -> str:
    """USD with 2 decimals and thousands separators (``""`` for ``None``, no ``-0.00``)."""
    if value is None:
        return ""
    q = Decimal(str(value)).quantize(Decimal("0.01"))
    if q == 0:
        q = abs(q)
    return f"{q:,.2f}"


def percent(value: Any) -> str:
    """A fraction as a percentage with 2 decimals (``0.0123`` -> ``1.23%``)."""
    if value is None:
        return ""
    q = (Decimal(str(value)) * 100).quantize(Decimal("0.01"))
    if q == 0:
        q = abs(q)
    return f"{q:,.2f}%"


def short_keys(keys: Sequence[str]) -> dict[str, str]:
    """Each axis key's last dotted segment, or the full key where that would be ambiguous."""
    last = {k: k.rsplit(".", 1)[-1] for k in keys}
    counts: dict[str, int] = {}
    for s in last.values():
        counts[s] = counts.get(s, 0) + 1
    return {k: (s if counts[s] == 1 else k) for k, s in last.items()}


def point_label(params: dict[str, Any], names: dict[str, str], sep: str = ", ") -> str:
    """Compact label of a grid point: ``max_leverage=10, latency=2`` (``all`` with no axes)."""
    if not params:
        return "all"
    return sep.join(f"{names.get(k, k)}={cell(v)}" for k, v in params.items())


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


# --- HTML pieces ----------------------------------------------------------------------------

def _table(header: Sequence[str], rows: Sequence[Sequence[tuple[str, bool]]], table_id: str,
           caption: str) -> str:
    """An HTML table of pre-formatted cells ``(text, right_aligned)``."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "\n".join(
        "<tr>" + "".join(f'<td class="num">{escape(t)}</td>' if num else f"<td>{escape(t)}</td>"
                         for t, num in row) + "</tr>"
        for row in rows)
    return (f'<div class="wide"><table id="{escape(table_id)}"><caption>{escape(caption)}'
            f"</caption><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table></div>")


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


def _header(result: SweepResult, scenario: str) -> str:
    axes = "; ".join(f"{a.key} = {', '.join(cell(v) for v in a.values)}" for a in result.axes)
    total = len(result.records)
    rows = [
        ("scenario", scenario),
        ("axes", axes or "none (seeds only)"),
        ("grid points", str(len(result.points))),
        ("seeds per point", _seeds_summary(result.records)),
        ("runs total", str(total)),
        ("runs executed now", str(max(total - result.skipped, 0))),
        ("skipped (resumed)", str(result.skipped)),
        ("failed", str(len(result.failed))),
        ("wall time", _seconds(result.wall_seconds)),
    ]
    return page.table(["field", "value"], rows, "sweep", "Sweep")


def _keepers(aggregates: Sequence[PointAggregate]) -> list[str]:
    return sorted({k for a in aggregates for k in a.keeper_profit_mean})


def _aggregates_table(result: SweepResult) -> str:
    keys = [a.key for a in result.axes]
    keepers = _keepers(result.aggregates)
    header = [*keys, "runs", "failed", "VaR95 bad debt (USD)", "LaR95 liquidation volume (USD)",
              "SaR95 liquidation impact cost (USD)",
              "insurance max drawdown, worst (USD)", "insurance max drawdown, mean (USD)",
              "LP return, mean", "LP return, p5", "wiped-out share, mean",
              *(f"keeper profit mean: {k} (USD)" for k in keepers)]
    by_key = {point_key(a.params): a for a in result.aggregates}
    failed_at: dict[str, int] = {}
    for r in result.failed:
        failed_at[point_key(r.params)] = failed_at.get(point_key(r.params), 0) + 1
    rows = []
    grid = result.points or [a.params for a in result.aggregates]
    for params in grid:
        pk = point_key(params)
        row = [(cell(params.get(k)), False) for k in keys]
        a = by_key.get(pk)
        if a is None:  # every run of this point failed (or none finished)
            blanks = [("", True)] * (10 - 2 + len(keepers))
            rows.append(row + [("0", True), (str(failed_at.get(pk, 0)), True)] + blanks)
            continue
        rows.append(row + [
            (str(a.runs), True), (str(a.failed), True),
            (money(a.var95_bad_debt), True), (money(a.lar95_liquidation_volume), True),
            (money(a.sar95_liquidation_impact), True),
            (money(a.insurance_max_drawdown), True), (money(a.insurance_max_drawdown_mean), True),
            (percent(a.lp_return_mean), True), (percent(a.lp_return_p5), True),
            (percent(a.wiped_out_share_mean), True),
            *((money(a.keeper_profit_mean[k]) if k in a.keeper_profit_mean else "", True)
              for k in keepers)])
    return _table(header, rows, "aggregates",
                  "Per grid point over its seeds (money in USD; returns and shares in %)")


def _failed_section(result: SweepResult) -> str:
    if not result.failed:
        return '<h2>Failed runs</h2>\n<p id="failed">No failed runs.</p>'
    items = []
    for r in result.failed:
        first = r.error.splitlines()[0] if r.error else ""
        params = json.dumps(r.params, sort_keys=True, default=str)
        tb = (f"<details><summary>traceback</summary><pre>{escape(r.traceback)}</pre></details>"
              if r.traceback else "")
        items.append(f"<tr><td><code>{escape(r.key)}</code></td><td>{escape(params)}</td>"
                     f'<td class="num">{r.seed}</td><td class="err">{escape(first)}{tb}</td></tr>')
    return ("<h2>Failed runs</h2>\n"
            '<div class="wide"><table id="failed"><caption>Runs that raised (retried on the next '
            "invocation)</caption><thead><tr><th>key</th><th>params</th><th>seed</th>"
            "<th>error</th></tr></thead><tbody>\n" + "\n".join(items) + "\n</tbody></table></div>")


# --- charts ---------------------------------------------------------------------------------

def var95_heatmap(result: SweepResult) -> Optional[Chart]:
    """VaR95 bad debt over the first two axes (max over any further axes), values annotated."""
    if len(result.axes) < 2 or not result.aggregates:
        return None
    ax_x, ax_y, rest = result.axes[0], result.axes[1], result.axes[2:]
    xs = {point_key({"v": v}): i for i, v in enumerate(ax_x.values)}
    ys = {point_key({"v": v}): j for j, v in enumerate(ax_y.values)}
    grid = np.full((len(ax_y.values), len(ax_x.values)), np.nan)
    exact: dict[tuple[int, int], Decimal] = {}
    for a in result.aggregates:
        i = xs.get(point_key({"v": a.params.get(ax_x.key)}))
        j = ys.get(point_key({"v": a.params.get(ax_y.key)}))
        if i is None or j is None:
            continue
        if (j, i) not in exact or a.var95_bad_debt > exact[j, i]:
            exact[j, i] = a.var95_bad_debt
            grid[j, i] = to_float(a.var95_bad_debt)
    finite = grid[~np.isnan(grid)]
    if finite.size == 0:
        return None
    lo, hi = min(float(finite.min()), 0.0), float(finite.max())
    if hi <= lo:
        hi = lo + 1.0
    suffix = f" (max over {', '.join(a.key for a in rest)})" if rest else ""
    title = f"VaR95 bad debt (USD){suffix}"

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.grid(False)
        im = ax.imshow(np.ma.masked_invalid(grid), cmap="Reds", vmin=lo, vmax=hi,
                       origin="lower", aspect="auto", interpolation="nearest")
        ax.set_xticks(range(len(ax_x.values)), [cell(v) for v in ax_x.values])
        ax.set_yticks(range(len(ax_y.values)), [cell(v) for v in ax_y.values])
        ax.set_xlabel(ax_x.key)
        ax.set_ylabel(ax_y.key)
        size = 8 if grid.size <= 36 else 6
        for j in range(grid.shape[0]):
            for i in range(grid.shape[1]):
                v = grid[j, i]
                text = money(exact[j, i]) if (j, i) in exact else "n/a"
                dark = not math.isnan(v) and (v - lo) / (hi - lo) > 0.6
                ax.text(i, j, text, ha="center", va="center", fontsize=size,
                        color="white" if dark else "black")
        fig.colorbar(im, ax=ax, label="USD")

    height = max(FIGSIZE[1], 0.45 * len(ax_y.values) + 1.8)
    alt = (f"Heatmap of VaR95 bad debt over {ax_x.key} ({len(ax_x.values)} values) and "
           f"{ax_y.key} ({len(ax_y.values)} values){suffix}, cell values annotated")
    return render("var95", title, alt, draw, height=height)


def var95_bars(result: SweepResult) -> Optional[Chart]:
    """With one axis: VaR95 bad debt per value, as bars with their values."""
    if len(result.axes) != 1 or not result.aggregates:
        return None
    axis = result.axes[0]
    by_key = {point_key(a.params): a for a in result.aggregates}
    labels, values, texts = [], [], []
    for v in axis.values:
        a = by_key.get(point_key({axis.key: v}))
        labels.append(cell(v))
        values.append(to_float(a.var95_bad_debt) if a else math.nan)
        texts.append(money(a.var95_bad_debt) if a else "n/a")

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        pos = list(range(len(labels)))
        bars = ax.bar(pos, [0.0 if math.isnan(v) else v for v in values], color="tab:red")
        ax.bar_label(bars, labels=texts, fontsize=8)
        ax.set_xticks(pos, labels)
        ax.set_xlabel(axis.key)
        ax.set_ylabel("VaR95 bad debt (USD)")
        ax.margins(y=0.15)

    return render("var95", "VaR95 bad debt (USD)",
                  f"Bar chart of VaR95 bad debt for each of {len(labels)} values of {axis.key}",
                  draw)


def distribution_chart(result: SweepResult) -> Optional[Chart]:
    """Box plots over seeds per grid point: bad debt (top) and LP return (bottom)."""
    aggs = [a for a in result.aggregates if a.bad_debt or a.lp_return]
    if not aggs:
        return None
    names = short_keys([a.key for a in result.axes])
    many = len(aggs) > 6
    labels = [point_label(a.params, names, ", " if many else "\n") for a in aggs]
    bad = [[to_float(v) for v in a.bad_debt] for a in aggs]
    lp = [[to_float(v) * 100 for v in a.lp_return] for a in aggs]
    pos = list(range(1, len(aggs) + 1))

    def panel(ax, data: list[list[float]], ylabel: str, color: str) -> None:
        present = [(p, d) for p, d in zip(pos, data) if d]
        if present:
            ax.boxplot([d for _, d in present], positions=[p for p, _ in present], widths=0.5,
                       showfliers=False, medianprops=dict(color=color))
            for p, d in present:
                ax.scatter([p] * len(d), d, s=10, color=color, alpha=0.6, zorder=3,
                           linewidths=0)
        ax.set_ylabel(ylabel)
        ax.set_xlim(0.5, len(pos) + 0.5)

    def draw(fig: Figure) -> None:
        top, bottom = fig.subplots(2, 1, sharex=True)
        panel(top, bad, "bad debt (USD)", "tab:red")
        panel(bottom, lp, "LP return (%)", "tab:blue")
        bottom.set_xticks(pos, labels, rotation=90 if many else 0,
                          fontsize=7 if many else 8)
        bottom.set_xlabel("grid point")

    lines = max(len(result.axes), 1)
    height = FIGSIZE[1] * 1.6 + (1.2 if many else 0.15 * lines)
    alt = (f"Box plots over seeds of bad debt and LP return for each of {len(aggs)} grid points "
           f"({'; '.join(labels) if not many else 'see the aggregates table'})").replace("\n", ", ")
    return render("distributions", "Distribution over seeds per grid point", alt, draw,
                  height=height)


# --- page -----------------------------------------------------------------------------------

def sweep_html(result: SweepResult, scenario: Optional[str] = None) -> str:
    """The whole ``sweep.html`` page as text."""
    scenario = scenario or getattr(result, "scenario", None) or "(unnamed scenario)"
    sections = [EXTRA_STYLE, _header(result, scenario), "<h2>Aggregates</h2>",
                _aggregates_table(result)]
    risk = var95_heatmap(result) or var95_bars(result)
    if risk is not None:
        sections += ["<h2>VaR95 bad debt</h2>", page.figure(risk)]
    dist = distribution_chart(result)
    if dist is not None:
        sections += ["<h2>Distributions over seeds</h2>", page.figure(dist)]
    sections.append(_failed_section(result))
    return page.document(f"perpsim sweep: {scenario}", sections)


def write_sweep_report(result: SweepResult, out: Path, *, scenario: Optional[str] = None) -> Path:
    """Write ``<out>/sweep.html`` (``out`` is the sweep folder, created if needed) and return its
    path. ``scenario`` names the scenario in the header (default: ``result.scenario`` if the
    result has one). Identical inputs give byte-identical files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_NAME
    path.write_text(sweep_html(result, scenario), encoding="utf-8")
    return path
