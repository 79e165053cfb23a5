"""Several GBMs driven by correlated Brownian motions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from protocol.constants import SECONDS_PER_YEAR
from protocol.prices import _validate as v
from protocol.prices.correlation import Matrix, cholesky, validate_correlation
from protocol.prices.path import PricePath, log_walk, start_price


@dataclass(frozen=True)
class CorrelatedGBM:
    """GBMs for ``symbols`` whose log returns have correlation matrix ``correlation``.

    ``starts``, ``drifts`` and ``volatilities`` (annual) are per symbol. Each block draws one
    standard normal per symbol (in order) and mixes them with the Cholesky factor.
    """

    symbols: tuple[str, ...]
    starts: tuple[Decimal, ...]
    drifts: tuple[float, ...]
    volatilities: tuple[float, ...]
    correlation: Matrix
    _factor: Matrix = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        syms = v.symbols("symbols", self.symbols)
        n = len(syms)
        v.set_field(self, "symbols", syms)
        for name in ("starts", "drifts", "volatilities"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, (tuple, list)) or len(value) != n:
                raise ValueError(f"{name} must be a sequence of {n} values (one per symbol), "
                                 f"got {value!r}")
        v.set_field(self, "starts",
                    tuple(start_price(f"starts[{i}]", s) for i, s in enumerate(self.starts)))
        v.set_field(self, "drifts",
                    tuple(v.real(f"drifts[{i}]", d) for i, d in enumerate(self.drifts)))
        v.set_field(self, "volatilities", tuple(v.real(f"volatilities[{i}]", s, lo=0)
                                                for i, s in enumerate(self.volatilities)))
        corr = validate_correlation(self.correlation, n)
        v.set_field(self, "correlation", corr)
        v.set_field(self, "_factor", cholesky(corr))

    def path(self, blocks: int, block_time: float, seed: int) -> PricePath:
        blocks, block_time, seed = v.path_args(blocks, block_time, seed)
        rng = v.rng(seed)
        n = len(self.symbols)
        dt = block_time / SECONDS_PER_YEAR
        mus = [(d - 0.5 * s ** 2) * dt for d, s in zip(self.drifts, self.volatilities)]
        sds = [s * math.sqrt(dt) for s in self.volatilities]
        steps: list[list[float]] = [[] for _ in range(n)]
        for _ in range(blocks):
            z = [rng.gauss(0.0, 1.0) for _ in range(n)]
            for i, row in enumerate(self._factor):
                w = math.fsum(row[k] * z[k] for k in range(i + 1))
                steps[i].append(mus[i] + sds[i] * w)
        prices = {s: log_walk(self.starts[i], steps[i]) for i, s in enumerate(self.symbols)}
        return PricePath(self.symbols, block_time, prices)
