"""Two-step LP requests in human units: the view of an open request and the receipt of a new one.

While any position is open the pool's share price moves with every oracle update, so LPs deposit
and redeem through the OrderBook: a request escrows assets or shares now and a keeper executes it
once every market with open interest has a price newer than the request."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from protocol.chain import Receipt


@dataclass(frozen=True)
class LpRequestView:
    """An open LP request. ``kind`` is ``"deposit"`` (``amount``: USD escrowed, ``min_out``:
    least shares accepted) or ``"redeem"`` (``amount``: shares escrowed, raw; ``min_out``: least
    USD accepted)."""

    id: int
    account: str
    receiver: str
    kind: str
    amount: Decimal | int
    min_out: Decimal | int
    execution_fee_wei: int
    created_at: int


@dataclass
class LpRequestReceipt:
    """The receipt of ``requestDeposit`` / ``requestRedeem`` with the new request's id; other
    attributes are the :class:`~protocol.chain.Receipt`'s."""

    request_id: int
    receipt: Receipt

    def __getattr__(self, name: str) -> Any:
        return getattr(self.receipt, name)
