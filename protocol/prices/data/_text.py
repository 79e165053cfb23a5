"""What the readers share: exact numbers and times from text, CSV rows and JSON array items with
their line numbers, and opening a file with one clear error."""

from __future__ import annotations

import csv
import datetime
import json
import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator, Optional, Union

from protocol.prices.data.errors import DataFileError

PathLike = Union[str, "os.PathLike[str]"]

#: Time units a number may be in; ``auto`` tells them apart by size (see :func:`epoch_seconds`).
TIME_UNITS = ("s", "ms", "us", "auto")
_SCALE = {"s": Decimal(1), "ms": Decimal(1000), "us": Decimal(1_000_000)}
#: Epoch numbers at or above these are taken as microseconds / milliseconds by ``auto``: 1e14 ms
#: is the year 5138 and 1e11 s the year 5138, so no present-day time is read in the wrong unit.
_MICROS_FROM = Decimal(10) ** 14
_MILLIS_FROM = Decimal(10) ** 11
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@dataclass(frozen=True)
class Stamp:
    """A time a file stores typed (a Parquet timestamp), already in unix seconds."""

    seconds: Decimal


def number(text: str) -> Optional[Decimal]:
    """``text`` as a finite ``Decimal`` (surrounding spaces allowed), else None."""
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def epoch_seconds(value: Decimal, unit: str) -> Decimal:
    """A unix time in ``unit`` (``s``, ``ms``, ``us`` or ``auto``) as exact seconds.

    ``auto`` reads values from 1e14 as microseconds (Binance spot since 2025), from 1e11 as
    milliseconds (Binance futures, CCXT, Hyperliquid) and smaller ones as seconds."""
    if unit == "auto":
        size = abs(value)
        unit = "us" if size >= _MICROS_FROM else "ms" if size >= _MILLIS_FROM else "s"
    return tidy(value / _SCALE[unit])


def tidy(value: Decimal) -> Decimal:
    """The same number without trailing zeros (a whole number with exponent 0), so equal times
    print alike whatever unit they came in."""
    whole = value.to_integral_value()
    return whole if value == whole else value.normalize()


def iso_seconds(text: str) -> Optional[Decimal]:
    """An ISO 8601 date or date-time as exact unix seconds (no offset: UTC), else None."""
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return datetime_seconds(moment)


def datetime_seconds(moment: Union[datetime.datetime, datetime.date]) -> Decimal:
    """A date or date-time as exact unix seconds; one without an offset is UTC (market data is
    stamped in UTC)."""
    if not isinstance(moment, datetime.datetime):
        moment = datetime.datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    delta = moment - _EPOCH
    return tidy(Decimal(delta.days * 86_400 + delta.seconds)
                + Decimal(delta.microseconds) / _SCALE["us"])


def time_value(text: str, unit: str) -> Optional[Decimal]:
    """A time field: a number in ``unit`` or an ISO 8601 date-time, as unix seconds."""
    value = number(text)
    if value is not None:
        return epoch_seconds(value, unit)
    return iso_seconds(text)


def read_text(file: str) -> str:
    """The file's text (UTF-8, a BOM dropped), or a ``DataFileError`` saying why not."""
    try:
        with open(file, encoding="utf-8-sig", newline="") as fh:
            return fh.read()
    except OSError as exc:
        raise DataFileError(file, None, f"cannot open: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise DataFileError(file, None, f"not UTF-8 text: {exc.reason}") from None


def csv_rows(file: str, text: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of each non-blank CSV row, ``line`` the row's first text line."""
    reader = csv.reader(text.splitlines(keepends=True))
    line = 1
    try:
        for row in reader:
            if any(c.strip() for c in row):
                yield line, row
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DataFileError(file, reader.line_num, f"not CSV: {exc}") from None


def json_array(file: str, text: str) -> Iterator[tuple[int, Any]]:
    """``(line, item)`` of each item of the JSON array that is the whole file; numbers are read
    as exact ``Decimal`` (never float), ``line`` is where the item starts."""
    decoder = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal)
    pos = _skip(text, 0)
    if pos >= len(text):
        raise DataFileError(file, None, "empty file (expected a JSON array)")
    if text[pos] != "[":
        raise DataFileError(file, _line(text, pos), "expected a JSON array ([...])")
    pos = _skip(text, pos + 1)
    if pos < len(text) and text[pos] == "]":
        pos = _skip(text, pos + 1)
    else:
        while True:
            try:
                item, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise DataFileError(file, exc.lineno, f"not JSON: {exc.msg}") from None
            yield _line(text, pos), item
            pos = _skip(text, end)
            if pos < len(text) and text[pos] == ",":
                pos = _skip(text, pos + 1)
                continue
            if pos < len(text) and text[pos] == "]":
                pos = _skip(text, pos + 1)
                break
            raise DataFileError(file, _line(text, min(pos, len(text) - 1)),
                                "not JSON: expected ',' or ']' after an array item")
    if pos < len(text):
        raise DataFileError(file, _line(text, pos), "not JSON: text after the array")


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def header(file: str, line: int, fields: list[str], required: tuple[str, ...],
           optional: tuple[str, ...] = ()) -> dict[str, int]:
    """Column name -> index for a header row that must hold ``required`` and may hold
    ``optional`` (any order, any case); any other column is an error."""
    names = [c.strip().lower() for c in fields]
    missing = [c for c in required if c not in names]
    extra = [c for c in names if c not in required and c not in optional]
    if missing or extra or len(set(names)) != len(names):
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            problems.append(f"unexpected column(s) {', '.join(extra)}")
        if not problems:
            problems.append("duplicate columns")
        raise DataFileError(file, line, f"bad header {','.join(fields)!r}: {'; '.join(problems)};"
                            f" expected {','.join(required + optional)}")
    return {c: names.index(c) for c in names}
