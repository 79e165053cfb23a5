"""Replay of recorded candles, aware of each bar's low and high.

A candle says where the market opened, closed, and how far it went: a liquidation that the low
would trigger should trigger in the replay. With ``bridge`` on, each bar is filled with a seeded
Brownian bridge in log price through the open (its first block), the low and the high (at two
seeded blocks inside the bar, in a seeded order) and the close (its last block). The walk between
those pins is reflected at the bar's low and high, so no block of the bar leaves [low, high] and
both are hit exactly. With ``bridge`` off each block shows the close of the last bar that has
closed (the first bar's open before any has).
"""

from __future__ import annotations

import bisect
import datetime
import math
import random
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Optional

from protocol.prices import _validate as v
from protocol.prices.data.candles import Candle, Candles
from protocol.prices.path import DECIMAL_CONTEXT, PricePath, quantize
from protocol.prices.source import SingleSymbol, derive_seed

#: Parkinson's estimator: a bar's log range over sqrt(4 ln 2) is its volatility (one bar's sd).
_PARKINSON = math.sqrt(4 * math.log(2))
_MICRO = Decimal(1_000_000)


@dataclass(frozen=True)
class BarPlan:
    """The blocks ``first .. last`` (block numbers, the first possibly before block 0) that fall
    inside ``candle`` ([time, end))."""

    candle: Candle
    first: int
    last: int

    @property
    def points(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class HistoryReplay(SingleSymbol):
    """Prices of ``symbol`` from ``candles``, block 0 at ``start`` (unix seconds; default the
    first candle's open), block ``i`` at ``start + i * block_time``.

    ``end`` (default the last candle's end) bounds the window: a path past it raises
    ``ValueError`` (see :meth:`max_blocks`). With ``bridge`` each candle needs a block for each of
    its distinct open, low, high and close (four blocks for most bars: 1-minute candles take
    blocks of 15 s or less); :meth:`check` says which candle has too few. The same seed gives the
    same path; a bar's path depends on the seed and the bar alone, not on the window.
    """

    symbol: str
    candles: Candles
    bridge: bool = True
    start: Optional[Decimal] = None
    end: Optional[Decimal] = None

    def __post_init__(self) -> None:
        v.symbol("symbol", self.symbol)
        if not isinstance(self.candles, Candles) or not self.candles.candles:
            raise ValueError("candles must be a non-empty Candles series")
        first, last = self.candles.start, self.candles.end
        start = first if self.start is None else v.decimal("start", self.start)
        end = last if self.end is None else v.decimal("end", self.end)
        if not first <= start < last:
            raise ValueError(f"start {iso_time(start)} is outside the candles' time, {iso_time(first)} to "
                             f"{iso_time(last)}")
        if not start < end <= last:
            raise ValueError(f"end {iso_time(end)} must be after start {iso_time(start)} and at most the "
                             f"candles' end, {iso_time(last)}")
        v.set_field(self, "start", start)
        v.set_field(self, "end", end)

    @property
    def start_time(self) -> Decimal:
        """The time of block 0."""
        assert self.start is not None  # set in __post_init__
        return self.start

    @property
    def end_time(self) -> Decimal:
        """The end of the window."""
        assert self.end is not None
        return self.end

    def max_blocks(self, block_time: float) -> int:
        """The largest ``blocks`` that ``path`` accepts for this ``block_time``."""
        step = _step(block_time)
        span = DECIMAL_CONTEXT.subtract(self.end_time, self.start_time)
        return int(DECIMAL_CONTEXT.divide_int(span, step))

    def check(self, blocks: int, block_time: float) -> None:
        """``ValueError`` if the window is too short for ``blocks``, or (with ``bridge``) a
        candle the path touches has fewer blocks than distinct prices to show."""
        limit = self.max_blocks(block_time)
        if blocks > limit:
            raise ValueError(f"{self.candles.file}: {blocks} blocks of {block_time:g} s run to "
                             f"{iso_time(self.start_time + blocks * _step(block_time))}, past the end "
                             f"of the data ({iso_time(self.end_time)}): at most {limit} blocks")
        if not self.bridge:
            return
        for plan in self.plans(blocks, block_time):
            need = _pins_needed(plan.candle, self.candles.interval is not None)
            if plan.points < need:
                c = plan.candle
                raise ValueError(f"{self.candles.file}:{c.line}: the candle at {iso_time(c.time)} has "
                                 f"{plan.points} block(s) of {block_time:g} s but {need} prices "
                                 f"to pass through (open, low, high, close); use a block_time of "
                                 f"at most a quarter of the candles' interval, or bridge = false")

    def plans(self, blocks: int, block_time: float) -> list[BarPlan]:
        """The candles that blocks ``0 .. blocks`` fall in, each with its blocks (a candle no
        block falls in is left out)."""
        bars, step, t0 = self.candles.candles, _step(block_time), self.start_time
        t_last = t0 + blocks * step
        i = bisect.bisect_right([c.end for c in bars], t0)  # the bar holding t0
        out = []
        while i < len(bars) and bars[i].time <= t_last:
            c = bars[i]
            first = _ceil((c.time - t0) / step)
            last = _ceil((c.end - t0) / step) - 1
            if last >= first:
                out.append(BarPlan(c, first, last))
            i += 1
        return out

    def path(self, blocks: int, block_time: float, seed: int) -> PricePath:
        blocks, block_time, seed = v.path_args(blocks, block_time, seed)
        self.check(blocks, block_time)
        if not self.bridge:
            return PricePath(self.symbols, block_time,
                             {self.symbol: self._closes(blocks, block_time)})
        prices: list[Optional[Decimal]] = [None] * (blocks + 1)
        joined = self.candles.interval is None
        for plan in self.plans(blocks, block_time):
            key = abs(int(plan.candle.time * _MICRO))
            walk = bar_path(plan.candle, plan.points, v.rng(derive_seed(seed, key)), joined)
            for k in range(max(plan.first, 0), min(plan.last, blocks) + 1):
                prices[k] = walk[k - plan.first]
        closes = None
        for k, price in enumerate(prices):
            if price is None:  # a block on the end of the data: the last close
                closes = closes or self._closes(blocks, block_time)
                prices[k] = closes[k]
        return PricePath(self.symbols, block_time,
                         {self.symbol: tuple(p for p in prices if p is not None)})

    def _closes(self, blocks: int, block_time: float) -> tuple[Decimal, ...]:
        """Each block's last close at or before its time (the first open before any close)."""
        bars, step, t0 = self.candles.candles, _step(block_time), self.start_time
        ends = [c.end for c in bars]
        out = []
        for k in range(blocks + 1):
            i = bisect.bisect_right(ends, DECIMAL_CONTEXT.add(t0, k * step)) - 1
            out.append(bars[i].close if i >= 0 else bars[0].open)
        return tuple(out)


def _pins_needed(c: Candle, ohlc: bool) -> int:
    """Blocks a bar needs to show its open, low, high and close (the open and close at its first
    and last block; a low or high equal to either is shown there)."""
    if not ohlc:
        return 1
    extremes = {x for x in (c.low, c.high) if x not in (c.open, c.close)}
    if not extremes and c.open == c.close:
        return 1
    return 2 + len(extremes)


def bar_path(c: Candle, points: int, rng: random.Random, joined: bool = False
             ) -> list[Decimal]:
    """``points`` prices for one bar: the open first, the close last, the low and the high each
    at a seeded block between (a seeded order), a log-space Brownian bridge between the pins
    reflected into [low, high]. ``joined``: a bar between two recorded prices, which has no
    extremes of its own to show."""
    if points == 1:
        return [c.open]
    # a candle shows its close at its last block; a bar between two recorded prices walks to the
    # next price at the next bar's first block, so no block shows it early
    span = points if joined else points - 1
    pins = {0: c.open, span: c.close}
    extremes = [] if joined else [x for x in (c.low, c.high) if x not in (c.open, c.close)]
    if len(extremes) == 2 and rng.random() < 0.5:
        extremes.reverse()
    slots = sorted(rng.sample(range(1, points - 1), len(extremes)))
    pins.update(zip(slots, extremes))
    lo, hi = math.log(c.low), math.log(c.high)
    sd = (hi - lo) / _PARKINSON / math.sqrt(span)  # one block's share of the bar's variance
    out = [c.open]
    x, k = math.log(c.open), 0
    for pin in sorted(pins)[1:]:
        target = math.log(pins[pin])
        while k < pin - 1:
            left = pin - k  # steps to the pin, >= 2
            x += (target - x) / left + sd * math.sqrt((left - 1) / left) * rng.gauss(0.0, 1.0)
            x = _reflect(x, lo, hi)
            # exp and the 8-decimal rounding can land a quantum outside: the bar's range rules
            out.append(min(max(quantize(math.exp(x)), c.low), c.high))
            k += 1
        x, k = target, pin
        out.append(pins[pin])
    return out[:points]


def _reflect(x: float, lo: float, hi: float) -> float:
    """``x`` folded into [lo, hi] by reflection at both ends."""
    width = hi - lo
    if width <= 0:
        return lo
    y = (x - lo) % (2 * width)
    return lo + (y if y <= width else 2 * width - y)


def _step(block_time: float) -> Decimal:
    return Decimal(repr(v.real("block_time", block_time, lo=0, lo_open=True)))


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def iso_time(seconds: Decimal) -> str:
    """A unix time as ISO 8601 UTC (with its seconds when not whole)."""
    whole = _floor(seconds)
    moment = datetime.datetime.fromtimestamp(whole, datetime.timezone.utc)
    frac = seconds - whole
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}{str(frac)[1:] if frac else ''}Z"
