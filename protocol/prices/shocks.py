"""Scripted shocks (crash, flash crash, gap), on their own or on top of another source.

A shock is a deterministic factor path (``factors(blocks)``, exact ``Decimal`` arithmetic,
factor 1 before the shock). Standing alone, a shock is a ``PriceSource`` priced
``start * factor``; ``WithShock(base, shock)`` multiplies ``base``'s path for ``shock.symbol`` by
the factors instead (``start`` is then unused). Percentages are fractions: ``0.3`` is 30%.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from protocol.prices import _validate as v
from protocol.prices.path import DECIMAL_CONTEXT, PricePath, quantize, start_price
from protocol.prices.source import PriceSource, SingleSymbol

_ONE = Decimal(1)


@runtime_checkable
class Shock(Protocol):
    """A multiplicative factor path for one symbol."""

    symbol: str

    def factors(self, blocks: int) -> tuple[Decimal, ...]:
        """``blocks + 1`` factors; ``factors(blocks)[0] == 1``."""
        ...


class _Standalone(SingleSymbol):
    """``PriceSource.path`` of a shock alone: ``quantize(start * factor)`` (seed unused)."""

    start: Decimal

    if TYPE_CHECKING:
        def factors(self, blocks: int) -> tuple[Decimal, ...]:
            """Each shock's own (:class:`Shock`)."""
            ...

    def path(self, blocks: int, block_time: float, seed: int) -> PricePath:
        blocks, block_time, seed = v.path_args(blocks, block_time, seed)
        prices = tuple(quantize(DECIMAL_CONTEXT.multiply(self.start, f))
                       for f in self.factors(blocks))
        return PricePath(self.symbols, block_time, {self.symbol: prices})


@dataclass(frozen=True)
class Crash(_Standalone):
    """Falls by ``drop_pct`` over blocks ``start_block+1 .. start_block+over_blocks``, then flat.

    ``shape="linear"`` loses an equal amount each block; ``"geometric"`` an equal fraction.
    From block ``start_block + over_blocks`` on the price is exactly ``start * (1 - drop_pct)``
    (quantised).
    """

    symbol: str
    start: Decimal
    drop_pct: Decimal
    start_block: int
    over_blocks: int
    shape: Literal["linear", "geometric"] = "linear"

    def __post_init__(self) -> None:
        v.symbol("symbol", self.symbol)
        v.set_field(self, "start", start_price("start", self.start))
        v.set_field(self, "drop_pct", v.fraction("drop_pct", self.drop_pct, lo=Decimal(0),
                                                 hi=_ONE))
        v.integer("start_block", self.start_block)
        v.integer("over_blocks", self.over_blocks, lo=1)
        if self.shape not in ("linear", "geometric"):
            raise ValueError(f"shape must be 'linear' or 'geometric', got {self.shape!r}")

    def factors(self, blocks: int) -> tuple[Decimal, ...]:
        v.integer("blocks", blocks)
        ctx, end = DECIMAL_CONTEXT, _ONE - self.drop_pct
        out = []
        for k in range(blocks + 1):
            done = min(max(k - self.start_block, 0), self.over_blocks)
            if done == 0:
                out.append(_ONE)
            elif done == self.over_blocks:
                out.append(end)
            elif self.shape == "linear":
                lost = ctx.divide(ctx.multiply(self.drop_pct, done), self.over_blocks)
                out.append(ctx.subtract(_ONE, lost))
            else:
                out.append(ctx.power(end, ctx.divide(Decimal(done), self.over_blocks)))
        return tuple(out)


@dataclass(frozen=True)
class FlashCrash(_Standalone):
    """Drops by ``drop_pct`` at ``at_block``, then recovers linearly to exactly the pre-shock
    level at ``at_block + recover_blocks`` and stays there."""

    symbol: str
    start: Decimal
    drop_pct: Decimal
    at_block: int
    recover_blocks: int

    def __post_init__(self) -> None:
        v.symbol("symbol", self.symbol)
        v.set_field(self, "start", start_price("start", self.start))
        v.set_field(self, "drop_pct", v.fraction("drop_pct", self.drop_pct, lo=Decimal(0),
                                                 hi=_ONE))
        v.integer("at_block", self.at_block, lo=1)
        v.integer("recover_blocks", self.recover_blocks, lo=1)

    def factors(self, blocks: int) -> tuple[Decimal, ...]:
        v.integer("blocks", blocks)
        ctx, out = DECIMAL_CONTEXT, []
        for k in range(blocks + 1):
            since = k - self.at_block
            if since < 0 or since >= self.recover_blocks:
                out.append(_ONE)
            else:
                lost = ctx.divide(ctx.multiply(self.drop_pct, self.recover_blocks - since),
                                  self.recover_blocks)
                out.append(ctx.subtract(_ONE, lost))
        return tuple(out)


@dataclass(frozen=True)
class Gap(_Standalone):
    """Jumps by ``gap_pct`` (in (-1, 1]; negative is a gap down) at ``at_block`` and stays."""

    symbol: str
    start: Decimal
    gap_pct: Decimal
    at_block: int

    def __post_init__(self) -> None:
        v.symbol("symbol", self.symbol)
        v.set_field(self, "start", start_price("start", self.start))
        v.set_field(self, "gap_pct", v.fraction("gap_pct", self.gap_pct, lo=-_ONE, hi=_ONE,
                                                hi_open=False))
        v.integer("at_block", self.at_block, lo=1)

    def factors(self, blocks: int) -> tuple[Decimal, ...]:
        v.integer("blocks", blocks)
        after = _ONE + self.gap_pct
        return tuple(_ONE if k < self.at_block else after for k in range(blocks + 1))


@dataclass(frozen=True)
class WithShock:
    """``base`` with ``shock`` applied to ``shock.symbol`` (other symbols untouched).

    The seed goes to ``base`` unchanged, so the result is ``base``'s path times the factors.
    Nest to apply several shocks.
    """

    base: PriceSource
    shock: Shock

    def __post_init__(self) -> None:
        if not isinstance(self.base, PriceSource):
            raise ValueError(f"base must be a PriceSource, got {self.base!r}")
        if not isinstance(self.shock, Shock):
            raise ValueError(f"shock must be a Shock (with symbol and factors), got "
                             f"{self.shock!r}")
        if self.shock.symbol not in self.base.symbols:
            raise ValueError(f"shock symbol {self.shock.symbol!r} is not among base symbols "
                             f"{list(self.base.symbols)!r}")

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.base.symbols)

    def path(self, blocks: int, block_time: float, seed: int) -> PricePath:
        blocks, block_time, seed = v.path_args(blocks, block_time, seed)
        base = self.base.path(blocks, block_time, seed)
        prices = dict(base.prices)
        sym = self.shock.symbol
        prices[sym] = tuple(quantize(DECIMAL_CONTEXT.multiply(p, f))
                            for p, f in zip(base.prices[sym], self.shock.factors(blocks)))
        return PricePath(base.symbols, base.block_time, prices)
