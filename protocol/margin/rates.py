"""Mirror of the rates module (``contracts/interfaces/IRatesModule.sol``) and its stock rule
(``StockRules.rates``): skew funding and a flat borrow rate."""

from __future__ import annotations

from dataclasses import dataclass

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


class StockRates:
    """Funding = factor x skew / open interest (capped), longs pay when long-heavy; borrowing
    at the market's configured flat rate."""

    def rates(self, i: RatesInput) -> tuple[int, int]:
        return (m.funding_rate(i.long_size, i.short_size, i.funding_factor, i.max_funding_rate),
                i.borrow_rate)
