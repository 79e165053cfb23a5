"""Interactive sweep charts (plotly): metrics across one axis as lines with confidence bands,
heatmaps over two axes, the two-objective frontier and the distributions over seeds.

Each chart is a :class:`Plot` whose ``html`` is a plotly ``<div>`` without the library; the page
inlines plotly.js once. Identifiers are fixed, so identical inputs give identical text.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Callable, Optional, Sequence, cast

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from protocol.pages.figures import PALETTE, Plot
from protocol.pages.units import param
from protocol.sweep.aggregate import (
    CONFIDENCE,
    STATISTIC,
    PointAggregate,
    Statistic,
    keeper_statistic,
    point_key,
)
from protocol.sweep.frontier import Frontier
from protocol.sweep.grid import Axis
from protocol.sweep.units import plotted, show, show_interval, titled

#: The sweep's series colours: the pages' palette, red second (the worst case beside the mean).
COLORS = tuple(PALETTE[i] for i in (0, 3, 2, 4, 1, 5, 6, 9))
TREND = ("var95_bad_debt", "bad_debt_mean", "lar95_liquidation_volume", "insurance_max_drawdown",
         "lp_return_mean", "wiped_out_share_mean", "fees_paid_mean")
# Heatmaps: the figure, and with more than two axes the worst cell value over the others.
HEATMAPS: tuple[tuple[str, Callable[[Sequence[Decimal]], Decimal]], ...] = (
    ("var95_bad_debt", max), ("lp_return_mean", min))
CI = f"{CONFIDENCE * 100:.0f}% CI"


def _plot(key: str, title: str, fig: go.Figure) -> Plot:
    fig.update_layout(template="plotly_white", margin=dict(l=60, r=30, t=50, b=50),
                      font=dict(size=12), hoverlabel=dict(namelength=-1))
    return Plot(key, title, fig)


def point_label(params: dict[str, Any], names: dict[str, str], sep: str = ", ") -> str:
    """Compact label of a grid point: ``max_leverage=10, latency=2`` (``all`` with no axes)."""
    if not params:
        return "all"
    return sep.join(f"{names.get(k, k)}={param(v)}" for k, v in params.items())


def short_keys(keys: Sequence[str]) -> dict[str, str]:
    """Each axis key's last dotted segment, or the full key where that would be ambiguous."""
    last = {k: k.rsplit(".", 1)[-1] for k in keys}
    counts: dict[str, int] = {}
    for s in last.values():
        counts[s] = counts.get(s, 0) + 1
    return {k: (s if counts[s] == 1 else k) for k, s in last.items()}


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _band_traces(stat: Statistic, xs: list[Any], aggs: list[Optional[PointAggregate]], color: str,
                 name: str, legend: bool) -> list[go.Scatter]:
    """The estimate as a line and its bootstrap interval as a filled band."""
    pts = [(x, a) for x, a in zip(xs, aggs) if a is not None and a.value(stat.name) is not None]
    x = [p for p, _ in pts]
    y = [plotted(stat, a.value(stat.name)) for _, a in pts]
    lows = [plotted(stat, a.ci[stat.name].low) if stat.name in a.ci else v for (_, a), v in zip(pts, y)]
    highs = [plotted(stat, a.ci[stat.name].high) if stat.name in a.ci else v for (_, a), v in zip(pts, y)]
    hover = [f"{show(stat, a.value(stat.name))} ({CI} {show_interval(stat, a.ci.get(stat.name))})"
             for _, a in pts]
    band = go.Scatter(x=x + x[::-1], y=highs + lows[::-1], fill="toself", mode="lines",
                      line=dict(width=0), fillcolor=_rgba(color, 0.18), hoverinfo="skip",
                      showlegend=False, legendgroup=name)
    line = go.Scatter(x=x, y=y, mode="lines+markers", name=name, legendgroup=name,
                      line=dict(color=color), text=hover, showlegend=legend,
                      hovertemplate="%{x}: %{text}<extra>" + name + "</extra>")
    return [band, line]


def trend_chart(axis: Axis, aggregates: Sequence[PointAggregate]) -> Optional[Plot]:
    """One swept axis: each headline aggregate against the axis value, with its band."""
    by_value = {point_key({"v": a.params.get(axis.key)}): a for a in aggregates}
    aggs = [by_value.get(point_key({"v": v})) for v in axis.values]
    present = [a for a in aggs if a is not None]
    if not present:
        return None
    xs = list(axis.values) if _numeric(axis.values) else [param(v) for v in axis.values]
    stats = [STATISTIC[n] for n in TREND if any(a.value(n) is not None for a in present)]
    keepers = sorted({k for a in present for k in a.keeper_profit_mean})
    panels = [titled(s) for s in stats] + (["keeper net profit, mean (USD)"] if keepers else [])
    cols = 2
    rows = math.ceil(len(panels) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=panels, horizontal_spacing=0.1,
                        vertical_spacing=0.5 / rows)
    for i, stat in enumerate(stats):
        r, c = divmod(i, cols)
        for trace in _band_traces(stat, xs, aggs, COLORS[i % len(COLORS)], stat.label, False):
            fig.add_trace(trace, row=r + 1, col=c + 1)
        if stat.unit == "fraction":
            fig.update_yaxes(ticksuffix="%", row=r + 1, col=c + 1)
    if keepers:
        r, c = divmod(len(stats), cols)
        for j, keeper in enumerate(keepers):
            for trace in _band_traces(keeper_statistic(keeper), xs, aggs, COLORS[j % len(COLORS)],
                                      keeper, True):
                fig.add_trace(trace, row=r + 1, col=c + 1)
    fig.update_xaxes(title_text=axis.key, type=None if _numeric(axis.values) else "category")
    fig.update_layout(height=260 * rows + 80,
                      legend=dict(title="keeper", orientation="h", x=0, y=-0.5 / rows / 2))
    return _plot("trend", f"Aggregates against {axis.key}, with {CI} bands over seeds", fig)


def heatmap(name: str, worst: Callable[[Sequence[Decimal]], Decimal], axes: Sequence[Axis],
            aggregates: Sequence[PointAggregate]) -> Optional[Plot]:
    """``name`` over the first two axes; with more axes each cell is the worst over the rest."""
    stat = STATISTIC[name]
    ax_x, ax_y, rest = axes[0], axes[1], axes[2:]
    cells: dict[tuple[int, int], list[PointAggregate]] = {}
    xi = {point_key({"v": v}): i for i, v in enumerate(ax_x.values)}
    yi = {point_key({"v": v}): j for j, v in enumerate(ax_y.values)}
    for a in aggregates:
        if a.value(name) is None:
            continue
        i, j = xi.get(point_key({"v": a.params.get(ax_x.key)})), yi.get(point_key({"v": a.params.get(ax_y.key)}))
        if i is not None and j is not None:
            cells.setdefault((j, i), []).append(a)
    if not cells:
        return None
    z: list[list[Optional[float]]] = []
    text: list[list[str]] = []
    hover: list[list[str]] = []
    for j in range(len(ax_y.values)):
        z.append([])
        text.append([])
        hover.append([])
        for i in range(len(ax_x.values)):
            group = cells.get((j, i))
            if not group:
                z[j].append(None)
                text[j].append("n/a")
                hover[j].append("no finished run")
                continue
            value = worst([cast(Decimal, a.value(name)) for a in group])  # the cells' points have it
            chosen = next(a for a in group if a.value(name) == value)
            z[j].append(plotted(stat, value))
            text[j].append(show(stat, value))
            where = "".join(f"<br>{k}={param(chosen.params[k])}" for k in (r.key for r in rest))
            hover[j].append(f"{show(stat, value)}<br>{CI} {show_interval(stat, chosen.ci.get(name))}"
                            f"{where}")
    suffix = f" (worst over {', '.join(r.key for r in rest)})" if rest else ""
    colors = "Reds" if stat.better == "lower" else "RdYlGn"
    fig = go.Figure(go.Heatmap(
        x=[param(v) for v in ax_x.values], y=[param(v) for v in ax_y.values], z=z, text=text,
        customdata=hover, texttemplate="%{text}", colorscale=colors,
        colorbar=dict(title=dict(text=titled(stat)), ticksuffix="%" if stat.unit == "fraction" else ""),
        hovertemplate=f"{ax_x.key}=%{{x}}<br>{ax_y.key}=%{{y}}<br>%{{customdata}}<extra></extra>"))
    fig.update_xaxes(title_text=ax_x.key, type="category")
    fig.update_yaxes(title_text=ax_y.key, type="category")
    fig.update_layout(height=max(360, 40 * len(ax_y.values) + 160),
                      title=dict(text=titled(stat) + suffix))
    return _plot(f"heatmap-{name}", titled(stat) + suffix, fig)


def frontier_chart(x: Statistic, y: Statistic, frontier: Frontier, names: dict[str, str],
                   key: str = "frontier", title: str = "") -> Optional[Plot]:
    """Every point of one condition's frontier on the two objectives with its intervals as error
    bars: the Pareto points in red, named by their design parameters (``names``' keys) and joined
    by a line, hollow when their intervals overlap another Pareto point's; dominated points grey,
    hollow orange when they are not distinguishable from a Pareto point."""
    usable = frontier.points

    def label(a: PointAggregate) -> str:
        return point_label({k: v for k, v in a.params.items() if k in names}, names)

    if len(usable) < 2:
        return None
    front = {point_key(a.params) for a in frontier.front}

    def series(group: list[PointAggregate], name: str, color: str, size: int, symbol: str) -> Any:
        def err(stat: Statistic, a: PointAggregate, side: str) -> float:
            interval, value = a.ci.get(stat.name), plotted(stat, a.value(stat.name))
            if interval is None:
                return 0.0
            bound = plotted(stat, interval.high if side == "plus" else interval.low)
            return abs(cast(float, bound) - cast(float, value))  # a frontier point has both

        labels = [label(a) for a in group]
        hover = [f"{lab}<br>{titled(x)}: {show(x, a.value(x.name))} ({CI} "
                 f"{show_interval(x, a.ci.get(x.name))})<br>{titled(y)}: {show(y, a.value(y.name))} "
                 f"({CI} {show_interval(y, a.ci.get(y.name))})"
                 + ("<br>not distinguishable from: "
                    + "; ".join(label(b) for b in frontier.tied(a))
                    if frontier.tied(a) else "")
                 for lab, a in zip(labels, group)]
        return go.Scatter(
            x=[plotted(x, a.value(x.name)) for a in group], y=[plotted(y, a.value(y.name)) for a in group],
            mode="markers+text", name=name, text=labels, textposition="top center",
            textfont=dict(color=color), customdata=hover,
            marker=dict(color=color, size=size, symbol=symbol, line=dict(color=color, width=2)),
            hovertemplate="%{customdata}<extra></extra>",
            error_x=dict(type="data", array=[err(x, a, "plus") for a in group],
                         arrayminus=[err(x, a, "minus") for a in group], color=_rgba(color, 0.4),
                         thickness=1),
            error_y=dict(type="data", array=[err(y, a, "plus") for a in group],
                         arrayminus=[err(y, a, "minus") for a in group], color=_rgba(color, 0.4),
                         thickness=1))

    pareto = list(frontier.front)
    others = [a for a in usable if point_key(a.params) not in front]
    fig = go.Figure()
    groups = [
        ([a for a in others if not frontier.tied(a)], "dominated", "#7f7f7f", 8, "circle"),
        ([a for a in others if frontier.tied(a)], f"dominated, not distinguishable at {CI}",
         "#ff7f0e", 9, "circle-open"),
        ([a for a in pareto if not frontier.tied(a)], "Pareto-optimal", "#d62728", 12, "circle"),
        ([a for a in pareto if frontier.tied(a)], f"Pareto-optimal, not distinguishable at {CI}",
         "#d62728", 12, "circle-open"),
    ]
    for group, name, color, size, symbol in groups:
        if group:
            fig.add_trace(series(group, name, color, size, symbol))
    fig.add_trace(go.Scatter(x=[plotted(x, a.value(x.name)) for a in pareto],
                             y=[plotted(y, a.value(y.name)) for a in pareto], mode="lines",
                             line=dict(color="#d62728", dash="dot"), hoverinfo="skip",
                             showlegend=False))
    better = {"lower": "lower is better", "higher": "higher is better"}
    fig.update_xaxes(title_text=f"{titled(x)}, {better[x.better]}",
                     ticksuffix="%" if x.unit == "fraction" else "")
    fig.update_yaxes(title_text=f"{titled(y)}, {better[y.better]}",
                     ticksuffix="%" if y.unit == "fraction" else "")
    fig.update_layout(height=480, legend=dict(orientation="h", y=1.08))
    return _plot(key, title or f"Frontier: {titled(x)} against {titled(y)}", fig)


def distribution_chart(aggregates: Sequence[PointAggregate], names: dict[str, str]) -> Optional[Plot]:
    """Bad debt (top) and LP return (bottom) of every seed, per grid point."""
    aggs = [a for a in aggregates if a.bad_debt or a.lp_return]
    if not aggs:
        return None
    bad, lp = STATISTIC["var95_bad_debt"], STATISTIC["lp_return_mean"]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=["bad debt per seed (USD)", "LP return per seed (%)"])
    for a in aggs:
        label = point_label(a.params, names)
        fig.add_trace(go.Box(y=[plotted(bad, v) for v in a.bad_debt], name=label, boxpoints="all",
                             jitter=0.3, pointpos=0, marker=dict(color=COLORS[1]),
                             line=dict(color=COLORS[1]), showlegend=False), row=1, col=1)
        fig.add_trace(go.Box(y=[plotted(lp, v) for v in a.lp_return], name=label, boxpoints="all",
                             jitter=0.3, pointpos=0, marker=dict(color=COLORS[0]),
                             line=dict(color=COLORS[0]), showlegend=False), row=2, col=1)
    fig.update_yaxes(ticksuffix="%", row=2, col=1)
    fig.update_xaxes(type="category")
    fig.update_layout(height=560 + (80 if len(aggs) > 6 else 0))
    return _plot("distributions", "Distribution over seeds per grid point", fig)
