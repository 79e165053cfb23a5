"""``perpsim stress`` below the command line: how a venue scenario and a crisis compose into one
run, and how a crisis's runs reduce to its row (exact figures from synthetic records: the mean,
VaR95 only from enough seeds, the worst seed, the worst block, the limit that bound first)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.sim.loader import ScenarioError, load_scenario
from protocol.sweep.run import RunRecord
from protocol.sweep.stress import StressError, StressPlan, StressResult, crisis_row, plan_stress

NEVER = {"first_block": None, "count": 0}


def _limits(**bound: int) -> dict:
    out = {k: dict(NEVER) for k in ("insurance_exhausted", "bad_debt", "adl", "pnl_cap")}
    for limit, block in bound.items():
        out[limit] = {"first_block": block, "count": 1}
    return out


def _record(seed: int, bad_debt: str, lp_return: str = "0.01", worst=None, limits=None,
            refused=None, status: str = "ok") -> RunRecord:
    if status != "ok":
        return RunRecord(f"k{seed}", {}, seed, status, error="ValueError: broke")
    return RunRecord(f"k{seed}", {}, seed, "ok", {
        "bad_debt": bad_debt, "lp_return": lp_return, "insurance_max_drawdown": str(seed / 100),
        "adl_notional": str(10 * seed), "liquidated_notional": str(1000 * seed),
        "keeper_profit": {"a": "1.5", "b": str(seed)}, "liquidations": seed,
        "worst_block": worst, "limits": limits or _limits(), "refused": refused or {}})


def test_a_crisis_row_is_exact_over_its_seeds():
    records = [_record(3, "30", "-0.02", {"block": 9, "loss": "500"}, _limits(pnl_cap=40)),
               _record(1, "10", "0.01", {"block": 7, "loss": "800"}),
               _record(2, "30", "-0.05", None, _limits(adl=12, pnl_cap=12),
                       {"PoolInsolvent": 2}),
               _record(4, "0", status="error")]
    row = crisis_row("crisis-x", records)
    assert (row.runs, row.failed, row.seeds) == (3, 1, [1, 2, 3])
    assert row.bad_debt == [Decimal(10), Decimal(30), Decimal(30)]
    assert row.bad_debt_mean == Decimal("23.333333") and row.bad_debt_worst == Decimal(30)
    assert row.var95_bad_debt is None
    assert row.var95_note == "n too small for VaR95: 3 seeds, a 95% interval needs at least 72"
    assert row.insurance_drawdown_worst == Decimal("0.03")
    assert row.adl_volume_mean == Decimal(20) and row.liquidated_notional_mean == Decimal(2000)
    assert row.keeper_profit_mean == Decimal("3.5")  # 1.5 + mean(1, 2, 3)
    assert (row.worst_block, row.worst_block_loss, row.worst_block_seed) == (7, Decimal(800), 1)
    # seeds 2 and 3 tie on bad debt: seed 2 lost LPs more; ADL and the cap tie at block 12
    assert (row.bound, row.bound_seed) == ("auto-deleveraging began at block 12", 2)
    assert row.errors == ["seed 4: ValueError: broke"]


def test_var95_needs_72_seeds_and_is_then_the_nearest_rank_95th_percentile():
    records = [_record(seed, str(seed)) for seed in range(1, 73)]
    row = crisis_row("crisis-x", records)
    assert row.var95_note == "" and row.var95_bad_debt == Decimal(69)  # ceil(0.95 * 72) = 69th
    assert crisis_row("crisis-x", records[:71]).var95_bad_debt is None


def test_the_crisis_that_hurt_most_has_the_most_bad_debt():
    plan = StressPlan("default", None, ["crisis-a", "crisis-b"], [1], [])
    a = crisis_row("crisis-a", [_record(1, "5", worst={"block": 3, "loss": "1"},
                                        limits=_limits(bad_debt=30))])
    b = crisis_row("crisis-b", [_record(1, "7", limits=_limits(pnl_cap=312))])
    result = StressResult(plan, [a, b])
    assert result.hurt_most() is b
    assert result.verdict() == ("hurt most: crisis-b, bad debt $7.00 on average (worst seed "
                                "$7.00); pnl cap reached at block 312 (seed 1)")
    assert StressResult(plan, [crisis_row("crisis-a", [_record(1, "0", status="error")])]
                        ).verdict() == "no crisis run finished"


def test_the_venue_scenario_brings_its_rules_and_the_crisis_everything_else(tmp_path):
    venue = tmp_path / "venue.toml"
    venue.write_text('[venue]\npool_liquidity = 2_000_000\ninsurance = 7_000\n\n'
                     '[markets.ETH]\nmax_leverage = 45\ntaker_fee_bps = 9\ninitial_price = 1\n\n'
                     '[markets.BTC]\nmax_leverage = 20\ninitial_price = 1\n\n'
                     '[markets.SOL]\nmax_leverage = 5\ninitial_price = 1\n\n'
                     '[prices.ETH]\nmodel = "constant"\n[prices.BTC]\nmodel = "constant"\n'
                     '[prices.SOL]\nmodel = "constant"\n')
    plan = plan_stress(str(venue), ["crash", "cascade"], [1, 2])
    assert [(r.crisis, r.spec.seed) for r in plan.runs] == [
        ("crash", 1), ("crash", 2), ("cascade", 1), ("cascade", 2)]
    assert plan.notes == [f"market SOL of {venue} is traded in no crisis run"]
    crash = load_scenario("crash")
    run = load_scenario("crash", dict(plan.runs[0].spec.fixed))
    eth = {m.symbol: m for m in run.markets}["ETH"]
    assert (eth.max_leverage, eth.taker_fee_bps) == (45, 9)
    assert eth.initial_price == {m.symbol: m for m in crash.markets}["ETH"].initial_price
    assert (run.venue.pool_liquidity, run.venue.insurance) == (2_000_000, 7_000)
    assert (run.prices, run.agents, run.blocks) == (crash.prices, crash.agents, crash.blocks)
    assert len({r.spec.key for r in plan.runs}) == 4


def test_a_venue_scenario_without_a_crisis_market_is_refused_in_one_line(tmp_path):
    venue = tmp_path / "eth-only.toml"
    venue.write_text('[markets.ETH]\nmax_leverage = 10\ninitial_price = 1\n'
                     '[prices.ETH]\nmodel = "constant"\n')
    with pytest.raises(StressError) as info:
        plan_stress(str(venue), ["crash"], [1])
    assert str(info.value) == (f"{venue} has no market BTC, which crash trades; "
                               "add [markets.BTC]")


def test_a_bad_override_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ScenarioError) as info:
        plan_stress("default", ["crash"], [1], overrides={"agents.count": -1})
    assert info.value.key == "agents[0].count"


def test_a_preset_reaches_every_crisis_run():
    plan = plan_stress("default", ["crash"], [1], preset="gmx-v2")
    run = load_scenario("crash", dict(plan.runs[0].spec.fixed))
    eth = {m.symbol: m for m in run.markets}["ETH"]
    reference = load_scenario("default", {"preset": "gmx-v2"})
    assert eth.taker_fee_bps == {m.symbol: m for m in reference.markets}["ETH"].taker_fee_bps
    assert eth.max_leverage == 200 and eth.reserve_factor_bps == 27_500  # gmx-v2's ETH


def test_a_crisis_population_over_the_venues_leverage_is_refused_at_its_key(tmp_path):
    """Crisis traders are not quietly held to a stricter venue: the composition is refused, at
    the key, before anything runs (lower their leverage with --set)."""
    venue = tmp_path / "strict.toml"
    venue.write_text('[markets.ETH]\nmax_leverage = 10\ninitial_price = 1\n'
                     '[markets.BTC]\nmax_leverage = 10\ninitial_price = 1\n'
                     '[prices.ETH]\nmodel = "constant"\n[prices.BTC]\nmodel = "constant"\n')
    with pytest.raises(ScenarioError) as info:
        plan_stress(str(venue), ["cascade"], [1])
    assert info.value.key == "agents[0].leverage"
    assert "exceeds markets.ETH.max_leverage = 10" in info.value.message
