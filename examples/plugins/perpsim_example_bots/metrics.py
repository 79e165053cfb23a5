"""A metric: liquidations per block, and per keeper over the run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from protocol.plugins import BlockView, Metric

EVENTS = ("PositionLiquidated", "AccountLiquidated")


@dataclass(frozen=True)
class TallyParams:
    count_accounts: bool = True  # also count cross-account liquidations


class LiquidationTally(Metric):
    """Columns ``<name>.count`` (this block) and ``<name>.total`` (so far); the summary holds
    the total and the count by keeper address."""

    Params = TallyParams

    def __init__(self, name, params):
        super().__init__(name, params)
        self.by_keeper: Counter = Counter()

    def observe(self, view: BlockView) -> dict:
        names = EVENTS if self.params.count_accounts else EVENTS[:1]
        count = 0
        for receipt in view.receipts:
            for event in receipt.events:
                if event.name in names:
                    count += 1
                    self.by_keeper[event["keeper"]] += 1
        return {"count": count, "total": sum(self.by_keeper.values())}

    def summary(self) -> dict:
        return {"liquidations": sum(self.by_keeper.values()), "by_keeper": dict(self.by_keeper)}
