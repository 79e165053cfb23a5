"""Interactive plotly charts of a run or a study (zoom, hover), embedded in the HTML pages.

Each builder returns a :class:`Plot`: a figure, or none with a line saying why it was left out.
The x-axis is time since the start (hours, or days for runs over two days) with the block in
the hover text. Figures carry fixed ids and no random state, so identical inputs give identical
pages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from protocol.pages.figures import LONG, PALETTE, SHORT, Plot
from protocol.sim.result import RunResult, StudyResult
from protocol.values import to_float

HEIGHT = 380
HOVER_BLOCK = "block %{customdata:,}<br>%{x:.2f} {unit}<br>%{y:,.2f}<extra>%{fullData.name}</extra>"


@dataclass(frozen=True)
class Clock:
    """Blocks to time since the run's start, in hours or (over two days) days."""

    block_time: int
    unit: str

    @classmethod
    def of(cls, run: RunResult) -> "Clock":
        last = to_float(run.rows[-1]["block"]) if run.rows else 0.0
        return cls(run.block_time, "d" if last * run.block_time > 2 * 86400 else "h")

    def time(self, block: Any) -> float:
        return to_float(block) * self.block_time / (86400 if self.unit == "d" else 3600)

    @property
    def title(self) -> str:
        return "time (days)" if self.unit == "d" else "time (hours)"


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [to_float(r.get(key)) for r in rows]


def _has(rows: Sequence[Mapping[str, Any]], key: str, nonzero: bool = False) -> bool:
    return any(not math.isnan(v) and (v != 0 or not nonzero) for v in _series(rows, key))


def _line(run: RunResult, clock: Clock, key: str, name: str, color: Optional[str] = None,
          scale: float = 1.0, **kw: Any) -> go.Scatter:
    blocks = [r["block"] for r in run.rows]
    return go.Scatter(
        x=[clock.time(b) for b in blocks], y=[v * scale for v in _series(run.rows, key)],
        customdata=blocks, name=name, mode="lines", line=dict(width=1.5, color=color),
        hovertemplate=HOVER_BLOCK.replace("{unit}", clock.unit), **kw)


def _layout(fig: go.Figure, title: str, clock: Clock, height: int = HEIGHT,
            bottom_row: int | None = None) -> go.Figure:
    """Shared look; the time axis is titled on every x-axis, or only on ``bottom_row``'s."""
    fig.update_layout(title=dict(text=title, x=0.01), height=height, template="plotly_white",
                      margin=dict(l=60, r=60, t=70, b=45), hovermode="closest",
                      legend=dict(orientation="h", y=-0.18 * HEIGHT / height))
    if bottom_row is None:
        fig.update_xaxes(title_text=clock.title)
    else:
        fig.update_xaxes(title_text=clock.title, row=bottom_row)
    return fig


# ---------------------------------------------------------------------------- run charts
def price_plot(run: RunResult, market: str, clock: Clock) -> Plot:
    """Oracle price with each liquidation marked (triangle up: long, down: short), sized by
    notional."""
    fig = go.Figure(_line(run, clock, f"price.{market}", f"{market} price", PALETTE[0]))
    marks = [m for m in run.liquidations if m.market == market]
    biggest = max((to_float(_notional(m)) for m in marks), default=1.0) or 1.0
    for side, color, symbol in (("long", LONG, "triangle-up"), ("short", SHORT, "triangle-down")):
        group = [m for m in marks if mark_side(m) == side]
        if not group:
            continue
        fig.add_trace(go.Scatter(
            x=[clock.time(m.block) for m in group], y=[to_float(m.price) for m in group],
            mode="markers", name=f"{side}s liquidated ({len(group)})",
            marker=dict(symbol=symbol, color=color, line=dict(width=1, color="black"),
                        size=[8 + 22 * math.sqrt(to_float(_notional(m)) / biggest) for m in group]),
            customdata=[[m.block, to_float(_notional(m)), m.keeper or "", m.mode] for m in group],
            hovertemplate=("block %{customdata[0]:,}<br>price $%{y:,.2f}<br>notional "
                           "$%{customdata[1]:,.0f}<br>keeper %{customdata[2]}<br>"
                           f"%{{customdata[3]}}<extra>{side}</extra>")))
    fig.update_yaxes(title_text="price (USD)", tickprefix="$")
    return Plot(f"price-{market}", f"{market} price and liquidations",
                _layout(fig, f"{market}: price, liquidations marked by side and sized by notional",
                        clock))


def _edges(run: RunResult, clock: Clock, times: Sequence[int]) -> list[float]:
    """Column edges of a heatmap of the sampled book: each sample's column spans from it to the
    next sample, the last one to the end of the run."""
    end = max(to_float(run.rows[-1]["block"]), to_float(times[-1]) + 1)
    return [clock.time(b) for b in times] + [clock.time(end)]


def heatmap_plot(run: RunResult, market: str, clock: Clock, bins: int = 60) -> Plot:
    """Open notional by liquidation price (y) over time (x), with the current price on top:
    where the book would be liquidated and how close the price is to it. The book is sampled
    every ``positions_every`` blocks and in every block in which a price moved more than 0.5%
    (so a crash is drawn block by block); each sample holds until the next."""
    title = f"{market}: liquidation heatmap"
    samples = [p for p in run.positions if p.market == market and p.liquidation_price is not None]
    if not samples:
        return Plot(f"heatmap-{market}", title,
                    note=f"No open {market} positions with a liquidation price were sampled.")
    prices = _series(run.rows, f"price.{market}")
    finite = [p for p in prices if not math.isnan(p)]
    low, high = min(finite) * 0.7, max(finite) * 1.3
    step = (high - low) / bins
    times = sorted({p.block for p in samples})
    column = {b: i for i, b in enumerate(times)}
    z = [[0.0] * len(times) for _ in range(bins)]
    for p in samples:
        y = to_float(p.liquidation_price)
        if low <= y < high:
            z[int((y - low) / step)][column[p.block]] += to_float(p.notional)
    fig = go.Figure(go.Heatmap(
        x=_edges(run, clock, times), y=[low + step * (i + 0.5) for i in range(bins)],
        z=[[v if v else None for v in r] for r in z], colorscale="YlOrRd",
        colorbar=dict(title="notional (USD)"), customdata=[times] * bins,
        hovertemplate=("block %{customdata:,}<br>liquidation price ≈ $%{y:,.0f}<br>"
                       "notional $%{z:,.0f}<extra></extra>")))
    fig.add_trace(_line(run, clock, f"price.{market}", f"{market} price", "#08306b"))
    fig.update_yaxes(title_text="liquidation price (USD)", tickprefix="$", range=[low, high])
    return Plot(f"heatmap-{market}", title, _layout(fig, title + " (open notional by the price "
                                                    "that would liquidate it)", clock))


DISTANCE_BINS = (0, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 100)


def distance_plot(run: RunResult, clock: Clock) -> Plot:
    """Share of open notional by distance to liquidation (% of price) at each sample."""
    title = "Distance to liquidation"
    samples = [p for p in run.positions if p.distance is not None]
    if not samples:
        return Plot("distance", title, note="No open positions were sampled.")
    times = sorted({p.block for p in samples})
    column = {b: i for i, b in enumerate(times)}
    labels = [f"{a:g}–{b:g}%" for a, b in zip(DISTANCE_BINS, DISTANCE_BINS[1:])] + ["≥100%"]
    z = [[0.0] * len(times) for _ in labels]
    totals = [0.0] * len(times)
    for p in samples:
        d = max(0.0, to_float(p.distance) * 100)
        i = next((k for k, edge in enumerate(DISTANCE_BINS[1:]) if d < edge), len(labels) - 1)
        z[i][column[p.block]] += to_float(p.notional)
        totals[column[p.block]] += to_float(p.notional)
    share = [[v / t * 100 if t else 0.0 for v, t in zip(r, totals)] for r in z]
    fig = go.Figure(go.Heatmap(
        x=_edges(run, clock, times), y=labels, z=share, colorscale="Blues", zmin=0,
        colorbar=dict(title="% of open notional"), customdata=[times] * len(labels),
        hovertemplate=("block %{customdata:,}<br>%{y} from liquidation<br>"
                       "%{z:.1f}% of open notional<extra></extra>")))
    fig.update_yaxes(title_text="price move to liquidation")
    return Plot("distance", title, _layout(
        fig, "Distance to liquidation: share of open notional (bottom rows: close to a cascade)",
        clock))


HOURS_PER_YEAR = 24 * 365
#: Percentage axes: a ``%`` suffix and plain decimals, never SI prefixes ("600µ%").
PERCENT_AXIS = dict(ticksuffix="%", exponentformat="none", hoverformat=",.4~f")


def _rate_line(run: RunResult, clock: Clock, key: str, name: str, color: str, annual: bool,
               **kw: Any) -> go.Scatter:
    """A rate recorded in % per hour, drawn annualised (``annual``) or per hour, with both in
    the hover."""
    blocks = [r["block"] for r in run.rows]
    hourly = _series(run.rows, key)
    y = [v * HOURS_PER_YEAR for v in hourly] if annual else hourly
    return go.Scatter(
        x=[clock.time(b) for b in blocks], y=y, name=name, mode="lines",
        line=dict(width=1.5, color=color),
        customdata=[[b, h, h * HOURS_PER_YEAR] for b, h in zip(blocks, hourly)],
        hovertemplate=(f"block %{{customdata[0]:,}}<br>%{{x:.2f}} {clock.unit}<br>"
                       "%{customdata[1]:,.6~f}% per hour<br>%{customdata[2]:,.4~f}% a year"
                       "<extra>%{fullData.name}</extra>"), **kw)


def rates_plot(run: RunResult, clock: Clock) -> Plot:
    """Funding rate (% per hour, as the client quotes it), borrow rate (annualised %), skew
    (USD) and utilisation (%) per market; percentages in plain decimals, never SI prefixes."""
    title = "Funding, borrowing, skew and utilisation"
    if not any(_has(run.rows, f"funding_rate.{m}") or _has(run.rows, f"skew.{m}")
               for m in run.markets):
        return Plot("rates", title, note="This run recorded no funding, borrow or skew data.")
    fig = make_subplots(rows=2, cols=2, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=("funding rate (% per hour, + longs pay)",
                                        "borrow rate (% a year, annualised)",
                                        "skew: long − short (USD)",
                                        "utilisation: open interest / pool (%)"))
    for i, m in enumerate(run.markets):
        color = PALETTE[i % len(PALETTE)]
        group: dict[str, Any] = dict(legendgroup=m)
        fig.add_trace(_rate_line(run, clock, f"funding_rate.{m}", m, color, False, **group,
                                 showlegend=True), row=1, col=1)
        fig.add_trace(_rate_line(run, clock, f"borrow_rate.{m}", m, color, True, **group,
                                 showlegend=False), row=1, col=2)
        fig.add_trace(_line(run, clock, f"skew.{m}", m, color, **group, showlegend=False),
                      row=2, col=1)
        fig.add_trace(_line(run, clock, f"utilisation.{m}", m, color, 100, **group,
                            showlegend=False), row=2, col=2)
    for r, c in ((1, 1), (1, 2), (2, 2)):
        fig.update_yaxes(row=r, col=c, **PERCENT_AXIS)
    fig.update_yaxes(row=2, col=1, tickprefix="$", exponentformat="none", tickformat=",.0f")
    return Plot("rates", title, _layout(fig, title + " per market", clock, height=560,
                                        bottom_row=2))


def keepers_plot(run: RunResult, clock: Clock) -> Plot:
    """Latency (blocks from first liquidatable to liquidated), PnL per liquidation (reward
    less gas) and cumulative net profit, per keeper."""
    title = "Keepers"
    if not run.keepers:
        return Plot("keepers", title, note="This run had no keepers.")
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08, subplot_titles=(
        "latency (blocks, liquidatable → liquidated)", "PnL per liquidation (USD, reward − gas)",
        "cumulative net profit (USD, net of gas)"))
    names = list(run.keepers) + sorted({m.keeper for m in run.liquidations} - set(run.keepers)
                                       - {""})
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        mine = [m for m in run.liquidations if m.keeper == name]
        latencies = [m.latency for m in mine if m.latency is not None]
        if latencies:
            fig.add_trace(go.Histogram(x=latencies, name=name, marker_color=color,
                                       legendgroup=name, xbins=dict(size=1), opacity=0.75,
                                       hovertemplate="%{x} blocks: %{y} liquidations"
                                                     f"<extra>{name}</extra>"), row=1, col=1)
        if mine:
            fig.add_trace(go.Scatter(
                x=[clock.time(m.block) for m in mine], y=[to_float(_pnl(m)) for m in mine],
                mode="markers", marker=dict(color=color, size=7), name=name, legendgroup=name,
                showlegend=not latencies,
                customdata=[[m.block, to_float(m.reward), to_float(m.gas)] for m in mine],
                hovertemplate=("block %{customdata[0]:,}<br>PnL $%{y:,.2f}<br>reward "
                               "$%{customdata[1]:,.2f}, gas $%{customdata[2]:,.2f}"
                               f"<extra>{name}</extra>")), row=1, col=2)
        if _has(run.rows, f"keeper_profit.{name}"):
            fig.add_trace(_line(run, clock, f"keeper_profit.{name}", name, color,
                                legendgroup=name, showlegend=not (latencies or mine)), row=1, col=3)
    fig.update_layout(barmode="overlay")
    _layout(fig, "Keepers: latency, PnL per liquidation and net profit", clock, height=420)
    fig.update_xaxes(title_text="blocks", row=1, col=1)
    return Plot("keepers", title, fig)


def is_lp_cohort(name: str) -> bool:
    """Cohorts named ``lp`` (or ``..._lp``) provide liquidity: charted in their own panel."""
    return name == "lp" or name.endswith("_lp") or name.startswith("lp_")


#: The LP line's hover: which "LP return" it is (the KPI strip's is the share price's).
LP_EQUITY_HOVER = ("<br>LP agents' whole equity (wallet cash + pool shares),<br>"
                   "not the LP share price (the KPI strip's LP return)")


def _equity_trace(run: RunResult, clock: Clock, cohort: str, color: str) -> go.Scatter | None:
    values = _series(run.rows, f"equity.{cohort}")
    start = next((v for v in values if not math.isnan(v) and v), None)
    if start is None:
        return None
    blocks = [r["block"] for r in run.rows]
    lp = is_lp_cohort(cohort)
    return go.Scatter(
        x=[clock.time(b) for b in blocks], y=[(v / start - 1) * 100 for v in values],
        customdata=[[b, v] for b, v in zip(blocks, values)], mode="lines",
        name=f"{cohort} (LPs)" if lp else cohort,
        line=dict(width=2.5 if lp else 1.5, dash="dash" if lp else "solid", color=color),
        hovertemplate=("block %{customdata[0]:,}<br>%{y:+.2f}% ($%{customdata[1]:,.0f})"
                       + (LP_EQUITY_HOVER if lp else "") + f"<extra>{cohort}</extra>"))


def equity_plot(run: RunResult, clock: Clock) -> Plot:
    """Each cohort's equity as % change from its start: traders in the top panel, LP cohorts in
    a panel of their own below (never on a second axis over the traders' range)."""
    title = "Equity per cohort"
    traces = [(c, t) for i, c in enumerate(run.cohorts) if _has(run.rows, f"equity.{c}")
              for t in [_equity_trace(run, clock, c, PALETTE[i % len(PALETTE)])] if t is not None]
    if not traces:
        return Plot("equity", title, note="No cohort equity was recorded.")
    traders = [t for c, t in traces if not is_lp_cohort(c)]
    lps = [t for c, t in traces if is_lp_cohort(c)]
    panels = [(label, group) for label, group in (
        ("traders: equity change since start (%)", traders),
        ("LPs: equity change since start (%), their own panel and scale", lps)) if group]
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.14,
                        subplot_titles=[label for label, _ in panels])
    for row, (_, group) in enumerate(panels, start=1):
        for trace in group:
            fig.add_trace(trace, row=row, col=1)
    fig.update_yaxes(**PERCENT_AXIS)
    heading = ("Equity per cohort, % change since the start (LPs in their own panel)"
               if len(panels) == 2 else "Equity per cohort, % change since the start")
    return Plot("equity", title, _layout(fig, heading, clock, height=HEIGHT + 180 * (len(panels) - 1),
                                         bottom_row=len(panels)))


def pool_plot(run: RunResult, clock: Clock) -> Plot:
    title = "Liquidity pool"
    if not (_has(run.rows, "pool_value") or _has(run.rows, "lp_share_price")):
        return Plot("pool", title, note="No pool data was recorded.")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(_line(run, clock, "pool_value", "pool value", PALETTE[2]), secondary_y=False)
    fig.add_trace(_line(run, clock, "lp_share_price", "LP share price (right)", PALETTE[1],
                        line_dash="dash"), secondary_y=True)
    fig.update_yaxes(title_text="pool value (USD)", tickprefix="$", secondary_y=False)
    fig.update_yaxes(title_text="LP share price (USD)", tickprefix="$", secondary_y=True,
                     showgrid=False)
    return Plot("pool", title, _layout(fig, "Pool value and LP share price", clock))


def insurance_plot(run: RunResult, clock: Clock) -> Plot:
    """Insurance fund balance, with cumulative bad debt when there was any."""
    title = "Insurance fund"
    if not _has(run.rows, "insurance_fund"):
        return Plot("insurance", title, note="No insurance-fund data was recorded.")
    fig = go.Figure(_line(run, clock, "insurance_fund", "insurance fund", PALETTE[4]))
    note = ""
    if _has(run.rows, "cum_bad_debt", nonzero=True):
        fig.add_trace(_line(run, clock, "cum_bad_debt", "cumulative bad debt", SHORT))
    else:
        note = "No bad debt in this run, so no bad-debt line."
    fig.update_yaxes(title_text="USD", tickprefix="$")
    return Plot("insurance", title, _layout(fig, "Insurance fund" + (
        " and cumulative bad debt" if not note else ""), clock), note)


def run_plots(run: RunResult) -> list[Plot]:
    """Every chart of a run in page order; those with nothing to show carry a note instead."""
    clock = Clock.of(run)
    plots = [p for m in run.markets for p in (price_plot(run, m, clock), heatmap_plot(run, m, clock))]
    plots += [distance_plot(run, clock), rates_plot(run, clock), keepers_plot(run, clock),
              equity_plot(run, clock), pool_plot(run, clock), insurance_plot(run, clock)]
    if not run.liquidations:
        plots.append(Plot("liquidations", "Liquidations", note="No liquidations in this run."))
    return plots


# ---------------------------------------------------------------------------- study charts
def _cumulative(values: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for v in values:
        total += 0.0 if math.isnan(v) else v
        out.append(total)
    return out


def _trader_equity_pct(run: RunResult) -> list[float]:
    traders = [c for c in run.cohorts if not is_lp_cohort(c) and _has(run.rows, f"equity.{c}")]
    totals = [sum(0.0 if math.isnan(v) else v for v in (to_float(r.get(f"equity.{c}"))
                                                        for c in traders)) for r in run.rows]
    start = totals[0] if totals and totals[0] else None
    return [(t / start - 1) * 100 for t in totals] if start else [math.nan] * len(totals)


STUDY_PANELS: tuple[tuple[str, str, Callable[[RunResult], list[float]]], ...] = (
    ("cumulative liquidations", "", lambda r: _cumulative(_series(r.rows, "liquidations"))),
    ("trader equity, change since start (%)", "%", _trader_equity_pct),
    ("cumulative bad debt (USD)", "$", lambda r: _series(r.rows, "cum_bad_debt")),
    ("insurance fund (USD)", "$", lambda r: _series(r.rows, "insurance_fund")),
    ("LP share price (USD)", "$", lambda r: _series(r.rows, "lp_share_price")),
    ("liquidated notional, cumulative (USD)", "$",
     lambda r: _cumulative(_series(r.rows, "liquidated_notional"))),
)


def study_plots(study: StudyResult) -> list[Plot]:
    """The variants side by side in the same charts on the same axes: one panel per measure,
    one line per variant (same colour in every panel), and every market's price."""
    runs = list(study.runs.items())
    clock = Clock.of(runs[0][1])
    fig = make_subplots(rows=3, cols=2, shared_xaxes=True, vertical_spacing=0.09,
                        subplot_titles=[t for t, _, _ in STUDY_PANELS])
    for i, (name, run) in enumerate(runs):
        blocks = [r["block"] for r in run.rows]
        for k, (panel, unit, series) in enumerate(STUDY_PANELS):
            fig.add_trace(go.Scatter(
                x=[clock.time(b) for b in blocks], y=series(run), customdata=blocks, name=name,
                legendgroup=name, showlegend=k == 0, mode="lines",
                line=dict(width=1.8, color=PALETTE[i % len(PALETTE)],
                          dash="solid" if i == 0 else "dash"),
                hovertemplate=HOVER_BLOCK.replace("{unit}", clock.unit)),
                row=k // 2 + 1, col=k % 2 + 1)
    for k, (_, unit, _) in enumerate(STUDY_PANELS):  # units on the ticks, never SI prefixes
        axis = dict(PERCENT_AXIS) if unit == "%" else dict(tickprefix=unit, exponentformat="none")
        fig.update_yaxes(row=k // 2 + 1, col=k % 2 + 1, **axis)
    plots = [Plot("study", "The variants side by side",
                  _layout(fig, "Same traders and prices, each variant one line", clock,
                          height=820, bottom_row=3))]
    first = runs[0][1]
    for m in first.markets:
        price = go.Figure()
        for i, (name, run) in enumerate(runs):
            price.add_trace(_line(run, clock, f"price.{m}", f"{m} price ({name})",
                                  PALETTE[i % len(PALETTE)], line_dash="solid" if i == 0 else "dash"))
            for side, symbol in (("long", "triangle-up"), ("short", "triangle-down")):
                group = [x for x in run.liquidations if x.market == m and mark_side(x) == side]
                if group:
                    price.add_trace(go.Scatter(
                        x=[clock.time(x.block) for x in group], y=[to_float(x.price) for x in group],
                        mode="markers", name=f"{side}s liquidated ({name}, {len(group)})",
                        marker=dict(symbol=symbol, size=9, color=PALETTE[i % len(PALETTE)],
                                    line=dict(width=1, color=LONG if side == "long" else SHORT)),
                        customdata=[x.block for x in group],
                        hovertemplate=f"block %{{customdata:,}}<br>$%{{y:,.2f}}<extra>{side}</extra>"))
        price.update_yaxes(title_text="price (USD)", tickprefix="$")
        plots.append(Plot(f"study-price-{m}", f"{m} price per variant",
                          _layout(price, f"{m}: price and liquidations per variant", clock)))
    return plots


def mark_side(mark: Any) -> str:
    """A liquidation's side; marks without one: a long position closes a positive size."""
    if mark.side:
        side: str = mark.side
        return side
    return "long" if mark.size > 0 else "short"


def _pnl(mark: Any) -> Any:
    """Reward less gas; the reward alone for marks without gas (a keeper not of the run)."""
    return mark.reward if mark.keeper_pnl is None else mark.keeper_pnl


def _notional(mark: Any) -> Any:
    return mark.notional if mark.notional else abs(to_float(mark.size)) * to_float(mark.price)
