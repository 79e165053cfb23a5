"""What each block's transactions moved: liquidations, bad debt, fees, funding and the
external market's hedging costs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from protocol.plugins import Aggregate, BlockView, Metric, RunView
from protocol.sim.metrics.common import usd
from protocol.venue.units import from_wad

#: The per-block columns whose run totals are the summary's.
TOTALS = ("liquidated_notional", "fees_paid", "funding_paid", "liquidation_volume", "impact_cost",
          "liquidation_impact_cost")


class Flows(Metric):
    """Columns ``liquidations``, ``liquidated_notional``, ``bad_debt``, ``cum_bad_debt``,
    ``funding_paid``, ``fees_paid``, ``liquidation_volume``, ``impact_cost`` and
    ``liquidation_impact_cost``; the summary's run totals of them (``bad_debt`` the cumulative)."""

    namespaced = False
    figures = {"bad_debt": lambda s: str(s["bad_debt"]),
               "liquidated_notional": lambda s: str(s["liquidated_notional"]),
               "liquidation_impact_cost": lambda s: str(s["liquidation_impact_cost"]),
               "fees_paid": lambda s: str(s["fees_paid"])}
    aggregates = (
        Aggregate("var95_bad_debt", "VaR95 bad debt", "usd", "bad_debt", "p95", "lower", "VaR95", rank=10),
        Aggregate("bad_debt_mean", "bad debt, mean", "usd", "bad_debt", "mean", "lower", rank=11),
        Aggregate("lar95_liquidation_volume", "LaR95 liquidation volume", "usd",
                  "liquidated_notional", "p95", "lower", "LaR95", rank=12),
        Aggregate("sar95_liquidation_impact", "SaR95 liquidation impact cost", "usd",
                  "liquidation_impact_cost", "p95", "lower", "SaR95", rank=13),
        Aggregate("fees_paid_mean", "fees earned, mean", "usd", "fees_paid", "mean", "higher", rank=40),
    )

    def begin(self, run: RunView) -> None:
        self.venue = run.venue
        self.cum_bad_debt = Decimal(0)
        self.totals = dict.fromkeys(TOTALS, Decimal(0))

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        v = self.venue
        liquidations = 0
        notional = bad_debt = funding = fees = Decimal(0)
        for receipt in view.receipts:
            for event in receipt.events:
                name = event.name
                if name in ("PositionIncreased", "PositionDecreased"):
                    fees += v.usd(event["fee"])
                    if event["fundingPaid"] > 0:
                        funding += v.usd(event["fundingPaid"])
                elif name == "PositionLiquidated":
                    liquidations += 1
                    notional += abs(from_wad(event["sizeClosed"])) * from_wad(event["price"])
                elif name == "BadDebt":
                    bad_debt += v.usd(event["amount"])
        self.cum_bad_debt += bad_debt
        row: dict[str, Any] = {
            "liquidations": liquidations, "liquidated_notional": usd(notional),
            "bad_debt": bad_debt, "cum_bad_debt": self.cum_bad_debt, "funding_paid": funding,
            "fees_paid": fees, "liquidation_volume": usd(view.forced_volume),
            "impact_cost": usd(view.impact_cost),
            "liquidation_impact_cost": usd(view.forced_impact_cost)}
        for key in TOTALS:
            self.totals[key] += row[key]
        return row

    def summary(self) -> dict[str, Any]:
        t = self.totals
        return {"liquidated_notional": usd(t["liquidated_notional"]), "bad_debt": self.cum_bad_debt,
                "fees_paid": t["fees_paid"], "funding_paid": t["funding_paid"],
                "liquidation_volume": usd(t["liquidation_volume"]),
                "impact_cost": usd(t["impact_cost"]),
                "liquidation_impact_cost": usd(t["liquidation_impact_cost"])}
