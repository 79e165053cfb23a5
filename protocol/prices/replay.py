"""Replay of recorded prices from a ``timestamp,symbol,price`` CSV file."""

from __future__ import annotations

import bisect
import csv
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Optional

from protocol.prices import _validate as v
from protocol.prices.data._text import header as header_columns
from protocol.prices.data._text import number
from protocol.prices.data.errors import DataFileError
from protocol.prices.path import DECIMAL_CONTEXT, PRICE_QUANTUM, PricePath, quantize

COLUMNS = ("timestamp", "symbol", "price")


#: A malformed price file: the one error of every data reader, under the name it had first.
CsvReplayError = DataFileError


@dataclass(frozen=True)
class _Series:
    times: tuple[Decimal, ...]
    prices: tuple[Decimal, ...]


@dataclass(frozen=True)
class CsvReplay:
    """Prices read from ``file``, a CSV file with header ``timestamp,symbol,price`` (any column
    order).

    ``timestamp`` is a number of seconds (e.g. unix time), strictly increasing per symbol (rows of
    different symbols may interleave); ``price`` a positive number. If ``symbols`` is given, rows
    of other symbols are errors, and each listed symbol needs data; otherwise the symbols are those
    of the file, in order of first appearance. The file is read and validated on construction.

    Block ``i`` is at ``t0 + i * block_time``, where ``t0`` is the first time every symbol has a
    price (the first timestamp for a single symbol); its price is each symbol's last price at or
    before that time. A path whose last block lies after the file's last timestamp raises
    ``ValueError`` (see ``max_blocks``). The seed is ignored.
    """

    file: str | os.PathLike[str]
    symbols: tuple[str, ...] = ()
    _series: dict[str, _Series] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        expected = v.symbols("symbols", self.symbols) if self.symbols else None
        series = _read(os.fspath(self.file), expected)
        v.set_field(self, "symbols", expected or tuple(series))
        v.set_field(self, "_series", series)

    @property
    def start_time(self) -> Decimal:
        """``t0``: the timestamp of block 0."""
        return max(s.times[0] for s in self._series.values())

    @property
    def end_time(self) -> Decimal:
        """The file's last timestamp."""
        return max(s.times[-1] for s in self._series.values())

    def max_blocks(self, block_time: float) -> int:
        """The largest ``blocks`` that ``path`` accepts for this ``block_time``."""
        step = Decimal(repr(v.real("block_time", block_time, lo=0, lo_open=True)))
        span = DECIMAL_CONTEXT.subtract(self.end_time, self.start_time)
        return int(DECIMAL_CONTEXT.divide_int(span, step))

    def path(self, blocks: int, block_time: float, seed: int = 0) -> PricePath:
        blocks, block_time, seed = v.path_args(blocks, block_time, seed)
        limit = self.max_blocks(block_time)
        if blocks > limit:
            raise ValueError(f"{os.fspath(self.file)}: {blocks} blocks of {block_time}s need data "
                             f"until t={self.start_time + blocks * Decimal(repr(block_time))}, "
                             f"but it ends at t={self.end_time} (at most {limit} blocks)")
        ctx, t0, step = DECIMAL_CONTEXT, self.start_time, Decimal(repr(block_time))
        times = [ctx.add(t0, ctx.multiply(i, step)) for i in range(blocks + 1)]
        prices = {}
        for sym in self.symbols:
            s = self._series[sym]
            prices[sym] = tuple(s.prices[bisect.bisect_right(s.times, t) - 1] for t in times)
        return PricePath(self.symbols, block_time, prices)


def _read(file: str, expected: Optional[tuple[str, ...]]) -> dict[str, _Series]:
    try:
        fh = open(file, newline="")
    except OSError as exc:
        raise CsvReplayError(file, None, f"cannot open: {exc.strerror}") from None
    with fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)
        if header is None:
            raise CsvReplayError(file, None, "empty file (expected header timestamp,symbol,price)")
        line = reader.line_num
        col = header_columns(file, line, header, COLUMNS)
        times: dict[str, list[Decimal]] = {}
        prices: dict[str, list[Decimal]] = {}
        for row in reader:
            line = reader.line_num
            if not any(c.strip() for c in row):
                continue
            if len(row) != len(COLUMNS):
                raise CsvReplayError(file, line, f"expected {len(COLUMNS)} fields "
                                     f"(timestamp,symbol,price), got {len(row)}")
            ts_text, sym, price_text = (row[col[c]] for c in COLUMNS)
            sym = sym.strip()
            if not sym:
                raise CsvReplayError(file, line, "empty symbol")
            if expected is not None and sym not in expected:
                raise CsvReplayError(file, line, f"unknown symbol {sym!r} "
                                     f"(expected one of {', '.join(expected)})")
            ts = number(ts_text)
            if ts is None:
                raise CsvReplayError(file, line, f"timestamp {ts_text.strip()!r} is not a number")
            price = number(price_text)
            if price is None:
                raise CsvReplayError(file, line, f"price {price_text.strip()!r} is not a number")
            if price < PRICE_QUANTUM:
                raise CsvReplayError(file, line, f"price {price_text.strip()!r} must be positive "
                                     f"(at least {PRICE_QUANTUM})")
            seen = times.setdefault(sym, [])
            if seen and ts <= seen[-1]:
                raise CsvReplayError(file, line, f"timestamp {ts} of {sym!r} is not after the "
                                     f"previous one ({seen[-1]})")
            seen.append(ts)
            prices.setdefault(sym, []).append(quantize(price))
    if not times:
        raise CsvReplayError(file, None, "no price rows after the header")
    if expected is not None:
        absent = [s for s in expected if s not in times]
        if absent:
            raise CsvReplayError(file, None, f"no rows for symbol(s) {', '.join(absent)}")
    return {s: _Series(tuple(times[s]), tuple(prices[s])) for s in times}
