"""Oracles that lag and fail: which of the market's prices reach the chain, and when.

Without a model a market's oracle pushes the market price every block (the simulator's default).
An :class:`OracleModel` makes it behave like a real feed:

* ``push`` (Chainlink-style): a new price is pushed when it moved ``deviation_bps`` from the
  last one pushed, or ``heartbeat`` seconds after it (``deviation_bps = 0`` with no heartbeat:
  every block);
* ``delay_blocks``: the price published at block b is the market's price at b - delay;
* ``outages``: no update at all from block A to block B (inclusive), for ``[[A, B], ...]``;
* ``max_deviation_bps``: the on-chain oracle's deviation guard (``PriceOracle.maxDeviationBps``,
  SPEC §9): an update that moves the price more than this from the stored one is refused
  (``PriceDeviation``) and the market keeps its stored price (0: no guard);
* ``pull`` (Pyth-style): prices reach the chain only when someone attaches one. Traders' own
  updates land every ``heartbeat`` seconds; in between, a keeper may attach any published price
  newer than the stored one and within the oracle's max age (:meth:`OracleFeed.window`), which
  lets an adversarial keeper pick the one that liquidates most.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping, Optional

MODES = ("push", "pull")


@dataclass(frozen=True)
class OracleModel:
    """One market's oracle; see the module docstring."""

    mode: str = "push"
    deviation_bps: int = 0
    heartbeat: Optional[int] = None  # seconds
    delay_blocks: int = 0
    outages: tuple[tuple[int, int], ...] = ()
    max_deviation_bps: int = 0  # the on-chain guard; 0: none

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not 0 <= self.deviation_bps <= 10_000:
            raise ValueError(f"deviation_bps must be in [0, 10000], got {self.deviation_bps}")
        if not 0 <= self.max_deviation_bps <= 10_000:
            raise ValueError(f"max_deviation_bps must be in [0, 10000], got {self.max_deviation_bps}")
        if self.heartbeat is not None and self.heartbeat <= 0:
            raise ValueError(f"heartbeat must be > 0 seconds, got {self.heartbeat}")
        if self.mode == "pull" and self.heartbeat is None:
            raise ValueError("mode: 'pull' needs a heartbeat: a pull oracle needs one, how often "
                             "traders' own updates land")
        if self.mode == "pull" and self.deviation_bps:
            raise ValueError("deviation_bps: a pull oracle has no deviation trigger")
        if self.delay_blocks < 0:
            raise ValueError(f"delay_blocks must be >= 0, got {self.delay_blocks}")
        for start, end in self.outages:
            if not 0 < start <= end:
                raise ValueError(f"outages: need 0 < start <= end, got [{start}, {end}]")

    def in_outage(self, block: int) -> bool:
        return any(start <= block <= end for start, end in self.outages)


class OracleFeed:
    """Per block, the market prices published and the updates pushed on schedule; for pull
    markets, the published prices a keeper may attach."""

    def __init__(self, models: Mapping[str, OracleModel], start: Mapping[str, Decimal], timestamp: int):
        self.models = dict(models)
        self.market: dict[str, list[Decimal]] = {s: [p] for s, p in start.items()}  # by block
        self.published: dict[str, list[tuple[int, Decimal]]] = {s: [(timestamp, p)] for s, p in start.items()}
        self.last_push: dict[str, tuple[int, Decimal]] = {s: (timestamp, p) for s, p in start.items()}
        self._before: dict[str, tuple[int, Decimal]] = {}  # the last push before this block's

    def observe(self, block: int, timestamp: int, market: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """Record block ``block``'s market prices (published at ``timestamp``); return the
        updates pushed on schedule now, symbol -> price."""
        pushed: dict[str, Decimal] = {}
        self._before = {}
        for symbol, price in market.items():
            self.market[symbol].append(price)
            model = self.models.get(symbol)
            if model is None:
                pushed[symbol] = price
                continue
            if model.in_outage(block):
                continue
            published = self.market[symbol][max(0, block - model.delay_blocks)]
            self.published[symbol].append((timestamp, published))
            if self._due(model, self.last_push[symbol], timestamp, published):
                pushed[symbol] = published
                self._before[symbol] = self.last_push[symbol]
                self.last_push[symbol] = (timestamp, published)
        return pushed

    def refused(self, symbols: Iterable[str]) -> None:
        """The chain refused this block's updates of ``symbols`` (a deviation guard): the
        stored price is the last one pushed before, which the schedule measures from again."""
        for symbol in symbols:
            if symbol in self._before:
                self.last_push[symbol] = self._before[symbol]

    @staticmethod
    def _due(model: OracleModel, last: tuple[int, Decimal], timestamp: int, price: Decimal) -> bool:
        last_time, last_price = last
        if model.heartbeat is not None and timestamp - last_time >= model.heartbeat:
            return True
        if model.mode == "pull":
            return False
        if model.deviation_bps == 0:
            return model.heartbeat is None
        return abs(price - last_price) * 10_000 >= last_price * model.deviation_bps

    @property
    def pull_symbols(self) -> list[str]:
        return [s for s, m in self.models.items() if m.mode == "pull"]

    def window(self, symbol: str, after: int, now: int, max_age: int) -> list[tuple[int, Decimal]]:
        """Published ``(timestamp, price)`` pairs a keeper may attach now: newer than ``after``
        (the stored price's time), not in the future, at most ``max_age`` old; oldest first."""
        found = []
        for t, p in reversed(self.published[symbol]):  # newest first: stop at the stored price
            if t <= after:
                break
            if t <= now and now - t <= max_age:
                found.append((t, p))
        return found[::-1]
