"""Funding-rate history: ``timestamp,symbol,rate`` rows."""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal

from protocol.prices.data._text import PathLike, csv_rows, header, number, read_text, time_value
from protocol.prices.data.errors import DataFileError

FUNDING_COLUMNS = ("timestamp", "symbol", "rate")


@dataclass(frozen=True)
class FundingRate:
    """One funding event: at ``time`` (unix seconds) longs pay shorts ``rate`` x notional
    (negative: shorts pay longs); ``line`` is where the file has it."""

    time: Decimal
    symbol: str
    rate: Decimal
    line: int


def read_funding_rates(file: PathLike) -> dict[str, tuple[FundingRate, ...]]:
    """Symbol -> its funding events, oldest first, from a CSV file with header
    ``timestamp,symbol,rate`` (any order). ``timestamp``: unix seconds, ms or us (told by size)
    or ISO 8601; ``rate``: a fraction per funding interval (0.0001 = 0.01%), in (-1, 1). Times
    increase strictly per symbol (symbols may interleave)."""
    name = os.fspath(file)
    rows = iter(csv_rows(name, read_text(name)))
    first = next(rows, None)
    if first is None:
        raise DataFileError(name, None, f"empty file (expected header {','.join(FUNDING_COLUMNS)})")
    col = header(name, first[0], first[1], FUNDING_COLUMNS)
    out: dict[str, list[FundingRate]] = {}
    for line, row in rows:
        if len(row) != len(col):
            raise DataFileError(name, line, f"expected {len(col)} fields, got {len(row)}")
        ts, sym, text = (row[col[c]].strip() for c in FUNDING_COLUMNS)
        t = time_value(ts, "auto")
        if t is None:
            raise DataFileError(name, line, f"timestamp {ts!r} is not a time")
        if not sym:
            raise DataFileError(name, line, "empty symbol")
        rate = number(text)
        if rate is None:
            raise DataFileError(name, line, f"rate {text!r} is not a number")
        if not -1 < rate < 1:
            raise DataFileError(name, line, f"rate {text} is not a fraction in (-1, 1) "
                                "(0.0001 is 0.01% per interval)")
        events = out.setdefault(sym, [])
        if events and t <= events[-1].time:
            same = "duplicate timestamp" if t == events[-1].time else "timestamp before the previous"
            raise DataFileError(name, line, f"{same} of {sym!r}: {ts} (line {events[-1].line})")
        events.append(FundingRate(t, sym, rate, line))
    if not out:
        raise DataFileError(name, None, "no rows after the header")
    return {s: tuple(v) for s, v in out.items()}
