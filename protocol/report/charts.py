"""Static PNG charts of a run for papers (``perpsim report RUN_DIR --png``), rendered with
matplotlib headless (Agg) to reproducible bytes; the HTML report's charts are plotly's.

No pyplot: each chart is a standalone :class:`~matplotlib.figure.Figure` on an Agg canvas, drawn
under matplotlib's default style plus fixed settings (figure size, dpi, fonts, ``svg.hashsalt``)
so a user's ``matplotlibrc`` cannot change the output, and saved without the ``Software``
metadata, so identical inputs give identical bytes.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import matplotlib
import matplotlib.style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from protocol.sim.result import RunResult
from protocol.values import to_float

FIGSIZE = (8.0, 3.6)
DPI = 100
RC = {
    "svg.hashsalt": "perpsim",
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "path.simplify": False,
    "axes.formatter.useoffset": False,
    "axes.formatter.limits": (-6, 12),
}
# Liquidation markers on price charts: isolated vs cross margin.
MARKERS = {"isolated": dict(marker="v", color="tab:red", label="liquidated (isolated)"),
           "cross": dict(marker="X", color="tab:purple", label="liquidated (cross)")}
OTHER_MARKER = dict(marker="o", color="tab:gray", label="liquidated (other)")


@dataclass(frozen=True)
class Chart:
    """A rendered chart: ``png`` bytes plus the title and alt text for the HTML report."""

    key: str
    title: str
    alt: str
    png: bytes


def render(key: str, title: str, alt: str, draw: Callable[[Figure], None],
           height: float = FIGSIZE[1]) -> Chart:
    """Draw on a fresh figure with the fixed style and return its PNG."""
    with matplotlib.style.context("default"), matplotlib.rc_context(RC):
        fig = Figure(figsize=(FIGSIZE[0], height), dpi=DPI)
        FigureCanvasAgg(fig)
        draw(fig)
        fig.suptitle(title)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return Chart(key, title, alt, buf.getvalue())


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [to_float(r.get(key)) for r in rows]


def _has(rows: Sequence[Mapping[str, Any]], key: str) -> bool:
    return any(not math.isnan(v) for v in _series(rows, key))


def _line_chart(run: RunResult, key: str, title: str, alt: str,
                lines: Sequence[tuple[str, str]], ylabel: str = "USD") -> Chart | None:
    """One axes, one line per ``(column, label)``; ``None`` if no column has data."""
    lines = [(col, label) for col, label in lines if _has(run.rows, col)]
    if not lines:
        return None
    blocks = _series(run.rows, "block")

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for col, label in lines:
            ax.plot(blocks, _series(run.rows, col), label=label, linewidth=1.2)
        ax.set_xlabel("block")
        ax.set_ylabel(ylabel)
        if len(lines) > 1:
            ax.legend(loc="best", fontsize=8)

    return render(key, title, alt, draw)


def price_chart(run: RunResult, market: str) -> Chart:
    """Oracle price of ``market`` per block with a marker per liquidation (style by mode)."""
    blocks = _series(run.rows, "block")
    marks = [m for m in run.liquidations if m.market == market]

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.plot(blocks, _series(run.rows, f"price.{market}"), color="tab:blue", linewidth=1.2,
                label=f"{market} price")
        for mode in [*MARKERS, None]:
            group = [m for m in marks if (m.mode == mode if mode else m.mode not in MARKERS)]
            if group:
                style = MARKERS.get(mode, OTHER_MARKER) if mode else OTHER_MARKER
                ax.scatter([m.block for m in group], [to_float(m.price) for m in group],
                           s=36, zorder=3, linewidths=0.8, edgecolors="black", **style)
        ax.set_xlabel("block")
        ax.set_ylabel("price (USD)")
        ax.legend(loc="best", fontsize=8)

    counts = {mode: sum(1 for m in marks if m.mode == mode) for mode in MARKERS}
    alt = (f"Price path of {market} over {len(run.rows)} blocks with {len(marks)} liquidation "
           f"markers ({counts['isolated']} isolated, {counts['cross']} cross)")
    return render(f"price.{market}", f"{market} price and liquidations", alt, draw)


def open_interest_chart(run: RunResult) -> Chart | None:
    """Long (solid) and short (dashed) open interest per market."""
    lines = [(f"{side}_oi.{m}", f"{m} {side}") for m in run.markets for side in ("long", "short")]
    chart = _line_chart(run, "open_interest", "Open interest (USD notional)",
                        "Long and short open interest per market over blocks", lines)
    return chart


def pool_chart(run: RunResult) -> Chart | None:
    """Pool value (left axis) and LP share price (right axis)."""
    if not (_has(run.rows, "pool_value") or _has(run.rows, "lp_share_price")):
        return None
    blocks = _series(run.rows, "block")

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.plot(blocks, _series(run.rows, "pool_value"), color="tab:green", label="pool value")
        ax.set_xlabel("block")
        ax.set_ylabel("pool value (USD)", color="tab:green")
        right = ax.twinx()
        right.grid(False)
        right.plot(blocks, _series(run.rows, "lp_share_price"), color="tab:orange",
                   linestyle="--", label="LP share price")
        right.set_ylabel("LP share price (USD)", color="tab:orange")

    return render("pool", "Liquidity pool", "Pool value and LP share price over blocks", draw)


def equity_chart(run: RunResult) -> Chart | None:
    """Cohort equity (top) and traders by margin mode, isolated vs cross (bottom)."""
    cohorts = [c for c in run.cohorts if _has(run.rows, f"equity.{c}")]
    modes = [m for m in ("isolated", "cross") if _has(run.rows, f"equity.{m}")]
    if not (cohorts or modes):
        return None
    blocks = _series(run.rows, "block")

    def draw(fig: Figure) -> None:
        top, bottom = fig.subplots(2, 1, sharex=True)
        for c in cohorts:
            top.plot(blocks, _series(run.rows, f"equity.{c}"), label=c, linewidth=1.2)
        top.set_ylabel("cohort equity (USD)")
        if cohorts:
            top.legend(loc="best", fontsize=8)
        for m in modes:
            bottom.plot(blocks, _series(run.rows, f"equity.{m}"), label=f"{m} traders",
                        linestyle="-" if m == "isolated" else "--", linewidth=1.2)
        bottom.set_ylabel("equity (USD)")
        bottom.set_xlabel("block")
        if modes:
            bottom.legend(loc="best", fontsize=8)

    alt = (f"Equity per cohort ({', '.join(cohorts) or 'none'}) and of isolated vs cross "
           "margin traders over blocks")
    return render("equity", "Trader equity", alt, draw, height=FIGSIZE[1] * 1.6)


def run_charts(run: RunResult) -> list[Chart]:
    """Every chart of a run, in report order (charts without data are left out)."""
    charts: list[Chart | None] = [price_chart(run, m) for m in run.markets]
    charts += [
        open_interest_chart(run),
        pool_chart(run),
        _line_chart(run, "insurance_fund", "Insurance fund", "Insurance fund balance over blocks",
                    [("insurance_fund", "insurance fund")]),
        _line_chart(run, "bad_debt", "Cumulative bad debt", "Cumulative bad debt over blocks",
                    [("cum_bad_debt", "cumulative bad debt")]),
        _line_chart(run, "keepers", "Keeper profit (cumulative, net of gas)",
                    f"Cumulative net profit per keeper ({', '.join(run.keepers) or 'none'})",
                    [(f"keeper_profit.{k}", k) for k in run.keepers]),
        equity_chart(run),
    ]
    return [c for c in charts if c is not None]


def write_pngs(run: RunResult, out_dir: Path) -> list[Path]:
    """Every chart of :func:`run_charts` as ``<out_dir>/<key>.png``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for chart in run_charts(run):
        path = out / f"{chart.key}.png"
        path.write_bytes(chart.png)
        paths.append(path)
    return paths
