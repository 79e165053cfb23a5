"""A liquidation keeper that scans every block and bids a fixed premium over the others."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.constants import GWEI
from protocol.plugins import Intent, Keeper


@dataclass(frozen=True)
class SniperParams:
    premium_gwei: int = 2  # gas bid on top of the scenario's gas_price_gwei
    max_targets: int = 10  # liquidations per transaction

    def __post_init__(self) -> None:
        if self.max_targets < 1:
            raise ValueError(f"max_targets: must be at least 1, got {self.max_targets}")


class SniperKeeper(Keeper):
    """Finds liquidatable accounts with the Reader (``venue.liquidatable``) and liquidates them
    in batches of ``max_targets``, outbidding on gas by ``premium_gwei``."""

    Params = SniperParams

    def scan(self, block: int) -> list:
        found, start = [], 0
        while start < self.venue.account_count():
            chunk, start = self.venue.liquidatable(start, self.strategy.scan_chunk)
            found.extend(chunk)
        return found

    def intents(self, block: int, targets: list) -> list[Intent]:
        size = self.params.max_targets
        out = []
        for i in range(0, len(targets), size):
            batch = targets[i:i + size]
            intent = self.intent(self.venue.clearinghouse, "liquidateBatch",
                                 self.venue.encode_targets(batch), targets=tuple(batch))
            intent.gas_price += self.params.premium_gwei * GWEI
            out.append(intent)
        return out

    def mine(self, receipt) -> list:
        return [e for e in receipt.events if e.name in ("PositionLiquidated", "AccountLiquidated")
                and e["keeper"].lower() == self.address.lower()]

    def did_work(self, receipt) -> bool:
        return bool(self.mine(receipt))

    def book(self, intent: Intent, receipt) -> bool:
        if receipt.status:  # the keeper's share of the penalties, in the venue's token units
            self.ledger.rewards_tokens += sum(e["keeperReward"] for e in self.mine(receipt))
        return super().book(intent, receipt)
