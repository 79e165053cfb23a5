"""The headline of a run: the KPI strip at the top of ``report.html``, read from the run's
summary (``summary.json``: a report rebuilt from files gives the same numbers, and the strip
and the totals table cannot disagree)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from html import escape
from typing import Sequence

from protocol.pages import units
from protocol.sim.result import RunResult


@dataclass(frozen=True)
class Kpi:
    """One headline figure: ``key`` (stable id), ``label``, ``value`` (human text), ``note``,
    and ``tooltip`` (its definition, shown on hover)."""

    key: str
    label: str
    value: str
    note: str = ""
    tooltip: str = ""


#: What each "LP return" of a run report means; the page shows these on hover.
LP_RETURN_SHARE = ("LP return (pool › LP return): the change in the LP share price from the first "
                   "block to the last, what one pool share gained or lost (fees, funding, borrow "
                   "interest, traders' losses and profits, bad debt). It is not the LP cohort's "
                   "equity change, which also counts the LP agents' wallet cash and their own "
                   "deposits and redemptions.")
LP_RETURN_COHORT = ("LP cohort return (cohorts › lp › return): the change in the LP agents' "
                    "total equity (wallet cash, pool shares at the share price, deposits and "
                    "redemptions waiting) against the capital they started with. It differs "
                    "from the LP return of the KPI strip, the change in the share price alone.")


def kpis(run: RunResult) -> list[Kpi]:
    """Bad debt, liquidations long/short, liquidated notional, insurance-fund drawdown, LP
    return, keeper net profit and traders wiped out, in that order: each read from the run's
    summary (``summary.json``), the figures the run's totals table shows; one the summary does not
    hold shows a dash."""
    summary = run.summary
    fund, pool = summary.get("insurance_fund") or {}, summary.get("pool") or {}
    keepers = summary.get("keepers") or {}
    profits = [k.get("net_profit_usd") for k in keepers.values()]
    keeper_profit = sum(profits, Decimal(0)) if None not in profits else None
    longs, shorts = summary.get("liquidations_long"), summary.get("liquidations_short")
    traders, wiped = summary.get("traders"), summary.get("wiped_out")
    lp_return = pool.get("lp_return")
    return [
        Kpi("bad_debt", "Bad debt", units.usd(summary.get("bad_debt")),
            "covered by the insurance fund, then the pool"),
        Kpi("liquidations", "Liquidations long / short",
            f"{units.count(longs)} / {units.count(shorts)}",
            f"{units.count(summary.get('liquidations'))} in all"),
        Kpi("liquidated_notional", "Liquidated notional",
            units.usd(summary.get("liquidated_notional"), cents=False)),
        Kpi("insurance_drawdown", "Insurance fund drawdown", units.pct(fund.get("max_drawdown")),
            f"ends at {units.usd(fund.get('end'), cents=False)}"),
        Kpi("lp_return", "LP return", units.pct(lp_return),
            "change in LP share price", LP_RETURN_SHARE),
        Kpi("keeper_profit", "Keeper net profit", units.usd(keeper_profit),
            f"{len(keepers)} keepers, net of gas"),
        Kpi("wiped_out", "Traders wiped out",
            units.count(wiped) + (f" of {traders:,}" if isinstance(traders, int) else ""),
            "under 1% of starting capital left"),
    ]


def kpi_strip(items: Sequence[Kpi]) -> str:
    """The headline figures as a grid of cards (``<section id="kpis">``)."""
    cards = "".join(
        f'<div class="kpi" id="kpi-{escape(k.key)}"'
        + (f' title="{escape(k.tooltip)}"' if k.tooltip else "")
        + f'><div class="label">{escape(k.label)}</div>'
        f'<div class="value">{escape(k.value)}</div><div class="note">{escape(k.note)}</div></div>'
        for k in items)
    return f'<section class="kpis" id="kpis">{cards}</section>'
