"""The attackers of issue 29 (protocol.agents.attackers), each in its built-in scenario, and
the venue's defences against the manipulator as the attack search measures them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from protocol.agents import (
    AGENT_TYPES,
    Manipulator,
    ManipulatorParams,
    MarginPullerParams,
    SelfLiquidatorParams,
)
from protocol.sim.engine import Simulation
from protocol.sim.loader import load_scenario
from protocol.sweep.attack import LEDGER, AttackError, plan_attack, run_attack

#: The impact rule of a market about as deep as its external market ($250k per 1%).
IMPACT = {"markets.MNGO.impact_factor_negative": 4e-8, "markets.MNGO.impact_factor_positive": 2e-8}


def _run(name: str, **overrides):
    scenario = load_scenario(name, {**overrides, "metrics": [LEDGER]})
    result = Simulation(scenario).run()
    return result, result.summary["metrics"]["attack"]


def test_the_attackers_are_agent_types():
    assert {"manipulator", "self_liquidator", "margin_puller"} <= set(AGENT_TYPES)
    assert AGENT_TYPES["manipulator"].cls is Manipulator


@pytest.mark.parametrize("params,message", [
    (lambda: ManipulatorParams(budget=0), "budget: must be > 0"),
    (lambda: ManipulatorParams(exit="run"), "exit: must be one of close, withdraw"),
    (lambda: ManipulatorParams(venue_leg=1.5), "venue_leg: must be in (0, 1]"),
    (lambda: SelfLiquidatorParams(margin_share=1), "margin_share: must be in (0, 1)"),
    (lambda: MarginPullerParams(direction="up"), "direction: must be one of long, short"),
])
def test_params_are_checked(params, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        params()


def test_the_manipulators_external_buys_move_the_oracle_and_it_profits_on_a_defenceless_venue():
    result, attack = _run("attack-mango")
    rows = {r["block"]: r for r in result.rows}
    # the venue leg at block 10, external buys in blocks 11-15, the close in block 16
    assert [w.split()[0] for _, w in attack["actions"]] == ["venue"] + ["external"] * 5 + ["closed"]
    pumped = [rows[b]["price.MNGO"] for b in range(11, 17)]
    assert pumped == sorted(pumped) and pumped[-1] > pumped[0] * Decimal("1.04")  # its own buys
    assert rows[16]["price.MNGO"] > rows[16]["exogenous.MNGO"] * Decimal("1.5")
    assert Decimal(attack["profit"]) > 1_000_000  # on a $5M budget
    assert Decimal(attack["venue_loss"]) > Decimal(attack["profit"]) * Decimal("0.9")
    assert rows[60]["attack.position"] == 0 and abs(rows[60]["attack.outside_units"]) < 10_000


def test_the_manipulators_withdraw_exit_leaves_the_venue_bad_debt():
    _, attack = _run("attack-mango", **{"agents[1].exit": "withdraw"})
    assert Decimal(attack["bad_debt"]) > 1_000_000 and attack["liquidations"] >= 1
    assert Decimal(attack["profit"]) > 0


def test_the_self_liquidators_position_is_liquidated_at_the_venues_expense():
    _, attack = _run("attack-jelly")
    steps = [w for _, w in attack["actions"]]
    assert steps[2].startswith("leverage 20x; withdrew")  # margin to the edge
    liquidated = next(b for b, w in attack["actions"] if w == "liquidated by a keeper")
    cashed = next(b for b, w in attack["actions"] if w.startswith("the offsetting account"))
    assert attack["liquidations"] >= 1 and cashed > liquidated
    assert Decimal(attack["venue_loss"]) > 100_000 and Decimal(attack["profit"]) > 0


def test_the_whales_withdrawal_precedes_its_liquidation():
    _, attack = _run("attack-whale")
    pulled = next(b for b, w in attack["actions"] if "withdrew" in w)
    liquidated = next(b for b, w in attack["actions"] if w == "liquidated by a keeper")
    assert pulled < liquidated and attack["liquidations"] >= 1
    assert Decimal(attack["venue_loss"]) > 0


def test_the_deviation_guard_refuses_the_pumped_updates_and_the_oracle_keeps_its_price():
    result, attack = _run("attack-mango", **{"oracle.MNGO.max_deviation_bps": 200})
    assert attack["pushes_refused"] > 0
    oracle = [r["price.MNGO"] for r in result.rows if 11 <= r["block"] <= 16]
    market = [r["market.MNGO"] for r in result.rows if 11 <= r["block"] <= 16]
    assert max(oracle) < Decimal("2.1") < min(market)  # frozen near $2 while the market is pumped


# ------------------------------------------------------------------ the search and the defences

#: One attack shape, two budgets: two runs per search.
SHAPE = {"venue_leg": (0.3,), "pump_blocks": (1,), "exit": ("close",)}


def _best(tmp_path: Path, name: str, **overrides):
    plan = plan_attack("attack-mango", "manipulator", [1e6, 5e6], [1], overrides=overrides,
                       vary=SHAPE)
    result = run_attack(plan, tmp_path / name, workers=1)
    best = result.best()
    assert best is not None and best.profit is not None
    return best, result


def test_each_defence_lowers_the_best_profit_and_is_named(tmp_path):
    none, _ = _best(tmp_path, "none")
    assert none.profit > 5_000_000 and none.stopped == []
    low, _ = _best(tmp_path, "impact-100", **IMPACT, **{"markets.MNGO.max_negative_impact_bps": 100})
    high, _ = _best(tmp_path, "impact-5000", **IMPACT,
                    **{"markets.MNGO.max_negative_impact_bps": 5000})
    assert high.profit < low.profit < none.profit
    assert any(s.startswith("price impact") for s in high.stopped)
    capped, result = _best(tmp_path, "oi", **{"markets.MNGO.max_long_oi_usd": 1_000_000})
    assert capped.profit < none.profit / 10 and result.limit().startswith("OI cap")
    guarded, result = _best(tmp_path, "guard", **{"oracle.MNGO.max_deviation_bps": 200})
    assert guarded.profit <= 0 or result.limit().startswith("oracle deviation guard")
    assert guarded.profit < none.profit / 10


def test_a_search_resumes_from_its_store(tmp_path):
    _, first = _best(tmp_path, "again")
    _, second = _best(tmp_path, "again")
    assert second.skipped == 2 and first.skipped == 0
    assert [p.profit for p in first.points] == [p.profit for p in second.points]


def test_a_scenario_without_the_attacker_is_refused():
    with pytest.raises(AttackError, match="cascade has no manipulator agent"):
        plan_attack("cascade", "manipulator", [1e6], [1])


def test_a_searchs_records_keep_the_scenario_as_run_with_its_ledger(tmp_path):
    plan = plan_attack("attack-mango", "manipulator", [1e6], [1], vary=SHAPE)
    run_attack(plan, tmp_path / "p", workers=1)
    (line,) = (tmp_path / "p" / "runs.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["status"] == "ok" and "AttackLedger" in record["provenance"]["scenario_toml"]
    assert record["metrics"]["attack"]["kind"] == "manipulator"


def test_an_attackers_account_value_counts_its_isolated_positions_and_its_cross_account():
    """Attacker.account_value: the cross account's equity plus each isolated position's equity
    (read from the chain), so an attacker's profit sees every account it holds."""
    from protocol import Venue
    from protocol.agents.attackers import Attacker
    from protocol.venue.units import from_wad

    venue = Venue.launch(backend="revm")
    trader = venue.trader("mallory", usdc=10_000)
    trader.deposit(10_000)
    trader.open("ETH", size=1, leverage=5, mode="isolated", margin=1_000)
    trader.open("BTC", size=Decimal("0.05"), leverage=5, mode="cross")
    ch = venue.clearinghouse
    cross = from_wad(ch.account_health(trader.address)[0])
    isolated = from_wad(ch.position_health(trader.address, venue.market_id("ETH"))[0])
    assert isolated > 900  # the margin put up, less the open's fee
    assert Attacker.account_value(venue, trader) == cross + isolated
