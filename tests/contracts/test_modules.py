"""Rule modules: per-market, swappable by the admin with an event, checked on the way in; the
stock rules called as deployed modules give exactly what the inline stock rules give; a module's
answer the venue cannot apply is refused by name; users' modules are checked before deploying."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from venue_fixtures import funded

from protocol import Venue, errors
from protocol.cli import main as cli
from protocol.margin.types import STOCK_MODULES, MarginMode, ModuleKind
from protocol.venue.modules import ModuleError

ROOT = Path(__file__).resolve().parents[2]
ZERO = "0x" + "00" * 20


def session(venue, start: int) -> list:
    """From time ``start``: trades, a funding hour, a partial and a whole isolated liquidation,
    a cross liquidation and a close; returns every event and the state each leaves (the borrow
    and funding indices as they moved from ``start``, since the markets were configured at
    different times)."""
    venue.chain.advance_time(start - venue.chain.timestamp)
    for market in range(len(venue.markets)):
        venue.clearinghouse.update_funding(market, sender=venue.admin).raise_for_status()
    base = {m: venue.clearinghouse.market_state(m) for m in range(len(venue.markets))}
    big = funded(venue, "big", 400_000, deposit=300_000)
    small = funded(venue, "small", 5_000, deposit=4_000)
    cross = funded(venue, "cross", 2_000, deposit=160)
    other = funded(venue, "other", 50_000, deposit=40_000)
    receipts = [
        big.open("ETH", size=60, leverage=20, mode="isolated", margin=9_400),
        small.open("ETH", size=1, leverage=40, mode="isolated", margin=80),
        cross.open("ETH", size=1, leverage=20, mode="cross"),
        other.open("ETH", size=-20, leverage=5, mode="cross"),
        other.open("BTC", size=0.2, leverage=5, mode="isolated", margin=2_500),
    ]
    venue.advance_time(3600)
    venue.set_prices({"ETH": 2_868, "BTC": 60_000})  # big: a slice; small, cross: whole
    keeper = venue.keeper("k")
    receipts += [keeper.liquidate_batch([(big, "ETH"), (small, "ETH"), (cross, None)]),
                 other.close("BTC"), other.close("ETH")]
    events = []
    for e in (e for r in receipts for e in r.events):
        args = dict(e.args)
        if e.name == "FundingUpdated":
            args["borrowIndex"] -= base[args["market"]][2]
        events.append((e.name, sorted(args.items())))
    state = [venue.account(t).cross_balance for t in (big, small, cross, other, keeper)]
    return events + [("state", state), ("pool", venue.clearinghouse.pool_value())]


@pytest.fixture(scope="module")
def inline_and_deployed():
    from dataclasses import replace

    from venue_fixtures import BTC, ETH

    markets = [replace(ETH, partial_threshold_usd=Decimal(100_000)), BTC]
    inline = Venue.launch(backend="revm", markets=markets)
    deployed = Venue.launch(backend="revm", markets=markets, modules=STOCK_MODULES)
    return inline, deployed


def test_stock_modules_deployed_give_what_the_inline_rules_give(inline_and_deployed):
    inline, deployed = inline_and_deployed
    assert set(deployed.deployment.modules) == set(STOCK_MODULES)
    for market in range(len(deployed.markets)):
        assert list(deployed.clearinghouse.market_modules(market)) == [
            deployed.deployment.modules[k].lower() for k in ("rates", "margin", "liquidation",
                                                             "pricing", "adl")]
        assert set(inline.clearinghouse.market_modules(market)) == {ZERO}
    start = max(inline.chain.timestamp, deployed.chain.timestamp) + 60
    a, b = session(inline, start), session(deployed, start)
    assert a == b
    names = [name for name, _ in a]
    assert "PositionLiquidated" in names and "AccountLiquidated" in names
    partial = [dict(args) for name, args in a if name == "PositionLiquidated"][0]
    assert partial["sizeClosed"] == -12 * 10**18  # a 20% slice of the 60 ETH long


def test_admin_sets_a_markets_module_with_an_event(venue):
    ch, admin = venue.clearinghouse, venue.admin
    module = venue.chain.deploy("GenerousLiquidation", sender=admin)
    receipt = ch.set_market_module(0, ModuleKind.LIQUIDATION, module.address, sender=admin)
    event = receipt.raise_for_status().events_named("MarketModuleSet")[0]
    assert (event["market"], event["kind"], event["module"].lower()) == (
        0, ModuleKind.LIQUIDATION, module.address.lower())
    assert ch.market_modules(0)[2] == module.address.lower()
    assert ch.market_modules(1)[2] == ZERO  # per market
    # The module's effect: a 90% keeper share instead of the configured one.
    alice = funded(venue, "alice", 5_000, deposit=4_000)
    alice.open("ETH", size=1, leverage=40, mode="isolated", margin=80)
    venue.set_price("ETH", 2_930)
    liq = venue.keeper("k").liquidate(alice, "ETH").events_named("PositionLiquidated")[0]
    assert liq["penalty"] > 0 and liq["keeperReward"] == liq["penalty"] * 9_000 // 10_000
    # Back to the stock rule.
    ch.set_market_module(0, ModuleKind.LIQUIDATION, ZERO, sender=admin).raise_for_status()
    assert ch.market_modules(0)[2] == ZERO


@pytest.mark.parametrize("kind, artifact", [(ModuleKind.RATES, "StockMargin"),
                                            (ModuleKind.PRICING, "PriceOracle")])
def test_a_contract_without_the_kinds_interface_is_refused(venue, kind, artifact):
    ch, admin = venue.clearinghouse, venue.admin
    wrong = venue.oracle.address if artifact == "PriceOracle" else \
        venue.chain.deploy(artifact, sender=admin).address
    receipt = ch.set_market_module(0, kind, wrong, sender=admin)
    assert receipt.error.error == "ModuleInterfaceMissing"
    assert receipt.error.args == (kind, wrong.lower())
    eoa = venue.chain.new_account()
    assert ch.set_market_module(0, kind, eoa, sender=admin).error.error == \
        "ModuleInterfaceMissing"


def test_a_module_answer_the_venue_cannot_apply_is_refused(venue):
    ch, admin = venue.clearinghouse, venue.admin
    greedy = venue.chain.deploy("GreedyLiquidation", sender=admin)
    zero = venue.chain.deploy("ZeroPricing", sender=admin)
    ch.set_market_module(0, ModuleKind.LIQUIDATION, greedy.address, sender=admin).raise_for_status()
    ch.set_market_module(1, ModuleKind.PRICING, zero.address, sender=admin).raise_for_status()
    alice = funded(venue, "alice", 10_000, deposit=8_000)
    alice.open("ETH", size=1, leverage=40, mode="isolated", margin=80)
    venue.set_price("ETH", 2_930)
    with pytest.raises(errors.ModuleResultOutOfBounds) as info:
        venue.keeper("k").liquidate(alice, "ETH")
    assert info.value.args[0] == ModuleKind.LIQUIDATION
    with pytest.raises(errors.ModuleResultOutOfBounds) as info:
        alice.open("BTC", size=0.1, leverage=5, mode="cross")
    assert info.value.args == (ModuleKind.PRICING, 0)


def test_users_modules_are_checked_before_anything_is_deployed(tmp_path):
    example = ROOT / "examples" / "custom_module"
    with pytest.raises(ModuleError, match="unknown module kind 'fees'"):
        Venue.launch(backend="revm", modules={"fees": "StockRates"})
    with pytest.raises(ModuleError, match="no contract 'Nope'"):
        Venue.launch(backend="revm", contracts=example, modules={"rates": "Nope"})
    with pytest.raises(ModuleError, match=r"DeadBandRates does not implement IMarginModule.*"
                                          r"requirements\(uint256,uint256,uint256,uint256\)"):
        Venue.launch(backend="revm", contracts=example, modules={"margin": "DeadBandRates"})
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "Broken.sol").write_text('pragma solidity 0.8.30; import {StockRates} from '
                                       '"contracts/modules/StockRates.sol";\n'
                                       'contract Broken is StockRates {\n  uint x = ;\n}\n')
    with pytest.raises(ModuleError) as info:
        Venue.launch(backend="revm", contracts=broken, modules={"rates": "Broken"})
    assert re.match(rf"{re.escape(str(broken))}/Broken.sol:3:\d+: error", str(info.value))
    assert "\n" not in str(info.value)


def test_cli_runs_a_scenario_with_a_users_module_and_refuses_a_bad_one():
    example = str(ROOT / "examples" / "custom_module")
    runner = CliRunner()
    ok = runner.invoke(cli, ["run", "default", "--blocks", "3", "--contracts", example,
                             "--set", "venue.modules.rates=DeadBandRates", "--out", "/tmp/perpsim-module-run"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(cli, ["run", "default", "--blocks", "3", "--contracts", example,
                              "--set", "venue.modules.rates=Nope"])
    assert bad.exit_code != 0
    message = bad.output.strip().splitlines()
    assert len(message) == 1 and "no contract 'Nope'" in message[0] and "Traceback" not in bad.output


def test_enums_mirror_the_solidity_types():
    text = (ROOT / "contracts" / "types" / "MarginMode.sol").read_text()
    for enum in (MarginMode, ModuleKind):
        body = re.search(rf"enum {enum.__name__} \{{([^}}]*)\}}", text).group(1)
        members = [m.strip().upper() for m in body.split(",") if m.strip()]
        assert members == [e.name for e in enum]


def test_a_plan_deploys_and_attach_drives_it():
    from venue_fixtures import ETH

    from protocol.chain import connect
    from protocol.deploy import Ref, deploy, venue_plan

    plan = venue_plan([ETH], modules={"margin": "StockMargin"})
    steps = plan.names()
    assert steps.index("LiquidationLogic") < steps.index("clearinghouse")  # libraries first
    assert Ref("clearinghouse") in next(s for s in plan.steps if s.name == "pool").args
    chain = connect("revm")
    deployment = deploy(chain, plan)
    venue = Venue.attach(chain, deployment)
    assert set(deployment.contracts) >= {"usdc", "oracle", "clearinghouse", "pool", "order_book",
                                         "reader", "feed:ETH", "module:margin", *steps}
    assert venue.clearinghouse.market_modules(0)[1] == \
        deployment.modules["margin"].lower()
    assert venue.clearinghouse.market_symbol(0).rstrip(b"\0") == b"ETH"
    venue.set_price("ETH", 3000)
    venue.trader("lp", usdc=1_000_000).provide_liquidity(1_000_000)  # a bare deployment: no pool yet
    alice = funded(venue, "alice", 10_000, deposit=5_000)
    assert alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400).status
    with pytest.raises(ValueError, match="unknown module kind 'fee'"):
        venue_plan([ETH], modules={"fee": "StockRates"})


def test_a_scenario_file_chooses_modules(tmp_path):
    from protocol.sim.engine import Simulation
    from protocol.sim.loader import ScenarioError, load_scenario

    example = ROOT / "examples" / "custom_module"
    text = (ROOT / "protocol" / "sim" / "scenarios" / "default.toml").read_text()
    path = tmp_path / "dead-band.toml"
    path.write_text(text.replace("[venue]", f'[venue]\ncontracts = "{example}"', 1)
                    + '\n[venue.modules]\nrates = "DeadBandRates"\n')
    sc = load_scenario(path, {"blocks": 3})
    assert sc.venue.modules == {"rates": "DeadBandRates"}
    assert Simulation(sc).run().summary["transactions"] > 0
    path.write_text(text + '\n[venue.modules]\nfees = "X"\n')
    with pytest.raises(ScenarioError, match="venue.modules"):
        load_scenario(path)


# ---------------------------------------------------------------- Venue.set_market_module
def test_set_market_module_gives_one_market_its_own_rule(venue):
    assert venue.market_modules("ETH") == dict.fromkeys(("rates", "margin", "liquidation",
                                                         "pricing", "adl"))
    module = venue.set_market_module("ETH", "liquidation", "GenerousLiquidation")
    assert module.name == "GenerousLiquidation"
    assert venue.market_modules("ETH")["liquidation"] == module.address
    assert set(venue.market_modules("BTC").values()) == {None}  # per market
    alice = funded(venue, "alice", 5_000, deposit=4_000)
    alice.open("ETH", size=1, leverage=40, mode="isolated", margin=80)
    venue.set_price("ETH", 2_930)
    liq = venue.keeper("k").liquidate(alice, "ETH").events_named("PositionLiquidated")[0]
    assert liq["penalty"] > 0 and liq["keeperReward"] == liq["penalty"] * 9_000 // 10_000
    # The same module, by handle and by address, is the venue's one module, not a second.
    assert venue.set_market_module("BTC", "liquidation", module).address == module.address
    assert venue.set_market_module("BTC", "liquidation", module.address.lower()).address.lower() == \
        module.address.lower()
    assert venue.market_modules("BTC")["liquidation"] == module.address
    # Back to the stock rule, one market at a time.
    assert venue.set_market_module("ETH", "liquidation", None) is None
    assert set(venue.market_modules("ETH").values()) == {None}
    assert venue.market_modules("BTC")["liquidation"] == module.address


def test_set_market_module_deploys_a_parameterised_module_after_its_setup(backend):
    from dataclasses import replace

    from venue_fixtures import BTC, ETH, ZERO_FEES

    venue = Venue.launch(backend=backend, markets=[replace(ETH, **ZERO_FEES), replace(BTC, **ZERO_FEES)])
    btc = replace(venue.markets["BTC"], impact_factor_positive=Decimal("0.001"),
                  impact_factor_negative=Decimal("0.002"), impact_exponent_positive=Decimal(1),
                  impact_exponent_negative=Decimal(1))
    market = venue.market_id("BTC")
    impact = venue.set_market_module(
        "BTC", "pricing", "ImpactPricing", venue.clearinghouse.address, venue.admin,
        setup=[("setImpactConfig", (market, btc.impact_encoded()))])
    assert venue.market_modules("BTC")["pricing"] == impact.address
    assert venue.market_modules("ETH")["pricing"] is None
    alice = funded(venue, "alice", 200_000, 200_000)
    # 10 BTC at $60,000 on an empty book: -0.002 x $600,000 = -$1,200, held as -0.02 BTC.
    (event,) = alice.open("BTC", 10, 10, "cross").events_named("PriceImpact")
    assert (event["impactUsd"], event["pendingDelta"]) == (-1_200 * 10**18, -2 * 10**16)
    assert not alice.open("ETH", 10, 10, "cross").events_named("PriceImpact")


def test_set_market_module_refusals_are_named(venue):
    with pytest.raises(ModuleError, match="unknown module kind 'fees'"):
        venue.set_market_module("ETH", "fees", "StockRates")
    with pytest.raises(KeyError, match="unknown market 'DOGE'"):
        venue.set_market_module("DOGE", "rates", "StockRates")
    with pytest.raises(ModuleError, match="no contract 'Nope'"):
        venue.set_market_module("ETH", "rates", "Nope")
    with pytest.raises(ModuleError, match=r"StockMargin does not implement IRatesModule"):
        venue.set_market_module("ETH", "rates", "StockMargin")
    with pytest.raises(ModuleError, match=r"ImpactPricing's constructor takes \(address, address\): "
                                          "0 arguments given"):
        venue.set_market_module("ETH", "pricing", "ImpactPricing")
    rates = venue.set_market_module("ETH", "rates", "StockRates")
    with pytest.raises(ModuleError, match="constructor arguments are for a module deployed by name"):
        venue.set_market_module("BTC", "rates", rates, 1)
    with pytest.raises(errors.ModuleInterfaceMissing):
        venue.set_market_module("ETH", "rates", venue.usdc.address)
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        venue.set_market_module("BTC", "rates", rates, sender=venue.chain.new_account())
    assert venue.market_modules("BTC")["rates"] is None  # nothing refused took effect


def test_a_module_with_constructor_arguments_is_refused_for_every_market_before_deploying():
    with pytest.raises(ModuleError, match=r"ImpactPricing's constructor takes \(address, address\): "
                                          "a module chosen for every market is deployed without"):
        Venue.launch(backend="revm", modules={"pricing": "ImpactPricing"})
