"""A CSV or Parquet file with named columns: the caller says which column is the time and which
are open/high/low/close, or one ``price`` column."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Optional, Sequence

from protocol.prices.data._text import (
    TIME_UNITS,
    PathLike,
    Stamp,
    csv_rows,
    datetime_seconds,
    epoch_seconds,
    number,
    read_text,
    time_value,
)
from protocol.prices.data.candles import OHLC, Candle, Candles, candle, series
from protocol.prices.data.errors import DataFileError
from protocol.prices.path import PRICE_QUANTUM

_PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class ColumnNames:
    """Which column holds what. ``time`` and either all of ``open``, ``high``, ``low``, ``close``
    or ``price`` alone; ``symbol`` names a column of symbols when the file holds several."""

    time: str = "timestamp"
    open: Optional[str] = None
    high: Optional[str] = None
    low: Optional[str] = None
    close: Optional[str] = None
    price: Optional[str] = None
    symbol: Optional[str] = None

    def __post_init__(self) -> None:
        ohlc = [getattr(self, k) for k in OHLC]
        if self.price is not None and any(c is not None for c in ohlc):
            raise ValueError("columns: name a price column or open/high/low/close, not both")
        if self.price is None and any(c is None for c in ohlc):
            missing = [k for k in OHLC if getattr(self, k) is None]
            raise ValueError(f"columns: name the {', '.join(missing)} column(s), or a price "
                             "column")
        named = [c for c in (self.time, *ohlc, self.price, self.symbol) if c is not None]
        if len(set(named)) != len(named):
            raise ValueError(f"columns: a column is named twice: {named}")

    @property
    def used(self) -> tuple[str, ...]:
        """The columns read, in a fixed order: time, then prices, then symbol."""
        prices = (self.price,) if self.price is not None else tuple(getattr(self, k) for k in OHLC)
        return tuple(c for c in (self.time, *prices, self.symbol) if c is not None)


def read_columns(file: PathLike, columns: ColumnNames, *, symbol: Optional[str] = None,
                 time_unit: str = "auto", interval: Optional[Decimal] = None) -> Candles:
    """Candles from a CSV file with a header row, or a Parquet file (told by its magic bytes).

    Times: numbers in ``time_unit`` (``s``, ``ms``, ``us`` or ``auto``: by size), ISO 8601 text,
    or Parquet timestamps. Prices: decimal text, or Parquet decimals, integers or doubles (a double
    is read as the shortest decimal that is that double). With ``columns.symbol``, only rows of
    ``symbol`` are read (``symbol`` None: the file must hold one symbol).

    With open/high/low/close the rows are candles, checked as every reader's are (``interval``
    defaults to their smallest spacing). With ``price`` they are prices at their times: bar ``i``
    goes from row ``i``'s price to row ``i + 1``'s, its low and high the smaller and larger, so
    times may be irregular but must increase."""
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit must be one of {', '.join(TIME_UNITS)}, got {time_unit!r}")
    name = os.fspath(file)
    if _is_parquet(name):
        from protocol.prices.data import parquet  # pyarrow loads only when a file is Parquet

        rows = parquet.rows(name, columns.used)
    else:
        rows = _csv(name, columns)
    picked: list[tuple[int, list[Any]]] = []
    seen: Optional[str] = None
    for line, values in rows:
        if columns.symbol is not None:
            sym = values[-1]
            if not isinstance(sym, str) or not sym.strip():
                raise DataFileError(name, line, f"{columns.symbol} {sym!r} is not a symbol")
            sym = sym.strip()
            if symbol is None:
                if seen is not None and sym != seen:
                    raise DataFileError(name, line, f"{columns.symbol} {sym!r} after {seen!r}: "
                                        "the file holds several symbols; say which to read")
                seen = sym
            elif sym != symbol:
                continue
        picked.append((line, values))
    if not picked:
        raise DataFileError(name, None, "no rows" + (f" of symbol {symbol!r}" if symbol else ""))
    bars: list[tuple[int, Decimal, dict[str, Optional[Decimal]]]] = []
    for line, values in picked:
        t = _time(name, line, columns.time, values[0], time_unit)
        if columns.price is not None:
            bars.append((line, t, {"price": _price(name, line, columns.price, values[1])}))
        else:
            bars.append((line, t, {k: _price(name, line, str(getattr(columns, k)), values[i])
                                   for i, k in enumerate(OHLC, start=1)}))
    found = symbol if symbol is not None else seen
    if columns.price is None:
        return series(name, bars, interval, found)
    return _joined(name, bars, found)


def _joined(name: str, points: Sequence[tuple[int, Decimal, dict[str, Optional[Decimal]]]],
            symbol: Optional[str]) -> Candles:
    """Bars from each price to the next (the first price opens the first bar)."""
    if len(points) < 2:
        raise DataFileError(name, points[0][0], "a single price: nothing to replay")
    out: list[Candle] = []
    for (_, t0, a), (line, t1, b) in zip(points, points[1:]):
        if t1 == t0:
            raise DataFileError(name, line, f"duplicate timestamp {t1}")
        if t1 < t0:
            raise DataFileError(name, line, f"timestamp {t1} is before the previous one ({t0})")
        p0, p1 = a["price"], b["price"]
        assert p0 is not None and p1 is not None  # _price refused the rest
        out.append(candle(name, line, t0, t1, {"open": p0, "close": p1, "low": min(p0, p1),
                                               "high": max(p0, p1)}))
    return Candles(name, tuple(out), None, symbol)


def _time(file: str, line: int, column: str, value: Any, unit: str) -> Decimal:
    if isinstance(value, Stamp):
        return value.seconds
    if isinstance(value, (datetime.datetime, datetime.date)):
        return datetime_seconds(value)
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return epoch_seconds(Decimal(value), unit)
    t = time_value(value, unit) if isinstance(value, str) else None
    if t is None:
        raise DataFileError(file, line, f"{column} {value!r} is not a time (a number in "
                            f"{unit} or an ISO 8601 date-time)")
    return t


def _price(file: str, line: int, column: str, value: Any) -> Decimal:
    if isinstance(value, float):
        value = Decimal(repr(value))  # the double's shortest decimal, the value the writer meant
    elif isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    elif isinstance(value, str):
        value = number(value)
    if not isinstance(value, Decimal) or not value.is_finite():
        raise DataFileError(file, line, f"{column} {value!r} is not a number")
    if value < PRICE_QUANTUM:
        raise DataFileError(file, line, f"{column} {value} must be positive (at least "
                            f"{PRICE_QUANTUM})")
    return value  # candle() quantises, after its checks name the values as the file has them


def _is_parquet(file: str) -> bool:
    try:
        with open(file, "rb") as fh:
            return fh.read(4) == _PARQUET_MAGIC
    except OSError as exc:
        raise DataFileError(file, None, f"cannot open: {exc.strerror or exc}") from None


def _csv(file: str, columns: ColumnNames) -> list[tuple[int, list[Any]]]:
    rows = iter(csv_rows(file, read_text(file)))
    first = next(rows, None)
    if first is None:
        raise DataFileError(file, None, "empty file (expected a header row)")
    line, header = first
    names = [c.strip() for c in header]
    missing = [c for c in columns.used if c not in names]
    if missing:
        raise DataFileError(file, line, f"no column(s) {', '.join(missing)} in the header "
                            f"(it has {', '.join(names)})")
    if len(set(names)) != len(names):
        raise DataFileError(file, line, "the header names a column twice")
    index = [names.index(c) for c in columns.used]
    out = []
    for line, row in rows:
        if len(row) != len(names):
            raise DataFileError(file, line, f"expected {len(names)} fields, got {len(row)}")
        out.append((line, [row[i] for i in index]))
    return out
