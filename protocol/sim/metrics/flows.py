"""What each block's transactions moved: liquidations, bad debt, fees, funding and the
external market's hedging costs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from protocol.plugins import BlockView, Metric, RunView
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
