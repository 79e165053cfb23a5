"""Market data from the files users have: candles (Binance klines, CCXT OHLCV, Hyperliquid candle
snapshots, CSV or Parquet with named columns), funding-rate history and depth snapshots.

Prices are exact ``Decimal`` (no float is parsed), quantised to the price paths' 8 decimals; times
are unix seconds. Every refusal is a :class:`DataFileError` at the file's line:

>>> from protocol.prices.data import read_candles
>>> candles = read_candles("ETHUSDT-1m-2025-01-01.csv", "binance")  # doctest: +SKIP
>>> candles.interval, candles.candles[0].low  # doctest: +SKIP
(Decimal('60'), Decimal('3330.50000000'))

:class:`~protocol.prices.history.HistoryReplay` replays candles as a price source.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Optional

from protocol.prices.data._text import TIME_UNITS, PathLike, datetime_seconds, iso_seconds
from protocol.prices.data.candles import (
    Candle,
    Candles,
    read_binance_klines,
    read_ccxt_ohlcv,
    read_hyperliquid_candles,
)
from protocol.prices.data.columns import ColumnNames, read_columns
from protocol.prices.data.depth import DepthSnapshot, read_depth_snapshots
from protocol.prices.data.errors import DataFileError
from protocol.prices.data.funding import FundingRate, read_funding_rates

#: The candle formats :func:`read_candles` reads.
FORMATS = ("binance", "ccxt", "hyperliquid", "columns")


def read_candles(file: PathLike, format: str, *, columns: Optional[ColumnNames] = None,
                 symbol: Optional[str] = None, time_unit: str = "auto",
                 interval: Optional[Decimal] = None) -> Candles:
    """The candles of ``file`` in ``format`` (one of :data:`FORMATS`).

    ``columns``, ``symbol`` and ``time_unit`` are for ``columns`` files (:func:`read_columns`);
    ``interval`` (seconds) for ``ccxt`` and ``columns`` files, whose rows do not state it."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if format != "columns" and (columns is not None or symbol is not None or time_unit != "auto"):
        raise ValueError(f"columns, symbol and time_unit are for columns files, not {format}")
    if interval is not None and format in ("binance", "hyperliquid"):
        raise ValueError(f"interval: {format} files state their interval")
    if format == "binance":
        return read_binance_klines(file)
    if format == "hyperliquid":
        return read_hyperliquid_candles(file)
    if format == "ccxt":
        return read_ccxt_ohlcv(file, interval)
    if columns is None:
        raise ValueError("columns: a columns file needs the names of its columns")
    return read_columns(file, columns, symbol=symbol, time_unit=time_unit, interval=interval)


__all__ = [
    "FORMATS", "TIME_UNITS", "Candle", "Candles", "ColumnNames", "DataFileError",
    "DepthSnapshot", "FundingRate", "read_binance_klines", "read_candles", "read_ccxt_ohlcv",
    "datetime_seconds", "iso_seconds", "read_columns", "read_depth_snapshots",
    "read_funding_rates", "read_hyperliquid_candles",
]
