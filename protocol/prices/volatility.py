"""Stochastic volatility: a Markov regime-switching volatility and a Heston model."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from protocol.constants import SECONDS_PER_YEAR
from protocol.prices import _validate as v
from protocol.prices.path import PricePath, log_walk, start_price
from protocol.prices.source import SingleSymbol


@dataclass(frozen=True)
class RegimeSwitchingVol(SingleSymbol):
    """GBM whose annual volatility is ``vols[regime]``; the path starts in ``initial_regime``.

    Before each block, with probability ``switch_probability`` the regime jumps to another one,
    chosen uniformly. Per block: one uniform (switch?), one more if switching (and more than two
    regimes), then the return normal.
    """

    symbol: str
    start: Decimal
    drift: float = 0.0
    vols: tuple[float, ...] = (0.3, 1.2)
    switch_probability: float = 0.001
    initial_regime: int = 0

    def __post_init__(self) -> None:
        v.symbol("symbol", self.symbol)
        v.set_field(self, "start", start_price("start", self.start))
        v.set_field(self, "drift", v.real("drift", self.drift))
        if isinstance(self.vols, str) or not isinstance(self.vols, (tuple, list)) or not self.vols:
            raise ValueError(f"vols must be a non-empty tuple of volatilities, got {self.vols!r}")
        v.set_field(self, "vols", tuple(v.real(f"vols[{i}]", s, lo=0)
                                        for i, s in enumerate(self.vols)))
        v.set_field(self, "switch_probability",
                    v.real("switch_probability", self.switch_probability, lo=0, hi=1))
        v.integer("initial_regime", self.initial_regime)
        if self.initial_regime >= len(self.vols):
            raise ValueError(f"initial_regime must be < len(vols) = {len(self.vols)}, "
                             f"got {self.initial_regime!r}")

    def regimes(self, blocks: int, block_time: float, seed: int) -> tuple[int, ...]:
        """The regime of each block ``1..blocks`` (the one its return was drawn in)."""
        return self._simulate(blocks, block_time, seed)[1]

    def path(self, blocks: int, block_time: float, seed: int) -> PricePath:
        return self._simulate(blocks, block_time, seed)[0]

    def _simulate(self, blocks: int, block_time: float, seed: int) -> tuple[PricePath, tuple[int, ...]]:
        blocks, block_time, seed = v.path_args(blocks, block_time, seed)
        rng = v.rng(seed)
        dt = block_time / SECONDS_PER_YEAR
        n = len(self.vols)
        regime = self.initial_regime
        steps, regimes = [], []
        for _ in range(blocks):
            if n > 1 and rng.random() < self.switch_probability:
                other = rng.randrange(n - 1) if n > 2 else 0
                regime = other if other < regime else other + 1
            sigma = self.vols[regime]
            steps.append((self.drift - 0.5 * sigma ** 2) * dt
                         + sigma * math.sqrt(dt) * rng.gauss(0.0, 1.0))
            regimes.append(regime)
        path = PricePath(self.symbols, block_time, {self.symbol: log_walk(self.start, steps)})
        return path, tuple(regimes)


@dataclass(frozen=True)
class Heston(SingleSymbol):
    """Heston stochastic volatility, Euler scheme with full truncation (``v+ = max(v, 0)``):

    ``log S += (drift - v+/2) dt + sqrt(v+ dt) Z1``,
    ``v += kappa (theta - v+) dt + xi sqrt(v+ dt) Z2``, ``corr(Z1, Z2) = rho``.

    ``v0`` and ``theta`` are annual variances (volatility squared); ``kappa`` is per year.
    """

    symbol: str
    start: Decimal
    drift: float = 0.0
    v0: float = 0.36
    kappa: float = 2.0
    theta: float = 0.36
    xi: float = 1.0
    rho: float = -0.5

    def __post_init__(self) -> None:
        v.symbol("symbol", self.symbol)
        v.set_field(self, "start", start_price("start", self.start))
        v.set_field(self, "drift", v.real("drift", self.drift))
        v.set_field(self, "v0", v.real("v0", self.v0, lo=0))
        v.set_field(self, "kappa", v.real("kappa", self.kappa, lo=0))
        v.set_field(self, "theta", v.real("theta", self.theta, lo=0))
        v.set_field(self, "xi", v.real("xi", self.xi, lo=0))
        v.set_field(self, "rho", v.real("rho", self.rho, lo=-1, hi=1))

    def path(self, blocks: int, block_time: float, seed: int) -> PricePath:
        blocks, block_time, seed = v.path_args(blocks, block_time, seed)
        rng = v.rng(seed)
        dt = block_time / SECONDS_PER_YEAR
        ortho = math.sqrt(1.0 - self.rho ** 2)
        var = self.v0
        steps = []
        for _ in range(blocks):
            z1, w = rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0)
            z2 = self.rho * z1 + ortho * w
            vp = max(var, 0.0)
            steps.append((self.drift - 0.5 * vp) * dt + math.sqrt(vp * dt) * z1)
            var += self.kappa * (self.theta - vp) * dt + self.xi * math.sqrt(vp * dt) * z2
        return PricePath(self.symbols, block_time, {self.symbol: log_walk(self.start, steps)})
