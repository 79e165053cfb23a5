"""Sweeps on the local engine: grid, validation, identical aggregates for any worker count,
resume after an interruption, failed runs recorded, percentiles."""

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from protocol.cli import main as cli
from protocol.sim.loader import ScenarioError
from protocol.sweep import Axis, LocalEngine, parse_axes, percentile, points, run_sweep

FIXED = {"blocks": 15, "agents.count": 1}
AXES = [Axis("markets.ETH.max_leverage", (10, 25)), Axis("keepers.latency", (0, 2))]
SEEDS = [1, 2]


def test_grid_is_the_cartesian_product():
    axes = parse_axes(["markets.ETH.max_leverage=10,25,50", "keepers.latency=0,2",
                       "venue.instant_trading=true"])
    assert axes[0].values == (10, 25, 50) and axes[2].values == (True,)
    grid = points(axes)
    assert len(grid) == 6 and grid[1] == {"markets.ETH.max_leverage": 10, "keepers.latency": 2,
                                          "venue.instant_trading": True}
    with pytest.raises(ValueError, match="given twice"):
        parse_axes(["a=1", "a=2"])


def test_a_bad_grid_value_fails_before_anything_runs(tmp_path):
    with pytest.raises(ScenarioError, match="markets.ETH.max_leverage"):
        run_sweep("default", [Axis("markets.ETH.max_leverage", (10, 500))], SEEDS,
                  LocalEngine(1), tmp_path, fixed=FIXED)
    assert not (tmp_path / "runs.jsonl").exists()


def test_aggregates_do_not_depend_on_workers(tmp_path):
    one = run_sweep("default", AXES, SEEDS, LocalEngine(1), tmp_path / "one", fixed=FIXED)
    two = run_sweep("default", AXES, SEEDS, LocalEngine(2), tmp_path / "two", fixed=FIXED)
    assert len(one.records) == 8 and not one.failed
    assert [a.row() for a in one.aggregates] == [a.row() for a in two.aggregates]
    assert (tmp_path / "one" / "aggregates.csv").read_bytes() == \
        (tmp_path / "two" / "aggregates.csv").read_bytes()
    assert len({str(a.params) for a in one.aggregates}) == 4


def test_an_interrupted_sweep_resumes_where_it_stopped(tmp_path):
    def stop_after_three(record, finished, total):
        if finished == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep("default", AXES, SEEDS, LocalEngine(1), tmp_path, fixed=FIXED,
                  progress=stop_after_three)
    stored = (tmp_path / "runs.jsonl").read_text().splitlines()
    assert len(stored) == 3
    ran = []
    resumed = run_sweep("default", AXES, SEEDS, LocalEngine(1), tmp_path, fixed=FIXED,
                        progress=lambda record, finished, total: ran.append(record.key))
    assert resumed.skipped == 3 and len(ran) == 5
    fresh = run_sweep("default", AXES, SEEDS, LocalEngine(1), tmp_path / "fresh", fixed=FIXED)
    assert [a.row() for a in resumed.aggregates] == [a.row() for a in fresh.aggregates]


def test_a_failing_run_is_recorded_and_counted_in_the_exit_code(tmp_path, monkeypatch):
    from protocol.sim import engine

    real_run = engine.Simulation.run

    def flaky(self, progress=None):
        if self.scenario.seed == 2:
            raise RuntimeError("boom on seed 2")
        return real_run(self, progress)

    monkeypatch.setattr(engine.Simulation, "run", flaky)
    out = tmp_path / "cli"
    result = CliRunner().invoke(cli, ["sweep", "default", "--set", "markets.ETH.max_leverage=10,25",
                                      "--set", "blocks=15", "--set", "agents.count=1",
                                      "--seeds", "2", "--workers", "1", "--out", str(out)])
    assert result.exit_code == 2, result.output  # one failure per grid point
    assert "boom on seed 2" in result.output
    records = (out / "runs.jsonl").read_text()
    assert records.count('"status": "error"') == 2 and "Traceback" in records
    assert (out / "aggregates.csv").exists() and (out / "sweep.html").exists()


@given(st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=50),
       st.sampled_from(["0.05", "0.5", "0.95", "1"]))
def test_percentile_is_nearest_rank(values, p):
    decimals = [Decimal(v) for v in values]
    got = percentile(decimals, Decimal(p))
    share = sum(1 for v in decimals if v <= got) / len(decimals)
    assert share >= float(p)  # at least p of the values are at or below it
    smaller = [v for v in decimals if v < got]
    assert len(smaller) / len(decimals) < float(p)  # and it is the smallest such value


def test_parquet_tables_are_the_frames(tmp_path):
    import pandas

    out = tmp_path / "pq"
    run = CliRunner().invoke(cli, ["sweep", "default", "--set", "keepers.latency=0,2",
                                   "--set", "blocks=15", "--set", "agents.count=1", "--seeds", "2",
                                   "--workers", "1", "--format", "parquet", "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert not (out / "aggregates.csv").exists()
    result = run_sweep("default", [Axis("keepers.latency", (0, 2))], SEEDS, LocalEngine(1), out,
                       fixed=FIXED, data_format="parquet")
    assert result.skipped == 4  # everything came from runs.jsonl
    runs = pandas.read_parquet(out / "runs.parquet")
    pandas.testing.assert_frame_equal(runs, result.frame())
    assert list(runs.columns[:5]) == ["keepers.latency", "seed", "status", "error", "seconds"]
    assert list(zip(runs["keepers.latency"], runs["seed"])) == [(0, 1), (0, 2), (2, 1), (2, 2)]
    for row, record in zip(runs.itertuples(index=False), result.records):
        assert row.bad_debt == float(Decimal(record.metrics["bad_debt"]))
        assert row.fees_paid == float(Decimal(record.metrics["fees_paid"]))
    points = pandas.read_parquet(out / "aggregates.parquet")
    pandas.testing.assert_frame_equal(points, result.frame("points"))
    assert len(points) == 2 and points["runs"].tolist() == [2, 2]
    first = result.aggregates[0]
    assert points["bad_debt_mean.ci_high"][0] == float(first.ci["bad_debt_mean"].high)
    # two seeds: no VaR95, and why
    assert points["var95_bad_debt"].isna().all() and "var95_bad_debt.ci_high" not in points
    assert points["var95_bad_debt.note"][0] == "n too small for VaR95: 2 seeds, a 95% interval needs at least 72"
    assert points["lp_return_mean"][0] == float(first.lp_return_mean)
    with pytest.raises(ValueError, match="frame level 'seeds'"):
        result.frame("seeds")
