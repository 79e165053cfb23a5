"""Mirror of the margin module (``IMarginModule``) and its stock rule (``StockRules``):
initial margin = notional / leverage, maintenance = notional x mmf, both rounded up; or, on a
market with tiers (Hyperliquid), notional / (2 x the tier's max leverage) - the tier's deduction."""

from __future__ import annotations

from protocol.margin import math as m


class StockMargin:
    def requirements(self, market: int, notional: int, leverage: int, mmf: int) -> tuple[int, int]:
        """(initial, maintenance) margin of a position, WAD USD."""
        return m.initial(notional, leverage), m.maintenance(notional, mmf)


#: A tier as the chain stores it: (lower bound WAD USD, max leverage, deduction WAD USD).
Tier = tuple[int, int, int]


def tier_fraction(max_leverage: int) -> int:
    """1 / (2 x max leverage) as a WAD, rounded up (``StockRules.tierFraction``)."""
    return m.ceil_div(m.WAD, 2 * max_leverage)


def build_tiers(lower_bounds: list[int], max_leverages: list[int]) -> list[Tier]:
    """Tiers with their deductions, as ``setMarketTiers`` computes them: deduction(n) =
    deduction(n-1) + bound(n) x (mmr(n) - mmr(n-1)), rounded down, so maintenance is continuous."""
    tiers, deduction, previous = [], 0, 0
    for i, (bound, leverage) in enumerate(zip(lower_bounds, max_leverages)):
        fraction = tier_fraction(leverage)
        if i:
            deduction += bound * (fraction - previous) // m.WAD
        previous = fraction
        tiers.append((bound, leverage, deduction))
    return tiers


def tier_of(tiers: list[Tier], notional: int) -> Tier:
    """The last tier whose lower bound the notional reaches (``Rules.tier``)."""
    i = len(tiers) - 1
    while i > 0 and notional < tiers[i][0]:
        i -= 1
    return tiers[i]


def tiered_maintenance(notional: int, tiers: list[Tier]) -> int:
    _, leverage, deduction = tier_of(tiers, notional)
    return m.maintenance(notional, tier_fraction(leverage)) - deduction
