"""Who got paid: profitable closes in full or with a haircut, ADL, the peak pnl factor."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from protocol.plugins import BlockView, Metric, RunView
from protocol.sim.metrics.common import usd
from protocol.venue.units import from_wad


class Solvency(Metric):
    """No columns; the summary's ``solvency``: profitable closes paid in full or with a haircut
    (``ProfitCapped``), the profit paid, the haircuts, closes refused as ``PoolInsolvent``,
    auto-deleveraged positions and the highest pnl factor seen (``pnl_factor``, the column
    :class:`~protocol.sim.metrics.market.MarketState` writes before it)."""

    namespaced = False
    figures = {"adl_notional": lambda s: str(s["solvency"]["adl_notional"])}

    def begin(self, run: RunView) -> None:
        self.venue, self.agents = run.venue, list(run.agents)
        self.paid_in_full = self.capped = self.adl = 0
        self.profit_paid = self.haircut = self.adl_notional = Decimal(0)
        self.peak_pnl_factor = Decimal(0)
        self.haircut_fractions: list[Decimal] = []

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        factor = view.row.get("pnl_factor")
        if factor is not None and factor > self.peak_pnl_factor:
            self.peak_pnl_factor = factor
        for receipt in view.receipts:
            self._count(receipt.events)
        return {}

    def _count(self, events: Any) -> None:
        capped = set()
        for event in events:
            if event.name == "ProfitCapped":
                full, paid = event["full"], event["paid"]
                capped.add((event["account"].lower(), event["market"]))
                self.haircut += self.venue.usd(full - paid)
                self.haircut_fractions.append(Decimal(full - paid) / full)
            elif event.name in ("PositionDecreased", "AutoDeleveraged") and event["realizedPnl"] > 0:
                self.profit_paid += self.venue.usd(event["realizedPnl"])
                if (event["account"].lower(), event["market"]) in capped:
                    self.capped += 1
                else:
                    self.paid_in_full += 1
                if event.name == "AutoDeleveraged":
                    self.adl += 1
                    self.adl_notional += abs(from_wad(event["sizeDelta"])) * from_wad(event["price"])

    def summary(self) -> dict[str, Any]:
        fractions = self.haircut_fractions
        return {"solvency": {
            "paid_in_full": self.paid_in_full, "capped": self.capped,
            "refused_insolvent": sum(a.activity.refused.get("PoolInsolvent", 0) for a in self.agents),
            "profit_paid": usd(self.profit_paid), "haircut": usd(self.haircut),
            "mean_haircut_pct": (sum(fractions, Decimal(0)) / len(fractions) * 100).quantize(Decimal("0.01"))
            if fractions else Decimal(0),
            "adl": self.adl, "adl_notional": usd(self.adl_notional),
            "peak_pnl_factor": self.peak_pnl_factor.quantize(Decimal("0.0001")),
        }}
