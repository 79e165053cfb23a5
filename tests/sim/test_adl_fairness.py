"""The ADL metric (``summary["adl"]``): overshoot, winners' haircuts and their Gini, checked
against the run's own AutoDeleveraged events."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest

from protocol.sim.engine import Simulation
from protocol.sim.loader import load_scenario
from protocol.sim.metrics import gini, usd
from protocol.venue.units import from_wad


@pytest.mark.parametrize(("values", "expected"), [
    ([], Decimal(0)),
    ([Decimal(0), Decimal(0)], Decimal(0)),
    ([Decimal("0.3")] * 4, Decimal(0)),
    ([Decimal(0), Decimal(1)], Decimal("0.5")),
    ([Decimal(0), Decimal(0), Decimal(0), Decimal(1)], Decimal("0.75")),
    ([Decimal(1), Decimal(2), Decimal(3)], Decimal(2) / 9),  # sum |xi - xj| = 8, 2 n^2 mean = 36
])
def test_gini_of_worked_examples(values, expected):
    assert gini(values) == expected


@pytest.fixture(scope="module")
def adl_run():
    scenario = load_scenario("adl")
    return Simulation(scenario.with_(study=None), backend="revm").run()


def test_adl_summary_matches_the_auto_deleveraged_events(adl_run):
    events = [e["args"] for e in adl_run.events if e["event"] == "AutoDeleveraged"]
    assert events, "the adl scenario must auto-deleverage"
    adl = adl_run.summary["adl"]
    trigger = Decimal("0.85")  # the scenario's max_pnl_factor_adl
    notional = overshoot = Decimal(0)
    closed: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for args in events:
        size, price = abs(from_wad(args["sizeDelta"])), from_wad(args["price"])
        before, after = from_wad(args["factorBefore"]), from_wad(args["factorAfter"])
        notional += size * price
        if after < trigger:
            overshoot += (trigger - after) / (before - after) * size * price
        closed[(args["account"].lower(), args["market"])] += size
    assert adl["closes"] == len(events) == adl_run.summary["solvency"]["adl"]
    assert adl["notional"] == usd(notional)
    assert adl["overshoot"] == usd(overshoot)
    assert Decimal(0) < adl["overshoot"] < adl["notional"]
    # every position ADL touched is a winner it cut; the stock queue spares some winners
    assert adl["cut"] == len(closed)
    assert adl["winners"] > adl["cut"]
    assert adl["episodes"] >= 1
    assert Decimal(0) < adl["gini"] < 1
    assert adl["haircut_max_pct"] == Decimal("100.00")  # the queue closes its first ranks whole


def test_the_adl_study_compares_the_three_modules_on_one_path():
    """adl-modules: the same rally under each shipped ADL module. The pro-rata haircut cuts every
    winner of its round by the same share (Gini 0), the queue closes its first ranks whole and
    spares the rest, and the keeper's choice (GMX) is between them."""
    from protocol.sim.engine import ADL_MODULES, run_study

    study = run_study(load_scenario("adl-modules"), backend="revm")
    assert list(study.runs) == list(ADL_MODULES)
    adl = {name: run.summary["adl"] for name, run in study.runs.items()}
    queue, pro_rata, gmx = (adl[n] for n in ADL_MODULES)
    for summary in adl.values():
        assert summary["closes"] > 0 and summary["episodes"] >= 1
    assert pro_rata["gini"] == 0 and pro_rata["cut"] == pro_rata["winners"]
    assert pro_rata["haircut_max_pct"] == pro_rata["haircut_median_pct"] < 100
    assert queue["gini"] > gmx["gini"] > pro_rata["gini"]
    assert queue["haircut_max_pct"] == gmx["haircut_max_pct"] == 100
    assert study.comparison["Gini of haircuts"] == {n: adl[n]["gini"] for n in ADL_MODULES}
