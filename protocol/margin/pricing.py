"""Mirrors of the pricing modules (``IPricingModule``): the interface's values, the stock rule
(the oracle price, no impact) here, and ``ImpactPricing`` (GMX v2.2's position price impact) in
:mod:`protocol.margin.impact_pricing`, in the contracts' exact integer math.

A mirror answers the questions the venue asks its market's pricing module, from the same
:class:`ImpactInput` the venue passes on chain (the market's open interest, the position, the
impact pool): what an increase pays (``increase``), what a decrease or a liquidation realises
(``decrease``), and what health counts (``health``). The model applies the answers as the venue
does (``protocol.margin.model``).

"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from protocol.exceptions import PerpsimError


class PricingRevert(PerpsimError):
    """The module would revert with the custom error ``name``."""

    def __init__(self, name: str, *args: object):
        super().__init__(name, *args)
        self.name = name


@dataclass(frozen=True)
class ImpactInput:
    """``IPricingModule.ImpactInput``, in the same field order: a trade (``size_delta``, + buys)
    at the oracle ``price`` against the market's open interest before it, and the position it
    changes (``size`` 0: none yet)."""

    market: int
    size_delta: int  # WAD base units, + buys
    price: int  # oracle price, WAD USD per unit
    long_size: int  # the market's open interest before the trade, WAD base units
    short_size: int
    long_entry: int  # ... and as entry notional (GMX's sizeInUsd sums), WAD USD
    short_entry: int
    size: int  # the position before the trade, WAD base units
    entry_notional: int  # its entry notional, WAD USD
    pending_impact: int  # its pending impact, WAD base units
    impact_pool: int  # the market's impact pool, WAD base units
    scale: int  # WAD USD per collateral token unit


@dataclass(frozen=True)
class ImpactResult:
    """``IPricingModule.ImpactResult``, in the same field order."""

    execution_price: int = 0  # WAD USD per unit: what events report and orders check
    impact_usd: int = 0  # the trade's own impact, WAD USD (+ in the trader's favour)
    pending_delta: int = 0  # added to the position's pending impact, WAD base units
    realized: int = 0  # collateral tokens paid to (+) or taken from (-) the trader now
    pool_delta: int = 0  # added to the market's impact pool, WAD base units
    held: int = 0  # of a payment (-realized), the tokens held for the trader, not the pool's


class PricingRule(Protocol):
    """What the model asks a market's pricing rule: :class:`OraclePricing`,
    :class:`~protocol.margin.impact_pricing.ImpactPricing` or a module's mirror."""

    def increase(self, t: ImpactInput, /) -> ImpactResult:
        """What an increase pays."""
        ...

    def decrease(self, t: ImpactInput, liquidation: bool = False, /) -> ImpactResult:
        """What a decrease or a liquidation realises."""
        ...

    def health(self, t: ImpactInput, /) -> int:
        """What health counts of the position's pending impact, WAD, <= 0."""
        ...


class OraclePricing:
    """The stock rule: every trade fills at the oracle price; no impact, nothing held."""

    def increase(self, t: ImpactInput) -> ImpactResult:
        return ImpactResult(execution_price=t.price)

    def decrease(self, t: ImpactInput, liquidation: bool = False) -> ImpactResult:
        return ImpactResult(execution_price=t.price)

    def health(self, t: ImpactInput) -> int:
        return 0
