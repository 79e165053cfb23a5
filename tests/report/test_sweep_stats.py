"""Honest sweep statistics (issue 25): order-statistic intervals for tail quantiles, "n too small
for VaR95" below the seeds they need, design parameters against conditions, one frontier per
condition and the points the intervals cannot tell apart. Synthetic records: no simulation runs."""

from __future__ import annotations

import csv
import math
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.sweep.aggregate import Interval, aggregate, min_seeds, quantile_coverage, quantile_ranks
from protocol.sweep.frontier import DEFAULT_CONDITIONS, condition_keys, frontiers, objective, parse_conditions
from protocol.sweep.grid import Axis, points
from protocol.sweep.report import write_sweep_report
from protocol.sweep.run import RunRecord
from protocol.sweep.sweep import SweepResult, write_aggregates

P95, P5 = Decimal("0.95"), Decimal("0.05")


def metrics(bad_debt, fees=1000, lp_return="0.01") -> dict:
    return {"bad_debt": str(bad_debt), "liquidated_notional": "1000", "liquidation_impact_cost": "5",
            "liquidations": 1, "fees_paid": str(fees), "insurance_max_drawdown": "0.1",
            "lp_return": str(lp_return), "keeper_profit": {}, "wiped_out_share": "0",
            "transactions": 10}


def one_point(bad_debts, lp_returns=None) -> "object":
    lp_returns = lp_returns or ["0.01"] * len(bad_debts)
    records = [RunRecord(f"s{i}", {}, i, "ok", metrics(b, lp_return=lp))
               for i, (b, lp) in enumerate(zip(bad_debts, lp_returns))]
    return aggregate([{}], records)[0]


# ---------------------------------------------------------------------------------------------
# order-statistic intervals


def test_quantile_ranks_are_the_binomial_order_statistics():
    # 95th percentile at 95%: r = largest with P(B <= r-1) <= 2.5%, s = smallest with
    # P(B <= s-1) >= 97.5%, B ~ Binomial(n, 0.95)
    assert quantile_ranks(100, P95) == (90, 100)
    assert quantile_ranks(200, P95) == (184, 197)
    assert quantile_ranks(72, P95) == (64, 72)
    assert quantile_ranks(71, P95) is None  # 0.95**71 = 2.6% > 2.5%: no upper bound exists
    assert quantile_ranks(10, P95) is None
    assert quantile_ranks(100, P5) == (1, 11)  # the mirror image
    assert min_seeds(P95) == min_seeds(P5) == 72
    assert min_seeds(P95, Decimal("0.90")) == 59  # 0.95**59 <= 5% < 0.95**58
    # the median from 6 values at 95%: [X_(1), X_(6)], exact coverage 1 - 2 / 64
    assert min_seeds(Decimal("0.5")) == 6 and quantile_ranks(6, Decimal("0.5")) == (1, 6)
    assert quantile_coverage(6, Decimal("0.5"), (1, 6)) == Fraction(31, 32)
    # 0.95**72 = 0.02488... <= 0.025: the interval from 72 values has coverage above 95%
    assert math.isclose(float(quantile_coverage(72, P95, (64, 72))), 0.96549, abs_tol=1e-5)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(min_value=1, max_value=400), p=st.sampled_from([P95, P5, Decimal("0.5")]))
def test_quantile_interval_covers_and_holds_the_estimate(n, p):
    ranks = quantile_ranks(n, p)
    assert (ranks is None) == (n < min_seeds(p))
    if ranks is not None:
        r, s = ranks
        assert quantile_coverage(n, p, ranks) >= Fraction(95, 100)
        assert r <= max(math.ceil(p * n), 1) <= s  # the nearest-rank estimate lies inside


def test_var95_from_ten_seeds_is_not_the_worst_seed(tmp_path):
    """Failed on the old code: VaR95 from 10 seeds was the worst seed, its band ending there."""
    a = one_point([0, 0, 0, 0, 0, 100, 200, 300, 400, 5000])
    assert a.var95_bad_debt is None and a.lp_return_p5 is None
    assert a.reasons["var95_bad_debt"] == "n too small for VaR95: 10 seeds, a 95% interval needs at least 72"
    assert a.reasons["lp_return_p5"] == ("n too small for LP return p5: 10 seeds, a 95% interval "
                                         "needs at least 72")
    assert "var95_bad_debt" not in a.ci and a.bad_debt_mean == Decimal("600")
    assert a.ci["bad_debt_mean"].low < a.bad_debt_mean < a.ci["bad_debt_mean"].high
    result = SweepResult([], [{}], [], [a], skipped=0)
    rows = list(csv.DictReader(write_aggregates(result, tmp_path).open()))
    assert rows[0]["var95_bad_debt"] == "" and rows[0]["var95_bad_debt.note"].startswith("n too small")
    assert "var95_bad_debt.ci_low" not in rows[0]


def test_var95_from_100_seeds_has_the_order_statistic_interval():
    a = one_point(list(range(1, 101)), [Decimal(i) / 1000 for i in range(100, 0, -1)])
    assert a.var95_bad_debt == 95  # nearest rank: the 95th of 100
    assert a.ci["var95_bad_debt"] == Interval(Decimal(90), Decimal(100))  # X_(90), X_(100)
    assert a.lp_return_p5 == Decimal("0.005")
    assert a.ci["lp_return_p5"] == Interval(Decimal("0.001"), Decimal("0.011"))  # X_(1), X_(11)
    assert not a.reasons
    # the band reaches above the estimate (the old bootstrap's ended on it)
    assert a.ci["var95_bad_debt"].high > a.var95_bad_debt


# ---------------------------------------------------------------------------------------------
# design parameters, conditions, frontier per condition


def test_swept_keys_are_design_parameters_or_conditions():
    keys = ["markets.ETH.max_leverage", "venue.insurance", "liquidity.feedback", "keepers.latency",
            "oracle.ETH.delay_blocks", "oracle.ETH.heartbeat", "prices.ETH.volatility", "blocks"]
    assert condition_keys(keys) == ["liquidity.feedback", "keepers.latency", "oracle.ETH.delay_blocks",
                                    "prices.ETH.volatility", "blocks"]
    assert "liquidity" in DEFAULT_CONDITIONS
    # a keeper-bot researcher's design parameter is the keeper's latency
    assert condition_keys(keys, ["liquidity", "prices", "oracle.*.delay_blocks"]) == [
        "liquidity.feedback", "oracle.ETH.delay_blocks", "prices.ETH.volatility"]
    assert condition_keys(keys, ()) == []
    with pytest.raises(ValueError, match="condition 'liquidity.depth' matches no swept key"):
        condition_keys(keys, ["liquidity.depth"])
    assert parse_conditions(None) is None
    assert parse_conditions("none") == parse_conditions("") == ()
    assert parse_conditions("keepers.latency, liquidity") == ("keepers.latency", "liquidity")


FEE, FEEDBACK = "markets.ETH.taker_fee_bps", "liquidity.feedback"
# (fee, feedback) -> per seed (bad debt, fees)
SETTINGS = {
    (2, True): [(0, 10)] * 3,
    (5, True): [(4, 19), (5, 20), (6, 21)],
    (10, True): [(5, 18), (6, 19), (7, 20)],  # dominated by fee 5, within the noise
    (20, True): [(50, 30)] * 3,
    (2, False): [(1, 5)] * 3,  # the same as fee 5: both Pareto, not distinguishable
    (5, False): [(1, 5)] * 3,
    (10, False): [(9, 1)] * 3,  # clearly dominated
}


def condition_result(conditions=None, settings=SETTINGS) -> SweepResult:
    axes = [Axis(FEE, (2, 5, 10, 20)), Axis(FEEDBACK, (True, False))]
    grid = points(axes)
    records = [RunRecord(f"{fee}{fb}{seed}", {FEE: fee, FEEDBACK: fb}, seed, "ok", metrics(bad, fees))
               for (fee, fb), runs in settings.items() for seed, (bad, fees) in enumerate(runs)]
    return SweepResult(axes, grid, records, aggregate(grid, records), skipped=0, scenario="synthetic",
                       conditions=conditions)


def test_the_frontier_is_per_condition_and_flags_what_the_intervals_cannot_tell_apart():
    result = condition_result()
    x, y = objective("bad_debt_mean"), objective("fees_paid_mean")
    groups = frontiers(result.aggregates, x, y, condition_keys([FEE, FEEDBACK]))
    assert [g.condition for g in groups] == [{FEEDBACK: True}, {FEEDBACK: False}]
    on, off = groups

    def fees(aggs):
        return [a.params[FEE] for a in aggs]

    assert fees(on.front) == [2, 5, 20] and fees(off.front) == [2, 5]
    tied = {a.params[FEE]: fees(on.tied(a)) for a in on.points}
    assert tied == {2: [], 5: [], 10: [5], 20: []}
    assert {a.params[FEE]: fees(off.tied(a)) for a in off.points} == {2: [5], 5: [2], 10: []}
    # without conditions the feedback=true fee-2 point would dominate both feedback=false ones
    everything = frontiers(result.aggregates, x, y)
    assert len(everything) == 1 and fees(everything[0].front) == [2, 5, 20]


def test_a_pareto_point_whose_edge_is_within_the_noise_is_flagged():
    # fee 10 has less bad debt than fee 20 only within the intervals; fee 20's fees are higher
    # beyond them: fee 20 may dominate fee 10, not the other way round
    settings = {(10, True): [(60, 20), (70, 20), (80, 20)], (20, True): [(65, 50), (75, 50), (85, 50)]}
    result = condition_result(settings=settings)
    (group,) = frontiers(result.aggregates, objective("bad_debt_mean"), objective("fees_paid_mean"),
                         [FEEDBACK])
    assert [a.params[FEE] for a in group.front] == [10, 20]
    assert {a.params[FEE]: [b.params[FEE] for b in group.tied(a)] for a in group.points} == {10: [20], 20: []}


def test_the_page_names_conditions_and_shows_one_frontier_each(tmp_path):
    html = write_sweep_report(condition_result(), tmp_path, frontier=("bad_debt_mean", "fees_paid_mean")
                              ).read_text(encoding="utf-8")
    assert ("Design parameters: markets.ETH.taker_fee_bps. Conditions, compared separately, one "
            "frontier per combination: liquidity.feedback") in html
    assert "<h3>At feedback=true</h3>" in html and "<h3>At feedback=false</h3>" in html
    assert 'id="plot-frontier-1"' in html and 'id="plot-frontier-2"' in html

    def statuses(table_id):
        body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
        return [re.findall(r"<td[^>]*>(.*?)</td>", row)[:2] for row in re.findall(r"<tr>(.*?)</tr>", body)]

    assert statuses("pareto-1") == [
        ["taker_fee_bps=2", "Pareto-optimal"], ["taker_fee_bps=5", "Pareto-optimal"],
        ["taker_fee_bps=20", "Pareto-optimal"],
        ["taker_fee_bps=10", "dominated, not distinguishable from taker_fee_bps=5"]]
    assert statuses("pareto-2") == [
        ["taker_fee_bps=2", "Pareto-optimal, not distinguishable from taker_fee_bps=5"],
        ["taker_fee_bps=5", "Pareto-optimal, not distinguishable from taker_fee_bps=2"]]
    # --conditions none: the feedback is compared like a design choice, one frontier
    html = write_sweep_report(condition_result(conditions=()), tmp_path,
                              frontier=("bad_debt_mean", "fees_paid_mean")).read_text(encoding="utf-8")
    assert 'id="plot-frontier"' in html and "<h3>" not in html
    assert "Conditions, compared separately, one frontier per combination: none (--conditions)" in html


# ---------------------------------------------------------------------------------------------
# the estimated time, and --yes


def test_the_sweep_prints_its_estimate_and_asks_above_ten_minutes(tmp_path, monkeypatch):
    import importlib

    from click.testing import CliRunner

    cli_sweep = importlib.import_module("protocol.cli.sweep")  # the module, not the command
    sweep_module = importlib.import_module("protocol.sweep.sweep")
    from protocol.cli import main as cli
    from protocol.sweep.run import execute

    def slow(spec):  # a real run that says it took five minutes
        record = execute(spec)
        record.seconds = 300.0
        return record

    monkeypatch.setattr(sweep_module, "execute", slow)
    args = ["sweep", "default", "--set", "markets.ETH.max_leverage=10,25", "--set", "blocks=15",
            "--set", "agents.count=1", "--set", "keepers.latency=0,2", "--seeds", "1",
            "--workers", "1", "--out", str(tmp_path / "s")]
    estimate = "estimated 15 min for 3 runs (300.0 s per run, measured first run; 1 at a time)"
    monkeypatch.setattr(cli_sweep, "_interactive", lambda: True)
    run = CliRunner().invoke(cli, args, input="n\n")
    assert run.exit_code == 1 and estimate in run.output and "Start the sweep? [y/N]" in run.output
    assert "Error: not started (estimated 15 min" in run.output and "pass --yes" in run.output
    assert "Traceback" not in run.output
    assert len((tmp_path / "s" / "runs.jsonl").read_text().splitlines()) == 1  # the timed run
    # resumed with --yes: the estimate from the stored run, no question
    run = CliRunner().invoke(cli, [*args, "--yes"])
    assert run.exit_code == 0, run.output
    assert "estimated 15 min for 3 runs (300.0 s per run, stored runs; 1 at a time)" in run.output
    assert "Start the sweep?" not in run.output and "1 resumed" in run.output
    # not interactive: it says how long and goes on
    monkeypatch.setattr(cli_sweep, "_interactive", lambda: False)
    run = CliRunner().invoke(cli, [*args[:-1], str(tmp_path / "t")])
    assert run.exit_code == 0 and estimate in run.output and "Start the sweep?" not in run.output
    assert len((tmp_path / "t" / "runs.jsonl").read_text().splitlines()) == 4
