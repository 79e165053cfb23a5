"""OHLC-aware replay (``protocol.prices.history``): each bar's open, low, high and close reached
exactly, nothing outside [low, high], the same seed the same path, closes stepwise without the
bridge, windows and their limits."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from protocol.prices import HistoryReplay, combine
from protocol.prices.data import Candles, ColumnNames, read_ccxt_ohlcv, read_columns

D = Decimal
T0_MS = 1_735_689_600_000
T0 = D(1_735_689_600)

#: Five one-minute candles: a rally, a wick far below (the liquidation that must happen), a flat
#: bar, a bar that opens at its low and closes at its high, and a fall.
BARS = [
    ("100", "104", "99", "103"),
    ("103", "103.5", "80", "101"),
    ("101", "101", "101", "101"),
    ("101", "106", "101", "106"),
    ("106", "106.5", "95.25", "96"),
]


def candles(tmp_path: Path, bars=BARS, name: str = "eth.json") -> Candles:
    rows = ",\n".join(f"[{T0_MS + i * 60_000}, {o}, {h}, {lo}, {c}, 1]"
                      for i, (o, h, lo, c) in enumerate(bars))
    path = tmp_path / name
    path.write_text(f"[\n{rows}\n]\n")
    return read_ccxt_ohlcv(path)


def per_bar(series, bars, per: int):
    return [series[i * per:(i + 1) * per] for i in range(len(bars))]


@pytest.mark.parametrize("seed", range(12))
def test_every_bar_reaches_open_low_high_close_and_stays_inside(tmp_path, seed):
    src = HistoryReplay("ETH", candles(tmp_path))
    path = src.path(src.max_blocks(12), 12, seed)  # five blocks a bar, and the last close
    series = path.series("ETH")
    assert len(series) == 26 and series[-1] == D(96)
    for (o, h, lo, c), blocks in zip(BARS, per_bar(series, BARS, 5)):
        assert blocks[0] == D(o) and blocks[-1] == D(c)
        assert min(blocks) == D(lo) and max(blocks) == D(h)  # hit exactly, never passed
        assert all(b == b.quantize(D("1e-8")) for b in blocks)


def test_same_seed_same_path_and_other_seeds_other_paths_inside_the_bars(tmp_path):
    src = HistoryReplay("ETH", candles(tmp_path))
    paths = [src.path(25, 12, seed).series("ETH") for seed in range(8)]
    assert src.path(25, 12, 3).series("ETH") == paths[3]
    assert len(set(paths)) == 8
    # The wick: its low lands on a seeded block among the three inside the bar, in a seeded
    # order with the high.
    lows = {blocks[1:4].index(D(80)) for blocks in (p[5:10] for p in paths)}
    assert len(lows) > 1


def test_without_the_bridge_each_block_shows_the_last_close(tmp_path):
    src = HistoryReplay("ETH", candles(tmp_path), bridge=False)
    series = src.path(10, 30, seed=5).series("ETH")
    assert series == (D(100), D(100), D(103), D(103), D(101), D(101), D(101), D(101), D(106),
                      D(106), D(96))
    assert src.path(10, 30, seed=6) == src.path(10, 30, seed=5)  # no randomness
    assert src.path(2, 120, 0).series("ETH") == (D(100), D(101), D(106))  # coarser blocks


def test_a_window_that_starts_inside_a_bar_sees_the_same_bar_path(tmp_path):
    data = candles(tmp_path)
    whole = HistoryReplay("ETH", data).path(20, 12, seed=9).series("ETH")
    later = HistoryReplay("ETH", data, start=T0 + 36).path(15, 12, seed=9).series("ETH")
    assert later == whole[3:19]  # a bar's path depends on the seed and the bar, not the window
    assert HistoryReplay("ETH", data, end=T0 + 120).max_blocks(12) == 10


def test_windows_past_the_data_and_bars_with_too_few_blocks_are_refused(tmp_path):
    data = candles(tmp_path)
    src = HistoryReplay("ETH", data)
    assert src.max_blocks(12) == 25 and src.max_blocks(7) == 42
    with pytest.raises(ValueError, match="26 blocks of 12 s run to 2025-01-01T00:05:12Z, past the "
                       "end of the data \\(2025-01-01T00:05:00Z\\): at most 25 blocks"):
        src.path(26, 12, 0)
    with pytest.raises(ValueError, match=r"eth.json:2: the candle at 2025-01-01T00:00:00Z has 2 "
                       r"block\(s\) of 30 s but 4 prices"):
        src.path(4, 30, 0)
    # Bars whose low and high are their open and close need only their first and last block.
    easy = HistoryReplay("ETH", candles(tmp_path, [("1", "2", "1", "2"), ("2", "2", "1.5", "1.5")],
                                        "easy.json"))
    assert easy.path(4, 30, 0).series("ETH") == (D(1), D(2), D(2), D("1.5"), D("1.5"))
    with pytest.raises(ValueError, match="start 2025-01-01T00:05:00Z is outside the candles"):
        HistoryReplay("ETH", data, start=T0 + 300)
    with pytest.raises(ValueError, match="end 2025-01-01T00:06:00Z must be after start"):
        HistoryReplay("ETH", data, end=T0 + 360)


def test_blocks_off_the_candles_grid_still_reach_every_low_and_high(tmp_path):
    src = HistoryReplay("ETH", candles(tmp_path))
    for seed in range(10):
        series = src.path(src.max_blocks(13), 13, seed).series("ETH")  # 4 or 5 blocks a bar
        times = [T0 + 13 * k for k in range(len(series))]
        for i, (o, h, lo, c) in enumerate(BARS):
            inside = [p for t, p in zip(times, series) if T0 + 60 * i <= t < T0 + 60 * (i + 1)]
            assert inside[0] == D(o) and inside[-1] == D(c)
            assert min(inside) == D(lo) and max(inside) == D(h)


def test_recorded_prices_are_joined_without_showing_the_next_one_early(tmp_path):
    path = tmp_path / "ticks.csv"
    path.write_text("t,p\n0,100\n60,90\n120,95\n")
    src = HistoryReplay("ETH", read_columns(path, ColumnNames(time="t", price="p"),
                                            time_unit="s"))
    series = src.path(10, 12, seed=1).series("ETH")
    assert series[0] == D(100) and series[5] == D(90) and series[10] == D(95)
    assert all(D(90) < p < D(100) for p in series[1:5])  # between its two prices, not at 90 yet
    assert all(D(90) < p < D(95) for p in series[6:10])


def test_several_symbols_with_different_intervals_combine(tmp_path):
    eth = HistoryReplay("ETH", candles(tmp_path))
    five = [("10", "12", "8", "11")]
    btc = HistoryReplay("BTC", read_ccxt_ohlcv(_write_ccxt(tmp_path, five), interval=D(300)))
    path = combine(eth, btc).path(25, 12, seed=4)
    assert path.symbols == ("ETH", "BTC") and path.at(25) == {"ETH": D(96), "BTC": D(11)}
    assert min(path.series("BTC")) == D(8) and max(path.series("BTC")) == D(12)


def _write_ccxt(tmp_path: Path, bars) -> Path:
    path = tmp_path / "btc.json"
    rows = ",".join(f"[{T0_MS + i * 300_000}, {o}, {h}, {lo}, {c}, 1]"
                    for i, (o, h, lo, c) in enumerate(bars))
    path.write_text(f"[{rows}]")
    return path


def test_a_day_of_one_minute_candles_replays_quickly(tmp_path):
    import random
    import time

    rng, price, rows = random.Random(0), 3000.0, []
    for i in range(1440):
        close = price * (1 + rng.gauss(0, 0.001))
        high = max(price, close) * (1 + abs(rng.gauss(0, 0.0005)))
        low = min(price, close) * (1 - abs(rng.gauss(0, 0.0005)))
        start = (T0_MS + i * 60_000) * 1000  # microseconds, as Binance spot from 2025
        rows.append(f"{start},{price:.2f},{high:.2f},{low:.2f},{close:.2f},1,"
                    f"{start + 60_000_000 - 1},1,1,1,1,0\n")
        price = float(f"{close:.2f}")
    file = tmp_path / "ETHUSDT-1m-2025-01-01.csv"
    file.write_text("".join(rows))
    from protocol.prices.data import read_candles

    began = time.perf_counter()
    src = HistoryReplay("ETH", read_candles(file, "binance"))
    path = src.path(src.max_blocks(12), 12, seed=1)
    elapsed = time.perf_counter() - began
    assert path.blocks == 7200 and elapsed < 10, elapsed
