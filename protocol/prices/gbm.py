"""Geometric Brownian motion."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from protocol.constants import SECONDS_PER_YEAR
from protocol.prices import _validate as v
from protocol.prices.path import PricePath, log_walk, start_price
from protocol.prices.source import SingleSymbol


@dataclass(frozen=True)
class GBM(SingleSymbol):
    """``dS/S = drift dt + volatility dW`` with annual ``drift`` and ``volatility``.

    Exact log-space steps of ``dt = block_time / SECONDS_PER_YEAR``:
    ``log S += (drift - volatility**2 / 2) dt + volatility sqrt(dt) Z``.
    """

    symbol: str
    start: Decimal
    drift: float = 0.0
    volatility: float = 0.5

    def __post_init__(self) -> None:
        v.symbol("symbol", self.symbol)
        v.set_field(self, "start", start_price("start", self.start))
        v.set_field(self, "drift", v.real("drift", self.drift))
        v.set_field(self, "volatility", v.real("volatility", self.volatility, lo=0))

    def path(self, blocks: int, block_time: float, seed: int) -> PricePath:
        blocks, block_time, seed = v.path_args(blocks, block_time, seed)
        rng = v.rng(seed)
        dt = block_time / SECONDS_PER_YEAR
        mu = (self.drift - 0.5 * self.volatility ** 2) * dt
        sd = self.volatility * math.sqrt(dt)
        steps = (mu + sd * rng.gauss(0.0, 1.0) for _ in range(blocks))
        return PricePath(self.symbols, block_time, {self.symbol: log_walk(self.start, steps)})
