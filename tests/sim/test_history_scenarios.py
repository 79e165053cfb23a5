"""Real markets in a scenario: ``[prices.SYM] type = "history"`` (its keys, their errors at their
lines, symbols started together), ``[liquidity.SYM] depth`` as a schedule or a snapshot file with
a thinning rule, and a run of it end to end on revm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from protocol.cli import main as cli
from protocol.prices import HistoryReplay
from protocol.prices.liquidity import DepthSchedule
from protocol.sim.engine import Simulation
from protocol.sim.loader import ScenarioError, load_scenario

D = Decimal
ROOT = Path(__file__).resolve().parents[2]
T0_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
T0 = D(1_735_689_600)

#: Twenty one-minute ETH candles drifting down, minute 10 with a wick 12% below its open.
ETH_BARS = [(f"{3000 - 5 * i}", f"{3004 - 5 * i}", f"{2640 if i == 10 else 2994 - 5 * i}",
             f"{2995 - 5 * i}") for i in range(20)]


def klines(bars, start_ms: int = T0_MS, step: int = 60_000) -> str:
    return "".join(f"{start_ms + i * step},{o},{h},{lo},{c},1,{start_ms + (i + 1) * step - 1},"
                   "1,1,1,1,0\n" for i, (o, h, lo, c) in enumerate(bars))


def scenario(tmp_path: Path, prices: str, extra: str = "", blocks: int = 60,
             block_time: int = 12, name: str = "s.toml") -> Path:
    text = textwrap.dedent(f"""\
        seed = 5
        blocks = {blocks}
        block_time = {block_time}
        equity_every = 5

        [venue]
        pool_liquidity = 5_000_000

        [markets.ETH]
        initial_price = 3000
        max_leverage = 50

        [markets.BTC]
        initial_price = 60000
        """) + textwrap.dedent(prices) + textwrap.dedent(extra) + textwrap.dedent("""
        [[agents]]
        type = "speculator"
        count = 6
        capital = [5000, 10000]
        leverage = [20, 40]
        long_probability = 1.0
        trade_probability = 0.5
        markets = ["ETH"]

        [[keepers]]
        type = "liquidation"
        """)
    path = tmp_path / name
    path.write_text(text)
    return path


ETH_HISTORY = """
    [prices.ETH]
    type = "history"
    file = "data/eth.csv"
    format = "binance"

    [prices.BTC]
    model = "constant"
    """


@pytest.fixture
def data(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "eth.csv").write_text(klines(ETH_BARS))
    return tmp_path


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


def load_error(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value


def test_type_history_loads_relative_to_the_scenario_from_anywhere(data, monkeypatch):
    path = scenario(data, ETH_HISTORY)
    monkeypatch.chdir("/")
    s = load_scenario(path)
    (src,) = [x for x in s.prices.sources if isinstance(x, HistoryReplay)]
    assert src.bridge and src.start_time == T0 and src.candles.file == str(data / "data/eth.csv")
    assert s.raw["prices"]["ETH"]["file"] == str((data / "data/eth.csv").resolve())
    path_ = s.prices.path(s.blocks, s.block_time, 0)
    assert path_.at(0)["ETH"] == D(3000) and min(path_.series("ETH")) == D(2640)  # the wick
    # model = "history" is the same table; type and model may both say it.
    same = ETH_HISTORY.replace('type = "history"', 'model = "history"\n    type = "history"')
    assert load_scenario(scenario(data, same, name="t.toml")).prices == s.prices


def test_type_and_model_naming_different_models_is_an_error_at_type(data):
    path = scenario(data, ETH_HISTORY.replace('type = "history"',
                                              'type = "history"\n    model = "gbm"'))
    err = load_error(path)
    assert (err.key, err.line) == ("prices.ETH.type", line_of(path, 'type = "history"'))
    assert "type = 'history' and model = 'gbm' name different price models" in str(err)
    unknown = scenario(data, ETH_HISTORY.replace('type = "history"', 'type = "histroy"'),
                       name="u.toml")
    err = load_error(unknown)
    assert err.key == "prices.ETH.type" and "histroy" in err.message


@pytest.mark.parametrize("change, key, needle, message", [
    (('format = "binance"', 'format = "columns"'), "prices.ETH.format", "format =",
     'format = "columns" needs columns'),
    (('format = "binance"', 'format = "binance"\n    interval = 60'), "prices.ETH.interval",
     "interval =", "binance files state their interval"),
    (('format = "binance"', 'format = "binance"\n    columns = { time = "t", price = "p" }'),
     "prices.ETH.columns", "columns =", 'only for format = "columns"'),
    (('format = "binance"', 'format = "kraken"'), "prices.ETH.format", "format =",
     "must be one of"),
    (('format = "binance"', 'format = "binance"\n    start = 2024-12-31T00:00:00Z'),
     "prices.ETH.start", "start =", "start 2024-12-31T00:00:00Z is outside the candles' time"),
    (('format = "binance"', 'format = "binance"\n    start = "yesterday"'),
     "prices.ETH.start", "start =", "expected an ISO 8601 date-time or unix seconds"),
    (('format = "binance"', 'format = "binance"\n    bridge = "yes"'), "prices.ETH.bridge",
     "bridge =", "expected boolean"),
    (('format = "binance"', 'format = "columns"\n    columns = { time = "t", price = "p" }\n'
      '    symbol = "ETHUSDT"'), "prices.ETH.symbol", "symbol =", "name it in columns"),
    (('format = "binance"', 'format = "columns"\n    columns = { time = "t", price = "t" }'),
     "prices.ETH.columns", "columns =", "a column is named twice"),
])
def test_history_keys_refused_at_their_lines(data, change, key, needle, message):
    path = scenario(data, ETH_HISTORY.replace(*change))
    err = load_error(path)
    assert (err.key, err.line) == (key, line_of(path, needle)) and message in err.message, err


def test_a_columns_file_with_a_symbol_column(data):
    (data / "data" / "all.csv").write_text(
        "time,pair,px\n"
        + "".join(f"{1735689600 + 12 * k},{pair},{3000 + k if pair == 'ETHUSDT' else 1}\n"
                  for k in range(61) for pair in ("BTCUSDT", "ETHUSDT")))
    table = ETH_HISTORY.replace('file = "data/eth.csv"\n    format = "binance"',
                                'file = "data/all.csv"\n    format = "columns"\n'
                                '    columns = { time = "time", price = "px", symbol = "pair" }\n'
                                '    symbol = "ETHUSDT"\n    time_unit = "s"')
    s = load_scenario(scenario(data, table))
    assert s.prices.path(60, 12, 0).series("ETH") == tuple(D(3000 + k) for k in range(61))


def test_a_bad_data_file_is_one_error_at_file_naming_the_datas_line(data):
    (data / "data" / "eth.csv").write_text(klines(ETH_BARS[:3]) + klines(ETH_BARS[:1],
                                                                         T0_MS + 300_000))
    path = scenario(data, ETH_HISTORY)
    err = load_error(path)
    assert (err.key, err.line) == ("prices.ETH.file", line_of(path, "file ="))
    assert f"{data / 'data' / 'eth.csv'}:4: gap: no candle from 1735689780 to 1735689900" in str(err)


def test_runs_longer_than_the_data_or_too_coarse_for_the_bridge_are_refused(data):
    long = scenario(data, ETH_HISTORY, blocks=101)
    err = load_error(long)
    assert err.key == "prices.ETH.file" and "at most 100 blocks" in err.message
    ends = scenario(data, ETH_HISTORY.replace('format = "binance"',
                                              'format = "binance"\n    end = 1735690200'),
                    name="e.toml")
    err = load_error(ends)
    assert (err.key, err.line) == ("prices.ETH.end", line_of(ends, "end =")) and "at most 50" in err.message
    coarse = scenario(data, ETH_HISTORY, blocks=10, block_time=30, name="c.toml")
    err = load_error(coarse)
    assert err.key == "prices.ETH.bridge" and "2 block(s) of 30 s but 4 prices" in err.message
    stepwise = ETH_HISTORY.replace('format = "binance"', 'format = "binance"\n    bridge = false')
    s = load_scenario(scenario(data, stepwise, blocks=10, block_time=30, name="d.toml"))
    assert s.prices.path(10, 30, 0).series("ETH")[:4] == (D(3000), D(3000), D(2995), D(2995))


def test_history_symbols_start_together(data):
    # BTC's 5-minute candles start two minutes after ETH's: the run starts with BTC's.
    (data / "data" / "btc.json").write_text(json.dumps(
        [[T0_MS + 120_000 + i * 300_000, "60000", "60100", "59900", "60050", "1"]
         for i in range(4)]))
    both = ETH_HISTORY.replace('[prices.BTC]\n    model = "constant"',
                               '[prices.BTC]\n    model = "history"\n    file = "data/btc.json"\n'
                               '    format = "ccxt"\n    bridge = false')
    s = load_scenario(scenario(data, both))
    starts = {src.symbol: src.start_time for src in s.prices.sources}
    assert starts == {"ETH": T0 + 120, "BTC": T0 + 120}
    assert s.prices.path(1, 12, 0).at(0) == {"ETH": D(2990), "BTC": D(60000)}  # ETH's 3rd open
    # Starts given differently are an error at the second; the same start is fine.
    given = both.replace('format = "binance"', 'format = "binance"\n    start = 1735689720')
    assert load_scenario(scenario(data, given, name="g.toml")).prices == s.prices
    clash = given.replace('format = "ccxt"', 'format = "ccxt"\n    start = "2025-01-01T00:05:00Z"')
    path = scenario(data, clash, name="h.toml")
    err = load_error(path)
    assert err.key == "prices.BTC.start" and "start together" in err.message
    assert err.line == line_of(path, 'start = "2025')


DEPTH = """
    [liquidity.ETH]
    depth = {depth}
    half_life_blocks = 10
    """


def test_depth_by_block_by_time_and_from_a_snapshot_file(data):
    by_block = load_scenario(scenario(data, ETH_HISTORY, DEPTH.format(
        depth="{ 0 = 3_000_000, 30 = 1_000_000 }")))
    assert by_block.liquidity["ETH"].depth == DepthSchedule.of({0: D(3_000_000), 30: D(1_000_000)})
    by_time = load_scenario(scenario(data, ETH_HISTORY, DEPTH.format(
        depth='{ "2024-12-31T23:00:00Z" = 3_000_000, "2025-01-01T00:06:00Z" = 1_000_000 }'),
        name="t.toml"))
    assert by_time.liquidity["ETH"].depth == by_block.liquidity["ETH"].depth  # 6 min = 30 blocks
    (data / "depth.csv").write_text("timestamp,symbol,bid_1pct,ask_1pct\n"
                                    "2025-01-01T00:00:00Z,ETHUSDT,2000000,2500000\n"
                                    "2025-01-01T00:06:00Z,ETHUSDT,500000,600000\n"
                                    "2025-01-01T00:20:00Z,ETHUSDT,100000,100000\n")
    from_file = load_scenario(scenario(data, ETH_HISTORY, DEPTH.format(depth='"depth.csv"'),
                                       name="f.toml"))
    assert from_file.liquidity["ETH"].depth.steps == (
        (0, D(2_000_000), D(2_500_000)), (30, D(500_000), D(600_000)))
    (data / "depth.csv").write_text("timestamp,symbol,bid_1pct,ask_1pct\n"
                                    "2025-01-01T00:00:00Z,ETH,1,1\n2025-01-01T00:10:00Z,ETH,1,1\n")
    err = load_error(scenario(data, ETH_HISTORY, DEPTH.format(depth='"depth.csv"'), name="g.toml"))
    assert err.key == "liquidity.ETH.depth" and "depth data ends at t=1735690200, before the " \
        "last block (t=1735690320)" in err.message
    assert from_file.raw["liquidity"]["ETH"]["depth"] == str((data / "depth.csv").resolve())


@pytest.mark.parametrize("depth, key, message", [
    ("{ 5 = 1_000_000 }", "liquidity.ETH.depth", "no depth at block 0"),
    ("{ 0 = 1_000_000, 61 = 5 }", "liquidity.ETH.depth.61", "block 61 is after the last block"),
    ("{ 0 = 1_000_000, soon = 5 }", "liquidity.ETH.depth.soon", "block numbers or ISO 8601"),
    ("{ 0 = 1_000_000, 10 = 0 }", "liquidity.ETH.depth.10", "depth must be > 0"),
    ('"missing.csv"', "liquidity.ETH.depth", "cannot open"),
    ("true", "liquidity.ETH.depth", "expected a number (USD per 1%), a table of block"),
])
def test_bad_depth_schedules_are_refused_at_their_keys(data, depth, key, message):
    err = load_error(scenario(data, ETH_HISTORY, DEPTH.format(depth=depth)))
    assert err.key == key and message in err.message, err


def test_time_keyed_depth_needs_a_dated_run(tmp_path):
    prices = '[prices.ETH]\nmodel = "constant"\n[prices.BTC]\nmodel = "constant"\n'
    path = scenario(tmp_path, prices, DEPTH.format(depth='{ "2025-01-01T00:00:00Z" = 1_000_000 }'))
    err = load_error(path)
    assert err.key == 'liquidity.ETH.depth."2025-01-01T00:00:00Z"'
    assert 'price a market with model = "history"' in err.message


def test_thinning_keys_are_checked_at_their_lines(data):
    thinning = DEPTH.format(depth="3_000_000") + textwrap.dedent("""
        [liquidity.ETH.thinning]
        factor = 1.5
        window_blocks = 5
        threshold = 0.03
        half_life_blocks = 20
        """)
    path = scenario(data, ETH_HISTORY, thinning)
    err = load_error(path)
    assert (err.key, err.line) == ("liquidity.ETH.thinning.factor", line_of(path, "factor ="))
    fine = load_scenario(scenario(data, ETH_HISTORY, thinning.replace("1.5", "0.4"), name="f.toml"))
    rule = fine.liquidity["ETH"].thinning
    assert (rule.factor, rule.window, rule.threshold, rule.half_life) == (
        D("0.4"), 5, D("0.03"), D(20))


def test_a_history_run_end_to_end_on_revm_with_thinning_depth(data):
    (data / "depth.csv").write_text("timestamp,symbol,bid_1pct,ask_1pct\n"
                                    "2025-01-01T00:00:00Z,ETH,400000,400000\n"
                                    "2025-01-01T00:30:00Z,ETH,400000,400000\n")
    extra = DEPTH.format(depth='"depth.csv"') + textwrap.dedent("""
        [liquidity.ETH.thinning]
        factor = 0.25
        window_blocks = 5
        threshold = 0.05
        half_life_blocks = 10
        """)
    path = scenario(data, ETH_HISTORY, extra, blocks=60)
    out = data / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "--backend", "revm", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = (out / "timeseries.csv").read_text().splitlines()
    header = rows[0].split(",")
    exo = [D(r.split(",")[header.index("exogenous.ETH")]) for r in rows[1:]]
    assert len(exo) == 61 and exo[0] == D(3000) and min(exo) == D(2640) and exo[-1] == D(2940)  # block 60 opens minute 12
    summary = json.loads((out / "summary.json").read_text())
    assert summary["liquidations"] > 0  # the wick liquidates the 20-40x longs
    # The same scenario in Python gives the same rows: the path is the seed's.
    again = Simulation(load_scenario(path), backend="revm").run()
    assert [r["exogenous.ETH"] for r in again.rows] == exo


def test_a_bad_data_file_is_one_line_on_the_command_line(data):
    (data / "data" / "eth.csv").write_text(klines([("10", "9", "11", "10")]))
    path = scenario(data, ETH_HISTORY)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", "from protocol.cli import main; main()", "run",
                             str(path), "--blocks", "2"], capture_output=True, text=True,
                            cwd=data, env=env, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == (f"Error: {path}:{line_of(path, 'file =')}: prices.ETH.file: "
                        f"{data / 'data' / 'eth.csv'}:1: high 9 is below low 11")
