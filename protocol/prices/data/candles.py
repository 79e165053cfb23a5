"""OHLC candles: the record, the checks every series passes, and the readers of Binance klines,
CCXT OHLCV and Hyperliquid candle snapshots.

Every reader returns :class:`Candles`: exact ``Decimal`` prices quantised to the price paths'
8 decimals, times in unix seconds, contiguous bars of one interval. A malformed file is a
:class:`~protocol.prices.data.errors.DataFileError` at its line: a field that is not a number, a
price below 1e-8, high below low, an open or close outside [low, high], a duplicate or
out-of-order time, a gap (a missing candle) or a candle off the interval's grid.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping, Optional, Sequence

from protocol.prices.data._text import (
    PathLike,
    csv_rows,
    epoch_seconds,
    json_array,
    number,
    read_text,
    tidy,
)
from protocol.prices.data.errors import DataFileError
from protocol.prices.path import PRICE_QUANTUM, quantize

OHLC = ("open", "high", "low", "close")


@dataclass(frozen=True)
class Candle:
    """One bar: the market from ``time`` (its open) until ``end`` (the next bar's open), unix
    seconds; prices exact to 8 decimals; ``line`` is where the file has it."""

    time: Decimal
    end: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    line: int


@dataclass(frozen=True)
class Candles:
    """A file's contiguous bars, oldest first (each bar's ``end`` is the next one's ``time``).

    ``interval``: the bars' length in seconds, or None for a series of prices joined point to
    point (``read_columns`` with a ``price`` column), whose bars may differ in length.
    ``symbol``: the symbol the file names, if it names one."""

    file: str
    candles: tuple[Candle, ...] = field(repr=False)
    interval: Optional[Decimal] = None
    symbol: Optional[str] = None

    def __repr__(self) -> str:
        return (f"Candles({self.file!r}, {len(self.candles)} bars from {self.start} to "
                f"{self.end}, interval={self.interval}, symbol={self.symbol!r})")

    @property
    def start(self) -> Decimal:
        """The first bar's open time."""
        return self.candles[0].time

    @property
    def end(self) -> Decimal:
        """The last bar's end: the series covers [start, end]."""
        return self.candles[-1].end


def candle(file: str, line: int, time: Decimal, end: Decimal,
           prices: Mapping[str, Optional[Decimal]]) -> Candle:
    """One bar from exact prices, checked (each a positive number, low <= open, close <= high)
    and quantised; ``prices`` maps open/high/low/close to the value or None (not a number)."""
    values = {}
    for name in OHLC:
        value = prices[name]
        if value is None:
            raise DataFileError(file, line, f"{name} is not a number")
        if value < PRICE_QUANTUM:
            raise DataFileError(file, line, f"{name} {value} must be positive (at least "
                                f"{PRICE_QUANTUM})")
        values[name] = quantize(value)
    o, h, lo, c = (values[n] for n in OHLC)
    if h < lo:
        raise DataFileError(file, line, f"high {prices['high']} is below low {prices['low']}")
    for name, value in (("open", o), ("close", c)):
        if not lo <= value <= h:
            raise DataFileError(file, line, f"{name} {prices[name]} is outside [low, high] = "
                                f"[{prices['low']}, {prices['high']}]")
    return Candle(time, end, o, h, lo, c, line)


def series(file: str, bars: Sequence[tuple[int, Decimal, Mapping[str, Optional[Decimal]]]],
           interval: Optional[Decimal], symbol: Optional[str] = None) -> Candles:
    """Contiguous candles from ``(line, open time, prices)`` rows in file order.

    ``interval`` None: the smallest spacing of the open times (two rows at least). Each open
    time must be exactly one interval after the previous one: a duplicate, a step back, a gap or
    a bar off the grid is an error at its line."""
    if not bars:
        raise DataFileError(file, None, "no candles")
    times = [t for _, t, _ in bars]
    for i in range(1, len(bars)):
        line, t = bars[i][0], times[i]
        if t == times[i - 1]:
            raise DataFileError(file, line, f"duplicate timestamp {_show(t)} "
                                f"(also line {bars[i - 1][0]})")
        if t < times[i - 1]:
            raise DataFileError(file, line, f"timestamp {_show(t)} is before the previous one "
                                f"({_show(times[i - 1])}, line {bars[i - 1][0]})")
    if interval is None:
        if len(bars) < 2:
            raise DataFileError(file, bars[0][0], "a single candle: its interval is unknown "
                                "(give the interval)")
        interval = min(b - a for a, b in zip(times, times[1:]))
    if interval <= 0:
        raise DataFileError(file, bars[0][0], f"interval {interval} s must be positive")
    for i in range(1, len(bars)):
        step, line = times[i] - times[i - 1], bars[i][0]
        if step > interval:
            missing = step / interval - 1
            raise DataFileError(file, line, f"gap: no candle from {_show(times[i - 1] + interval)}"
                                f" to {_show(times[i])} ({_count(missing)} candle(s) of "
                                f"{_show(interval)} s missing before this one)")
        if step != interval:
            raise DataFileError(file, line, f"candle at {_show(times[i])} starts {_show(step)} s "
                                f"after the previous one; the interval is {_show(interval)} s")
    out = tuple(candle(file, line, t, tidy(t + interval), prices) for line, t, prices in bars)
    return Candles(file, out, interval, symbol)


def _show(seconds: Decimal) -> str:
    return format(seconds.normalize(), "f") if seconds == seconds.to_integral_value() \
        else str(seconds)


def _count(value: Decimal) -> str:
    return _show(value) if value == value.to_integral_value() else f"~{value:.2f}"


# ---------------------------------------------------------------------------------------------
# Binance klines


#: The header of Binance's futures kline files (its spot files have none).
BINANCE_HEADER = ("open_time", "open", "high", "low", "close", "volume", "close_time",
                  "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore")


def read_binance_klines(file: PathLike) -> Candles:
    """Binance kline CSV (data.binance.vision, spot or futures): twelve fields a row, open time,
    open, high, low, close, volume, close time, quote volume, trades, taker buy base and quote
    volume, ignore; the futures files' header row is optional.

    Times are milliseconds, or microseconds (spot files from 2025 on): each row's unit is told by
    its size. The interval is close time - open time + one unit, the same on every row."""
    name = os.fspath(file)
    rows = list(csv_rows(name, read_text(name)))
    if rows and number(rows[0][1][0]) is None:  # a header row
        line, header = rows.pop(0)
        names = tuple(c.strip().lower() for c in header)
        if names != BINANCE_HEADER:
            raise DataFileError(name, line, f"unexpected header {','.join(header)!r}; expected "
                                f"{','.join(BINANCE_HEADER)} (or no header)")
    bars: list[tuple[int, Decimal, dict[str, Optional[Decimal]]]] = []
    interval: Optional[Decimal] = None
    for line, row in rows:
        if len(row) != len(BINANCE_HEADER):
            raise DataFileError(name, line, f"expected {len(BINANCE_HEADER)} fields, got "
                                f"{len(row)}")
        opened, closed = number(row[0]), number(row[6])
        if opened is None or opened != opened.to_integral_value() or opened < 0:
            raise DataFileError(name, line, f"open time {row[0].strip()!r} is not a whole "
                                "number of ms or us")
        if closed is None or closed <= opened:
            raise DataFileError(name, line, f"close time {row[6].strip()!r} is not a number "
                                f"after the open time {row[0].strip()}")
        start, unit = epoch_seconds(opened, "auto"), epoch_seconds(Decimal(1), _unit(opened))
        length = tidy(epoch_seconds(closed - opened, _unit(opened)) + unit)
        if interval is None:
            interval = length
        elif length != interval:
            raise DataFileError(name, line, f"candle spans {_show(length)} s (close time - open "
                                f"time), the earlier ones {_show(interval)} s")
        bars.append((line, start, {k: number(row[i]) for i, k in enumerate(OHLC, start=1)}))
    return series(name, bars, interval)


def _unit(epoch: Decimal) -> str:
    """The unit ``auto`` reads ``epoch`` in."""
    return "us" if epoch >= Decimal(10) ** 14 else "ms" if epoch >= Decimal(10) ** 11 else "s"


# ---------------------------------------------------------------------------------------------
# CCXT OHLCV


CCXT_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


def read_ccxt_ohlcv(file: PathLike, interval: Optional[Decimal] = None) -> Candles:
    """CCXT ``fetch_ohlcv`` output: a JSON array ``[[timestamp, open, high, low, close, volume],
    ...]`` or the same six fields as CSV rows (a header ``timestamp,open,high,low,close,volume``
    optional). Timestamps are milliseconds (a time's unit is told by its size); ``interval``
    (seconds) defaults to the smallest spacing of the timestamps."""
    name = os.fspath(file)
    text = read_text(name)
    items: Iterable[tuple[int, Any]]
    if text.lstrip().startswith("["):
        items = json_array(name, text)
    else:
        rows = list(csv_rows(name, text))
        if rows and number(rows[0][1][0]) is None:
            line, header = rows.pop(0)
            if tuple(c.strip().lower() for c in header) != CCXT_COLUMNS:
                raise DataFileError(name, line, f"unexpected header {','.join(header)!r}; "
                                    f"expected {','.join(CCXT_COLUMNS)} (or no header)")
        items = rows
    bars = []
    for line, item in items:
        if not isinstance(item, list) or len(item) != len(CCXT_COLUMNS):
            raise DataFileError(name, line, "expected [timestamp, open, high, low, close, "
                                f"volume], got {_brief(item)}")
        ts = _exact(item[0])
        if ts is None:
            raise DataFileError(name, line, f"timestamp {_brief(item[0])} is not a number")
        bars.append((line, epoch_seconds(ts, "auto"),
                     {k: _exact(item[i]) for i, k in enumerate(OHLC, start=1)}))
    return series(name, bars, interval)


def _exact(value: Any) -> Optional[Decimal]:
    """A JSON number (read as Decimal) or a numeric string, else None."""
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str):
        return number(value)
    return None


def _brief(value: Any) -> str:
    text = repr(value) if not isinstance(value, Decimal) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------------------------
# Hyperliquid candle snapshots


HYPERLIQUID_KEYS = ("t", "T", "s", "i", "o", "c", "h", "l", "v", "n")
_INTERVAL = re.compile(r"(\d+)([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def read_hyperliquid_candles(file: PathLike) -> Candles:
    """A Hyperliquid ``candleSnapshot`` info response saved as JSON: an array of objects with
    ``t`` (open time, ms), ``T`` (close time, ms), ``s`` (coin), ``i`` (interval, e.g. ``1m``),
    ``o``, ``c``, ``h``, ``l`` (prices as strings), ``v`` (volume) and ``n`` (trades). One coin and
    one interval a file; monthly candles (``1M``) are refused, their length varies."""
    name = os.fspath(file)
    coin: Optional[str] = None
    label: Optional[str] = None
    interval = Decimal(0)
    bars = []
    for line, item in json_array(name, read_text(name)):
        if not isinstance(item, dict):
            raise DataFileError(name, line, f"expected a candle object, got {_brief(item)}")
        missing = [k for k in HYPERLIQUID_KEYS if k not in item]
        if missing:
            raise DataFileError(name, line, f"candle lacks key(s) {', '.join(missing)}")
        if coin is None:
            coin, label = item["s"], item["i"]
            if not isinstance(coin, str) or not coin:
                raise DataFileError(name, line, f"s (the coin) must be a string, got "
                                    f"{_brief(coin)}")
            match = _INTERVAL.fullmatch(label) if isinstance(label, str) else None
            if match is None:
                raise DataFileError(name, line, f"interval i = {_brief(label)} is not one of "
                                    "1m, 5m, 1h, 1d, 1w ... (1M, a calendar month, varies)")
            interval = Decimal(int(match.group(1)) * _SECONDS[match.group(2)])
        elif item["s"] != coin or item["i"] != label:
            raise DataFileError(name, line, f"candle of {_brief(item['s'])} {_brief(item['i'])}"
                                f" in a file of {coin} {label} candles")
        opened, closed = _exact(item["t"]), _exact(item["T"])
        if opened is None or opened != opened.to_integral_value():
            raise DataFileError(name, line, f"t = {_brief(item['t'])} is not a time in ms")
        start = epoch_seconds(opened, "ms")
        if closed is None or not start < epoch_seconds(closed, "ms") <= start + interval:
            raise DataFileError(name, line, f"T = {_brief(item['T'])} is not within the "
                                f"{label} candle that opens at t = {item['t']}")
        bars.append((line, start, {k: _exact(item[k[0]]) for k in OHLC}))
    return series(name, bars, interval if bars else None, coin)
