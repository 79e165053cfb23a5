"""``stress.html`` and ``stress.csv``: a stress test's one page and its table."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any, Optional

import plotly.graph_objects as go

from protocol.pages.figures import PALETTE, Plot
from protocol.pages.shell import details, document, plots, table
from protocol.pages.units import pct, usd
from protocol.sim.metrics.limits import NO_LIMIT
from protocol.sweep.stress import CrisisRow, StressResult
from protocol.values import write_csv

#: The page's table: header -> the row's figure, shown in the report's units.
COLUMNS = ("crisis", "runs", "bad debt, mean", "VaR95 bad debt", "bad debt, worst seed",
           "insurance drawdown, mean", "insurance drawdown, worst", "ADL volume, mean",
           "liquidated notional, mean", "LP return, mean", "keeper profit, mean",
           "worst block", "what bound first")


def _money(value: Optional[Decimal]) -> str:
    return "—" if value is None else usd(value)


def _share(value: Optional[Decimal]) -> str:
    return "—" if value is None else pct(value)


def cells(row: CrisisRow) -> list[Any]:
    """One crisis as the page and the printed table show it."""
    worst = ("—" if row.worst_block is None else
             f"block {row.worst_block}: -{usd(row.worst_block_loss)} (seed {row.worst_block_seed})")
    return [row.crisis, f"{row.runs}" + (f" ({row.failed} failed)" if row.failed else ""),
            _money(row.bad_debt_mean),
            "n too small" if row.var95_note else _money(row.var95_bad_debt),
            _money(row.bad_debt_worst), _share(row.insurance_drawdown_mean),
            _share(row.insurance_drawdown_worst), _money(row.adl_volume_mean),
            _money(row.liquidated_notional_mean), _share(row.lp_return_mean),
            _money(row.keeper_profit_mean), worst,
            row.bound + (f" (seed {row.bound_seed})" if row.bound_seed is not None
                         and row.bound != NO_LIMIT else "")]


#: The printed table's columns (the page has them all).
TERMINAL = ("crisis", "runs", "bad debt, mean", "VaR95 bad debt", "bad debt, worst seed",
            "insurance drawdown, worst", "LP return, mean", "worst block", "what bound first")


def _by_crisis(result: StressResult, key: str, title: str, axis: str, percent: bool) -> Plot:
    rows = [r for r in result.rows if r.runs]
    if not rows:
        return Plot(key, title, None, "no crisis run finished")
    fig = go.Figure()
    for i, row in enumerate(rows):
        values = getattr(row, key)
        fig.add_trace(go.Box(y=[float(v * 100 if percent else v) for v in values], name=row.crisis,
                             boxpoints="all", jitter=0.3, pointpos=0,
                             marker_color=PALETTE[i % len(PALETTE)],
                             text=[f"seed {s}" for s in row.seeds], hoverinfo="y+text+name"))
    fig.update_layout(title=title, yaxis_title=axis, showlegend=False, height=380,
                      margin={"l": 60, "r": 20, "t": 50, "b": 80})
    return Plot(key, title, fig)


def page(result: StressResult) -> str:
    """The whole page: the verdict, the table, each seed's bad debt and LP return per crisis,
    what the composition left out and the failures."""
    plan = result.plan
    seeds = (f"seeds {plan.seeds[0]}–{plan.seeds[-1]}" if len(plan.seeds) > 1
             else f"seed {plan.seeds[0]}")
    meta = (f"venue: {plan.venue_scenario}" + (f", preset {plan.preset}" if plan.preset else "")
            + f"; {len(plan.crises)} crises × {len(plan.seeds)} seeds ({seeds}); "
            f"{result.wall_seconds:.1f} s")
    sections = [f'<p class="warn" id="verdict">{escape(result.verdict())}</p>',
                table(COLUMNS, [cells(r) for r in result.rows], "stress",
                      "One row per crisis, over its seeds (money in USD)")]
    notes = [r.var95_note for r in result.rows if r.var95_note]
    if notes:
        sections.append(f'<p class="none" id="too-few-seeds">{escape(notes[0])} (run with '
                        "--seeds 72 or more); the worst seed is shown beside it.</p>")
    sections += plots([
        _by_crisis(result, "bad_debt", "Bad debt per seed", "USD", False),
        _by_crisis(result, "lp_return", "LP return per seed", "%", True)])
    if plan.notes:
        sections.append(details("Left out of the venue scenario",
                                "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in plan.notes)
                                + "</ul>", "notes", open_=True))
    failures = [f"{r.crisis} {e}" for r in result.rows for e in r.errors]
    if failures:
        sections.append(details(f"Failed runs ({len(failures)})", "<ul>" + "".join(
            f"<li>{escape(f)}</li>" for f in failures) + "</ul>", "failures", open_=True))
    return document(f"perpsim stress: {plan.venue_scenario}", sections, meta=meta)


def write_stress(result: StressResult, out: Path) -> tuple[Path, Path]:
    """Write ``stress.csv`` (exact values) and ``stress.html`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    table_path = write_csv(out / "stress.csv", [r.row() for r in result.rows], ("crisis",))
    page_path = out / "stress.html"
    page_path.write_text(page(result), encoding="utf-8")
    return table_path, page_path
