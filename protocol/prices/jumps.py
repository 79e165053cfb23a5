"""Merton jump diffusion: GBM plus Poisson-arriving log-normal jumps."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from protocol.constants import SECONDS_PER_YEAR
from protocol.prices import _validate as v
from protocol.prices.path import PricePath, log_walk, start_price
from protocol.prices.source import SingleSymbol


@dataclass(frozen=True)
class MertonJumpDiffusion(SingleSymbol):
    """GBM with jumps arriving at ``jump_intensity`` per year; each jump multiplies the price by
    ``exp(N(jump_mean, jump_std**2))``.

    The drift is compensated, so ``E[S_t] = S_0 exp(drift t)``. Per block the diffusion normal is
    drawn first, then the jump count (exponential inter-arrival times), then one normal per jump;
    with ``jump_intensity = 0`` the path equals ``GBM`` with the same seed.
    """

    symbol: str
    start: Decimal
    drift: float = 0.0
    volatility: float = 0.5
    jump_intensity: float = 5.0
    jump_mean: float = -0.05
    jump_std: float = 0.1

    def __post_init__(self) -> None:
        v.symbol("symbol", self.symbol)
        v.set_field(self, "start", start_price("start", self.start))
        v.set_field(self, "drift", v.real("drift", self.drift))
        v.set_field(self, "volatility", v.real("volatility", self.volatility, lo=0))
        v.set_field(self, "jump_intensity", v.real("jump_intensity", self.jump_intensity, lo=0))
        v.set_field(self, "jump_mean", v.real("jump_mean", self.jump_mean, lo=-5, hi=5))
        v.set_field(self, "jump_std", v.real("jump_std", self.jump_std, lo=0, hi=5))

    def path(self, blocks: int, block_time: float, seed: int) -> PricePath:
        blocks, block_time, seed = v.path_args(blocks, block_time, seed)
        rng = v.rng(seed)
        dt = block_time / SECONDS_PER_YEAR
        lam = self.jump_intensity * dt
        mean_jump = math.exp(self.jump_mean + 0.5 * self.jump_std ** 2) - 1
        compensator = self.jump_intensity * mean_jump
        mu = (self.drift - 0.5 * self.volatility ** 2 - compensator) * dt
        sd = self.volatility * math.sqrt(dt)

        def step() -> float:
            x = mu + sd * rng.gauss(0.0, 1.0)
            if lam > 0:
                t = rng.expovariate(1.0)
                while t < lam:
                    x += rng.gauss(self.jump_mean, self.jump_std)
                    t += rng.expovariate(1.0)
            return x

        steps = (step() for _ in range(blocks))
        return PricePath(self.symbols, block_time, {self.symbol: log_walk(self.start, steps)})
