"""Two-step orders in human units: types, the view of an open order, the receipt of a new one."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Optional

from protocol.chain import Receipt

#: ``OrderBook.OrderType`` by name, in the contract's order.
ORDER_TYPES = {"market_increase": 0, "limit_increase": 1, "stop_increase": 2,
               "market_decrease": 3, "take_profit": 4, "stop_loss": 5}
ORDER_TYPE_NAMES = {v: k for k, v in ORDER_TYPES.items()}
INCREASE_TYPES = frozenset({"market_increase", "limit_increase", "stop_increase"})
MARKET_TYPES = frozenset({"market_increase", "market_decrease"})
#: ``OrderBook.RequestKind`` by name: each kind has its own minimum execution gas.
REQUEST_KINDS = {"increase": 0, "decrease": 1, "lp_deposit": 2, "lp_redeem": 3}


@dataclass(frozen=True)
class OrderView:
    """An open order. ``size`` None on a decrease means the whole position."""

    id: int
    account: str
    market: str
    type: str
    side: str  # "long" | "short": the position the order opens or reduces
    size: Optional[Decimal]
    leverage: int
    mode: Optional[str]
    collateral: Decimal
    trigger_price: Optional[Decimal]
    acceptable_price: Optional[Decimal]
    execution_fee_wei: int
    created_at: int


@dataclass
class OrderReceipt:
    """The receipt of ``createOrder`` with the new order's id; other attributes are the
    :class:`~protocol.chain.Receipt`'s."""

    order_id: int
    receipt: Receipt

    def __getattr__(self, name: str) -> Any:
        return getattr(self.receipt, name)
