"""The headline of a run: the KPI strip at the top of ``report.html``, read from the run's
per-block rows and liquidations (so a report rebuilt from files gives the same numbers)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from protocol.report import units
from protocol.report.plots import mark_side
from protocol.sim.metrics import max_drawdown
from protocol.sim.result import RunResult
from protocol.values import to_float


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


def _dec(value: Any) -> Decimal:
    x = to_float(value)
    return Decimal(0) if math.isnan(x) else Decimal(str(value))


def kpis(run: RunResult) -> list[Kpi]:
    """Bad debt, liquidations long/short, liquidated notional, insurance-fund drawdown, LP
    return, keeper net profit and traders wiped out, in that order."""
    rows = run.rows
    last = rows[-1] if rows else {}
    longs = sum(1 for m in run.liquidations if mark_side(m) == "long")
    shorts = len(run.liquidations) - longs
    notional = sum((_dec(r.get("liquidated_notional")) for r in rows), Decimal(0))
    fund = [_dec(r.get("insurance_fund")) for r in rows]
    shares = [_dec(r.get("lp_share_price")) for r in rows]
    lp_return = (shares[-1] - shares[0]) / shares[0] if shares and shares[0] else None
    keeper_profit = sum((_dec(last.get(f"keeper_profit.{k}")) for k in run.keepers), Decimal(0))
    traders = run.summary.get("traders")
    wiped = last.get("wiped_out")
    return [
        Kpi("bad_debt", "Bad debt", units.usd(last.get("cum_bad_debt")),
            "covered by the insurance fund, then the pool"),
        Kpi("liquidations", "Liquidations long / short", f"{longs:,} / {shorts:,}",
            f"{len(run.liquidations):,} in all"),
        Kpi("liquidated_notional", "Liquidated notional", units.usd(notional, cents=False)),
        Kpi("insurance_drawdown", "Insurance fund drawdown",
            units.pct(max_drawdown(fund)) if fund else units.DASH,
            f"ends at {units.usd(last.get('insurance_fund'), cents=False)}"),
        Kpi("lp_return", "LP return", units.pct(lp_return) if lp_return is not None else units.DASH,
            "change in LP share price", LP_RETURN_SHARE),
        Kpi("keeper_profit", "Keeper net profit", units.usd(keeper_profit),
            f"{len(run.keepers)} keepers, net of gas"),
        Kpi("wiped_out", "Traders wiped out",
            units.count(wiped) + (f" of {traders:,}" if isinstance(traders, int) else ""),
            "under 1% of starting capital left"),
    ]

