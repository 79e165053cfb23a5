"""Brownian bridge: a log-space random walk pinned to given prices at given blocks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Mapping, Union, cast

from protocol.constants import SECONDS_PER_YEAR
from protocol.prices import _validate as v
from protocol.prices.path import PricePath, quantize, start_price
from protocol.prices.source import SingleSymbol

Targets = Union[Mapping[int, Decimal], Decimal, int, float, str]


@dataclass(frozen=True)
class BrownianBridge(SingleSymbol):
    """Log price is Brownian with annual ``volatility``, conditioned to hit ``targets``.

    ``targets`` maps block -> price (blocks >= 1), or is a single price pinned at the last block
    of whatever path is requested. At each target block the price is exactly the (quantised)
    target. After the last target the walk continues freely with zero log drift. Requesting fewer
    blocks than the largest target block raises ``ValueError``.
    """

    symbol: str
    start: Decimal
    targets: Targets
    volatility: float = 0.5

    def __post_init__(self) -> None:
        v.symbol("symbol", self.symbol)
        v.set_field(self, "start", start_price("start", self.start))
        v.set_field(self, "volatility", v.real("volatility", self.volatility, lo=0))
        if isinstance(self.targets, Mapping):
            if not self.targets:
                raise ValueError("targets must not be empty")
            pins = {}
            for block, price in sorted(self.targets.items()):
                v.integer("targets block", block, lo=1)
                pins[block] = start_price(f"targets[{block}]", price)
            v.set_field(self, "targets", MappingProxyType(pins))
        else:
            v.set_field(self, "targets", start_price("targets", self.targets))

    def __hash__(self) -> int:
        pins = self.targets
        key = tuple(pins.items()) if isinstance(pins, Mapping) else pins
        return hash((self.symbol, self.start, key, self.volatility))

    def pins(self, blocks: int) -> dict[int, Decimal]:
        """The block -> price pins of a path of ``blocks`` blocks."""
        v.integer("blocks", blocks)
        if not isinstance(self.targets, Mapping):
            if blocks < 1:
                raise ValueError("a single end target needs blocks >= 1")
            return {blocks: cast(Decimal, self.targets)}  # made a Decimal on construction
        last = max(self.targets)
        if last > blocks:
            raise ValueError(f"targets reach block {last} but only {blocks} blocks requested")
        return dict(self.targets)

    def path(self, blocks: int, block_time: float, seed: int) -> PricePath:
        blocks, block_time, seed = v.path_args(blocks, block_time, seed)
        pins = self.pins(blocks)
        rng = v.rng(seed)
        sd = self.volatility * math.sqrt(block_time / SECONDS_PER_YEAR)
        prices = [self.start]
        x, k = math.log(self.start), 0
        for pin_block, pin_price in sorted(pins.items()):
            target = math.log(pin_price)
            while k < pin_block - 1:
                left = pin_block - k  # steps to the pin, >= 2
                x += (target - x) / left + sd * math.sqrt((left - 1) / left) * rng.gauss(0.0, 1.0)
                prices.append(_price(x))
                k += 1
            x, k = target, pin_block
            prices.append(pin_price)
        while k < blocks:
            x += -0.5 * sd * sd + sd * rng.gauss(0.0, 1.0)
            prices.append(_price(x))
            k += 1
        return PricePath(self.symbols, block_time, {self.symbol: tuple(prices)})


def _price(log_price: float) -> Decimal:
    if log_price > 92:
        raise ValueError("price path overflowed (price above 1e40); lower volatility")
    return quantize(math.exp(log_price))
