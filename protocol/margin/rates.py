"""Mirror of the rates module (``contracts/interfaces/IRatesModule.sol``), its stock rule
(``StockRules.rates``: skew funding and a flat borrow rate) and the checks the venue applies to
a module's answer (``RatesLogic``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from protocol.margin import math as m
from protocol.margin import prbmath


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


# ---------------------------------------------------------------------- rates with memory
@dataclass(frozen=True)
class RatesMemory:
    """``RatesMemory``, in the same field order: what a stateful rule sees besides
    :class:`RatesInput`."""

    state: int  # the word the rule answered at the last accrual (0 when it was set)
    elapsed: int  # seconds since the last accrual
    mark_price: int  # the market's mark price now, WAD


@runtime_checkable
class StatefulRatesRule(Protocol):
    """A rates rule with memory (``IStatefulRatesModule``): the model asks it
    :meth:`stateful_rates` instead of ``rates``."""

    def rates(self, i: RatesInput, /) -> tuple[int, int]: ...

    def stateful_rates(self, i: RatesInput, mem: RatesMemory, /) -> tuple[int, int, int]:
        """(funding rate over the elapsed interval, borrow rate, the word to keep)."""
        ...


#: The largest word a stateful module may keep, either way (``RatesLogic.MAX_RATES_STATE``).
MAX_RATES_STATE = 2**103 - 1
#: The mark price's EMA time constant when none is set, and the largest the admin may set (s).
DEFAULT_MARK_WINDOW = 150
MAX_MARK_WINDOW = 3_600


def refused_state(state: int) -> int | None:
    """The ``value`` a stateful module's word beyond ``MAX_RATES_STATE`` is refused with."""
    return state % 2**256 if abs(state) > MAX_RATES_STATE else None


def mark_after(mark: int, window: int, price: int, elapsed: int) -> int:
    """``RatesLogic.markAfter``: the mark price after ``elapsed`` seconds at oracle ``price``,
    (mark x window + price x elapsed) // (window + elapsed), the window 150 s when 0; a mark of 0
    (no accrual yet) starts at the price."""
    if mark == 0:
        return price
    window = window or DEFAULT_MARK_WINDOW
    return (mark * window + price * elapsed) // (window + elapsed)


def _tdiv(a: int, b: int) -> int:
    """Solidity's signed division: truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


SYNTHETIX_UNIT = 10**18
DAY = 86_400


class VelocityRates:
    """Mirror of ``contracts/modules/VelocityRates.sol``: Synthetix v3's funding velocity
    (``PerpsMarket.currentFundingRate``): the word kept is the funding rate in WAD per day; the
    rate applied over an interval is the average of its two ends, per second."""

    def __init__(self, skew_scale: int, max_funding_velocity: int):
        self.skew_scale = skew_scale
        self.max_funding_velocity = max_funding_velocity

    def velocity(self, long_size: int, short_size: int) -> int:
        """clamp(skew / skewScale, -1, 1) x maxFundingVelocity, WAD per day per day."""
        if self.skew_scale == 0:
            return 0
        proportional = _tdiv((long_size - short_size) * SYNTHETIX_UNIT, self.skew_scale)
        proportional = max(-SYNTHETIX_UNIT, min(SYNTHETIX_UNIT, proportional))
        return _tdiv(proportional * self.max_funding_velocity, SYNTHETIX_UNIT)

    def current_funding_rate(self, last_rate: int, long_size: int, short_size: int, elapsed: int,
                             max_funding_rate: int) -> int:
        """last + velocity x (elapsed x 1e18 / 1 day) / 1e18, clamped to +-maxFundingRate x 86400."""
        proportional_elapsed = elapsed * SYNTHETIX_UNIT // DAY
        rate = last_rate + _tdiv(self.velocity(long_size, short_size) * proportional_elapsed,
                                 SYNTHETIX_UNIT)
        cap = max_funding_rate * DAY
        return max(-cap, min(cap, rate))

    def stateful_rates(self, i: RatesInput, mem: RatesMemory) -> tuple[int, int, int]:
        current = self.current_funding_rate(mem.state, i.long_size, i.short_size, mem.elapsed,
                                            i.max_funding_rate)
        return _tdiv(_tdiv(mem.state + current, 2), DAY), i.borrow_rate, current

    def rates(self, i: RatesInput) -> tuple[int, int]:
        funding, borrow, _ = self.stateful_rates(i, RatesMemory(0, 0, i.price))
        return funding, borrow


GMX_FLOAT = 10**30  # GMX's Precision.FLOAT_PRECISION
GMX_FLOAT_TO_WEI = 10**12  # GMX's FLOAT_TO_WEI_DIVISOR: WAD -> 30 decimals
#: The largest maxFundingFactorPerSecond GmxAdaptiveRates takes: MAX_FUNDING_RATE x 1e12.
GMX_MAX_FACTOR = 10**25


def _bound_magnitude(value: int, low: int, high: int) -> int:
    """GMX's ``Calc.boundMagnitude``: |value| bounded to [low, high], its sign kept (0 as +)."""
    magnitude = min(max(abs(value), low), high)
    return -magnitude if value < 0 else magnitude


class GmxAdaptiveRates:
    """Mirror of ``contracts/modules/GmxAdaptiveRates.sol``: GMX v2's adaptive funding
    (``MarketUtils.getNextFundingFactorPerSecond``); the word kept is GMX's saved funding factor
    per second (30 decimals, + longs pay); the interval is charged at the next, min-bounded
    factor / 1e12, WAD per second."""

    def __init__(self, increase: int, decrease: int, stable_threshold: int,
                 decrease_threshold: int, min_factor: int, max_factor: int, exponent: int):
        if increase == 0 or max_factor > GMX_MAX_FACTOR:
            raise ValueError("GmxFundingParameterOutOfBounds")
        self.increase = increase
        self.decrease = decrease
        self.stable_threshold = stable_threshold
        self.decrease_threshold = decrease_threshold
        self.min_factor = min_factor
        self.max_factor = max_factor
        self.exponent = exponent

    def open_interest_factor(self, long_oi: int, short_oi: int) -> int:
        """applyExponentFactor(|L - S|) x 1e30 / (L + S), 30 decimals (rounded down)."""
        diff = abs(long_oi - short_oi) * GMX_FLOAT_TO_WEI
        if diff < GMX_FLOAT:  # Precision.applyExponentFactor: 0 below $1
            return 0
        if self.exponent != SYNTHETIX_UNIT:
            diff = prbmath.pow(diff // GMX_FLOAT_TO_WEI, self.exponent) * GMX_FLOAT_TO_WEI
        return diff * GMX_FLOAT // ((long_oi + short_oi) * GMX_FLOAT_TO_WEI)

    def next_funding_factor(self, saved: int, long_oi: int, short_oi: int,
                            elapsed: int) -> tuple[int, int]:
        """(the factor charged over the interval, the factor to save), 30 decimals."""
        if long_oi == 0 or short_oi == 0:
            return 0, 0
        f = self.open_interest_factor(long_oi, short_oi)
        increase = f * self.increase // GMX_FLOAT * elapsed
        if long_oi < short_oi:
            increase = -increase
        nxt = saved
        if (saved > 0 and long_oi > short_oi) or (saved < 0 and short_oi > long_oi):
            if f > self.stable_threshold:
                nxt = saved + increase
            elif f < self.decrease_threshold and saved != 0:
                decrease = self.decrease * elapsed
                sign = 1 if saved > 0 else -1
                nxt = sign if abs(saved) <= decrease else (abs(saved) - decrease) * sign
        else:
            nxt = saved + increase
        nxt = _bound_magnitude(nxt, 0, self.max_factor)
        return _bound_magnitude(nxt, self.min_factor, self.max_factor), nxt

    def stateful_rates(self, i: RatesInput, mem: RatesMemory) -> tuple[int, int, int]:
        applied, nxt = self.next_funding_factor(mem.state, i.long_open_interest,
                                                i.short_open_interest, mem.elapsed)
        return _tdiv(applied, GMX_FLOAT_TO_WEI), i.borrow_rate, nxt

    def rates(self, i: RatesInput) -> tuple[int, int]:
        funding, borrow, _ = self.stateful_rates(i, RatesMemory(0, 0, i.price))
        return funding, borrow


HOUR = 3_600


class HyperliquidPremiumRates:
    """Mirror of ``contracts/modules/HyperliquidPremiumRates.sol``: Hyperliquid's funding, F =
    P + clamp(interest - P, -clamp, +clamp) per 8 hours, paid at F / 8 an hour capped at
    ``max_hourly_rate``; the premium is (mark - oracle) / oracle and its index P an EMA over
    ``premium_window`` seconds, the word kept."""

    def __init__(self, interest_rate: int, premium_clamp: int, max_hourly_rate: int,
                 premium_window: int):
        if premium_window == 0:
            raise ValueError("PremiumWindowZero")
        self.interest_rate = interest_rate
        self.premium_clamp = premium_clamp
        self.max_hourly_rate = max_hourly_rate
        self.premium_window = premium_window

    @staticmethod
    def premium(mark: int, price: int) -> int:
        return 0 if price == 0 or mark == 0 else _tdiv((mark - price) * SYNTHETIX_UNIT, price)

    def premium_index(self, last: int, premium: int, elapsed: int) -> int:
        w = self.premium_window
        return _tdiv(last * w + premium * elapsed, w + elapsed)

    def funding_rate_8h(self, p: int) -> int:
        return p + max(-self.premium_clamp, min(self.premium_clamp, self.interest_rate - p))

    def funding_rate_per_second(self, p: int, max_funding_rate: int) -> int:
        hourly = max(-self.max_hourly_rate, min(self.max_hourly_rate, _tdiv(self.funding_rate_8h(p), 8)))
        return max(-max_funding_rate, min(max_funding_rate, _tdiv(hourly, HOUR)))

    def stateful_rates(self, i: RatesInput, mem: RatesMemory) -> tuple[int, int, int]:
        index = self.premium_index(mem.state, self.premium(mem.mark_price, i.price), mem.elapsed)
        return self.funding_rate_per_second(index, i.max_funding_rate), i.borrow_rate, index

    def rates(self, i: RatesInput) -> tuple[int, int]:
        return self.funding_rate_per_second(0, i.max_funding_rate), i.borrow_rate
