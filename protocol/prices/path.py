"""``PricePath``: the per-block oracle prices a source produces, and price quantisation."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal
from types import MappingProxyType
from typing import Iterable, Iterator, Mapping

from protocol.prices._validate import decimal

PRICE_DECIMALS = 8
PRICE_QUANTUM = Decimal("0.00000001")  # 1e-8, also the floor of every price

#: The decimal context of all price arithmetic, so a caller's global context cannot change paths.
DECIMAL_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN, Emax=10**6, Emin=-10**6)


def quantize(price: float | Decimal) -> Decimal:
    """A price as a ``Decimal`` with exactly ``PRICE_DECIMALS`` decimals, floored at
    ``PRICE_QUANTUM`` so a path never reaches zero.

    Floats are formatted with ``f"{x:.8f}"`` (correctly rounded, so identical on every machine).
    """
    if isinstance(price, Decimal):
        if not price.is_finite():
            raise ValueError(f"price must be finite, got {price!r}")
        if price.adjusted() >= 40:
            raise ValueError(f"price is too large, got {price!r}")
        q = price.quantize(PRICE_QUANTUM, context=DECIMAL_CONTEXT)
    else:
        if not math.isfinite(price) or abs(price) >= 1e40:
            raise ValueError(f"price must be finite and below 1e40, got {price!r}")
        q = Decimal(f"{price:.{PRICE_DECIMALS}f}")
    return q if q >= PRICE_QUANTUM else PRICE_QUANTUM


def start_price(name: str, value: float | Decimal | int | str) -> Decimal:
    """Validate a start/target price: a finite number, at least ``PRICE_QUANTUM``, quantised."""
    d = decimal(name, value)
    if d < PRICE_QUANTUM:
        raise ValueError(f"{name} must be >= {PRICE_QUANTUM}, got {value!r}")
    if d.adjusted() >= 40:
        raise ValueError(f"{name} must be below 1e40, got {value!r}")
    return quantize(d)


def log_walk(start: Decimal, increments: Iterable[float]) -> tuple[Decimal, ...]:
    """``start`` followed by ``start * exp(cumulative sum of increments)``, each quantised."""
    x = math.log(start)
    out = [start]
    for inc in increments:
        x += inc
        if x > 92:  # exp(92) ~ 9e39
            raise ValueError("price path overflowed (price above 1e40); lower volatility/drift")
        out.append(quantize(math.exp(x)))
    return tuple(out)


@dataclass(frozen=True)
class PricePath:
    """Prices of ``symbols`` at blocks ``0..blocks`` (index 0 is the start price).

    ``prices[symbol]`` is a tuple of ``len(self)`` positive ``Decimal`` prices; block ``i`` is
    ``i * block_time`` seconds after block 0.
    """

    symbols: tuple[str, ...]
    block_time: float
    prices: Mapping[str, tuple[Decimal, ...]] = field(hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbols", tuple(self.symbols))
        if not self.symbols or len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"symbols must be non-empty and distinct, got {self.symbols!r}")
        if set(self.prices) != set(self.symbols):
            raise ValueError(f"prices keys {sorted(self.prices)!r} do not match symbols "
                             f"{list(self.symbols)!r}")
        if not (self.block_time > 0 and math.isfinite(self.block_time)):
            raise ValueError(f"block_time must be a positive number, got {self.block_time!r}")
        frozen = {s: tuple(self.prices[s]) for s in self.symbols}
        lengths = {len(p) for p in frozen.values()}
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError("every symbol needs the same, non-zero number of prices")
        for s, series in frozen.items():
            for i, p in enumerate(series):
                if not isinstance(p, Decimal) or not p.is_finite() or p <= 0:
                    raise ValueError(f"prices[{s!r}][{i}] must be a positive Decimal, got {p!r}")
        object.__setattr__(self, "prices", MappingProxyType(frozen))

    def __len__(self) -> int:
        """Number of price points, ``blocks + 1``."""
        return len(self.prices[self.symbols[0]])

    @property
    def blocks(self) -> int:
        """Number of blocks after the start (``len(self) - 1``)."""
        return len(self) - 1

    def at(self, block: int) -> dict[str, Decimal]:
        """``{symbol: price}`` at ``block`` (``0 <= block <= blocks``; no negative indexing)."""
        if isinstance(block, bool) or not isinstance(block, int) or not 0 <= block < len(self):
            raise IndexError(f"block must be an int in [0, {self.blocks}], got {block!r}")
        return {s: self.prices[s][block] for s in self.symbols}

    def series(self, symbol: str) -> tuple[Decimal, ...]:
        """All prices of one symbol."""
        try:
            return self.prices[symbol]
        except KeyError:
            raise KeyError(f"unknown symbol {symbol!r}; path has {list(self.symbols)!r}") from None

    def __iter__(self) -> Iterator[dict[str, Decimal]]:
        """``at(0), at(1), ...``."""
        return (self.at(i) for i in range(len(self)))

    def to_csv(self, path: str | os.PathLike[str], start_timestamp: float = 0) -> None:
        """Write ``timestamp,symbol,price`` rows (readable back by ``CsvReplay``)."""
        start = Decimal(repr(float(start_timestamp)))
        step = Decimal(repr(float(self.block_time)))
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["timestamp", "symbol", "price"])
            for i in range(len(self)):
                for s in self.symbols:
                    writer.writerow([start + i * step, s, self.prices[s][i]])
