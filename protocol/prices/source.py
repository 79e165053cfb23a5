"""The ``PriceSource`` interface and ``combine``, which joins sources of different symbols."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from protocol.prices import _validate as v
from protocol.prices.path import PricePath


@runtime_checkable
class PriceSource(Protocol):
    """Anything that yields a deterministic ``PricePath`` for its ``symbols``.

    ``path(blocks, block_time, seed)`` returns ``blocks + 1`` prices per symbol, block ``i`` at
    ``i * block_time`` seconds; the same arguments always give the same path.
    """

    @property
    def symbols(self) -> tuple[str, ...]: ...

    def path(self, blocks: int, block_time: float, seed: int) -> PricePath: ...


def derive_seed(seed: int, index: int) -> int:
    """The seed of sub-source ``index`` of a run seeded ``seed`` (SHA-256 based, 63 bits)."""
    v.integer("seed", seed)
    v.integer("index", index)
    digest = hashlib.sha256(f"perpsim.prices:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class SingleSymbol:
    """Mixin for dataclasses with a ``symbol`` field."""

    symbol: str

    @property
    def symbols(self) -> tuple[str, ...]:
        return (self.symbol,)


@dataclass(frozen=True)
class Combined:
    """Several sources with disjoint symbols as one; source ``i`` runs with
    ``derive_seed(seed, i)``."""

    sources: tuple[PriceSource, ...]

    def __post_init__(self) -> None:
        v.set_field(self, "sources", tuple(self.sources))
        if not self.sources:
            raise ValueError("sources must not be empty")
        seen: set[str] = set()
        for i, src in enumerate(self.sources):
            if not isinstance(src, PriceSource):
                raise ValueError(f"sources[{i}] is not a PriceSource: {src!r}")
            dup = seen.intersection(src.symbols)
            if dup:
                raise ValueError(f"sources[{i}] repeats symbol(s) {sorted(dup)!r}")
            seen.update(src.symbols)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(s for src in self.sources for s in src.symbols)

    def path(self, blocks: int, block_time: float, seed: int) -> PricePath:
        blocks, block_time, seed = v.path_args(blocks, block_time, seed)
        prices: dict[str, tuple[Decimal, ...]] = {}
        for i, src in enumerate(self.sources):
            prices.update(src.path(blocks, block_time, derive_seed(seed, i)).prices)
        return PricePath(self.symbols, block_time, prices)


def combine(*sources: PriceSource) -> Combined:
    """One source for all the symbols of ``sources`` (which must not overlap)."""
    return Combined(tuple(sources))
