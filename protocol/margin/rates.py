"""Mirror of the rates module (``contracts/interfaces/IRatesModule.sol``), its stock rule
(``StockRules.rates``: skew funding and a flat borrow rate) and the checks the venue applies to
a module's answer (``RatesLogic``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from protocol.margin import math as m


@dataclass(frozen=True)
class RatesInput:
    """``RatesInput``, in the same field order."""

    market: int
    long_size: int
    short_size: int
    long_open_interest: int
    short_open_interest: int
    price: int
    pool_assets: int  # WAD USD
    funding_factor: int
    max_funding_rate: int
    borrow_rate: int


class RatesRule(Protocol):
    """What the model asks a market's rates rule: :class:`StockRates` or a module's mirror."""

    def rates(self, i: RatesInput, /) -> tuple[int, int]:
        """(funding, borrow) rates per second, WAD."""
        ...


class StockRates:
    """Funding = factor x skew / open interest (capped), longs pay when long-heavy; borrowing
    at the market's configured flat rate."""

    def rates(self, i: RatesInput) -> tuple[int, int]:
        return (m.funding_rate(i.long_size, i.short_size, i.funding_factor, i.max_funding_rate),
                i.borrow_rate)


#: The largest funding rate a module may answer, either way, and the largest borrow rate (WAD
#: per second): the hard bounds of the configured ``maxFundingRate`` and ``borrowRate``.
MAX_MODULE_FUNDING_RATE = 10**13
MAX_MODULE_BORROW_RATE = 10**11


def refused_value(funding_rate: int, borrow_rate: int) -> int | None:
    """The ``value`` of the ``ModuleResultOutOfBounds`` a module's answer is refused with
    (``RatesLogic.tryModuleRates``): |funding| above the bound (a negative rate as the uint256 of
    its two's complement), else borrowing above its bound; None when the answer is accepted."""
    if abs(funding_rate) > MAX_MODULE_FUNDING_RATE:
        return funding_rate % 2**256
    if borrow_rate > MAX_MODULE_BORROW_RATE:
        return borrow_rate
    return None


def applied_funding(i: RatesInput, funding_rate: int) -> int:
    """Funding needs both sides: with either side empty nobody could pay or receive it, so an
    accepted answer's funding rate applies as 0 (the stock rule's own answer then)."""
    return 0 if i.long_size == 0 or i.short_size == 0 else funding_rate
