"""An agent that deposits, then goes long with all of its capital at high leverage, once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from protocol.plugins import Agent, Context


@dataclass(frozen=True)
class AllInParams:
    capital: float = 5_000.0  # USD
    leverage: int = 20
    market: str = "ETH"

    def __post_init__(self) -> None:
        if self.capital <= 0:
            raise ValueError(f"capital: must be above 0, got {self.capital}")
        if self.leverage < 1:
            raise ValueError(f"leverage: must be at least 1, got {self.leverage}")


class AllInLong(Agent):
    """Block 1: deposit. Then: open one isolated long of ``capital x leverage`` (a little less:
    the taker fee comes out of the margin) and hold it."""

    Params = AllInParams
    kind = "all-in-long"

    def __init__(self, name, trader, rng, params: AllInParams):
        super().__init__(name, trader, rng, params)
        self.capital = Decimal(str(params.capital))
        self.deposited = False

    def act(self, ctx: Context) -> None:
        p = self.params
        if not self.deposited:
            self.deposited = self._send(lambda: self.trader.deposit(self.capital)) is None
        elif p.market not in self.holdings and not self.activity.liquidated:
            margin = self.capital * Decimal("0.9")
            size = margin * p.leverage / ctx.prices[p.market] * Decimal("0.99")
            self.open(ctx, p.market, size, p.leverage, "isolated", margin)
