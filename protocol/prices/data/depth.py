"""Top-of-book depth snapshots: ``timestamp,symbol,bid_1pct,ask_1pct[,bid_2pct,ask_2pct]``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

from protocol.prices.data._text import PathLike, csv_rows, header, number, read_text, time_value
from protocol.prices.data.errors import DataFileError

DEPTH_COLUMNS = ("timestamp", "symbol", "bid_1pct", "ask_1pct")
DEPTH_COLUMNS_2PCT = ("bid_2pct", "ask_2pct")


@dataclass(frozen=True)
class DepthSnapshot:
    """The book of one market at ``time`` (unix seconds): USD resting within 1% (and 2%, if the
    file has it) of the mid on each side. ``bid_1pct`` is what a sale walks through before the
    price falls 1%; ``ask_1pct`` what a purchase walks through before it rises 1%."""

    time: Decimal
    symbol: str
    bid_1pct: Decimal
    ask_1pct: Decimal
    bid_2pct: Optional[Decimal]
    ask_2pct: Optional[Decimal]
    line: int


def read_depth_snapshots(file: PathLike) -> dict[str, tuple[DepthSnapshot, ...]]:
    """Symbol -> its snapshots, oldest first, from a CSV file with header
    ``timestamp,symbol,bid_1pct,ask_1pct`` and optionally ``bid_2pct,ask_2pct`` (any order).
    ``timestamp``: unix seconds, ms or us (told by size) or ISO 8601; depths: USD, positive, the
    2% depth of a side at least its 1% depth (the 2% band holds the 1% band). Times increase
    strictly per symbol."""
    name = os.fspath(file)
    rows = iter(csv_rows(name, read_text(name)))
    first = next(rows, None)
    if first is None:
        raise DataFileError(name, None, f"empty file (expected header {','.join(DEPTH_COLUMNS)})")
    col = header(name, first[0], first[1], DEPTH_COLUMNS, DEPTH_COLUMNS_2PCT)
    two = [c for c in DEPTH_COLUMNS_2PCT if c in col]
    if len(two) == 1:
        raise DataFileError(name, first[0], f"{two[0]} without "
                            f"{[c for c in DEPTH_COLUMNS_2PCT if c not in col][0]}")
    out: dict[str, list[DepthSnapshot]] = {}
    for line, row in rows:
        if len(row) != len(col):
            raise DataFileError(name, line, f"expected {len(col)} fields, got {len(row)}")
        ts, sym = row[col["timestamp"]].strip(), row[col["symbol"]].strip()
        t = time_value(ts, "auto")
        if t is None:
            raise DataFileError(name, line, f"timestamp {ts!r} is not a time")
        if not sym:
            raise DataFileError(name, line, "empty symbol")
        depth: dict[str, Decimal] = {}
        for c in (*DEPTH_COLUMNS[2:], *two):
            value = number(row[col[c]])
            if value is None:
                raise DataFileError(name, line, f"{c} {row[col[c]].strip()!r} is not a number")
            if value <= 0:
                raise DataFileError(name, line, f"{c} {value} must be positive (USD)")
            depth[c] = value
        for side in ("bid", "ask") if two else ():
            if depth[f"{side}_2pct"] < depth[f"{side}_1pct"]:
                raise DataFileError(name, line, f"{side}_2pct {depth[f'{side}_2pct']} is below "
                                    f"{side}_1pct {depth[f'{side}_1pct']}")
        snaps = out.setdefault(sym, [])
        if snaps and t <= snaps[-1].time:
            same = "duplicate timestamp" if t == snaps[-1].time else "timestamp before the previous"
            raise DataFileError(name, line, f"{same} of {sym!r}: {ts} (line {snaps[-1].line})")
        snaps.append(DepthSnapshot(t, sym, depth["bid_1pct"], depth["ask_1pct"],
                                   depth.get("bid_2pct"), depth.get("ask_2pct"), line))
    if not out:
        raise DataFileError(name, None, "no rows after the header")
    return {s: tuple(v) for s, v in out.items()}
