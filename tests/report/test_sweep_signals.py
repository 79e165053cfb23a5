"""Ctrl-C, SIGINT and SIGTERM stop a sweep: queued runs are cancelled at once, runs in flight are
stored if they finish within the grace period, the command exits 128 + the signal's number with
one line saying what was stored and how to resume, leaves no process behind, and the resume runs
only the missing runs. Each test starts ``perpsim sweep`` as a real subprocess and signals it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import session_processes

RUNS = 12  # 12 seeds of a 60-block, 1-agent default scenario: about 0.5 s a run
SWEEP = ["sweep", "default", "--set", "blocks=60", "--set", "agents.count=1",
         "--seeds", str(RUNS)]
CLI = [sys.executable, "-c", "from protocol.cli import main; main()"]
EXIT_BOUND = 20.0  # seconds from the signal to the exit: a few seconds plus a run in flight
LINE = re.compile(r"^interrupted by (SIG\w+): (\d+) of (\d+) runs stored in (\S+); "
                  r"resume with: (perpsim sweep .+)$")


def stored(out: Path) -> list[dict]:
    """The records stored so far: the complete lines (read while the sweep runs, a line being
    written may show only in part, as RunStore's own reading allows)."""
    path = out / "runs.jsonl"
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text[:text.rfind("\n") + 1].splitlines()]


def interrupt(out: Path, signum: int, *, group: bool, extra: tuple[str, ...] = ()) -> dict:
    """Start the sweep, wait for its first run stored by the engine, send ``signum`` (to the
    whole process group, as Ctrl-C does, or to the main process alone) and collect what happened.
    The sweep first runs one run in-process to estimate its time (stored as the engine starts),
    so the engine's first run is the second stored."""
    argv = [*CLI, *SWEEP, *extra, "--out", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(stored(out)) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no run stored within 60 s"
            time.sleep(0.02)
        seen = len(stored(out))
        sent = time.monotonic()
        (os.killpg if group else os.kill)(proc.pid, signum)
        try:
            stdout, stderr = proc.communicate(timeout=EXIT_BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {EXIT_BOUND:.0f} s after {signal.Signals(signum).name}")
        took = time.monotonic() - sent
        deadline = time.monotonic() + 3
        while session_processes(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = session_processes(proc.pid)
    finally:
        if proc.poll() is None or session_processes(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return dict(code=proc.returncode, stdout=stdout, stderr=stderr, took=took, seen=seen,
                left=left, argv=argv)


def check_interrupted(got: dict, out: Path, signum: int, *, pooled: bool = True) -> list[dict]:
    name = signal.Signals(signum).name
    output = got["stdout"] + got["stderr"]
    assert "Traceback" not in output, output
    assert got["code"] == 128 + signum, output
    assert got["took"] < EXIT_BOUND
    assert got["left"] == [], f"processes left behind: {got['left']}"
    records = stored(out)
    # complete, valid records, each run once; the queue was cancelled, the run(s) in flight kept
    assert all(r["status"] == "ok" and r["metrics"] for r in records)
    assert len({r["key"] for r in records}) == len(records)
    # with 2 workers one run is always in flight at the signal, and it must be stored; one
    # worker may have been between two runs
    assert got["seen"] + pooled <= len(records) < RUNS, (got["seen"], len(records))
    lines = got["stderr"].strip().splitlines()
    assert lines, output
    match = LINE.match(lines[-1])
    assert match, lines[-1]
    assert match.group(1) == name and int(match.group(2)) == len(records)
    assert int(match.group(3)) == RUNS and match.group(4) == str(out)
    assert "--out" in match.group(5) and f"--seeds {RUNS}" in match.group(5)
    return records


def resume(out: Path, argv: list[str], records: list[dict]) -> None:
    """The same command again runs only the missing runs and completes the sweep."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{RUNS} runs ok, 0 failed, {len(records)} resumed" in \
        " ".join(done.stdout.split())
    lines = stored(out)
    assert len(lines) == RUNS and len({r["key"] for r in lines}) == RUNS
    assert lines[:len(records)] == records  # the stored runs were not run again


def test_ctrl_c_stops_the_sweep_and_the_same_command_resumes(tmp_path):
    """Ctrl-C: SIGINT to the whole foreground process group, the workers included."""
    out = tmp_path / "sweep"
    got = interrupt(out, signal.SIGINT, group=True, extra=("--workers", "2"))
    records = check_interrupted(got, out, signal.SIGINT)
    resume(out, got["argv"], records)


@pytest.mark.parametrize("workers", ["2", "1"])
def test_sigint_to_the_main_process_alone(tmp_path, workers):
    """``kill -INT PID``: only the main process hears it (``--workers 1`` runs in it)."""
    out = tmp_path / "sweep"
    got = interrupt(out, signal.SIGINT, group=False, extra=("--workers", workers))
    check_interrupted(got, out, signal.SIGINT, pooled=workers != "1")


def test_sigterm_stops_the_sweep_like_ctrl_c(tmp_path):
    out = tmp_path / "sweep"
    got = interrupt(out, signal.SIGTERM, group=False, extra=("--workers", "2"))
    check_interrupted(got, out, signal.SIGTERM)


def test_past_the_grace_period_the_runs_in_flight_are_abandoned(tmp_path):
    """``--grace 0``: nothing is waited for; the workers are killed, the store stays valid."""
    out = tmp_path / "sweep"
    got = interrupt(out, signal.SIGINT, group=True, extra=("--workers", "2", "--grace", "0"))
    check_interrupted(got, out, signal.SIGINT, pooled=False)
    assert re.search(r"waiting up to 0 s for the [12] in flight", got["stderr"]), got["stderr"]


def test_a_killed_sweep_leaves_no_worker_behind(tmp_path):
    """``kill -9`` of the main process: nothing can be handled, but the workers die with it
    (before, they ran on as orphans holding the terminal), and the folder opens for a resume."""
    from protocol.sweep.store import RunStore

    out = tmp_path / "sweep"
    got = interrupt(out, signal.SIGKILL, group=False, extra=("--workers", "2"))
    assert got["code"] == -signal.SIGKILL and got["left"] == [], got["left"]
    assert len(RunStore(out).records) >= got["seen"]


def test_ctrl_c_stops_a_sweep_on_ray(tmp_path):
    """The same on a private local Ray (its start takes most of the ~15 s). Resuming is the
    store's work whatever the engine (tests/report/test_sweep_ray.py resumes on Ray)."""
    pytest.importorskip("ray", reason="the Ray engine is the optional extra: "
                                      "pip install 'perpsim[ray]'")
    out = tmp_path / "sweep"
    got = interrupt(out, signal.SIGINT, group=True, extra=("--engine", "ray", "--workers", "2"))
    check_interrupted(got, out, signal.SIGINT)
    assert "--engine ray" in got["stderr"]


def test_a_torn_last_line_is_dropped_and_its_run_runs_again(tmp_path):
    """A process killed in the middle of a write leaves half a line: the store opens without
    it, and the next record starts on a line of its own."""
    from protocol.sweep.run import RunRecord
    from protocol.sweep.store import RunStore

    first = RunRecord("a" * 20, {}, 1, "ok", {"bad_debt": "0"})
    second = RunRecord("b" * 20, {}, 2, "ok", {"bad_debt": "1"})
    path = tmp_path / "runs.jsonl"
    path.write_text(first.to_json() + "\n" + second.to_json()[:30])
    store = RunStore(tmp_path)
    assert list(store.records) == [first.key] and not store.done(second.key)
    assert path.read_text() == first.to_json() + "\n"
    store.add(second)
    assert [r.key for r in RunStore(tmp_path).records.values()] == [first.key, second.key]
    path.write_text(first.to_json() + "\n{oops\n" + second.to_json() + "\n")
    with pytest.raises(ValueError, match=r"runs.jsonl, line 2: not a run record"):
        RunStore(tmp_path)


def test_run_sweep_raises_sweep_interrupted_and_resumes(tmp_path):
    """The Python API (a notebook's interrupt is a SIGINT): the run in flight is kept, the
    rest cancelled, :class:`SweepInterrupted` says so, and the same call finishes the sweep."""
    from protocol.sweep import Axis, LocalEngine, SweepInterrupted, run_sweep

    axes, seeds = [Axis("keepers.latency", (0, 2))], [1, 2]
    fixed = {"blocks": 15, "agents.count": 1}
    told, handler = [], signal.getsignal(signal.SIGINT)

    def signal_after_first(record, finished, total):
        if finished == 1:
            os.kill(os.getpid(), signal.SIGINT)  # handled between two runs: nothing in flight

    with pytest.raises(SweepInterrupted) as stopped:
        run_sweep("default", axes, seeds, LocalEngine(1), tmp_path, fixed=fixed,
                  progress=signal_after_first, on_stop=lambda *counts: told.append(counts))
    got = stopped.value
    assert (got.signum, got.stored, got.total, got.exit_code) == (signal.SIGINT, 1, 4, 130)
    assert told == [(3, 0)]  # 3 queued runs cancelled, none in flight
    assert signal.getsignal(signal.SIGINT) is handler  # the caller's handler is back
    ran = []
    done = run_sweep("default", axes, seeds, LocalEngine(1), tmp_path, fixed=fixed,
                     progress=lambda record, finished, total: ran.append(record.key))
    assert done.skipped == 1 and len(ran) == 3 and len(done.records) == 4 and not done.failed
