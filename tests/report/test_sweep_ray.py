"""The Ray engine gives the same sweep as the local process pool, and resumes like it."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray", reason="the Ray engine is the optional extra: pip install 'perpsim[ray]'")

from protocol.sweep.engines import LocalEngine, RayEngine  # noqa: E402
from protocol.sweep.grid import Axis  # noqa: E402
from protocol.sweep.sweep import run_sweep  # noqa: E402

SCENARIO = "default"
FIXED = {"blocks": 15, "agents.count": 1}
AXES = [Axis("markets.ETH.max_leverage", (10, 25))]
SEEDS = [1, 2, 3]
RUNS = len(AXES[0].values) * len(SEEDS)


@pytest.fixture(scope="module")
def local_ray():
    """One private local Ray for the module; shut down after, leaving no processes behind."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield
    ray.shutdown()


def sweep(engine, out):
    return run_sweep(SCENARIO, AXES, SEEDS, engine, out, fixed=FIXED)


def test_ray_matches_local(local_ray, tmp_path):
    local = sweep(LocalEngine(2), tmp_path / "local")
    on_ray = sweep(RayEngine(workers=2), tmp_path / "ray")
    assert not local.failed and not on_ray.failed
    assert len(on_ray.records) == RUNS and on_ray.skipped == 0
    assert [a.row() for a in on_ray.aggregates] == [a.row() for a in local.aggregates]
    assert [a.bad_debt for a in on_ray.aggregates] == [a.bad_debt for a in local.aggregates]
    assert ((tmp_path / "ray" / "aggregates.csv").read_bytes()
            == (tmp_path / "local" / "aggregates.csv").read_bytes())
    assert ray.is_initialized()  # the engine joined the fixture's Ray and left it running


def test_ray_resumes(local_ray, tmp_path):
    first = sweep(RayEngine(workers=2), tmp_path)
    assert first.skipped == 0 and len(first.records) == RUNS and not first.failed
    again = sweep(RayEngine(workers=2), tmp_path)
    assert again.skipped == RUNS
    assert [a.row() for a in again.aggregates] == [a.row() for a in first.aggregates]
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == RUNS
