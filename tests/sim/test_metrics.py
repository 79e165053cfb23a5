"""The run's metrics (``protocol.sim.metrics``): the built-ins are :class:`protocol.plugins.Metric`
plug-ins recorded through the same seam as a scenario's ``[[metrics]]``, so a new built-in is a
module and a line in ``BUILTIN``; what a metric sees of a block; and two metrics writing the same
column or summary key is an error, not an overwrite."""

from __future__ import annotations

import sys
import textwrap
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.plugins import Metric, MetricCollision
from protocol.sim import metrics as metrics_module
from protocol.sim.engine import Simulation
from protocol.sim.loader import load_scenario
from protocol.sim.scenario import MetricSpec

PROBES = '''
from decimal import Decimal
from protocol.plugins import Metric


class Seen(Metric):
    """Records what each block's view holds, to compare with the row the run wrote."""

    def begin(self, run):
        super().begin(run)
        self.agents, self.cohorts = len(run.agents), tuple(run.cohorts)
        self.views = []

    def observe(self, view):
        self.views.append((view.block, dict(view.oracle), dict(view.exogenous), dict(view.prices),
                           view.forced_volume, view.impact_cost, view.forced_impact_cost,
                           dict(view.row), len(view.receipts)))
        return {"receipts": len(view.receipts)}

    def summary(self):
        return {"agents": self.agents, "cohorts": list(self.cohorts)}


class PoolAgain(Metric):
    """A metric that claims a built-in's column."""

    namespaced = False

    def observe(self, view):
        return {"pool_value": Decimal(0)}


class BadDebtAgain(Metric):
    """A metric with a column of its own but a built-in's summary key."""

    namespaced = False

    def observe(self, view):
        return {"own_column": 1}

    def summary(self):
        return {"bad_debt": Decimal(0)}


class Unprefixed(Metric):
    """A metric writing its own top-level column and summary key."""

    namespaced = False

    def begin(self, run):
        self.total = 0

    def observe(self, view):
        self.total += len(view.receipts)
        return {"receipts_so_far": self.total}

    def summary(self):
        return {"receipts_total": self.total}
'''


@pytest.fixture
def probes(tmp_path, monkeypatch):
    (tmp_path / "metric_probes.py").write_text(textwrap.dedent(PROBES))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "metric_probes"
    monkeypatch.delitem(sys.modules, "metric_probes", raising=False)


@pytest.fixture(scope="module")
def short():
    return load_scenario("crash", {"blocks": 40, "agents.count": 3, "prices.ETH.shocks": [
        {"type": "crash", "drop_pct": 0.35, "start_block": 10, "over_blocks": 10}]})


def _run(scenario, *specs):
    return Simulation(scenario.with_(metrics=tuple(specs)), backend="revm").run()


def test_every_built_in_metric_is_a_metric_plug_in():
    assert metrics_module.BUILTIN, "no built-in metrics"
    for name, cls in metrics_module.BUILTIN.items():
        assert issubclass(cls, Metric), name
        assert not cls.namespaced, name  # its columns are the row's own


def test_the_row_is_the_built_ins_columns_in_their_order(short):
    run = _run(short)
    columns = list(run.rows[0])
    assert columns[:2] == ["block", "timestamp"]
    written: list[str] = []
    for name in metrics_module.BUILTIN:
        owned = [c for c in columns[2:] if _owner(c) == name]
        written += owned
    assert written == columns[2:], "a column out of its metric's place"
    assert columns[-1] == "transactions"
    assert all(list(r) == columns for r in run.rows)  # the same keys every block


def _owner(column: str) -> str:
    stem = column.split(".")[0]
    return {"price": "market", "market": "market", "exogenous": "market", "long_oi": "market",
            "short_oi": "market", "pool_value": "market", "skew": "market",
            "utilisation": "market", "lp_share_price": "market", "insurance_fund": "market",
            "pnl_factor": "market", "funding_rate": "rates", "borrow_rate": "rates",
            "keeper_profit": "keepers", "equity": "equity", "wiped_out": "equity",
            "transactions": "transactions"}.get(stem, "flows")


def test_a_plug_in_sees_the_block_the_built_ins_recorded(short, probes):
    run = _run(short, MetricSpec(f"{probes}:Seen", "seen"))
    assert run.summary["metrics"] == {"seen": {"agents": sum(p.count for p in short.agents),
                                               "cohorts": list(run.cohorts)}}


def test_block_views_hold_what_the_rows_show(short, probes, monkeypatch):
    captured = []
    real = metrics_module.Metrics.__init__

    def keep(self, *args, **kwargs):
        real(self, *args, **kwargs)
        captured.append(self)

    monkeypatch.setattr(metrics_module.Metrics, "__init__", keep)
    run = _run(short, MetricSpec(f"{probes}:Seen", "seen"))
    probe = captured[0].plugins[0]
    assert [v[0] for v in probe.views] == [r["block"] for r in run.rows]
    hedged = 0
    for (block, oracle, exogenous, prices, forced, impact, forced_impact, before, receipts), row \
            in zip(probe.views, run.rows):
        for symbol in run.markets:
            assert oracle[symbol] == row[f"price.{symbol}"]
            assert exogenous[symbol] == row[f"exogenous.{symbol}"]
            assert prices[symbol] == row[f"market.{symbol}"]
        assert metrics_module.usd(forced) == row["liquidation_volume"]
        assert metrics_module.usd(impact) == row["impact_cost"]
        assert metrics_module.usd(forced_impact) == row["liquidation_impact_cost"]
        # the plug-in runs after every built-in: it sees the whole built-in row
        assert before == {k: v for k, v in row.items() if not k.startswith("seen.")}
        assert receipts == row["transactions"] == row["seen.receipts"]
        hedged += forced > 0
    assert hedged > 0, "the crash should force liquidations hedged in the market"


def test_a_metric_claiming_a_built_in_column_is_refused(short, probes):
    with pytest.raises(MetricCollision) as info:
        _run(short, MetricSpec(f"{probes}:PoolAgain", "again"))
    assert str(info.value) == ("metric 'again' writes column 'pool_value', "
                               "which metric 'market' wrote")


def test_a_metric_claiming_a_built_in_summary_key_is_refused(short, probes):
    with pytest.raises(MetricCollision) as info:
        _run(short, MetricSpec(f"{probes}:BadDebtAgain", "again"))
    assert str(info.value) == ("metric 'again' writes summary key 'bad_debt', "
                               "which metric 'flows' wrote")


def test_an_unprefixed_metric_writes_the_row_and_the_summary_top_level(short, probes):
    run = _run(short, MetricSpec(f"{probes}:Unprefixed", "mine"))
    assert run.rows[-1]["receipts_so_far"] == run.summary["receipts_total"] \
        == run.summary["transactions"] > 0
    assert "metrics" not in run.summary  # nothing namespaced to put there


def test_a_new_built_in_needs_only_its_module_and_a_line_in_builtin(short, probes, monkeypatch):
    import metric_probes  # the fixture's module, on the path

    monkeypatch.setitem(metrics_module.BUILTIN, "receipts", metric_probes.Unprefixed)
    run = _run(short)
    assert list(run.rows[0])[-1] == "receipts_so_far"
    assert run.summary["receipts_total"] == run.summary["transactions"]


def test_the_sweep_keeps_and_reports_what_the_built_ins_declare(short):
    from protocol.sweep.aggregate import STATISTICS
    from protocol.sweep.run import run_metrics

    declared = {name for cls in metrics_module.BUILTIN.values() for name in cls.figures}
    run = _run(short)
    figures = run_metrics(run)
    assert set(figures) == declared
    assert figures["bad_debt"] == str(run.summary["bad_debt"])
    assert figures["lp_return"] == str(run.summary["pool"]["lp_return"])
    owners = {a.name: name for name, cls in metrics_module.BUILTIN.items() for a in cls.aggregates}
    assert [s.name for s in STATISTICS] == [a.name for a in metrics_module.AGGREGATES]
    assert set(owners) == {s.name for s in STATISTICS}
    for stat in STATISTICS:  # each reduces a figure its own metric declares
        assert stat.metric in metrics_module.BUILTIN[owners[stat.name]].figures, stat.name


def test_a_new_built_in_declares_its_sweep_statistic_in_its_own_module(probes, monkeypatch):
    from protocol.plugins import Aggregate
    from protocol.sweep.aggregate import statistic

    class Receipts(Metric):
        namespaced = False
        figures = {"receipts": lambda s: str(s["transactions"])}
        aggregates = (Aggregate("receipts_p95", "receipts, p95", "usd", "receipts", "p95", "lower",
                                "RaR95"),)

    monkeypatch.setitem(metrics_module.BUILTIN, "receipts", Receipts)
    assert metrics_module._aggregates()[-1].name == "receipts_p95"  # default rank: last
    assert metrics_module.run_figures({**_summary_stub(), "transactions": 7})["receipts"] == "7"
    stat = statistic(Receipts.aggregates[0])
    assert (stat.quantile, stat.short, stat.reduce([Decimal(v) for v in range(1, 21)])) == (
        Decimal("0.95"), "RaR95", Decimal(19))


def _summary_stub() -> dict:
    """The summary keys the built-ins' figures read."""
    return {"bad_debt": 0, "liquidated_notional": 0, "liquidation_impact_cost": 0, "fees_paid": 0,
            "insurance_fund": {"max_drawdown": 0}, "pool": {"lp_return": 0},
            "keepers": {}, "liquidations": 0, "wiped_out": 0, "traders": 0,
            "solvency": {"adl_notional": 0}, "adl": {"overshoot": 0, "gini": 0}, "limits": {}, "refused": {}, "worst_block": None}


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.integers(-(10**30), 10**30),
                 st.integers(-(10**18), 10**18).map(lambda micros: micros * 10**12 + 5 * 10**11),
                 st.integers(-(10**18), 10**18).map(lambda micros: micros * 10**12)))
def test_equity_sums_micro_dollars_rounded_as_usd_rounds(wad):
    """The equity metric sums integers, not Decimals: each agent's WAD equity becomes
    micro-dollars exactly as ``usd(from_wad(wad))`` rounds it (half to even, the exact halves
    drawn on purpose), and back to the same Decimal."""
    from protocol.sim.metrics.common import usd
    from protocol.sim.metrics.equity import _micros, _usd
    from protocol.venue.units import from_wad

    expected = usd(from_wad(wad))
    assert _micros(wad) == int(expected.scaleb(6))
    assert _usd(_micros(wad)) == expected
    assert str(_usd(_micros(wad))) == str(expected) or expected.is_zero()
