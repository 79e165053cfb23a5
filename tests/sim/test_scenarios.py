"""Scenario TOML loading: built-ins, validation errors (key and line), overrides."""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from protocol.constants import GWEI
from protocol.prices import CorrelatedGBM
from protocol.sim import models
from protocol.sim.loader import (
    ScenarioError,
    apply_overrides,
    builtin_scenarios,
    load_scenario,
    parse_overrides,
)
from protocol.sim.scenario import PNL_FACTORS, Scenario, VenueSpec
from protocol.venue import Venue

BUILTINS = ("default", "crash", "isolated-vs-cross", "keeper-race", "funding-squeeze", "adl",
            "funding-arb", "market-maker", "informed", "informed-noise")

BASE = """\
name = "t"
seed = 3
blocks = 100
block_time = 60

[markets.ETH]
initial_price = 3000
max_leverage = 20

[markets.BTC]
initial_price = 60000

[prices.correlated]
symbols = ["ETH", "BTC"]
volatilities = [0.8, 0.6]
correlation = [[1.0, 0.5],
               [0.5, 1.0]]

[[agents]]
type = "conservative"
count = 5

[[agents]]
type = "speculator"
count = 3
leverage = [5, 20]

[[keepers]]
type = "liquidation"
name = "liq"
"""


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in text")


def expect_error(tmp_path: Path, text: str, key: str, line: int | None,
                 contains: str = "") -> ScenarioError:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    assert err.key == key, str(err)
    assert err.line == line, str(err)
    assert err.file == str(path)
    assert contains in err.message, str(err)
    assert str(err) == f"{path}:{line}: {key}: {err.message}"
    assert isinstance(err, ValueError)
    return err


# -- built-ins ----------------------------------------------------------------------------------


def test_builtin_scenarios_listed_with_descriptions():
    listed = builtin_scenarios()
    assert set(BUILTINS) <= set(listed)
    for name, description in listed.items():
        assert description and "\n" not in description, name


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_loads(name):
    scenario = load_scenario(name)
    assert isinstance(scenario, Scenario)
    assert scenario.name == name
    assert scenario.description == builtin_scenarios()[name]
    symbols = {m.symbol for m in scenario.markets}
    assert symbols <= set(scenario.prices.symbols)
    traders = sum(p.count for p in scenario.agents)
    assert 50 <= traders <= 300
    assert scenario.blocks * scenario.block_time <= 2 * 86400
    path = scenario.prices.path(scenario.blocks, scenario.block_time, scenario.seed)
    assert all(p > 0 for sym in symbols for p in path.prices[sym])


def test_builtin_contents():
    default = load_scenario("default")
    types = {p.type for p in default.agents}
    assert types == {"conservative", "speculator", "hedger", "risk_sized", "margin_topper",
                     "stop_loss", "noise", "lp"}
    assert sorted(k.type for k in default.keepers) == ["funding", "liquidation", "order"]

    crash = load_scenario("crash")
    path = crash.prices.path(crash.blocks, crash.block_time, crash.seed)
    base = default.prices.path(default.blocks, default.block_time, default.seed)
    ratio = path.prices["ETH"][-1] / base.prices["ETH"][-1]
    assert abs(ratio - Decimal("0.65")) < Decimal("0.001")

    study = load_scenario("isolated-vs-cross")
    assert study.study_modes == ("isolated", "cross")
    assert all(p.params.get("markets") == ("ETH", "BTC") for p in study.agents if p.type != "lp")

    adl = load_scenario("adl")
    assert adl.study == "solvency" and "adl" in {k.type for k in adl.keepers}
    assert all(m.reserve_factor_bps == 30_000 for m in adl.markets)
    assert adl.venue.pnl_factors() == {"max_pnl_factor_traders": Decimal("0.9"),
                                       "max_pnl_factor_adl": Decimal("0.85"),
                                       "min_pnl_factor_after_adl": Decimal("0.77")}

    race = load_scenario("keeper-race")
    liq = [k for k in race.keepers if k.type == "liquidation"]
    assert len(liq) == 3
    assert len({(k.strategy.latency, k.strategy.gas_price) for k in liq}) == 3


def test_scenario_from_file(tmp_path):
    scenario = load_scenario(write(tmp_path, BASE.replace('name = "t"\n', ""), "mine.toml"))
    assert scenario.name == "mine"  # file stem
    assert scenario.source == str(tmp_path / "mine.toml")
    assert isinstance(scenario.prices, CorrelatedGBM) or "ETH" in scenario.prices.symbols
    eth = scenario.markets[0]
    assert eth.symbol == "ETH" and eth.max_leverage == 20
    assert eth.initial_price == Decimal("3000")
    spec = scenario.agents[1]
    assert spec.type == "speculator" and spec.params == {"leverage": (5.0, 20.0)}
    assert scenario.keepers[0].name == "liq"


def test_all_sections(tmp_path):
    csv = tmp_path / "eth.csv"
    csv.write_text("timestamp,symbol,price\n" +
                   "".join(f"{i * 60},ETH,{3000 + i}\n" for i in range(12)))
    text = """\
        description = "everything"
        blocks = 10
        block_time = 60
        backend = "pyevm"
        mode = "cross"
        equity_every = 5

        [venue]
        pool_liquidity = 1_000_000
        insurance = 0
        instant_trading = false
        max_price_age = 120
        market_order_timeout = 30
        min_execution_fee = 1000

        [markets.ETH]
        initial_price = 3000
        mmf = 0.005
        taker_fee_bps = 0
        funding_rate_per_hour = 0.0002999999999988

        [markets.BTC]
        initial_price = 60000.5

        [markets.SOL]
        initial_price = 150

        [markets.FLAT]
        initial_price = 1

        [prices.ETH]
        model = "csv"
        file = "eth.csv"

        [prices.BTC]
        model = "merton"
        volatility = 0.6
        shocks = [{ type = "flash_crash", drop_pct = 0.2, at_block = 3, recover_blocks = 4 },
                  { type = "gap", gap_pct = -0.1, at_block = 8 }]

        [prices.SOL]
        model = "heston"
        start = 140

        [prices.FLAT]
        model = "constant"

        [[agents]]
        type = "risk_sized"
        count = 2
        label = "risky"
        loss_fraction = [0.01, 0.02]
        markets = ["SOL"]

        [[agents]]
        type = "lp"
        count = 1
        capital = [1000, 2000]

        [[keepers]]
        type = "order"
        poll_interval = 2
        latency = 1
        gas_price_gwei = 1.5
        min_profit_usd = 0.25
        batch_size = 10
        scan_chunk = 100
        """
    s = load_scenario(write(tmp_path, text))
    assert s.backend == "pyevm" and s.mode == "cross" and s.equity_every == 5
    assert s.venue.pool_liquidity == Decimal("1000000") and not s.venue.instant_trading
    assert s.venue.min_execution_fee == 1000
    eth = s.markets[0]
    assert eth.mmf == Decimal("0.005") and eth.funding_rate_per_hour == Decimal("0.0002999999999988")
    assert s.markets[1].initial_price == Decimal("60000.5")
    assert s.agents[0].cohort == "risky" and s.agents[0].params["markets"] == ("SOL",)
    k = s.keepers[0]
    assert k.name == "order"
    assert k.strategy.gas_price == 1_500_000_000 == int(1.5 * GWEI)
    assert k.strategy.min_profit_usd == Decimal("0.25")
    path = s.prices.path(s.blocks, s.block_time, s.seed)
    assert path.prices["ETH"][:3] == (Decimal(3000), Decimal(3001), Decimal(3002))
    assert set(path.prices["FLAT"]) == {Decimal(1)}
    assert path.prices["SOL"][0] == Decimal(140)


# -- errors -------------------------------------------------------------------------------------


def test_unknown_top_level_key(tmp_path):
    text = BASE.replace("seed = 3\n", "seed = 3\nspeed = 4\n")
    err = expect_error(tmp_path, text, "speed", 3, "unknown key")
    assert "blocks" in err.message  # lists the valid keys


def test_unknown_key_in_market(tmp_path):
    text = BASE.replace("max_leverage = 20\n", "max_leverage = 20\nleverage_max = 3\n")
    expect_error(tmp_path, text, "markets.ETH.leverage_max", line_of(text, "leverage_max"))


def test_unknown_agent_param(tmp_path):
    text = BASE.replace("leverage = [5, 20]\n", "leverage = [5, 20]\nlevrage = 3\n")
    err = expect_error(tmp_path, text, "agents[1].levrage", line_of(text, "levrage"),
                       "unknown key")
    assert "leverage" in err.message and "trade_probability" in err.message


def test_wrong_type(tmp_path):
    text = BASE.replace("blocks = 100", 'blocks = "100"')
    expect_error(tmp_path, text, "blocks", 3, "expected integer, got string")
    text = BASE.replace("count = 3", "count = 3.5")
    expect_error(tmp_path, text, "agents[1].count", line_of(text, "count = 3.5"),
                 "expected integer, got float")
    text = BASE.replace('name = "liq"', "name = 7")
    expect_error(tmp_path, text, "keepers[0].name", line_of(text, "name = 7"),
                 "expected string, got integer")
    text = BASE.replace("initial_price = 60000", 'initial_price = "60000"')
    expect_error(tmp_path, text, "markets.BTC.initial_price", line_of(text, '"60000"'),
                 "expected number")


def test_negative_leverage(tmp_path):
    text = BASE.replace("leverage = [5, 20]", "leverage = [-5, 20]")
    expect_error(tmp_path, text, "agents[1].leverage", line_of(text, "leverage = [-5"),
                 "negative")


def test_leverage_above_market_max(tmp_path):
    text = BASE.replace("leverage = [5, 20]", "leverage = [5, 40]")
    err = expect_error(tmp_path, text, "agents[1].leverage", line_of(text, "leverage = [5, 40]"))
    assert "markets.ETH.max_leverage = 20" in err.message
    # trading only BTC (max 50) is fine
    load_scenario(write(tmp_path, text.replace("leverage = [5, 40]",
                                               'leverage = [5, 40]\nmarkets = ["BTC"]')))


def test_impossible_market_values(tmp_path):
    text = BASE.replace("max_leverage = 20", "max_leverage = 0")
    # market bounds are MarketConfig's (protocol.venue.bounds); the loader places its message
    expect_error(tmp_path, text, "markets.ETH.max_leverage", line_of(text, "max_leverage = 0"),
                 "got 0")
    text = BASE.replace("max_leverage = 20", "max_leverage = 500")
    expect_error(tmp_path, text, "markets.ETH.max_leverage", line_of(text, "max_leverage"),
                 "got 500")
    text = BASE.replace("max_leverage = 20", "max_leverage = 20\ntaker_fee_bps = -1")
    expect_error(tmp_path, text, "markets.ETH.taker_fee_bps", line_of(text, "taker_fee_bps"))
    text = BASE.replace("max_leverage = 20", "max_leverage = 20\nmmf = 0.05")
    expect_error(tmp_path, text, "markets.ETH.mmf", line_of(text, "mmf"), "max_leverage")
    text = BASE.replace("initial_price = 3000\n", "")
    expect_error(tmp_path, text, "markets.ETH.initial_price", line_of(text, "[markets.ETH]"),
                 "required")


def test_non_psd_correlation(tmp_path):
    text = BASE.replace("symbols = [\"ETH\", \"BTC\"]", 'symbols = ["ETH", "BTC", "SOL"]') \
        .replace("volatilities = [0.8, 0.6]", "volatilities = [0.8, 0.6, 1.0]") \
        .replace("correlation = [[1.0, 0.5],\n               [0.5, 1.0]]",
                 "correlation = [[1.0, 0.9, -0.9],\n  [0.9, 1.0, 0.9],\n  [-0.9, 0.9, 1.0]]") \
        .replace("[markets.BTC]", "[markets.SOL]\ninitial_price = 150\n\n[markets.BTC]")
    expect_error(tmp_path, text, "prices.correlated.correlation", line_of(text, "correlation ="),
                 "positive semi-definite")


def test_missing_price_source(tmp_path):
    text = BASE.replace("[markets.BTC]", "[markets.SOL]\ninitial_price = 150\n\n[markets.BTC]")
    expect_error(tmp_path, text, "prices.SOL", line_of(text, "[markets.SOL]"), "no price source")
    text = BASE.replace("[prices.correlated]", "[prices.XRP]\nmodel = \"gbm\"\n\n[prices.correlated]")
    expect_error(tmp_path, text, "prices.XRP", line_of(text, "[prices.XRP]"), "no market")


def test_toml_syntax_error(tmp_path):
    text = BASE.replace("count = 5", "count = = 5")
    err = expect_error(tmp_path, text, "toml", line_of(text, "count = = 5"), "syntax error")
    assert "line" not in err.message  # the position is in err.line, not repeated


def test_price_model_and_shock_errors(tmp_path):
    text = BASE + '\n[prices.ETH]\nshocks = [{ type = "crash", drop_pct = 1.5, start_block = 10, over_blocks = 5 }]\n'
    expect_error(tmp_path, text, "prices.ETH.shocks[0].drop_pct", line_of(text, "shocks ="),
                 "fraction")
    text = BASE + '\n[prices.ETH]\nshocks = [{ type = "crash", drop_pct = 0.5, start_block = 500, over_blocks = 5 }]\n'
    expect_error(tmp_path, text, "prices.ETH.shocks[0].start_block", line_of(text, "shocks ="))
    text = BASE + '\n[prices.ETH]\nmodel = "gbm"\n'
    expect_error(tmp_path, text, "prices.ETH.model", line_of(text, 'model = "gbm"'),
                 "prices.correlated")
    text = BASE.replace("[prices.correlated]", '[prices.SOL]\nmodel = "gbm"\nvolatility = -1\n\n[prices.correlated]') \
        .replace("[markets.BTC]", "[markets.SOL]\ninitial_price = 150\n\n[markets.BTC]")
    expect_error(tmp_path, text, "prices.SOL.volatility", line_of(text, "volatility = -1"))


def test_keeper_errors(tmp_path):
    text = BASE + '\n[[keepers]]\ntype = "order"\nname = "liq"\n'
    expect_error(tmp_path, text, "keepers[1].name", line_of(text, 'name = "liq"', 2), "duplicate")
    text = BASE.replace('name = "liq"', 'name = "liq"\nlatency = -1')
    expect_error(tmp_path, text, "keepers[0].latency", line_of(text, "latency"))
    text = BASE.replace('type = "liquidation"', 'type = "liquidator"')
    expect_error(tmp_path, text, "keepers[0].type", line_of(text, '"liquidator"'), "one of")


def test_liquidity_tables(tmp_path):
    ok = BASE + '\n[liquidity]\nfeedback = false\n\n[liquidity.ETH]\ndepth = 2_000_000\nshape = "sqrt"\nhalf_life_blocks = 12\n'
    s = load_scenario(write(tmp_path, ok))
    assert s.feedback is False and set(s.liquidity) == {"ETH"}
    liq = s.liquidity["ETH"]
    assert (liq.depth, liq.shape, liq.half_life) == (Decimal(2_000_000), "sqrt", Decimal(12))
    assert load_scenario(write(tmp_path, BASE)).liquidity == {}
    text = ok.replace("depth = 2_000_000", "depth = -1")
    expect_error(tmp_path, text, "liquidity.ETH.depth", line_of(text, "depth = -1"), "> 0")
    text = ok.replace('shape = "sqrt"', 'shape = "cubic"')
    expect_error(tmp_path, text, "liquidity.ETH.shape", line_of(text, "cubic"), "one of")
    text = ok.replace("half_life_blocks = 12", "half_life_blocks = 0")
    expect_error(tmp_path, text, "liquidity.ETH.half_life_blocks", line_of(text, "half_life_blocks"), "> 0")
    text = ok.replace("[liquidity.ETH]", "[liquidity.SOL]")
    expect_error(tmp_path, text, "liquidity.SOL", line_of(text, "[liquidity.SOL]"), "no market 'SOL'")
    text = ok.replace("half_life_blocks = 12", "half_life_blocks = 12\nresilience = 3")
    expect_error(tmp_path, text, "liquidity.ETH.resilience", line_of(text, "resilience"))
    text = 'study = "feedback"\n' + BASE
    expect_error(tmp_path, text, "study", line_of(text, 'study = "feedback"'), "[liquidity.<SYMBOL>]")


def test_oracle_tables(tmp_path):
    ok = BASE + ('\n[oracle.ETH]\nmode = "push"\ndeviation_bps = 50\nheartbeat = 600\n'
                 'delay_blocks = 2\noutages = [[10, 20], [40, 40]]\n'
                 '\n[oracle.BTC]\nmode = "pull"\nheartbeat = 300\n')
    s = load_scenario(write(tmp_path, ok))
    eth, btc = s.oracles["ETH"], s.oracles["BTC"]
    assert (eth.mode, eth.deviation_bps, eth.heartbeat, eth.delay_blocks, eth.outages) == \
        ("push", 50, 600, 2, ((10, 20), (40, 40)))
    assert (btc.mode, btc.heartbeat) == ("pull", 300)
    text = ok.replace("heartbeat = 600", "heartbeat = 59")  # block_time = 60
    expect_error(tmp_path, text, "oracle.ETH.heartbeat", line_of(text, "heartbeat = 59"),
                 "at least one block (60 s)")
    text = ok.replace("[40, 40]", "[40, 101]")  # blocks = 100
    expect_error(tmp_path, text, "oracle.ETH.outages[1]", line_of(text, "outages"), "past the scenario's last block (100)")
    text = ok.replace("[10, 20]", "[20, 10]")
    expect_error(tmp_path, text, "oracle.ETH.outages[0]", line_of(text, "outages"), "first <= last")
    text = ok.replace("[10, 20]", "[10]")
    expect_error(tmp_path, text, "oracle.ETH.outages[0]", line_of(text, "outages"), "[first block, last block]")
    text = ok.replace('mode = "pull"\nheartbeat = 300', 'mode = "pull"')
    expect_error(tmp_path, text, "oracle.BTC.mode", line_of(text, 'mode = "pull"'), "needs a heartbeat")
    text = ok.replace("delay_blocks = 2", "delay_blocks = -2")
    expect_error(tmp_path, text, "oracle.ETH.delay_blocks", line_of(text, "delay_blocks"), ">= 0")
    text = ok.replace("[oracle.BTC]", "[oracle.SOL]")
    expect_error(tmp_path, text, "oracle.SOL", line_of(text, "[oracle.SOL]"), "no market 'SOL'")
    text = ok.replace('name = "liq"', 'name = "liq"\nprice_choice = "worst"')
    expect_error(tmp_path, text, "keepers[0].price_choice", line_of(text, "price_choice"), "one of")
    text = ok.replace('name = "liq"', 'name = "liq"\nprice_choice = "best"')
    assert load_scenario(write(tmp_path, text)).keepers[0].strategy.price_choice == "best"


def test_price_impact_keys(tmp_path):
    text = BASE.replace("max_leverage = 20", "max_leverage = 20\nimpact_factor_positive = 0.000000001\n"
                        "impact_factor_negative = 0.000000002\nimpact_exponent_positive = 1\n"
                        "max_negative_impact_bps = 40\nmax_liquidation_impact_bps = 10")
    eth = load_scenario(write(tmp_path, text)).markets[0]
    assert (eth.impact_factor_positive, eth.impact_factor_negative, eth.impact_exponent_positive,
            eth.impact_exponent_negative, eth.max_negative_impact_bps, eth.max_liquidation_impact_bps) == \
        (Decimal("0.000000001"), Decimal("0.000000002"), 1, 2, 40, 10) and eth.has_impact
    bad = text.replace("impact_exponent_positive = 1", "impact_exponent_positive = 4")
    expect_error(tmp_path, bad, "markets.ETH.impact_exponent_positive", line_of(bad, "impact_exponent_positive"), "got 4")
    bad = text.replace("max_liquidation_impact_bps = 10", "max_liquidation_impact_bps = 10001")
    expect_error(tmp_path, bad, "markets.ETH.max_liquidation_impact_bps", line_of(bad, "max_liquidation_impact_bps"))
    bad = text.replace("impact_factor_negative = 0.000000002", "impact_factor_negative = -1")
    expect_error(tmp_path, bad, "markets.ETH.impact_factor_negative", line_of(bad, "impact_factor_negative"), "got -1")
    bad = text.replace("impact_factor_negative = 0.000000002", "impact_factor_negative = 1e-31")
    expect_error(tmp_path, bad, "markets.ETH.impact_factor_negative", line_of(bad, "impact_factor_negative"),
                 "at most 30 decimals")


def test_lp_agents_need_an_order_keeper(tmp_path):
    text = BASE + '\n[[agents]]\ntype = "lp"\ncount = 1\n'
    err = expect_error(tmp_path, text, "keepers", line_of(text, "[[keepers]]"), 'type = "order"')
    assert "two-step" in err.message
    ok = text + '\n[[keepers]]\ntype = "order"\n'
    assert [k.type for k in load_scenario(write(tmp_path, ok)).keepers] == ["liquidation", "order"]


def test_agent_dataclass_validation(tmp_path):
    text = BASE.replace("count = 5", "count = 5\ntrade_probability = 2.0")
    expect_error(tmp_path, text, "agents[0].trade_probability", line_of(text, "trade_probability"))
    text = BASE.replace('type = "conservative"', 'type = "whale"')
    expect_error(tmp_path, text, "agents[0].type", line_of(text, '"whale"'), "one of")
    text = BASE.replace("count = 5", "count = 5\nfraction = [0.3, 0.1]")
    expect_error(tmp_path, text, "agents[0].fraction", line_of(text, "fraction"), "low <= high")


def test_missing_file_and_unknown_builtin(tmp_path):
    with pytest.raises(ScenarioError, match="no built-in scenario"):
        load_scenario("no-such-scenario")
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")


# -- overrides ----------------------------------------------------------------------------------


def test_overrides_apply(tmp_path):
    path = write(tmp_path, BASE)
    s = load_scenario(path, overrides={"markets.ETH.max_leverage": 25, "keepers.latency": 2,
                                       "agents.count": 7, "agents[1].leverage": [2, 3],
                                       "seed": 9, "mode": "cross"})
    assert s.markets[0].max_leverage == 25
    assert [k.strategy.latency for k in s.keepers] == [2]
    assert [p.count for p in s.agents] == [7, 7]
    assert s.agents[1].params["leverage"] == (2.0, 3.0)
    assert s.seed == 9 and s.mode == "cross"


def test_override_errors_are_validated(tmp_path):
    path = write(tmp_path, BASE)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides={"markets.ETH.max_leverage": 10})
    assert info.value.key == "agents[1].leverage"  # 20x now exceeds ETH's max
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides={"keepers.latency": -1})
    assert info.value.key == "keepers[0].latency" and info.value.line is None
    assert "override" in info.value.message


def test_apply_overrides_and_parse():
    raw = {"keepers": [{"type": "liquidation"}, {"type": "order"}], "markets": {}}
    out = apply_overrides(raw, parse_overrides(["keepers.latency=3", "markets.ETH.mmf=0.01",
                                                "keepers.1.name=x", "description=hello world"]))
    assert raw == {"keepers": [{"type": "liquidation"}, {"type": "order"}], "markets": {}}
    assert out["keepers"] == [{"type": "liquidation", "latency": 3},
                              {"type": "order", "latency": 3, "name": "x"}]
    assert out["markets"] == {"ETH": {"mmf": 0.01}}
    assert out["description"] == "hello world"
    with pytest.raises(ScenarioError):
        parse_overrides(["no-equals-sign"])


# -- every message has its line -----------------------------------------------------------------


def test_missing_keys_point_at_their_table(tmp_path):
    text = BASE.replace('type = "speculator"\n', "")
    expect_error(tmp_path, text, "agents[1].type", line_of(text, "[[agents]]", 2), "required")
    text = BASE.replace('type = "liquidation"\n', "")
    expect_error(tmp_path, text, "keepers[0].type", line_of(text, "[[keepers]]"), "required")
    text = BASE.replace("volatilities = [0.8, 0.6]\n", "")
    expect_error(tmp_path, text, "prices.correlated.volatilities",
                 line_of(text, "[prices.correlated]"), "required")
    text = "\n".join(line for line in BASE.splitlines()
                     if not line.startswith(("[markets", "initial_price", "max_leverage")))
    expect_error(tmp_path, text, "markets", 1, "at least one [markets.<SYMBOL>]")


def test_an_override_is_named_in_place_of_a_line(tmp_path):
    path = write(tmp_path, BASE)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides={"agents[1].count": "many"})
    err = info.value
    assert (err.key, err.line) == ("agents[1].count", None)
    assert str(err) == f"{path}:override: agents[1].count: expected integer, got string 'many' " \
                       "(set by override)"


def test_no_message_prints_a_none_line(tmp_path):
    bad = {  # every kind of problem, one per run
        "seed = 3": "seed = -3", "[markets.BTC]": "[markets.BTC]\nfoo = 1",
        'type = "conservative"': 'type = "mypkg:Nope"', "count = 5": "count = -5",
        'name = "liq"': 'name = "liq"\npoll_interval = 0',
    }
    for old, new in bad.items():
        with pytest.raises(ScenarioError) as info:
            load_scenario(write(tmp_path, BASE.replace(old, new)))
        assert isinstance(info.value.line, int) and ":None:" not in str(info.value), str(info.value)


def test_messages_read_as_written(tmp_path):
    text = BASE.replace("count = 5", "count = 5\nfraction = [0.3, 0.1]")
    err = expect_error(tmp_path, text, "agents[0].fraction", line_of(text, "fraction"))
    assert err.message == "need low <= high, got [0.3, 0.1]"
    text = BASE.replace("block_time = 60", "block_time = 0.5")
    err = expect_error(tmp_path, text, "block_time", line_of(text, "block_time = 0.5"))
    assert err.message == "expected integer, got float 0.5"
    text = BASE.replace("blocks = 100", "blocks = 0")
    err = expect_error(tmp_path, text, "blocks", line_of(text, "blocks = 0"))
    assert err.message == "must be >= 1, got 0"


def test_a_scenario_without_venue_table_launches_the_venue_launch_does(tmp_path):
    """The venue's defaults are declared once, in Venue.launch: a scenario that leaves
    ``[venue]`` out gets exactly them (the insurance fund included: none)."""
    assert "[venue]" not in BASE
    scenario = load_scenario(write(tmp_path, BASE, "bare.toml"))
    launch = inspect.signature(Venue.launch).parameters
    for key in ("pool_liquidity", "insurance", "instant_trading", "max_price_age",
                "market_order_timeout", "min_execution_fee"):
        assert getattr(scenario.venue, key) == launch[key].default, key
    assert scenario.venue.insurance == 0


def test_every_venue_setting_is_a_venue_key_and_reaches_the_launch(tmp_path):
    """A venue-wide setting is declared in two places, Venue.launch and VenueSpec: the
    ``[venue]`` table's keys and the engine's launch keywords follow from them."""
    launch = inspect.signature(Venue.launch).parameters
    declared = [f.name for f in dataclasses.fields(VenueSpec) if f.name in launch]
    assert set(declared) <= set(models.Venue.model_fields)
    text = BASE + "\n[venue]\npool_liquidity = 123456\nmarket_order_timeout = 77\nmin_execution_fee = 9\n"
    keywords = load_scenario(write(tmp_path, text)).venue.launch_keywords()
    assert set(keywords) == set(declared) - set(PNL_FACTORS)
    assert (keywords["pool_liquidity"], keywords["market_order_timeout"], keywords["min_execution_fee"]) \
        == (Decimal(123456), 77, 9)
