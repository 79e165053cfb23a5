"""How a keeper bot behaves: how often it looks, how slow it is, what it bids."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

from protocol.constants import GWEI

PRICE_CHOICES = ("latest", "best")
SCANS = ("index", "chain")
#: The least value of each numeric setting, and its unit: the one place they are checked (a
#: scenario's ``[[keepers]]`` table is checked by constructing the strategy).
AT_LEAST = {"poll_interval": (1, " block"), "latency": (0, " blocks"), "gas_price": (0, " wei"),
            "min_profit_usd": (0, " USD"), "batch_size": (1, ""), "scan_chunk": (1, ""),
            "full_scan_interval": (1, " scan"),
            "watch_threshold_bps": (10_000, " bps (the maintenance margin)")}
CHOICES = {"price_choice": PRICE_CHOICES, "scan": SCANS}


@dataclass(frozen=True)
class Strategy:
    """A keeper's operating parameters.

    ``poll_interval``: blocks between scans (1: every block). ``latency``: blocks between first
    seeing a target and its transaction landing (0: the same block). ``gas_price``: the bid, wei:
    the tip above the network's base fee (the whole bid without a gas model, whose base fee is
    0). ``max_fee``: the most it pays per gas, base fee and tip together (None: no ceiling);
    while the fee would pass it, the keeper waits and its targets stay due.
    ``min_profit_usd``: skip targets whose estimated reward minus gas is below this (0: take
    everything). ``batch_size``: targets per batched transaction. ``scan_chunk``: accounts per
    Reader call while scanning. ``full_scan_interval``: scans between full scans of every
    account (1: every scan is full); in between, a liquidation keeper reads only its watchlist,
    the targets whose equity was below ``watch_threshold_bps``/10,000 of maintenance at the last
    full scan (one Reader call), as production keepers do to keep up with large books.
    ``price_choice``: on a pull oracle, which published price a liquidation keeper attaches:
    ``latest`` (honest) or ``best`` (the one that makes the most targets liquidatable).
    ``scan``: how liquidation and order keepers find their targets: ``index`` (the venue's
    event index, :class:`~protocol.keepers.index.BookIndex`, asking the chain only about
    candidates; ``scan_chunk``, ``full_scan_interval`` and ``watch_threshold_bps`` then do not
    apply) or ``chain`` (Reader scans of every account and open order, as configured).
    """

    poll_interval: int = 1
    latency: int = 0
    gas_price: int = 1 * GWEI
    min_profit_usd: Decimal = Decimal(0)
    batch_size: int = 50
    scan_chunk: int = 500
    full_scan_interval: int = 1
    watch_threshold_bps: int = 15_000
    price_choice: str = "latest"
    scan: str = "index"
    max_fee: Optional[int] = None

    def __post_init__(self) -> None:
        if self.max_fee is not None and self.max_fee < self.gas_price:
            raise ValueError(f"max_fee: must be >= gas_price ({self.gas_price} wei), got "
                             f"{self.max_fee}")
        for name, (least, unit) in AT_LEAST.items():
            value = getattr(self, name)
            if value < least:
                raise ValueError(f"{name}: must be >= {least}{unit}, got {value}")
        for name, options in CHOICES.items():
            if getattr(self, name) not in options:
                raise ValueError(f"{name}: must be one of {', '.join(options)}, "
                                 f"got {getattr(self, name)!r}")
