"""Mirror of the auto-deleveraging modules (``IAdlModule``, SPEC §8.1): the stock queue by
Hyperliquid score (:class:`StockAdl`), the pro-rata haircut across all winners
(:class:`ProRataAdl`) and GMX v2's keeper-chosen rule (:class:`GmxAdl`). Exact integers, the
contracts' rounding; the standard library only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

WAD = 10**18
#: ``IAdlModule.rule`` flags: the core checks the Hyperliquid rank; the core keeps a round.
ADL_RANKED = 1
ADL_ROUND = 2


@dataclass(frozen=True)
class AdlRoundInput:
    """``AdlRoundInput``, in the same field order (WAD USD unless said otherwise)."""

    profit: int  # P: venue-wide pending profit
    assets: int  # A: pool assets
    budget: int  # B: what the pool pays out now at most (P with the cap off)
    winners_profit: int  # W: the members' profit
    members: int  # n
    floor: int  # T, WAD
    scale: int  # one token unit in WAD


@dataclass(frozen=True)
class AdlInput:
    """``AdlInput``, in the same field order."""

    market: int
    size_abs: int
    round_size_abs: int
    fraction: int


class AdlRule(Protocol):
    """What the model asks a market's ADL rule: a mirror of :class:`StockAdl`,
    :class:`ProRataAdl`, :class:`GmxAdl` or a module on chain."""

    def rule(self, market: int, /) -> int: ...

    def round_fraction(self, r: AdlRoundInput, /) -> int: ...

    def close_limit(self, p: AdlInput, /) -> tuple[int, bool]: ...


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class StockAdl:
    """The queue by Hyperliquid score: ranked, any size up to the position."""

    def rule(self, market: int) -> int:
        return ADL_RANKED

    def round_fraction(self, r: AdlRoundInput) -> int:
        return 0

    def close_limit(self, p: AdlInput) -> tuple[int, bool]:
        return p.size_abs, False


class GmxAdl(StockAdl):
    """GMX v2: the keeper chooses; no rank, any size up to the position."""

    def rule(self, market: int) -> int:
        return 0


class ProRataAdl:
    """Pro-rata haircut: a round cuts each member by one fraction f of its round-start size.
    f = (P - T (A + n scale)) / (W - T W q), q = min(B, P) / P; see ``ProRataAdl.sol``."""

    def rule(self, market: int) -> int:
        return ADL_ROUND

    def round_fraction(self, r: AdlRoundInput) -> int:
        if r.profit == 0 or r.winners_profit == 0:
            return 0
        kept = _ceil_div(r.floor * (r.assets + r.members * r.scale), WAD)
        if r.profit <= kept:
            return 0
        paid = r.winners_profit * r.budget // r.profit if r.budget < r.profit else r.winners_profit
        den = r.winners_profit - paid * r.floor // WAD
        return min(WAD, (r.profit - kept) * WAD // den)

    def close_limit(self, p: AdlInput) -> tuple[int, bool]:
        cut = _ceil_div(p.round_size_abs * p.fraction, WAD)
        if p.size_abs < p.round_size_abs:
            reduced = p.round_size_abs - p.size_abs
            cut = cut - reduced if cut > reduced else 0
        return min(cut, p.size_abs), True


#: The Python mirror of each project ADL module, by contract name.
ADL_MIRRORS: dict[str, type] = {"StockAdl": StockAdl, "ProRataAdl": ProRataAdl, "GmxAdl": GmxAdl}
