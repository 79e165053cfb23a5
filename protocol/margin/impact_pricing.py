"""Mirror of ``ImpactPricing`` (GMX v2.2's position price impact; docs/SPEC.md §5.1), in the
contract's exact integer math.

It computes in GMX's units internally, so that its token amounts and prices equal
gmx-synthetics' to the wei: USD with 30 decimals, index-token amounts in the token's own smallest
unit (``indexDecimals``), prices in 30-decimal USD per such unit. At its boundary it converts to
the venue's WAD units, rounding against the trader (docs/SPEC.md §5.1 lists every conversion).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from protocol.constants import BPS, WAD
from protocol.margin import prbmath
from protocol.margin.pricing import ImpactInput, ImpactResult, PricingRevert

FLOAT = 10**30  # GMX's Precision.FLOAT_PRECISION: 1.0 in 30-decimal fixed point
FLOAT_TO_WEI = 10**12  # GMX's Precision.FLOAT_TO_WEI_DIVISOR; also WAD USD -> 30-decimal USD
BPS_TO_FLOAT = FLOAT // BPS  # one basis point as a GMX factor


@dataclass(frozen=True)
class ImpactConfig:
    """``ImpactPricing.ImpactConfig``, in the same field order: GMX's factors (30 decimals, per
    USD^(exponent - 1)), exponents (WAD, 1 to 3), the caps in basis points of the trade's size
    in USD, the index token's decimals and the balance measure."""

    factor_positive: int = 0
    factor_negative: int = 0
    exponent_positive: int = 2 * WAD
    exponent_negative: int = 2 * WAD
    max_positive_impact_bps: int = BPS
    max_negative_impact_bps: int = BPS
    max_liquidation_impact_bps: int = BPS
    index_decimals: int = 18
    open_interest_in_tokens: bool = False


# ---------------------------------------------------------------------- GMX's math, exactly
def apply_exponent_factor(float_value: int, exponent: int) -> int:
    """``Precision.applyExponentFactor`` with the exponent in WAD: 0 below $1, the value itself
    at exponent 1, else prb-math's pow on the 18-decimal value, back to 30 decimals."""
    if float_value < FLOAT:
        return 0
    if exponent == WAD:
        return float_value
    return prbmath.pow(float_value // FLOAT_TO_WEI, exponent) * FLOAT_TO_WEI


def apply_impact_factor(diff_usd: int, factor: int, exponent: int) -> int:
    """``PricingUtils.applyImpactFactor``: factor x diff^exponent, 30-decimal USD, rounded down."""
    return apply_exponent_factor(diff_usd, exponent) * factor // FLOAT


def adjusted_factors(c: ImpactConfig) -> tuple[int, int, int, int]:
    """(positive factor, negative factor, positive exponent, negative exponent), the positive
    ones lowered to the negative ones (``MarketUtils.getAdjustedPositionImpactFactors`` and
    ``...ExponentFactors``): a round trip could otherwise earn more than it paid."""
    return (min(c.factor_positive, c.factor_negative), c.factor_negative,
            min(c.exponent_positive, c.exponent_negative), c.exponent_negative)


def price_impact_usd(c: ImpactConfig, long_oi: int, short_oi: int, usd_delta: int,
                     is_long: bool) -> int:
    """``PositionPricingUtils._getPriceImpactUsd`` on (long, short) open interest and a change
    of one side, 30-decimal USD, + in the trader's favour."""
    next_long, next_short = long_oi, short_oi
    if is_long:
        next_long = 0 if usd_delta < 0 and -usd_delta > long_oi else long_oi + usd_delta
    else:
        next_short = 0 if usd_delta < 0 and -usd_delta > short_oi else short_oi + usd_delta
    initial, following = abs(long_oi - short_oi), abs(next_long - next_short)
    fp, fn, ep, en = adjusted_factors(c)
    if (long_oi <= short_oi) == (next_long <= next_short):  # the same side stays larger
        improved = following < initial
        factor, exponent = (fp, ep) if improved else (fn, en)
        delta = abs(apply_impact_factor(initial, factor, exponent)
                    - apply_impact_factor(following, factor, exponent))
        return delta if improved else -delta
    positive = apply_impact_factor(initial, fp, ep)
    negative = apply_impact_factor(following, fn, en)
    return positive - negative


def max_positive_factor(c: ImpactConfig) -> int:
    """``MarketUtils.getMaxPositionImpactFactors``: the positive cap, at most the negative one."""
    return min(c.max_positive_impact_bps, c.max_negative_impact_bps) * BPS_TO_FLOAT


def cap_positive_by_max(c: ImpactConfig, impact: int, size_delta_usd: int) -> int:
    """``MarketUtils.capPositiveImpactUsdByMaxPositionImpact``."""
    if impact < 0:
        return impact
    return min(impact, size_delta_usd * max_positive_factor(c) // FLOAT)


# ---------------------------------------------------------------------- unit conversions
def _div(a: int, b: int, up: bool) -> int:
    return -(-a // b) if up else a // b


def _quantum(c: ImpactConfig) -> int:
    """WAD base units per smallest unit of the index token."""
    return cast(int, 10 ** (18 - c.index_decimals))  # a power of ten: int (typeshed: Any)


def _usd_to_tokens(c: ImpactConfig, usd: int, price: int, up: bool) -> int:
    """|usd| (30 decimals) over the price, in index-token units (GMX: usd / price per unit),
    rounded as asked, as WAD base units."""
    units = _div(abs(usd) * 10**c.index_decimals, price * FLOAT_TO_WEI, up)
    return units * _quantum(c)


def _tokens_to_usd(amount: int, price: int, up: bool) -> int:
    """|amount| (WAD base units) x price, 30-decimal USD (GMX: amount x price per unit)."""
    return _div(abs(amount) * price, WAD // FLOAT_TO_WEI, up)


def _signed(magnitude: int, negative: bool) -> int:
    return -magnitude if negative else magnitude


def _price_to_wad(c: ImpactConfig, price30: int, up: bool) -> int:
    """A GMX price (30-decimal USD per index-token unit) as WAD USD per whole unit: exact for
    decimals >= 12, else rounded as asked."""
    d = c.index_decimals
    if d >= 12:
        return price30 * cast(int, 10 ** (d - 12))  # d >= 12: an int power (typeshed: Any)
    return _div(price30, 10 ** (12 - d), up)


def _wad_to_float(wad: int) -> int:
    return wad * FLOAT_TO_WEI


def _float_to_wad(usd: int) -> int:
    """30-decimal USD to WAD, rounded towards minus infinity (against the trader)."""
    return usd // FLOAT_TO_WEI


class ImpactPricing:
    """Mirror of ``ImpactPricing`` (GMX v2.2's position price impact; docs/SPEC.md §5.1)."""

    def __init__(self, config: ImpactConfig):
        self.config = config

    # -------------------------------------------------------------- open interest
    def _open_interest(self, t: ImpactInput) -> tuple[int, int]:
        """(long, short) open interest in 30-decimal USD: the entry notional (GMX's default), or
        the size at the oracle price (``USE_OPEN_INTEREST_IN_TOKENS_FOR_BALANCE``)."""
        if self.config.open_interest_in_tokens:
            return (_tokens_to_usd(t.long_size, t.price, False),
                    _tokens_to_usd(t.short_size, t.price, False))
        return _wad_to_float(t.long_entry), _wad_to_float(t.short_entry)

    def _trade_impact(self, t: ImpactInput, size_delta_usd: int, is_long: bool,
                      increase: bool) -> int:
        """The impact of changing the ``is_long`` side by ``size_delta_usd`` (30 decimals; a
        token amount at the price under the token-based balance), capped by the positive max."""
        c = self.config
        long_oi, short_oi = self._open_interest(t)
        if c.open_interest_in_tokens:
            usd_delta = _tokens_to_usd(t.size_delta, t.price, False)
        else:
            usd_delta = size_delta_usd
        impact = price_impact_usd(c, long_oi, short_oi, usd_delta if increase else -usd_delta, is_long)
        return cap_positive_by_max(c, impact, size_delta_usd)

    # -------------------------------------------------------------- increase
    def increase(self, t: ImpactInput) -> ImpactResult:
        """``PositionUtils.getExecutionPriceForIncrease``: the impact is held, not paid: the
        position's pending impact grows by it in index tokens (positive rounded down, negative
        up in size); the execution price is size USD / (size tokens +- impact tokens)."""
        c = self.config
        is_long = t.size_delta > 0
        size_abs = abs(t.size_delta)
        size_delta_usd = _wad_to_float(-(-size_abs * t.price // WAD) if is_long
                                       else size_abs * t.price // WAD)
        if size_delta_usd == 0:
            return ImpactResult(execution_price=t.price)
        impact = self._trade_impact(t, size_delta_usd, is_long, increase=True)
        amount = _signed(_usd_to_tokens(c, impact, t.price, up=impact < 0), impact < 0)
        tokens = size_abs + amount if is_long else size_abs - amount
        if tokens <= 0:
            raise PricingRevert("PriceImpactLargerThanOrderSize", impact, size_delta_usd)
        price30 = size_delta_usd * _quantum(c) // tokens
        return ImpactResult(execution_price=_price_to_wad(c, price30, up=is_long),
                            impact_usd=_float_to_wad(impact), pending_delta=amount)

    # -------------------------------------------------------------- decrease
    def decrease(self, t: ImpactInput, liquidation: bool = False) -> ImpactResult:
        """``DecreasePositionCollateralUtils.processCollateral``'s impact: the proportional
        pending impact plus the decrease's own, negative capped at maxNegativeImpactBps of the
        size decreased for the pool (the trader pays the excess too, ``held`` for it),
        positive capped per trade and by the impact pool; paid in collateral tokens, the pool moving by what was paid in index tokens. A
        liquidation is a decrease here, as on GMX."""
        c = self.config
        q = _quantum(c)
        is_long = t.size > 0
        size_abs, close_abs = abs(t.size), abs(t.size_delta)
        entry = t.entry_notional
        if close_abs == size_abs:
            closed = entry
        else:
            closed = -(-entry * close_abs // size_abs) if is_long else entry * close_abs // size_abs
        size_delta_usd, size_in_usd = _wad_to_float(closed), _wad_to_float(entry)
        if size_delta_usd == 0:
            return ImpactResult(execution_price=t.price)
        impact = self._trade_impact(t, size_delta_usd, is_long, increase=False)
        # BaseOrderUtils.getExecutionPriceForDecrease
        adjusted = impact if is_long else -impact
        if adjusted < 0 and -adjusted > size_delta_usd:
            raise PricingRevert("PriceImpactLargerThanOrderSize", impact, size_delta_usd)
        magnitude = size_in_usd * abs(adjusted) * q // size_abs // size_delta_usd
        adjustment = _signed(magnitude, adjusted < 0)
        d = c.index_decimals
        if d >= 12:
            adjustment_wad = adjustment * 10 ** (d - 12)
        else:  # against the trader: a long sells lower, a short buys higher
            adjustment_wad = _div(adjustment, 10 ** (12 - d), up=not is_long)
        execution = t.price + adjustment_wad
        if execution <= 0:
            raise PricingRevert("NegativeExecutionPrice", execution)
        # proportional pending impact, in index-token units, rounded up in size when negative
        pending_units = _signed(abs(t.pending_impact) // q, t.pending_impact < 0)
        share = _div(abs(pending_units) * size_delta_usd, size_in_usd, pending_units < 0)
        proportional = _signed(share, pending_units < 0) * q
        proportional_usd = _signed(_tokens_to_usd(proportional, t.price, proportional < 0),
                                   proportional < 0)
        total = proportional_usd + impact
        token_usd = FLOAT_TO_WEI * t.scale  # 30-decimal USD per collateral token unit
        held = 0
        if total < 0:
            floor = -(size_delta_usd * c.max_negative_impact_bps * BPS_TO_FLOAT // FLOAT)
            if total < floor:  # the whole impact is paid; what the cap keeps from the pool is held
                held = _div(-total, token_usd, True) - _div(-floor, token_usd, True)
                total = floor
        total = cap_positive_by_max(c, total, size_delta_usd)
        if total > 0:  # capped by the impact pool (no lending)
            pool = _tokens_to_usd(max(t.impact_pool, 0), t.price, False)
            total = min(total, pool)
        if total > 0:
            realized = total // token_usd
            pool_delta = -_usd_to_tokens(c, total, t.price, up=True)
        elif total < 0:
            paid = _div(-total, token_usd, True)
            realized = -(paid + held)
            pool_delta = _usd_to_tokens(c, paid * token_usd, t.price, up=False)
        else:
            realized = pool_delta = 0
        return ImpactResult(execution_price=execution, impact_usd=_float_to_wad(impact),
                            pending_delta=-proportional, realized=realized, pool_delta=pool_delta,
                            held=held)

    # -------------------------------------------------------------- health
    def health(self, t: ImpactInput) -> int:
        """``PositionUtils.isPositionLiquidatable``'s impact: closing the whole position now
        (positive capped per trade) plus its pending impact at the price; positive counts 0,
        negative at most maxLiquidationImpactBps of its size in USD. WAD USD, <= 0. The venue
        passes ``size_delta`` = -``size``: the whole position closing."""
        c = self.config
        size_in_usd = _wad_to_float(t.entry_notional)
        if t.size == 0 or size_in_usd == 0:
            return 0
        impact = self._trade_impact(t, size_in_usd, t.size > 0, increase=False)
        pending = t.pending_impact
        impact += _signed(_tokens_to_usd(pending, t.price, pending < 0), pending < 0)
        if impact >= 0:
            return 0
        floor = -(size_in_usd * c.max_liquidation_impact_bps * BPS_TO_FLOAT // FLOAT)
        return _float_to_wad(max(impact, floor))
