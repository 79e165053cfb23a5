"""Campaigns that scale (issue 24 §3): a failure is saved in the example database and replayed
first; ``--replay`` replays only it; ``--workers N`` runs independent seeds in parallel, locally
or on Ray, with the same numbers as running each seed alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from processes import session_processes
from test_fuzz import NoOpenShortsMachine

from protocol.cli import main as cli
from protocol.testing.campaigns import run_parallel, shares
from protocol.testing.fuzz import run_campaign

CAMPAIGN = dict(backend="revm", steps_per_run=8)


def test_runs_are_shared_evenly_over_the_workers():
    assert shares(10, 3) == [4, 3, 3]
    assert shares(2, 4) == [1, 1, 0, 0]
    with pytest.raises(ValueError, match="at least 1"):
        shares(10, 0)


def test_workers_run_the_seeds_each_would_run_alone():
    """Two workers give what each seed gives alone, in a fresh process (as ``perpsim fuzz
    --seed`` runs it)."""
    parallel = run_parallel(12, 2, seed=40, **CAMPAIGN)
    alone = [run_parallel(6, 1, seed=seed, **CAMPAIGN).workers[0] for seed in (40, 41)]
    assert [w.seed for w in parallel.workers] == [40, 41]
    assert [w.steps for w in parallel.workers] == [r.steps for r in alone]
    assert [w.outcomes for w in parallel.workers] == [r.outcomes for r in alone]
    assert parallel.steps == sum(r.steps for r in alone) and not parallel.failed


def test_a_worker_that_fails_writes_its_bundle(tmp_path):
    result = run_parallel(60, 2, seed=5, crash_dir=tmp_path, machine=NoOpenShortsMachine,
                          backend="revm", steps_per_run=4)  # short runs: a short shrink
    assert result.failed
    for w in result.failed:
        assert "invariant 'nobody short' broken" in w.error
        assert w.bundle == str(tmp_path / f"seed-{w.seed}")
        assert (tmp_path / f"seed-{w.seed}" / "test_replay.py").exists()
    # only a worker that failed writes one (here seed 6 fails, seed 5 does not)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"seed-{w.seed}" for w in result.failed)
    assert len(result.failed) < len(result.workers)


def test_a_saved_failure_is_replayed_first_and_alone(tmp_path):
    db = tmp_path / "db"
    first = run_campaign(300, machine=NoOpenShortsMachine, database=db, **CAMPAIGN)
    assert first.error is not None
    # Replay only: no new sequences, the saved one fails the same way, in the same steps.
    replayed = run_campaign(300, machine=NoOpenShortsMachine, database=db, replay=True, **CAMPAIGN)
    assert replayed.steps_taken == first.steps_taken
    assert str(replayed.error) == str(first.error)
    assert replayed.steps < first.steps
    # A campaign of another venue (another backend here) has nothing saved.
    other = run_campaign(300, machine=NoOpenShortsMachine, database=db, replay=True,
                         backend="pyevm", steps_per_run=8)
    assert other.steps == 0 and other.error is None


def test_a_database_leaves_a_clean_campaign_unchanged(tmp_path):
    """Nothing saved, nothing changed: the campaign with a database is the derandomized one."""
    plain = run_campaign(10, **CAMPAIGN)
    with_db = run_campaign(10, database=tmp_path / "db", **CAMPAIGN)
    assert (with_db.steps, with_db.outcomes) == (plain.steps, plain.outcomes)


def test_the_cli_runs_workers_and_refuses_what_cannot_combine(tmp_path):
    result = CliRunner().invoke(cli, ["fuzz", "--steps", "32", "--run-length", "8", "--workers", "2",
                                      "--seed", "3", "--no-db"])
    assert result.exit_code == 0, result.output
    assert "2 workers (local)" in result.output and result.output.strip().endswith(
        "no invariant or property broken")
    for args, message in [
        (["--replay", "--no-db"], "Error: --replay replays the example database: drop --no-db"),
        (["--workers", "2", "--replay"], "Error: --workers runs new sequences without coverage: drop --replay"),
        (["--replay", "--db", str(tmp_path / "empty")],
         f"Error: nothing to replay: {tmp_path / 'empty'} holds no failure of this campaign's venue "
         "(backend, modules, contracts, mirrors)"),
    ]:
        result = CliRunner().invoke(cli, ["fuzz", "--steps", "8", *args])
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines()[-1] == message


def test_workers_on_ray_match_local():
    pytest.importorskip("ray", reason="the Ray engine is the optional extra: pip install 'perpsim[ray]'")
    on_ray = run_parallel(8, 2, engine="ray", seed=7, **CAMPAIGN)
    local = run_parallel(8, 2, seed=7, **CAMPAIGN)
    assert [(w.seed, w.steps, w.outcomes) for w in on_ray.workers] == \
        [(w.seed, w.steps, w.outcomes) for w in local.workers]


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_campaign_leaves_no_worker_behind(signum):
    """``kill -9`` (or a plain ``kill``) of ``perpsim fuzz --workers 2``: nothing runs in the main
    process then, but its workers die with it. Before, they fuzzed on as orphans."""
    argv = [sys.executable, "-c", "from protocol.cli import main; main()", "fuzz", "--workers",
            "2", "--steps", "1000000", "--no-db", "--seed", "5"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(session_processes(proc.pid)) < 3:  # the main process and two workers at least
            assert proc.poll() is None and time.monotonic() < deadline, "no workers in 60 s"
            time.sleep(0.05)
        os.kill(proc.pid, signum)
        assert proc.wait(timeout=10) == -signum
        deadline = time.monotonic() + 5
        while session_processes(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert session_processes(proc.pid) == []
    finally:
        if session_processes(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
