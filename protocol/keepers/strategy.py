"""How a keeper bot behaves: how often it looks, how slow it is, what it bids."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

GWEI = 10**9


@dataclass(frozen=True)
class Strategy:
    """A keeper's operating parameters.

    ``poll_interval``: blocks between scans (1: every block). ``latency``: blocks between first
    seeing a target and its transaction landing (0: the same block). ``gas_price``: the bid, wei.
    ``min_profit_usd``: skip targets whose estimated reward minus gas is below this (0: take
    everything). ``batch_size``: targets per batched transaction. ``scan_chunk``: accounts per
    Reader call while scanning.
    """

    poll_interval: int = 1
    latency: int = 0
    gas_price: int = 1 * GWEI
    min_profit_usd: Decimal = Decimal(0)
    batch_size: int = 50
    scan_chunk: int = 500

    def __post_init__(self) -> None:
        if self.poll_interval < 1:
            raise ValueError("poll_interval must be >= 1 block")
        if self.latency < 0:
            raise ValueError("latency must be >= 0 blocks")
        if self.gas_price < 0:
            raise ValueError("gas_price must be >= 0 wei")
        if self.batch_size < 1 or self.scan_chunk < 1:
            raise ValueError("batch_size and scan_chunk must be >= 1")
