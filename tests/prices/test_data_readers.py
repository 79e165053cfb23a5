"""The market-data readers (``protocol.prices.data``): each format read exactly from small files
the tests write, and each malformed file refused at its line with the problem."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from protocol.exceptions import PerpsimError
from protocol.prices import CsvReplayError
from protocol.prices.data import (
    ColumnNames,
    DataFileError,
    read_binance_klines,
    read_candles,
    read_ccxt_ohlcv,
    read_columns,
    read_depth_snapshots,
    read_funding_rates,
    read_hyperliquid_candles,
)

D = Decimal
T0_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
T0 = D(1_735_689_600)


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def kline(i: int, o: str, h: str, lo: str, c: str, unit: int = 1, step: int = 60_000) -> str:
    """A Binance kline row for minute ``i`` (``unit`` 1000 for microseconds)."""
    start = (T0_MS + i * step) * unit
    return f"{start},{o},{h},{lo},{c},1.5,{start + step * unit - 1},10,3,0.5,5,0\n"


def test_one_error_class_for_every_reader_and_the_csv_replay():
    assert CsvReplayError is DataFileError
    assert issubclass(DataFileError, PerpsimError) and issubclass(DataFileError, ValueError)
    err = DataFileError("f.csv", 3, "high 1 is below low 2")
    assert str(err) == "f.csv:3: high 1 is below low 2"
    assert (err.file, err.line, err.reason) == ("f.csv", 3, "high 1 is below low 2")
    assert str(DataFileError("f.csv", None, "no candles")) == "f.csv: no candles"


# ---------------------------------------------------------------------------------------------
# Binance


def test_binance_spot_klines_in_milliseconds_without_header(tmp_path):
    p = write(tmp_path, kline(0, "3000.10", "3005", "2990.5", "3001") +
              kline(1, "3001", "3002.123456789", "3000", "3000.5"))
    candles = read_binance_klines(p)
    assert candles.interval == 60 and candles.start == T0 and candles.end == T0 + 120
    first, second = candles.candles
    assert (first.time, first.end, first.line) == (T0, T0 + 60, 1)
    assert (first.open, first.high, first.low, first.close) == (
        D("3000.10000000"), D("3005.00000000"), D("2990.50000000"), D("3001.00000000"))
    assert second.high == D("3002.12345679")  # quantised to the paths' 8 decimals, half even


def test_binance_spot_klines_in_microseconds_from_2025(tmp_path):
    # Binance's spot files switched to microseconds on 2025-01-01; the same minutes result.
    ms = read_binance_klines(write(tmp_path, kline(0, "1", "2", "1", "2") + kline(1, "2", "2", "1", "1"),
                                   "ms.csv"))
    us = read_binance_klines(write(tmp_path, kline(0, "1", "2", "1", "2", unit=1000)
                                   + kline(1, "2", "2", "1", "1", unit=1000), "us.csv"))
    assert [c.time for c in us.candles] == [c.time for c in ms.candles] == [T0, T0 + 60]
    assert us.interval == ms.interval == 60


def test_binance_futures_klines_with_header(tmp_path):
    header = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
              "taker_buy_volume,taker_buy_quote_volume,ignore\n")
    p = write(tmp_path, header + kline(0, "10", "11", "9", "10.5", step=3_600_000)
              + kline(1, "10.5", "12", "10", "11", step=3_600_000))
    candles = read_candles(p, "binance")
    assert candles.interval == 3600 and [c.line for c in candles.candles] == [2, 3]


@pytest.mark.parametrize("text, line, reason", [
    (kline(0, "1", "2", "1", "2") + kline(2, "2", "2", "1", "1"), 2,
     r"gap: no candle from 2025-|gap: no candle from 1735689660 to 1735689720 \(1 candle"),
    (kline(0, "1", "2", "1", "2") + kline(0, "2", "2", "1", "1"), 2,
     "duplicate timestamp 1735689600 \\(also line 1\\)"),
    (kline(1, "1", "2", "1", "2") + kline(0, "2", "2", "1", "1"), 2, "before the previous one"),
    (kline(0, "1", "2", "3", "2"), 1, "high 2 is below low 3"),
    (kline(0, "5", "4", "1", "2"), 1, r"open 5 is outside \[low, high\] = \[1, 4\]"),
    (kline(0, "2", "4", "1", "0.5"), 1, r"close 0.5 is outside \[low, high\]"),
    (kline(0, "1", "2", "0", "2"), 1, "low 0 must be positive"),
    (kline(0, "1", "x", "1", "2"), 1, "high is not a number"),
    (kline(0, "1", "2", "1", "2")[:-4] + "\n", 1, "expected 12 fields, got 11"),
    ("open,high\n", 1, "unexpected header"),
    (kline(0, "1", "2", "1", "2") + kline(1, "1", "2", "1", "2", step=120_000), 2,
     "candle spans 120 s .* the earlier ones 60 s"),
    ("1735689600000.5,1,2,1,2,1,1735689659999,1,1,1,1,0\n", 1, "not a whole number"),
    ("1735689600000,1,2,1,2,1,1735689600000,1,1,1,1,0\n", 1, "close time .* after the open"),
    ("", None, "no candles"),
])
def test_binance_bad_files(tmp_path, text, line, reason):
    p = write(tmp_path, text)
    with pytest.raises(DataFileError, match=reason) as info:
        read_binance_klines(p)
    assert info.value.line == line and info.value.file == str(p)
    assert str(info.value).startswith(f"{p}:{line}: " if line else f"{p}: ")


def test_a_missing_file_is_one_error(tmp_path):
    with pytest.raises(DataFileError, match="cannot open") as info:
        read_binance_klines(tmp_path / "nope.csv")
    assert info.value.line is None


# ---------------------------------------------------------------------------------------------
# CCXT


def test_ccxt_ohlcv_json_is_exact_and_gives_each_candle_its_line(tmp_path):
    text = ("[\n"
            f"  [{T0_MS}, 0.1, 0.3, 0.1, 0.2, 12.5],\n"
            f"  [{T0_MS + 300_000}, 0.2, 0.2, 0.05, 0.15, null]\n"
            "]\n")
    candles = read_ccxt_ohlcv(write(tmp_path, text, "eth.json"))
    assert candles.interval == 300  # the timestamps' spacing: 5-minute candles
    first, second = candles.candles
    # 0.1 read as the decimal 0.1, not the double nearest it
    assert (first.open, first.close, first.line) == (D("0.10000000"), D("0.20000000"), 2)
    assert (second.low, second.line) == (D("0.05000000"), 3)


def test_ccxt_ohlcv_csv_with_and_without_header(tmp_path):
    rows = f"{T0_MS},1,2,1,2,5\n{T0_MS + 60_000},2,3,2,3,5\n"
    plain = read_ccxt_ohlcv(write(tmp_path, rows, "a.csv"))
    headed = read_candles(write(tmp_path, "timestamp,open,high,low,close,volume\n" + rows, "b.csv"),
                          "ccxt")
    assert [c.close for c in plain.candles] == [c.close for c in headed.candles] == [D(2), D(3)]
    assert [c.line for c in headed.candles] == [2, 3]


@pytest.mark.parametrize("text, line, reason", [
    (f"[[{T0_MS}, 1, 2, 1, 2]]", 1, r"expected \[timestamp, open, high, low, close, volume\]"),
    (f"[[{T0_MS}, 1, 2, 1, 2, 1],\n [{T0_MS}, 1, 2, 1, 2, 1]]", 2, "duplicate timestamp"),
    (f"[[{T0_MS}, 1, 2, 1, 2, 1],\n [{T0_MS + 60000}, 1, 2, 1, 2, 1],\n"
     f" [{T0_MS + 180000}, 1, 2, 1, 2, 1]]", 3, r"gap: .*1 candle\(s\) of 60 s missing"),
    (f"[[{T0_MS}, 1, 2, 1, 2, 1],\n [{T0_MS + 60000}, null, 2, 1, 2, 1]]", 2,
     "open is not a number"),
    (f'[[{T0_MS}, 1, 2, 1, 2, 1],\n ["soon", 1, 2, 1, 2, 1]]', 2, "timestamp 'soon' is not"),
    (f"[[{T0_MS}, 1, 2, 1, 2, 1],\n [{T0_MS + 60000}, 1, 2, 1, 2, 1]\n", 2, "expected ',' or ']'"),
    (f"[[{T0_MS}, 1, 2, 1, 2, 1], oops]", 1, "not JSON"),
    (f"[[{T0_MS}, 1, 2, 1, 2, 1]]", 1, "a single candle: its interval is unknown"),
    ("[]", None, "no candles"),
    ("{}", 1, "unexpected header '{}'"),  # not an array: read as CSV
])
def test_ccxt_bad_files(tmp_path, text, line, reason):
    p = write(tmp_path, text, "x.json")
    with pytest.raises(DataFileError, match=reason) as info:
        read_ccxt_ohlcv(p)
    assert info.value.line == line


def test_ccxt_interval_given_reads_a_single_candle_and_finds_misaligned_ones(tmp_path):
    one = read_ccxt_ohlcv(write(tmp_path, f"[[{T0_MS}, 1, 2, 1, 2, 1]]", "one.json"), D(60))
    assert one.end == T0 + 60
    p = write(tmp_path, f"[[{T0_MS}, 1, 2, 1, 2, 1],\n[{T0_MS + 30_000}, 1, 2, 1, 2, 1]]", "m.json")
    with pytest.raises(DataFileError, match="starts 30 s after the previous one; the interval "
                       "is 60 s") as info:
        read_ccxt_ohlcv(p, D(60))
    assert info.value.line == 2


# ---------------------------------------------------------------------------------------------
# Hyperliquid


def hl(i: int, o: str, c: str, h: str, lo: str, coin: str = "ETH", interval: str = "1m",
       step: int = 60_000) -> dict:
    t = T0_MS + i * step
    return {"t": t, "T": t + step - 1, "s": coin, "i": interval, "o": o, "c": c, "h": h, "l": lo,
            "v": "12.5", "n": 42}


def test_hyperliquid_candle_snapshot(tmp_path):
    items = [hl(0, "3300.5", "3301", "3302.25", "3299"), hl(1, "3301", "3290", "3301.5", "3288")]
    p = write(tmp_path, json.dumps(items, indent=1), "hl.json")
    candles = read_hyperliquid_candles(p)
    assert candles.symbol == "ETH" and candles.interval == 60
    first, second = candles.candles
    assert (first.open, first.high, first.low, first.close) == (
        D("3300.5"), D("3302.25"), D("3299"), D("3301"))
    assert first.line == 2 and second.line > first.line
    hourly = write(tmp_path, json.dumps([hl(0, "1", "1", "1", "1", interval="1h", step=3_600_000)]),
                   "h.json")
    assert read_candles(hourly, "hyperliquid").end == T0 + 3600


@pytest.mark.parametrize("mutate, reason", [
    (lambda c: c.pop("l"), "lacks key\\(s\\) l"),
    (lambda c: c.update(s="BTC"), "candle of 'BTC' '1m' in a file of ETH 1m candles"),
    (lambda c: c.update(h="3000"), "high 3000 is below low 3288"),
    (lambda c: c.update(T=c["t"] + 120_000), "T = .* is not within the 1m candle"),
    (lambda c: c.update(o="abc"), "open is not a number"),
])
def test_hyperliquid_bad_candles(tmp_path, mutate, reason):
    items = [hl(0, "3300.5", "3301", "3302.25", "3299"), hl(1, "3301", "3290", "3301.5", "3288")]
    mutate(items[1])
    text = "[\n" + ",\n".join(json.dumps(c) for c in items) + "\n]"
    with pytest.raises(DataFileError, match=reason) as info:
        read_hyperliquid_candles(write(tmp_path, text, "hl.json"))
    assert info.value.line == 3


def test_hyperliquid_file_that_is_not_an_array(tmp_path):
    with pytest.raises(DataFileError, match="expected a JSON array") as info:
        read_hyperliquid_candles(write(tmp_path, '\n  {"t": 1}', "o.json"))
    assert info.value.line == 2
    with pytest.raises(DataFileError, match="expected a candle object, got 'ETH'"):
        read_hyperliquid_candles(write(tmp_path, '["ETH"]', "s.json"))


def test_hyperliquid_monthly_candles_are_refused(tmp_path):
    p = write(tmp_path, json.dumps([hl(0, "1", "1", "1", "1", interval="1M")]), "m.json")
    with pytest.raises(DataFileError, match="1M, a calendar month, varies"):
        read_hyperliquid_candles(p)


# ---------------------------------------------------------------------------------------------
# named columns: CSV and Parquet


OHLC_NAMES = ColumnNames(time="ts", open="o", high="h", low="l", close="c")


def test_named_columns_csv_with_iso_times_and_a_symbol_column(tmp_path):
    text = ("ts,sym,o,h,l,c,extra\n"
            "2025-01-01T00:00:00Z,ETH,10,11,9,10.5,x\n"
            "2025-01-01T00:00:00Z,BTC,90,91,89,90,x\n"
            "2025-01-01T00:05:00+00:00,ETH,10.5,10.5,10,10.25,x\n")
    names = ColumnNames(time="ts", open="o", high="h", low="l", close="c", symbol="sym")
    eth = read_columns(write(tmp_path, text), names, symbol="ETH")
    assert eth.interval == 300 and eth.symbol == "ETH" and eth.start == T0
    assert [(c.line, c.close) for c in eth.candles] == [(2, D("10.5")), (4, D("10.25"))]
    with pytest.raises(DataFileError, match="holds several symbols") as info:
        read_columns(write(tmp_path, text), names)
    assert info.value.line == 3


def test_named_price_column_joins_irregular_points(tmp_path):
    text = "time,price\n100,10\n112,12\n130,11\n"
    candles = read_columns(write(tmp_path, text), ColumnNames(time="time", price="price"),
                           time_unit="s")
    assert candles.interval is None
    assert [(c.time, c.end, c.open, c.close, c.low, c.high) for c in candles.candles] == [
        (D(100), D(112), D(10), D(12), D(10), D(12)), (D(112), D(130), D(12), D(11), D(11), D(12))]


@pytest.mark.parametrize("text, names, line, reason", [
    ("ts,o,h,l\n1,1,1,1\n", OHLC_NAMES, 1, "no column\\(s\\) c in the header"),
    ("ts,o,h,l,c\n60,1,2,1,2\n60,1,2,1,2\n", OHLC_NAMES, 3, "duplicate timestamp"),
    ("ts,o,h,l,c\n60,1,2,1,2\nlater,1,2,1,2\n", OHLC_NAMES, 3, "ts 'later' is not a time"),
    ("ts,o,h,l,c\n60,1,2,1,2\n120,1,2,1\n", OHLC_NAMES, 3, "expected 5 fields, got 4"),
    ("ts,o,h,l,c\n60,1,2,1,2\n120,1,-2,1,2\n", OHLC_NAMES, 3, "h -2 must be positive"),
    ("time,price\n100,10\n90,11\n", ColumnNames(time="time", price="price"), 3,
     "before the previous one"),
    ("time,price\n100,10\n", ColumnNames(time="time", price="price"), 2, "a single price"),
])
def test_named_columns_bad_files(tmp_path, text, names, line, reason):
    with pytest.raises(DataFileError, match=reason) as info:
        read_columns(write(tmp_path, text), names)
    assert info.value.line == line


def test_column_names_must_say_what_is_what():
    with pytest.raises(ValueError, match="not both"):
        ColumnNames(time="t", price="p", open="o")
    with pytest.raises(ValueError, match="name the low, close column"):
        ColumnNames(time="t", open="o", high="h")
    with pytest.raises(ValueError, match="named twice"):
        ColumnNames(time="t", price="t")


def test_parquet_with_timestamps_decimals_and_doubles(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({
        "ts": pa.array([T0_MS * 10**6, (T0_MS + 60_000) * 10**6], pa.timestamp("ns", tz="UTC")),
        "o": pa.array([D("10.5"), D("11")], pa.decimal128(10, 4)),
        "h": pa.array([11.1, 11.5], pa.float64()),
        "l": pa.array([10, 10], pa.int64()),
        "c": pa.array(["11", "10.75"], pa.string()),
    })
    p = tmp_path / "eth.parquet"
    pq.write_table(table, p)
    candles = read_candles(p, "columns", columns=OHLC_NAMES)
    assert candles.interval == 60 and candles.start == T0
    first = candles.candles[0]
    # the double 11.1 is read as the decimal 11.1 (its shortest repr), not 11.0999999999999996
    assert (first.open, first.high, first.low, first.close, first.line) == (
        D("10.5"), D("11.1"), D(10), D(11), 1)
    bad = pa.table({"ts": pa.array([60, 120], pa.int64()), "o": [1.0, 1.0], "h": [2.0, 0.5],
                    "l": [1.0, 1.0], "c": [1.0, 1.0]})
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(DataFileError, match="high 0.5 is below low 1") as info:
        read_columns(tmp_path / "bad.parquet", OHLC_NAMES, time_unit="s")
    assert info.value.line == 2  # the row
    with pytest.raises(DataFileError, match="no column\\(s\\) x, y \\(it has ts, o, h, l, c\\)"):
        read_columns(tmp_path / "bad.parquet", ColumnNames(time="ts", open="o", high="h", low="x",
                                                           close="y"))


def test_read_candles_refuses_options_a_format_does_not_take(tmp_path):
    p = write(tmp_path, kline(0, "1", "2", "1", "2"))
    with pytest.raises(ValueError, match="format must be one of binance, ccxt, hyperliquid, columns"):
        read_candles(p, "kraken")
    with pytest.raises(ValueError, match="interval: binance files state their interval"):
        read_candles(p, "binance", interval=D(60))
    with pytest.raises(ValueError, match="columns: a columns file needs"):
        read_candles(p, "columns")


# ---------------------------------------------------------------------------------------------
# funding and depth


def test_funding_rate_history(tmp_path):
    text = ("timestamp,symbol,rate\n"
            f"{T0_MS},ETH,0.0001\n"
            "1735689600,BTC,-0.00005\n"
            "2025-01-01T08:00:00Z,ETH,0.000125\n")
    rates = read_funding_rates(write(tmp_path, text))
    assert [(r.time, r.rate, r.line) for r in rates["ETH"]] == [
        (T0, D("0.0001"), 2), (T0 + 8 * 3600, D("0.000125"), 4)]
    assert rates["BTC"][0].rate == D("-0.00005") and rates["BTC"][0].time == T0


@pytest.mark.parametrize("text, line, reason", [
    ("timestamp,symbol\n", 1, "missing column\\(s\\) rate"),
    ("timestamp,symbol,rate,extra\n", 1, "unexpected column\\(s\\) extra"),
    ("timestamp,symbol,rate\n1,ETH,0.1\n1,ETH,0.2\n", 3, "duplicate timestamp of 'ETH'"),
    ("timestamp,symbol,rate\n2,ETH,0.1\n1,ETH,0.2\n", 3, "timestamp before the previous"),
    ("timestamp,symbol,rate\n1,ETH,1.5\n", 2, "not a fraction in \\(-1, 1\\)"),
    ("timestamp,symbol,rate\n1,,0.1\n", 2, "empty symbol"),
    ("timestamp,symbol,rate\n1,ETH,high\n", 2, "rate 'high' is not a number"),
    ("timestamp,symbol,rate\n", None, "no rows"),
])
def test_funding_bad_files(tmp_path, text, line, reason):
    with pytest.raises(DataFileError, match=reason) as info:
        read_funding_rates(write(tmp_path, text))
    assert info.value.line == line


def test_depth_snapshots_with_and_without_the_two_percent_band(tmp_path):
    text = ("timestamp,symbol,bid_1pct,ask_1pct,bid_2pct,ask_2pct\n"
            "2025-01-01T00:00:00Z,ETH,3000000,2500000,5000000,4000000\n"
            "2025-01-01T01:00:00Z,ETH,1000000,900000,1500000,1200000\n")
    snaps = read_depth_snapshots(write(tmp_path, text))["ETH"]
    assert [(s.time, s.bid_1pct, s.ask_1pct, s.bid_2pct, s.ask_2pct) for s in snaps] == [
        (T0, D(3_000_000), D(2_500_000), D(5_000_000), D(4_000_000)),
        (T0 + 3600, D(1_000_000), D(900_000), D(1_500_000), D(1_200_000))]
    one = read_depth_snapshots(write(tmp_path, "symbol,timestamp,ask_1pct,bid_1pct\nBTC,60,2,1\n"))
    assert one["BTC"][0].bid_2pct is None and one["BTC"][0].bid_1pct == 1


@pytest.mark.parametrize("text, line, reason", [
    ("timestamp,symbol,bid_1pct\n", 1, "missing column\\(s\\) ask_1pct"),
    ("timestamp,symbol,bid_1pct,ask_1pct,bid_2pct\n", 1, "bid_2pct without ask_2pct"),
    ("timestamp,symbol,bid_1pct,ask_1pct\n1,ETH,0,5\n", 2, "bid_1pct 0 must be positive"),
    ("timestamp,symbol,bid_1pct,ask_1pct,bid_2pct,ask_2pct\n1,ETH,5,5,4,6\n", 2,
     "bid_2pct 4 is below bid_1pct 5"),
    ("timestamp,symbol,bid_1pct,ask_1pct\n1,ETH,5,5\n1,ETH,5,5\n", 3, "duplicate timestamp"),
    ("timestamp,symbol,bid_1pct,ask_1pct\nnoon,ETH,5,5\n", 2, "timestamp 'noon' is not a time"),
])
def test_depth_bad_files(tmp_path, text, line, reason):
    with pytest.raises(DataFileError, match=reason) as info:
        read_depth_snapshots(write(tmp_path, text))
    assert info.value.line == line
