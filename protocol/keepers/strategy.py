"""How a keeper bot behaves: how often it looks, how slow it is, what it bids."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from protocol.constants import GWEI

PRICE_CHOICES = ("latest", "best")
SCANS = ("index", "chain")


@dataclass(frozen=True)
class Strategy:
    """A keeper's operating parameters.

    ``poll_interval``: blocks between scans (1: every block). ``latency``: blocks between first
    seeing a target and its transaction landing (0: the same block). ``gas_price``: the bid, wei.
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

    def __post_init__(self) -> None:
        if self.poll_interval < 1:
            raise ValueError("poll_interval must be >= 1 block")
        if self.latency < 0:
            raise ValueError("latency must be >= 0 blocks")
        if self.gas_price < 0:
            raise ValueError("gas_price must be >= 0 wei")
        if self.batch_size < 1 or self.scan_chunk < 1:
            raise ValueError("batch_size and scan_chunk must be >= 1")
        if self.full_scan_interval < 1:
            raise ValueError("full_scan_interval must be >= 1 scan")
        if self.watch_threshold_bps < 10_000:
            raise ValueError("watch_threshold_bps must be >= 10000 (the maintenance margin)")
        if self.scan not in SCANS:
            raise ValueError(f"scan must be one of {', '.join(SCANS)}, got {self.scan!r}")
        if self.price_choice not in PRICE_CHOICES:
            raise ValueError(f"price_choice must be one of {', '.join(PRICE_CHOICES)}, "
                             f"got {self.price_choice!r}")
