"""The network's base fee, when the scenario has a ``[gas]`` model."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from protocol.plugins import BlockView, Metric, RunView
from protocol.prices.gas import gwei


class BaseFee(Metric):
    """With a ``[gas]`` model: column ``base_fee_gwei`` (the fee keepers bid above in the block)
    and the summary's ``gas`` (its lowest, mean, highest and last value, gwei, and the blocks
    in which some keeper held back, its fee ceiling passed). Without one: nothing."""

    namespaced = False

    def begin(self, run: RunView) -> None:
        self.keepers = list(run.keepers)
        self.fees: list[Decimal] = []

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        fee = gwei(view.base_fee)
        if fee is None:
            return {}
        self.fees.append(fee)
        return {"base_fee_gwei": fee}

    def summary(self) -> dict[str, Any]:
        if not self.fees:
            return {}
        fees = self.fees
        return {"gas": {"base_fee_gwei": {
            "min": min(fees), "mean": (sum(fees, Decimal(0)) / len(fees)).quantize(
                Decimal("0.000000001")), "max": max(fees), "end": fees[-1]},
            "keeper_blocks_waited": {bot.name: bot.ledger.waited for bot in self.keepers}}}
