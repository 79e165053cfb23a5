"""The simulation engine end to end: reproducible outputs, identical numbers on both EVMs, the
isolated-vs-cross trade-off, and the CLI."""

from __future__ import annotations

import filecmp
from decimal import Decimal

import pytest
from click.testing import CliRunner

from protocol.cli import main as cli
from protocol.report import write_run
from protocol.sim.engine import Simulation, run_study
from protocol.sim.loader import ScenarioError, load_scenario
from protocol.sim.metrics.limits import describe

SMALL = {"blocks": 90, "agents.count": 3}


@pytest.fixture(scope="module")
def small():
    return load_scenario("crash", {**SMALL, "prices.ETH.shocks": [
        {"type": "crash", "drop_pct": 0.35, "start_block": 40, "over_blocks": 20}]})


def test_same_seed_gives_byte_identical_outputs(small, tmp_path):
    first = write_run(Simulation(small, backend="revm").run(), tmp_path / "a").parent
    second = write_run(Simulation(small, backend="revm").run(), tmp_path / "b").parent
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(first, second, names, shallow=False)
    assert not mismatch and not errors, mismatch
    other = Simulation(small, backend="revm", seed=small.seed + 1).run()
    assert other.rows != Simulation(small, backend="revm").run().rows


def test_pyevm_and_revm_give_identical_numbers():
    # the crash of ``small``, sooner and in a shorter run (pyevm runs a block in about 0.5 s)
    short = load_scenario("crash", {"blocks": 30, "agents.count": 3, "prices.ETH.shocks": [
        {"type": "crash", "drop_pct": 0.35, "start_block": 8, "over_blocks": 12}]})
    revm = Simulation(short, backend="revm").run()
    pyevm = Simulation(short, backend="pyevm").run()
    assert revm.summary["liquidations"] > 0  # the crash did something
    assert len(revm.rows) == len(pyevm.rows) == short.blocks + 1
    assert any(key.startswith("keeper_profit.") for key in revm.rows[-1])  # gas-derived too
    for a, b in zip(revm.rows, pyevm.rows):
        for key in a:
            assert a[key] == b[key], (a["block"], key)
    assert revm.events == pyevm.events
    assert revm.liquidations == pyevm.liquidations


def test_isolated_vs_cross_shows_the_trade_off():
    """Isolated caps each position's loss but liquidates sooner and more often; cross lets
    one position hold up another but can lose the whole balance."""
    # 10 agents a side: with 6 the cross side saw no liquidation at all in one seed's draws
    study = run_study(load_scenario("isolated-vs-cross", {"agents.count": 10}), backend="revm")
    c = study.comparison
    assert c["liquidations"]["isolated"] > c["liquidations"]["cross"]
    assert c["first liquidation (block)"]["isolated"] <= c["first liquidation (block)"]["cross"]
    assert c["accounts wiped out"]["cross"] > c["accounts wiped out"]["isolated"]
    assert c["realised losses $"]["cross"] > c["realised losses $"]["isolated"]


@pytest.fixture(scope="module")
def adl_study():
    """The adl study as built in (480 blocks: the gaps at blocks 180 and 200, then the winners'
    closes)."""
    return run_study(load_scenario("adl"), backend="revm")


def test_adl_study_pays_every_winner_by_rule(adl_study):
    """Without the cap the first winners are paid in full until the pool is dry and every later
    close is refused; with the cap and ADL nobody is refused, winners share a haircut, the ADL
    keeper brings the pnl factor back down and the pool keeps a tenth of its assets."""
    c = adl_study.comparison
    old, new = "no cap, no ADL", "cap + ADL"
    assert c["closes refused (PoolInsolvent)"][old] > 0
    assert c["closes refused (PoolInsolvent)"][new] == 0
    assert c["profitable closes paid with a haircut"][old] == 0 < c["profitable closes paid with a haircut"][new]
    assert c["haircut $"][new] > 0 and 0 < c["mean haircut per capped close %"][new] < 100
    assert c["positions auto-deleveraged"][old] == 0 < c["positions auto-deleveraged"][new]
    assert c["pool value at end $"][old] < 0 < c["pool value at end $"][new]
    assert c["peak pnl factor"][new] < c["peak pnl factor"][old]
    new_run = adl_study.runs[new]
    capped = [e for e in new_run.events if e["event"] == "ProfitCapped"]
    haircut = sum(e["args"]["full"] - e["args"]["paid"] for e in capped)
    assert c["haircut $"][new] == Decimal(haircut) / 10**6
    adl = [e for e in new_run.events if e["event"] == "AutoDeleveraged"]
    assert len(adl) == c["positions auto-deleveraged"][new]
    assert all(e["args"]["factorAfter"] < e["args"]["factorBefore"] for e in adl)
    assert all(e["args"]["factorAfter"] >= 77 * 10**16 for e in adl)


def test_adl_study_is_identical_on_pyevm():
    # the rally of the adl scenario 170 blocks sooner, in a 26-block run: eleven ADL closes
    scenario = load_scenario("adl", {"blocks": 26, "agents[0].count": 12, "agents[1].count": 4,
                                     "agents[2].count": 0, "venue.pool_liquidity": 300_000,
                                     "prices.ETH.shocks": [{"type": "gap", "gap_pct": 0.5, "at_block": 10}],
                                     "prices.BTC.shocks": [{"type": "gap", "gap_pct": 0.4, "at_block": 14}]})
    revm = Simulation(scenario, backend="revm").run()
    pyevm = Simulation(scenario, backend="pyevm").run()
    assert revm.summary["solvency"]["adl"] > 1
    assert revm.rows == pyevm.rows
    assert revm.events == pyevm.events


def test_metrics_track_the_chain(small):
    result = Simulation(small, backend="revm").run()
    rows = result.rows
    assert sum(r["liquidations"] for r in rows) == len(result.liquidations) == result.summary["liquidations"]
    assert rows[-1]["cum_bad_debt"] == sum((r["bad_debt"] for r in rows), Decimal(0))
    liquidated = [e for e in result.events if e["event"] == "PositionLiquidated"]
    assert len(liquidated) == result.summary["liquidations"]
    crash_start = 40
    assert all(m.block > crash_start for m in result.liquidations[:1])
    assert rows[-1]["price.ETH"] < rows[crash_start]["price.ETH"] * Decimal("0.7")


def test_cli_runs_a_scenario_and_lists_builtins(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(cli, ["scenarios"])
    assert listed.exit_code == 0 and "isolated-vs-cross" in listed.output
    out = tmp_path / "run"
    result = runner.invoke(cli, ["run", "default", "--blocks", "20", "--set", "agents.count=1",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").exists() and (out / "summary.json").exists()


def test_the_open_book_is_sampled_every_positions_every_blocks(small):
    """Every ``positions_every`` blocks, and in every block in which a price moved more than 0.5%
    from the block before (the crash, blocks 41-60): nowhere else."""
    run = Simulation(small.with_(positions_every=25), backend="revm").run()
    sampled = {p.block for p in run.positions}
    regular = {b for b in sampled if b % 25 == 0}
    assert regular == {25, 50, 75}, sampled
    moved = {now["block"] for before, now in zip(run.rows, run.rows[1:])
             if any(abs(now[f"price.{m}"] - before[f"price.{m}"]) > before[f"price.{m}"] * Decimal("0.005")
                    for m in run.markets)}
    assert sampled - regular == moved - regular and len(moved) >= 15, (sorted(sampled), sorted(moved))
    assert all(40 < b <= 60 for b in moved), sorted(moved)
    with pytest.raises(ScenarioError, match="positions_every: must be >= 1, got 0"):
        load_scenario("crash", {"positions_every": 0})


@pytest.mark.parametrize("args, reason", [
    (["run", "no-such-scenario"], "no-such-scenario"),
    (["run", "default", "--set", "markets.ETH.max_leverage=-5"], "markets.ETH.max_leverage"),
    (["run", "default", "--set", "bogus=1"], "bogus"),
])
def test_cli_bad_input_exits_non_zero_with_one_line_reason(args, reason):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and reason in lines[0], result.output


def test_lp_agents_deposit_and_redeem_through_the_order_keeper():
    lp = next(i for i, p in enumerate(load_scenario("crash").agents) if p.type == "lp")
    scenario = load_scenario("crash", {**SMALL, "prices.ETH.shocks": [],
                                       f"agents[{lp}].withdraw_probability": 0.05})
    result = Simulation(scenario, backend="revm").run()
    created = {e["args"]["id"]: e for e in result.events if e["event"] == "LpRequestCreated"}
    executed = {e["args"]["id"]: e for e in result.events if e["event"] == "LpRequestExecuted"}
    kinds = [e["args"]["request"][2] for e in created.values()]  # isDeposit
    assert kinds.count(True) == 3 and kinds.count(False) >= 1, kinds
    # Every request made before the last block ran; a redemption (positions open by then) only
    # in a later block, at a newer price, and a deposit at once only while nothing was open.
    late = {i for i, e in created.items() if e["block"] >= scenario.blocks}
    assert set(executed) == set(created) - late
    assert all(executed[i]["block"] > created[i]["block"] for i in executed
               if not created[i]["args"]["request"][2])
    assert all(executed[i]["block"] >= created[i]["block"] for i in executed)
    assert not any(e["event"] == "LpRequestFailed" for e in result.events)


# A reduced cascade: 30 levered longs open early, the external price falls 12% over blocks 30-40.
CASCADE = {"blocks": 50, "agents[0].count": 30, "agents[0].trade_probability": 0.3,
           "agents[1].count": 5, "liquidity.ETH.depth": 600_000,
           "prices.ETH.shocks": [{"type": "crash", "drop_pct": 0.12, "start_block": 30,
                                  "over_blocks": 10}]}


@pytest.fixture(scope="module")
def cascade_study():
    return run_study(load_scenario("cascade", CASCADE), backend="revm")


def test_liquidations_that_move_the_market_deepen_the_crash(cascade_study):
    without, with_ = cascade_study.runs["without feedback"], cascade_study.runs["with feedback"]
    plain, moved = without.summary["markets"]["ETH"], with_.summary["markets"]["ETH"]
    # The same exogenous path in both runs; without feedback the oracle reported exactly it.
    assert [r["exogenous.ETH"] for r in without.rows] == [r["exogenous.ETH"] for r in with_.rows]
    assert all(r["price.ETH"] == r["exogenous.ETH"] for r in without.rows)
    assert plain["amplification"] == 1 and plain["max_drawdown"] == plain["exogenous_max_drawdown"]
    # With feedback the liquidations' sales deepen the drop and liquidate more.
    assert moved["exogenous_max_drawdown"] == plain["exogenous_max_drawdown"] > Decimal("0.1")
    assert moved["max_drawdown"] > plain["max_drawdown"] and moved["amplification"] > 1
    assert moved["amplification"] == (moved["max_drawdown"] / moved["exogenous_max_drawdown"]).quantize(Decimal("0.0001"))
    assert with_.summary["liquidations"] > without.summary["liquidations"] > 0
    assert with_.summary["bad_debt"] > without.summary["bad_debt"]
    table = cascade_study.comparison
    assert table["amplification"] == {"without feedback": 1, "with feedback": moved["amplification"]}


def test_forced_flow_and_its_impact_cost_follow_the_events(cascade_study):
    from protocol.prices.liquidity import impact_cost

    run = cascade_study.runs["with feedback"]
    liquidity = load_scenario("cascade", CASCADE).liquidity["ETH"]
    forced: dict[int, Decimal] = {}
    for e in run.events:
        if e["event"] in ("PositionLiquidated", "AutoDeleveraged"):
            size = e["args"]["sizeClosed" if e["event"] == "PositionLiquidated" else "sizeDelta"]
            usd = Decimal(size) / 10**18 * Decimal(e["args"]["price"]) / 10**18
            forced[e["block"]] = forced.get(e["block"], Decimal(0)) + usd
    assert forced and all(f < 0 for f in forced.values())  # liquidated longs sell
    for row in run.rows:
        flow = forced.get(row["block"], Decimal(0))
        assert row["liquidation_impact_cost"] == impact_cost(flow, liquidity.move(flow)).quantize(Decimal("0.000001"))
    assert run.summary["liquidation_volume"] == run.summary["liquidated_notional"]  # no ADL here
    assert run.summary["liquidation_impact_cost"] == sum((r["liquidation_impact_cost"] for r in run.rows), Decimal(0))


#: CASCADE's crash sooner, with half the speculators, in 32 blocks (both variants liquidate
#: about 20 positions): what the pyevm comparison runs, at about 0.3 s a block.
SHORT_CASCADE = {**CASCADE, "blocks": 26, "agents[0].count": 12, "prices.ETH.shocks": [
    {"type": "crash", "drop_pct": 0.12, "start_block": 12, "over_blocks": 8}]}


def test_cascade_study_is_identical_on_pyevm():
    """Both variants, row for row and event for event: the study's claims hold on pyevm too."""
    revm = run_study(load_scenario("cascade", SHORT_CASCADE), backend="revm")
    pyevm = run_study(load_scenario("cascade", SHORT_CASCADE), backend="pyevm")
    for variant, run in revm.runs.items():
        assert run.summary["liquidations"] > 0, variant
        assert pyevm.runs[variant].rows == run.rows, variant
        assert pyevm.runs[variant].events == run.events, variant
    assert pyevm.comparison == revm.comparison


# ---------------------------------------------------------------------- oracles that lag and fail
def _cascade(extra, backend="revm"):
    return Simulation(load_scenario("cascade", {**CASCADE, **extra}), backend=backend).run()


def test_a_delayed_oracle_reports_the_market_of_blocks_ago():
    run = _cascade({"oracle.ETH.delay_blocks": 3})
    rows = run.rows
    assert any(r["market.ETH"] != rows[r["block"] - 3]["market.ETH"] for r in rows[3:])
    assert all(r["price.ETH"] == rows[r["block"] - 3]["market.ETH"] for r in rows[3:])
    assert all(r["price.ETH"] == rows[0]["market.ETH"] for r in rows[:3])


def test_an_outage_freezes_the_oracle_and_liquidations_wait():
    run = _cascade({"oracle.ETH.outages": [[28, 45]]})
    frozen = run.rows[27]["price.ETH"]
    assert all(r["price.ETH"] == frozen for r in run.rows[28:46])
    assert run.rows[46]["price.ETH"] == run.rows[46]["market.ETH"] != frozen
    liquidated = [e["block"] for e in run.events if e["event"] == "PositionLiquidated"]
    assert liquidated and not any(28 <= b <= 45 for b in liquidated)
    assert min(b for b in liquidated if b > 45) == 46  # the first price after the outage
    # Liquidating late, through bankruptcy, leaves more bad debt than on time.
    assert run.summary["bad_debt"] > _cascade({}).summary["bad_debt"]


FLASH = {"prices.ETH.shocks": [{"type": "flash_crash", "drop_pct": 0.15, "at_block": 32,
                                "recover_blocks": 3}],
         "oracle.ETH.mode": "pull", "oracle.ETH.heartbeat": 600, "keepers[0].poll_interval": 5,
         "liquidity.feedback": False}


def _attached(run):
    """Prices that landed other than on the pull oracle's own 600 s schedule."""
    scheduled = {r["block"] for r in run.rows if r["block"] % 10 == 1}
    return [e for e in run.events if e["event"] == "PriceUpdated" and e["block"] not in scheduled]


def test_an_adversarial_keeper_picks_the_price_that_liquidates_most():
    honest = _cascade({**FLASH, "keepers[0].price_choice": "latest"})
    greedy = _cascade({**FLASH, "keepers[0].price_choice": "best"})
    assert _attached(honest) and _attached(greedy)
    low = min(e["args"]["price"] for e in _attached(greedy))
    assert low < min(e["args"]["price"] for e in _attached(honest))
    assert greedy.summary["liquidations"] > honest.summary["liquidations"]
    assert greedy.summary["bad_debt"] > honest.summary["bad_debt"]
    # Every attached price is one the market published, in an earlier block or in the block
    # itself (the keepers' transactions follow the block's publication).
    for e in _attached(greedy):
        published = {r["market.ETH"] for r in greedy.rows if r["block"] <= e["block"]}
        assert Decimal(e["args"]["price"]) / 10**18 in published


def test_pull_oracle_runs_are_identical_on_pyevm():
    extra = {**FLASH, "keepers[0].price_choice": "best", **SHORT_CASCADE, "blocks": 20,
             "prices.ETH.shocks": [{**FLASH["prices.ETH.shocks"][0], "at_block": 12}]}
    revm = _cascade(extra)
    assert revm.summary["liquidations"] > 0
    assert _cascade(extra, "pyevm").rows == revm.rows


def test_the_limits_metric_names_when_each_limit_first_bound(adl_study):
    """The run summary's ``limits`` agree with the events: the cap and ADL bind in the capped
    venue only, each first in the block of its first event, as often as it has events; the
    uncapped venue writes the pool below zero instead (its closes refused as PoolInsolvent)."""
    for name, run in adl_study.runs.items():
        limits = run.summary["limits"]
        for limit, event in (("pnl_cap", "ProfitCapped"), ("adl", "AutoDeleveraged"),
                             ("bad_debt", "BadDebt")):
            blocks = [e["block"] for e in run.events if e["event"] == event]
            assert limits[limit] == {"first_block": min(blocks) if blocks else None,
                                     "count": len(blocks)}, (name, limit)
        from_pool = [e["block"] for e in run.events
                     if e["event"] == "BadDebt" and e["args"]["fromPool"] > 0]
        assert limits["insurance_exhausted"]["count"] == len(from_pool)
        refused = sum(c["refused"] for c in run.summary["cohorts"].values())
        assert sum(run.summary["refused"].values()) == refused
    capped, uncapped = adl_study.runs["cap + ADL"], adl_study.runs["no cap, no ADL"]
    assert capped.summary["limits"]["pnl_cap"]["count"] > 0
    assert capped.summary["limits"]["adl"]["count"] > 0
    assert uncapped.summary["limits"]["pnl_cap"]["first_block"] is None
    assert uncapped.summary["refused"]["PoolInsolvent"] > 0
    limits = capped.summary["limits"]
    # the gap at block 180 writes off bad debt before the winners' closes meet the cap
    assert limits["bad_debt"]["first_block"] < limits["pnl_cap"]["first_block"]
    assert limits["insurance_exhausted"]["first_block"] == limits["bad_debt"]["first_block"]
    assert describe(limits, capped.summary["refused"]) == (
        "insurance fund exhausted (bad debt charged to the pool) at block "
        f"{limits['bad_debt']['first_block']}")  # the graver of the two bound in one block
    never = {"first_block": None, "count": 0}
    without_debt = {**limits, "bad_debt": never, "insurance_exhausted": never}
    # the cap binds in the block ADL begins (the keeper deleverages what the cap left)
    assert limits["adl"]["first_block"] == limits["pnl_cap"]["first_block"]
    assert describe(without_debt, {}) == (
        f"auto-deleveraging began at block {limits['adl']['first_block']}")
    assert describe({**without_debt, "adl": never}, {}) == (
        f"pnl cap reached at block {limits['pnl_cap']['first_block']}")


def test_the_worst_block_is_the_backstops_largest_one_block_loss(small):
    """LPs' loss per share on the shares they held, plus the insurance fund's fall: an LP
    redeeming moves the pool's value, not a share's, and is no loss."""
    run = Simulation(small, backend="revm").run()
    losses = []
    for block, (before, after) in enumerate(zip(run.rows, run.rows[1:]), start=1):
        shares = before["pool_value"] / before["lp_share_price"]
        loss = ((before["lp_share_price"] - after["lp_share_price"]) * shares
                + before["insurance_fund"] - after["insurance_fund"])
        losses.append((loss, -block))
    loss, block = max(losses)
    assert loss > 0
    assert run.summary["worst_block"] == {"block": -block, "loss": loss.quantize(Decimal("0.000001"))}


def test_describe_prefers_the_first_limit_then_the_commonest_refusal():
    limits = {"pnl_cap": {"first_block": 312, "count": 4}, "adl": {"first_block": 300, "count": 1},
              "bad_debt": {"first_block": None, "count": 0},
              "insurance_exhausted": {"first_block": None, "count": 0}}
    assert describe(limits, {}) == "auto-deleveraging began at block 300"
    idle = {k: {"first_block": None, "count": 0} for k in limits}
    assert describe(idle, {"OpenInterestAboveLimit": 1204, "PoolInsolvent": 3}) == (
        "OpenInterestAboveLimit refused 1,204 transactions")
    assert describe(idle, {"A": 1}) == "A refused 1 transaction"
    assert describe(idle, {}) == "no limit bound"
