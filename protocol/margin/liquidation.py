"""Mirror of the liquidation module (``ILiquidationModule``) and its stock rule
(``StockRules``): slices of large positions, the penalty and the keeper's share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from protocol.margin import math as m


@dataclass(frozen=True)
class SliceInput:
    """``SliceInput``, in the same field order."""

    market: int
    size_abs: int
    notional: int
    equity: int
    maintenance: int
    partial_threshold: int
    partial_liquidation_bps: int


class LiquidationRule(Protocol):
    """What the model asks a market's liquidation rule: :class:`StockLiquidation` or a module's
    mirror."""

    def slice(self, i: SliceInput, /) -> int:
        """The size a liquidation closes."""
        ...

    def penalty(self, market: int, equity_left: int, max_penalty: int,
                keeper_share_bps: int, /) -> tuple[int, int]:
        """(penalty, keeper reward) in tokens."""
        ...


class StockLiquidation:
    def slice(self, i: SliceInput) -> int:
        """The size to close: a slice of a large position still at 2/3 of maintenance or more,
        else all of it."""
        if (i.partial_threshold and i.notional > i.partial_threshold
                and i.equity * 3 >= i.maintenance * 2):
            return i.size_abs * i.partial_liquidation_bps // m.BPS
        return i.size_abs

    def penalty(self, market: int, equity_left: int, max_penalty: int,
                keeper_share_bps: int) -> tuple[int, int]:
        """(penalty, keeper reward) in tokens: the fee capped by what is left, and its share."""
        taken = min(equity_left, max_penalty) if equity_left > 0 else 0
        return taken, taken * keeper_share_bps // m.BPS
