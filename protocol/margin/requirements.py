"""Mirror of the margin module (``IMarginModule``) and its stock rule (``StockRules``):
initial margin = notional / leverage, maintenance = notional x mmf, both rounded up; or, on a
market with tiers (Hyperliquid), maintenance = notional / (2 x the tier's max leverage) - the
tier's deduction and initial margin = max(notional / leverage, that maintenance)."""

from __future__ import annotations

from typing import Protocol, Sequence

from protocol.margin import math as m


class MarginRequirementsRule(Protocol):
    """What the model asks a market's margin rule: :class:`StockMargin` or a module's mirror."""

    def requirements(self, market: int, notional: int, leverage: int, mmf: int, /) -> tuple[int, int]:
        """(initial, maintenance) margin of a position, WAD USD."""
        ...


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


class MarginRule:
    """A market's margin rule as a risk comparison sees it (``AdminLogic.MarginRule``): mmf and
    max leverage (WAD, integer), its tiers (``build_tiers``; none: notional x mmf) and whether a
    margin module computes maintenance instead of the stock rule."""

    def __init__(self, mmf: int, max_leverage: int, tiers: Sequence[Tier] = (), module: bool = False):
        self.mmf, self.max_leverage, self.tiers, self.module = mmf, max_leverage, list(tiers), module

    def line(self, notional: int) -> tuple[int, int]:
        """(fraction, deduction) of the maintenance line in force at ``notional``."""
        if not self.tiers:
            return self.mmf, 0
        _, leverage, deduction = tier_of(self.tiers, notional)
        return tier_fraction(leverage), deduction

    def leverage_at(self, notional: int) -> int:
        """The leverage allowed at ``notional``: the market's, and the tier's if lower."""
        if not self.tiers:
            return self.max_leverage
        return min(self.max_leverage, tier_of(self.tiers, notional)[1])

    def maintenance(self, notional: int) -> int:
        """What the stock rule charges at ``notional`` (WAD USD, rounded up)."""
        fraction, deduction = self.line(notional)
        return m.maintenance(notional, fraction) - deduction


def raises_risk(current: MarginRule, new: MarginRule) -> bool:
    """Whether ``new`` charges more maintenance than ``current`` or allows less leverage at some
    notional (``AdminLogic._raisesRisk``, SPEC §2): the exact maintenance lines compared at 0 and
    at every bound of both rules, from each side, and their slopes past the last bound; the
    leverage at the same points. With a margin module only leverage counts, and a higher mmf."""
    module = current.module
    if module and new.mmf > current.mmf:
        return True

    def higher(at: int, notional: int) -> bool:
        (f, d), (nf, nd) = current.line(at), new.line(at)
        return notional * nf + d * m.WAD > notional * f + nd * m.WAD

    points = [0] + [t[0] for t in current.tiers] + [t[0] for t in new.tiers]
    for x in points:
        if new.leverage_at(x) < current.leverage_at(x):
            return True
        if not module and (higher(x, x) or (x != 0 and higher(x - 1, x))):
            return True
    return not module and new.line(2**256 - 1)[0] > current.line(2**256 - 1)[0]
