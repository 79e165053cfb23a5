"""Venue presets (issue "Real markets in", §3): ``MarketConfig.preset("gmx-v2" | "hyperliquid",
"ETH" | "BTC")``, ``venue.preset`` in a scenario and ``perpsim run --preset``.

Each preset's values are checked against their sources, copied here as data: the text of
gmx-synthetics' ``config/markets.ts`` (and ``config/tokens.ts``, ``LiquidationUtils.sol``) at the
cited commit, the rows of Hyperliquid's documentation pages. This file converts that text itself
(GMX's helpers re-implemented on integers: ``percentageToFloat``, ``exponentToFloat``,
``decimalToFloat``, ``.div`` truncating) and compares with what ``MarketConfig.preset`` builds, so
a value changed in the preset, or a source cited differently, fails here.
"""

from __future__ import annotations

import json
import re
import tomllib
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from protocol.cli import main as cli
from protocol.exceptions import PerpsimError
from protocol.margin.human import maintenance_margin
from protocol.sim.loader import ScenarioError, load_scenario, parse_scenario
from protocol.sim.provenance import scenario_toml
from protocol.venue import MarketConfig
from protocol.venue.presets import PRESETS, PresetConflict, UnknownPreset, preset

COMMIT = "a5c0c8835182cbd84e47dca04b971239311d2f1d"
REPO = "github.com/gmx-io/gmx-synthetics/blob"
MARKETS_TS = f"{REPO}/{COMMIT}/config/markets.ts"
TOKENS_TS = f"{REPO}/{COMMIT}/config/tokens.ts"
LIQUIDATION_SOL = f"{REPO}/{COMMIT}/contracts/liquidation/LiquidationUtils.sol"
WAD = 10**18
SECONDS = {"SECONDS_PER_YEAR": 365 * 24 * 3600, "SECONDS_PER_HOUR": 3600}

# ------------------------------------------------------------------------------------------------
# GMX v2: config/markets.ts at COMMIT, network arbitrum, as written there. The two markets spread
# baseMarketConfig, fundingRateConfig_Low and borrowingRateConfig_LowerMax_WithHigherOptimal and
# set their own keys over them.

BASE = {  # baseMarketConfig
    "positionFeeFactorForNegativeImpact": 'percentageToFloat("0.06%")',
    "liquidationFeeFactor": 'percentageToFloat("0.20%")',
    "minCollateralUsd": "decimalToFloat(1, 0)",
    "fundingFactor": 'exponentToFloat("2e-8")',
    "fundingExponentFactor": "decimalToFloat(1)",
    "positivePositionImpactExponentFactor": 'exponentToFloat("1e0")',
    "negativePositionImpactExponentFactor": 'exponentToFloat("2e0")',
    "positiveMaxPositionImpactFactor": 'percentageToFloat("0.4%")',
    "negativeMaxPositionImpactFactor": 'percentageToFloat("0.5%")',
    "maxPositionImpactFactorForLiquidations": "bigNumberify(0)",
    "maxPnlFactorForTraders": 'percentageToFloat("90%")',
    "maxPnlFactorForAdl": 'percentageToFloat("85%")',
    "minPnlFactorAfterAdl": 'percentageToFloat("77%")',
}
FUNDING_LOW = {"maxFundingFactorPerSecond": 'percentageToFloat("75%").div(SECONDS_PER_YEAR)'}
BORROWING = {"optimalUsageFactor": 'percentageToFloat("85%")',
             "baseBorrowingFactor": 'percentageToFloat("45%").div(SECONDS_PER_YEAR)'}
OWN = {  # the markets' own keys
    "ETH": ("ETH/USD [WETH-USDC]", {
        "reserveFactor": 'percentageToFloat("275%")',
        "negativePositionImpactFactor": 'exponentToFloat("9e-11")',
        "positivePositionImpactFactor": 'exponentToFloat("3e-11")',
        "minCollateralFactor": 'percentageToFloat("0.5%")',
        "minCollateralFactorForLiquidation": 'percentageToFloat("0.5%")',
        "maxOpenInterest": "decimalToFloat(110_000_000)"}),
    "BTC": ("BTC/USD [WBTC.e-USDC]", {
        "reserveFactor": 'percentageToFloat("350%")',
        "negativePositionImpactFactor": 'exponentToFloat("9e-11")',
        "positivePositionImpactFactor": 'exponentToFloat("3e-11")',
        "minCollateralFactor": 'percentageToFloat("0.5%")',
        "minCollateralFactorForLiquidation": 'percentageToFloat("0.5%")',
        "maxOpenInterest": "decimalToFloat(95_000_000)"}),
}
TOKENS = {"ETH": ("WETH", "18"), "BTC": ("BTC", "8")}  # config/tokens.ts, arbitrum: decimals
LIQUIDATION_ORDER = "position.sizeInUsd(), // sizeDeltaUsd"  # createLiquidationOrder's size


def gmx(text: str) -> int:
    """A value of markets.ts as GMX computes it: an integer with 30 decimals."""
    text = re.sub(r"(?<=\d)_(?=\d)", "", text)  # 110_000_000
    divisor = 1
    for name in re.findall(r"\.div\((\w+)\)", text):
        divisor *= SECONDS[name]  # one .div at a time, truncating: the same for whole divisors
    head = text.split(".div(")[0]
    if m := re.fullmatch(r'percentageToFloat\("([\d.]+)%"\)', head):
        value = _units(m.group(1), 28)
    elif m := re.fullmatch(r'exponentToFloat\("([\d.]+)e(-?\d+)"\)', head):
        value = _units(m.group(1), 30 + int(m.group(2)))
    elif m := re.fullmatch(r"decimalToFloat\((\d+)(?:, (\d+))?\)", head):
        value = int(m.group(1)) * 10**(30 - int(m.group(2) or 0))
    elif m := re.fullmatch(r"bigNumberify\((\d+)\)", head):
        value = int(m.group(1))
    else:
        raise AssertionError(f"no conversion for {text!r}")
    return value // divisor


def _units(decimal: str, places: int) -> int:
    """ethers' parseUnits: the decimal text times 10^places, which must be whole."""
    whole, _, fraction = decimal.partition(".")
    assert len(fraction) <= places
    return int(whole + fraction.ljust(places, "0"))


def _nearest(numerator: int, denominator: int) -> int:
    """The nearest whole number, half up."""
    return (2 * numerator + denominator) // (2 * denominator)


def _wad_rate(rate: Decimal, seconds: int) -> Fraction:
    """A rate per hour or year as WAD per second, exactly."""
    return Fraction(rate) * WAD / seconds


def gmx_expected(symbol: str) -> dict[str, tuple[list[tuple[str, str, str]], Callable[[MarketConfig], bool]]]:
    """field -> (its sources as cited: (document, key, text), the check of the built market)."""
    market, own = OWN[symbol]

    def mine(key: str) -> tuple[str, str, str]:
        return (MARKETS_TS, f"arbitrum, {market}: {key}", own[key])

    def base(key: str, table: dict[str, str] = BASE, prefix: str = "") -> tuple[str, str, str]:
        return (MARKETS_TS, prefix + key, table[key])

    def funding(key: str) -> tuple[str, str, str]:
        return base(key, FUNDING_LOW, "fundingRateConfig_Low.")

    def borrowing(key: str) -> tuple[str, str, str]:
        return base(key, BORROWING, "borrowingRateConfig_LowerMax_WithHigherOptimal.")

    min_collateral = gmx(own["minCollateralFactor"])
    liquidation = gmx(own["minCollateralFactorForLiquidation"])
    leverage = 10**30 // min_collateral
    assert leverage * min_collateral == 10**30  # 0.5% is exactly 200x
    liquidation_wad = liquidation // 10**12
    max_funding = gmx(FUNDING_LOW["maxFundingFactorPerSecond"])
    at_optimal = gmx(BORROWING["optimalUsageFactor"]) * gmx(BORROWING["baseBorrowingFactor"]) // 10**30
    hour, year = SECONDS["SECONDS_PER_HOUR"], SECONDS["SECONDS_PER_YEAR"]

    def bps(text: str) -> int:
        value = gmx(text) * 10_000
        assert value % 10**30 == 0
        return value // 10**30

    def mmf(c: MarketConfig) -> bool:
        # GMX's liquidation factor, refused by perpsim at 200x (mmf x max_leverage < 1): the
        # largest WAD value it accepts, one unit below GMX's
        got = Fraction(c.mmf) * WAD
        return (got == liquidation_wad - 1 and got * c.max_leverage < WAD
                and (got + 1) * c.max_leverage == WAD)

    return {
        "max_leverage": ([mine("minCollateralFactor")], lambda c: c.max_leverage == leverage),
        "mmf": ([mine("minCollateralFactorForLiquidation")], mmf),
        "open_buffer_bps": ([mine("minCollateralFactor"), mine("minCollateralFactorForLiquidation")],
                            # GMX's margin between the two is 0; perpsim's least buffer is 1 bps
                            lambda c: min_collateral - liquidation == 0 and c.open_buffer_bps == 1),
        "taker_fee_bps": ([base("positionFeeFactorForNegativeImpact")],
                          lambda c: c.taker_fee_bps == bps(BASE["positionFeeFactorForNegativeImpact"])),
        "liquidation_fee_bps": ([base("liquidationFeeFactor")],
                                lambda c: c.liquidation_fee_bps == bps(BASE["liquidationFeeFactor"])),
        "reserve_factor_bps": ([mine("reserveFactor")],
                               lambda c: c.reserve_factor_bps == bps(own["reserveFactor"])),
        "max_long_oi_usd": ([mine("maxOpenInterest")],
                            lambda c: c.max_long_oi_usd * 10**30 == gmx(own["maxOpenInterest"])),
        "max_short_oi_usd": ([mine("maxOpenInterest")],
                             lambda c: c.max_short_oi_usd * 10**30 == gmx(own["maxOpenInterest"])),
        "min_collateral_usd": ([base("minCollateralUsd")],
                               lambda c: c.min_collateral_usd * 10**30 == gmx(BASE["minCollateralUsd"])),
        "funding_rate_per_hour": (
            [base("fundingFactor"), base("fundingExponentFactor")],
            lambda c: (gmx(BASE["fundingExponentFactor"]) == 10**30  # linear, as perpsim's
                       and _wad_rate(c.funding_rate_per_hour, hour) * 10**12 == gmx(BASE["fundingFactor"]))),
        "max_funding_rate_per_hour": (
            [funding("maxFundingFactorPerSecond")],
            lambda c: _wad_rate(c.max_funding_rate_per_hour, hour) == _nearest(max_funding, 10**12)),
        "borrow_rate_per_year": (
            [borrowing("optimalUsageFactor"), borrowing("baseBorrowingFactor")],
            lambda c: _wad_rate(c.borrow_rate_per_year, year) == _nearest(at_optimal, 10**12)),
        "partial_threshold_usd": ([(LIQUIDATION_SOL, "createLiquidationOrder", LIQUIDATION_ORDER)],
                                  lambda c: c.partial_threshold_usd == 0),  # the whole size
        "impact_factor_positive": (
            [mine("positivePositionImpactFactor")],
            lambda c: c.impact_factor_positive.scaleb(30) == gmx(own["positivePositionImpactFactor"])),
        "impact_factor_negative": (
            [mine("negativePositionImpactFactor")],
            lambda c: c.impact_factor_negative.scaleb(30) == gmx(own["negativePositionImpactFactor"])),
        "impact_exponent_positive": (
            [base("positivePositionImpactExponentFactor")],
            lambda c: c.impact_exponent_positive.scaleb(30) == gmx(BASE["positivePositionImpactExponentFactor"])),
        "impact_exponent_negative": (
            [base("negativePositionImpactExponentFactor")],
            lambda c: c.impact_exponent_negative.scaleb(30) == gmx(BASE["negativePositionImpactExponentFactor"])),
        "max_positive_impact_bps": (
            [base("positiveMaxPositionImpactFactor")],
            lambda c: c.max_positive_impact_bps == bps(BASE["positiveMaxPositionImpactFactor"])),
        "max_negative_impact_bps": (
            [base("negativeMaxPositionImpactFactor")],
            lambda c: c.max_negative_impact_bps == bps(BASE["negativeMaxPositionImpactFactor"])),
        "max_liquidation_impact_bps": (
            [base("maxPositionImpactFactorForLiquidations")],
            lambda c: c.max_liquidation_impact_bps == bps(BASE["maxPositionImpactFactorForLiquidations"])),
        "impact_index_decimals": (
            [(TOKENS_TS, f"arbitrum, {TOKENS[symbol][0]}: decimals", TOKENS[symbol][1])],
            lambda c: c.impact_index_decimals == int(TOKENS[symbol][1])),
    }


def _cited(settings: Any) -> dict[str, list[tuple[str, str, str]]]:
    return {s.field: [(x.document, x.key, x.text) for x in s.sources] for s in settings}


@pytest.mark.parametrize("symbol", ["ETH", "BTC"])
def test_gmx_v2_values_are_markets_ts_values(symbol):
    expected = gmx_expected(symbol)
    gmx_v2 = preset("gmx-v2")
    # every value the preset sets is checked here, and cited as this file cites it
    assert _cited(gmx_v2.settings(symbol)) == {f: cited for f, (cited, _) in expected.items()}
    market = MarketConfig.preset("gmx-v2", symbol, initial_price=Decimal(1000))
    failed = [field for field, (_, check) in expected.items() if not check(market)]
    assert failed == []
    assert market.symbol == symbol and market.initial_price == 1000
    # the pnl factors are venue-wide in perpsim and equal in both markets on GMX
    venue = {"max_pnl_factor_traders": "maxPnlFactorForTraders",
             "max_pnl_factor_adl": "maxPnlFactorForAdl", "min_pnl_factor_after_adl": "minPnlFactorAfterAdl"}
    assert _cited(gmx_v2.venue_settings) == {f: [(MARKETS_TS, key, BASE[key])] for f, key in venue.items()}
    assert {f: v * 10**30 for f, v in gmx_v2.venue_values().items()} == {
        f: gmx(BASE[key]) for f, key in venue.items()}


def test_gmx_v2_deviations_are_recorded_and_the_rest_is_exact():
    """A value that is not GMX's says by how much; the others say nothing."""
    settings = {s.field: s for s in preset("gmx-v2").settings("ETH")}
    deviating = {f for f, s in settings.items() if s.deviation}
    assert deviating == {"mmf", "open_buffer_bps", "taker_fee_bps", "funding_rate_per_hour",
                         "max_funding_rate_per_hour", "borrow_rate_per_year"}
    assert "23,782,343,987.823439878234 WAD per second rounded to 23,782,343,988" in \
        settings["max_funding_rate_per_hour"].deviation
    assert "12,128,995,433.789954337899 WAD per second rounded to 12,128,995,434" in \
        settings["borrow_rate_per_year"].deviation
    assert settings["mmf"].deviation.startswith("0.000000000000000001 below GMX's 0.5%")
    assert all(s.rule for s in settings.values())


# ------------------------------------------------------------------------------------------------
# Hyperliquid: its documentation pages, as they read.

HL = "https://hyperliquid.gitbook.io/hyperliquid-docs/trading"
MARGIN_TIERS = {  # "Margin tiers", section "Mainnet Margin Tiers": notional (USDC), max leverage
    "ETH": [("0-100M", "25"), (">100M", "15")],
    "BTC": [("0-150M", "40"), (">150M", "20")],
}
MAINTENANCE = ("Maintenance margin fraction", "Half of maximum initial margin fraction")
PARTIAL = "https://tginsight.xyz/channel/hyperliquid_announcements/post/307"
PARTIAL_ROWS = {"partial_threshold_usd": "liquidatable positions larger than 100k USDC",
                "partial_liquidation_bps": "only 20% of the position",
                "liquidation_cooldown": "a cooldown period of 30 seconds"}


def _usdc(text: str) -> int:
    """"100M" -> 100,000,000; "100k" -> 100,000."""
    number, unit = re.fullmatch(r"([\d.]+)([kM]?)", text).groups()
    return int(Fraction(number) * {"": 1, "k": 10**3, "M": 10**6}[unit])


def _lower(band: str) -> int:
    return _usdc(band[1:]) if band.startswith(">") else _usdc(band.split("-")[0])


@pytest.mark.parametrize("symbol", ["ETH", "BTC"])
def test_hyperliquid_values_are_the_docs_values(symbol):
    rows = MARGIN_TIERS[symbol]
    cited = [(f"{HL}/margin-tiers", f"Mainnet Margin Tiers, {symbol}: {band}", lev) for band, lev in rows]
    assert _cited(preset("hyperliquid").settings(symbol)) == {
        "max_leverage": cited[:1], "tiers": cited,
        "mmf": [(f"{HL}/contract-specifications", *MAINTENANCE)],
        **{field: [(PARTIAL, "partial liquidations", text)] for field, text in PARTIAL_ROWS.items()}}
    market = MarketConfig.preset("hyperliquid", symbol)
    tiers = [(_lower(band), int(lev)) for band, lev in rows]
    assert market.tiers == tuple((Decimal(b), lev) for b, lev in tiers)
    assert market.max_leverage == tiers[0][1]
    # "Half of maximum initial margin fraction": 1 / (2 x max leverage)
    assert Fraction(market.maintenance_fraction) == Fraction(1, 2 * tiers[0][1])
    assert market.partial_threshold_usd == _usdc(re.search(r"than ([\d.]+k) USDC",
                                                           PARTIAL_ROWS["partial_threshold_usd"]).group(1))
    assert market.partial_liquidation_bps == int(re.search(r"(\d+)%", PARTIAL_ROWS["partial_liquidation_bps"]).group(1)) * 100
    assert market.liquidation_cooldown == int(re.search(r"(\d+) seconds", PARTIAL_ROWS["liquidation_cooldown"]).group(1))
    assert preset("hyperliquid").venue_values() == {}


@pytest.mark.parametrize("symbol", ["ETH", "BTC"])
def test_hyperliquid_tiers_give_the_docs_maintenance_formula(symbol):
    """"Margin tiers": maintenance = notional x rate(tier) - deduction(tier), the rate half the
    initial margin at the tier's max leverage, the deduction keeping it continuous."""
    tiers = [(_lower(band), int(lev)) for band, lev in MARGIN_TIERS[symbol]]
    market = MarketConfig.preset("hyperliquid", symbol)

    def docs(notional: int) -> Fraction:
        deduction, previous, rate = Fraction(0), None, Fraction(0)
        for lower, leverage in tiers:
            if notional < lower:
                break
            rate = Fraction(1, 2 * leverage)
            if previous is not None:
                deduction += lower * (rate - previous)
            previous = rate
        return notional * rate - deduction

    for notional in (10_000, tiers[1][0] - 1, tiers[1][0], 2 * tiers[1][0], 10**9):
        got = Fraction(maintenance_margin(notional, market.tiers))
        assert abs(got - docs(notional)) <= Fraction(notional, 10**24), notional


# ------------------------------------------------------------------------------------------------
# names, errors and precedence


def test_unknown_presets_and_symbols_are_named_errors_listing_what_exists():
    with pytest.raises(UnknownPreset) as info:
        MarketConfig.preset("gmx", "ETH")
    assert isinstance(info.value, PerpsimError) and isinstance(info.value, ValueError)
    assert str(info.value) == "no preset 'gmx'; presets: gmx-v2, hyperliquid"
    assert (info.value.preset, info.value.symbol, info.value.available) == ("gmx", None, tuple(PRESETS))
    with pytest.raises(UnknownPreset, match=r"^preset hyperliquid has no market 'SOL'; markets: BTC, ETH$"):
        MarketConfig.preset("hyperliquid", "SOL")
    with pytest.raises(UnknownPreset, match="preset gmx-v2 has no market 'DOGE'"):
        MarketConfig.gmx_v2("DOGE")


def test_overrides_outrank_the_preset_and_a_margin_rule_moves_as_one():
    eth = MarketConfig.preset("gmx-v2", "ETH", taker_fee_bps=3, initial_price=Decimal(3000))
    assert (eth.taker_fee_bps, eth.reserve_factor_bps, eth.initial_price) == (3, 27_500, 3000)
    assert MarketConfig.gmx_v2("BTC") == MarketConfig.preset("gmx-v2", "BTC")
    # tiers given: their first leverage is the max leverage, the preset's 25 goes with them
    own = MarketConfig.preset("hyperliquid", "ETH", tiers=((0, 10), (1_000_000, 5)))
    assert (own.max_leverage, own.tiers[1]) == (10, (Decimal(1_000_000), 5))
    # a max leverage the preset's tiers do not start at: refused, naming the field
    with pytest.raises(PresetConflict, match=r"^max_leverage: 10 does not fit preset hyperliquid's "
                                             r"tiers for ETH, which start at \(0, 25\)"):
        MarketConfig.preset("hyperliquid", "ETH", max_leverage=10)
    assert MarketConfig.preset("hyperliquid", "ETH", max_leverage=10,
                               tiers=((0, 10),)).max_leverage == 10
    # the preset's values are still MarketConfig's to check
    with pytest.raises(ValueError, match="liquidation_fee_bps: must be in"):
        MarketConfig.preset("gmx-v2", "ETH", liquidation_fee_bps=600)


SCENARIO = """\
name = "preset"
blocks = 10
[venue]
preset = "gmx-v2"
max_pnl_factor_traders = 0.8
[markets.ETH]
initial_price = 3000
taker_fee_bps = 3
[markets.BTC]
initial_price = 60000
[prices.ETH]
model = "constant"
[prices.BTC]
model = "constant"
[[agents]]
type = "noise"
count = 1
"""


def test_a_scenario_states_what_outranks_its_preset():
    sc = parse_scenario(SCENARIO)
    eth, btc = sc.markets
    assert eth == MarketConfig.preset("gmx-v2", "ETH", initial_price=Decimal(3000), taker_fee_bps=3)
    assert btc == MarketConfig.preset("gmx-v2", "BTC", initial_price=Decimal(60000))
    assert sc.venue.preset == "gmx-v2"
    # the preset's pnl factors fill [venue] under its own keys
    assert (sc.venue.max_pnl_factor_traders, sc.venue.max_pnl_factor_adl,
            sc.venue.min_pnl_factor_after_adl) == (Decimal("0.8"), Decimal("0.85"), Decimal("0.77"))


def test_the_command_lines_preset_outranks_the_file_and_set_outranks_it():
    file = load_scenario("default")
    over = load_scenario("default", {"markets.ETH.taker_fee_bps": 3, "preset": "hyperliquid"})
    eth, btc = over.markets
    # default.toml says 50x, 5 bps, 100 bps: the preset's values replace them, --set's 3 bps wins
    assert (eth.max_leverage, eth.tiers[-1], eth.taker_fee_bps) == (25, (Decimal(100_000_000), 15), 3)
    assert btc == MarketConfig.preset("hyperliquid", "BTC", initial_price=Decimal(60000),
                                      taker_fee_bps=5, liquidation_fee_bps=100,
                                      keeper_share_bps=5000,
                                      funding_rate_per_hour=Decimal("0.0001000000000008"))
    assert file.markets[1].max_leverage == 50 and file.venue.preset is None
    # the run's scenario.toml: the file without what the preset set, and the preset named
    assert over.raw["venue"]["preset"] == "hyperliquid"
    assert "max_leverage" not in over.raw["markets"]["ETH"]
    text = scenario_toml(over.raw)
    assert text is not None and tomllib.loads(text)["venue"]["preset"] == "hyperliquid"
    assert parse_scenario(text).markets == over.markets


@pytest.mark.parametrize("change,where,message", [
    ({"venue.preset": "gmx"}, "venue.preset", "no preset 'gmx'; presets: gmx-v2, hyperliquid"),
    ({"venue.preset": "gmx-v2", "markets.SOL.initial_price": 1},
     "markets.SOL", "preset gmx-v2 has no market 'SOL'; markets: BTC, ETH"),
    ({"venue.preset": "hyperliquid"}, "markets.ETH.max_leverage",
     "50 does not fit preset hyperliquid's tiers for ETH, which start at (0, 25)"),
])
def test_a_bad_preset_key_is_reported_at_its_key(change, where, message):
    with pytest.raises(ScenarioError) as info:
        load_scenario("default", change)
    assert info.value.key == where and message in str(info.value)


def test_an_unknown_command_line_preset_is_an_override_error():
    with pytest.raises(ScenarioError, match=r"<override>: preset: no preset 'x'; presets: gmx-v2, hyperliquid"):
        load_scenario("default", {"preset": "x"})


def test_perpsim_run_preset_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["run", "default", "--preset", "gmx"])
    assert result.exit_code == 2 and "'gmx' is not one of 'gmx-v2', 'hyperliquid'" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text(SCENARIO.replace('preset = "gmx-v2"', 'preset = "gmx-v3"'))
    result = CliRunner().invoke(cli, ["run", str(bad)])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0] == (f"Error: {bad}:4: venue.preset: no preset 'gmx-v3'; presets: gmx-v2, "
                        "hyperliquid")


def test_perpsim_run_default_with_the_gmx_v2_preset(tmp_path):
    """End to end on revm: three blocks of two agents of each kind on GMX v2's markets, the
    preset recorded in run.json and in the scenario as run."""
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", "default", "--preset", "gmx-v2", "--blocks", "3",
                                      "--set", "agents.count=2", "--backend", "revm",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    info = json.loads((out / "run.json").read_text())
    assert info["preset"] == "gmx-v2" and info["overrides"]["preset"] == "gmx-v2"
    assert (info["backend"], info["markets"]) == ("revm", ["ETH", "BTC"])
    ran = load_scenario(out / "scenario.toml")
    assert ran.venue.preset == "gmx-v2"
    assert ran.markets == (MarketConfig.preset("gmx-v2", "ETH", initial_price=Decimal(3000),
                                               keeper_share_bps=5000),
                           MarketConfig.preset("gmx-v2", "BTC", initial_price=Decimal(60000),
                                               keeper_share_bps=5000))
    summary = json.loads((out / "summary.json").read_text())
    assert Decimal(summary["bad_debt"]) == 0 and summary["blocks"] == 3
