"""Read-only snapshots of positions and accounts, in human units (Decimal)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Optional


@dataclass(frozen=True)
class PositionView:
    """A position at the current oracle price. For a CROSS position ``equity`` and
    ``maintenance_margin`` are the whole cross account's (what its liquidation depends on)."""

    market: str
    mode: str  # "isolated" | "cross"
    size: Decimal
    entry_price: Decimal
    margin: Decimal
    leverage: int
    mark_price: Decimal
    unrealized_pnl: Decimal
    pending_funding: Decimal
    pending_borrowing: Decimal
    equity: Decimal
    maintenance_margin: Decimal
    liquidation_price: Optional[Decimal]
    #: Price impact the position holds until a decrease realises it, units of the base asset
    #: (GMX's pendingImpactAmount); 0 without a pricing module.
    pending_impact: Decimal = Decimal(0)
    #: What health counts of its price impact now, USD (<= 0; ``equity`` includes it).
    impact_health: Decimal = Decimal(0)

    @property
    def notional(self) -> Decimal:
        return abs(self.size) * self.mark_price


@dataclass(frozen=True)
class AccountView:
    """The cross account: balance, equity of cross positions, requirements, wallet tokens."""

    address: str
    cross_balance: Decimal
    equity: Decimal
    maintenance_margin: Decimal
    initial_margin: Decimal
    free_collateral: Decimal
    wallet: Decimal
