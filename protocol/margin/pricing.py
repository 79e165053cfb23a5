"""Mirrors of the pricing modules (``IPricingModule``): the stock rule (the oracle price) and
``ImpactPricing`` (GMX v2's price impact), in the contracts' exact integer math.

A mirror reads the market's open interest and impact pool from the model it is given, as the
module reads them from the venue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from protocol.margin.model import Model

WAD = 10**18
BPS = 10_000


def _mul_div(a: int, b: int, c: int, up: bool = False) -> int:
    return -(-a * b // c) if up else a * b // c


class OraclePricing:
    """The stock rule: every trade and liquidation fills at the oracle price."""

    def fill_price(self, model: "Model", market: int, size_delta: int, oracle_price: int,
                   liquidation: bool = False) -> int:
        return oracle_price


@dataclass(frozen=True)
class ImpactConfig:
    """``ImpactPricing.ImpactConfig``: factors in WAD per USD^(exponent - 1), exponents 1-3,
    the negative-impact caps in basis points of the trade's notional."""

    factor_positive: int = 0
    factor_negative: int = 0
    exponent_positive: int = 2
    exponent_negative: int = 2
    max_negative_impact_bps: int = 10_000
    max_liquidation_impact_bps: int = 10_000


def impact_function(factor: int, exponent: int, x: int, up: bool) -> int:
    """factor x (x / 1e18)^exponent, WAD USD, each step rounded up or down."""
    if factor == 0 or x == 0:
        return 0
    r = x
    for _ in range(1, exponent):
        r = _mul_div(r, x, WAD, up)
    return _mul_div(r, factor, WAD, up)


class ImpactPricing:
    """Mirror of ``ImpactPricing``: impact = F(diff before) - F(diff after) on the long/short
    imbalance in USD at the oracle price; a flip gets F_positive(before) - F_negative(after);
    positive impact capped by the market's impact pool, negative by the trade's (or the
    liquidation's) cap; the fill moves by the impact per unit, rounded against the trader."""

    def __init__(self, config: ImpactConfig):
        self.config = config

    def impact_parts(self, model: "Model", market: int, size_delta: int, price: int) -> tuple[int, int]:
        c = self.config
        s = model.states[market]
        net = s.long_size - s.short_size
        after = net + size_delta
        before_usd = abs(net) * price // WAD
        after_usd = abs(after) * price // WAD
        fp = lambda x: impact_function(c.factor_positive, c.exponent_positive, x, False)  # noqa: E731
        fn = lambda x: impact_function(c.factor_negative, c.exponent_negative, x, True)  # noqa: E731
        if (net > 0 > after) or (net < 0 < after):
            return fp(before_usd), fn(after_usd)
        if after_usd <= before_usd:
            return fp(before_usd) - fp(after_usd), 0
        return 0, fn(after_usd) - fn(before_usd)

    def fill_price(self, model: "Model", market: int, size_delta: int, price: int,
                   liquidation: bool = False) -> int:
        c = self.config
        if size_delta == 0 or (c.factor_positive == 0 and c.factor_negative == 0):
            return price
        positive, negative = self.impact_parts(model, market, size_delta, price)
        size_abs = abs(size_delta)
        cap_bps = c.max_liquidation_impact_bps if liquidation else c.max_negative_impact_bps
        negative = min(negative, (size_abs * price // WAD) * cap_bps // BPS)
        positive = min(positive, max(model.impact_pool.get(market, 0), 0))
        buy = size_delta > 0
        if positive >= negative:
            better = (positive - negative) * WAD // size_abs
            if buy:
                return price - better if better < price else 1
            return price + better
        worse = _mul_div(negative - positive, WAD, size_abs, up=True)
        if buy:
            return price + worse
        return price - worse if worse < price else 1


def impact_pool_delta(size_delta: int, oracle_price: int, fill_price: int) -> int:
    """What a fill books into its market's impact pool (``Rules.fill``): what a buyer paid
    above the oracle (a seller below) goes in, rounded down; what it was paid out, rounded up."""
    size_abs = abs(size_delta)
    paid_more = (size_delta > 0) == (fill_price > oracle_price)
    gap = abs(fill_price - oracle_price)
    return gap * size_abs // WAD if paid_more else -_mul_div(gap, size_abs, WAD, up=True)
