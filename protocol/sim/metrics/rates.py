"""Funding and borrow rates per market, from the growth of its indices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from protocol.constants import SECONDS_PER_HOUR, WAD
from protocol.margin.math import BORROW_INDEX_UNIT
from protocol.plugins import BlockView, Metric, RunView


class Rates(Metric):
    """Columns ``funding_rate.SYM`` (paid by longs, negative when shorts pay) and
    ``borrow_rate.SYM``, in % per hour, over the time between the market's last two
    ``FundingUpdated`` events (0 until it has two)."""

    namespaced = False

    def begin(self, run: RunView) -> None:
        self.symbols = list(run.venue.markets)
        self.indices: dict[str, tuple[int, int, int]] = {}  # market -> (time, funding, borrow)
        self.rates = {s: (Decimal(0), Decimal(0)) for s in self.symbols}

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        for receipt in view.receipts:
            for event in receipt.events:
                if event.name == "FundingUpdated":
                    self._update(event, view)
        row: dict[str, Any] = {}
        for s in self.symbols:
            row[f"funding_rate.{s}"], row[f"borrow_rate.{s}"] = self.rates[s]
        return row

    def _update(self, event: Any, view: BlockView) -> None:
        market = self.symbols[event["market"]]
        now = (view.timestamp, event["longIndex"], event["borrowIndex"])
        before = self.indices.get(market)
        self.indices[market] = now
        if before is None or now[0] <= before[0]:
            return
        per_hour = Decimal(SECONDS_PER_HOUR) / (now[0] - before[0]) * 100
        funding = Decimal(now[1] - before[1]) / WAD / view.oracle[market]  # fraction of price
        borrow = Decimal(now[2] - before[2]) * BORROW_INDEX_UNIT / WAD  # fraction of entry
        self.rates[market] = ((funding * per_hour).quantize(Decimal("1e-9")),
                              (borrow * per_hour).quantize(Decimal("1e-9")))
