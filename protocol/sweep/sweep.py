"""A sweep: a scenario over a parameter grid and N seeds, run on an engine, stored run by run,
aggregated per grid point."""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from protocol.sim.loader import load_scenario
from protocol.sweep.aggregate import PointAggregate, aggregate
from protocol.sweep.engines import Engine
from protocol.sweep.frames import points_frame, runs_frame
from protocol.sweep.frontier import condition_keys
from protocol.sweep.grid import Axis, points
from protocol.sweep.interrupt import DEFAULT_GRACE, Stop, SweepInterrupted, stop_on_signals
from protocol.sweep.run import RunRecord, RunSpec, execute
from protocol.sweep.store import RunStore
from protocol.values import write_csv

if TYPE_CHECKING:
    import pandas

Progress = Callable[[RunRecord, int, int], None]  # (record, finished, to run)


FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class Estimate:
    """How long the runs still to do will take, told before the sweep starts.

    ``per_run`` comes from the median time of this sweep's stored runs when it resumes
    (``source="stored runs"``), else from its first run, executed and timed in this process
    before the others start (``source="measured first run"``; that run is stored and counted)."""

    runs: int  # runs still to do (after the one measured)
    per_run: float  # seconds
    parallel: int  # runs at a time
    source: str

    @property
    def seconds(self) -> float:
        """Wall time of the runs left: rounds of ``parallel`` runs of ``per_run`` each."""
        return math.ceil(self.runs / max(self.parallel, 1)) * self.per_run

    def describe(self) -> str:
        """``estimated 12 min for 144 runs (9.8 s per run, measured first run; 2 at a time)``."""
        return (f"estimated {duration(self.seconds)} for {self.runs:,} run{'s' if self.runs != 1 else ''} "
                f"({self.per_run:.1f} s per run, {self.source}; {self.parallel} at a time)")


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


@dataclass
class SweepResult:
    """Everything a sweep produced: its grid, every stored run and the aggregates per point."""

    axes: list[Axis]
    points: list[dict[str, Any]]
    records: list[RunRecord]
    aggregates: list[PointAggregate]
    skipped: int  # runs already stored by an earlier invocation
    failed: list[RunRecord] = field(default_factory=list)
    wall_seconds: float = 0.0
    scenario: Optional[str] = None
    fixed: dict[str, Any] = field(default_factory=dict)  # one-value --set overrides, on every run
    # swept keys that are conditions, not design choices (None: frontier.DEFAULT_CONDITIONS)
    conditions: Optional[tuple[str, ...]] = None

    def frame(self, level: str = "runs") -> "pandas.DataFrame":
        """A pandas DataFrame for notebooks. ``level="runs"``: one row per run (parameters, seed,
        status, error, seconds, then every metric, keepers as ``keeper_profit.NAME``);
        ``level="points"``: one row per grid point, the columns of ``aggregates.csv`` (with the
        bootstrap intervals as ``NAME.ci_low`` / ``NAME.ci_high``). Amounts become floats here;
        runs.jsonl and aggregates.csv keep the exact values."""
        if level == "runs":
            return runs_frame(self)
        if level == "points":
            return points_frame(self)
        raise ValueError(f"frame level {level!r}: expected 'runs' or 'points'")


def scenario_hash(scenario: str) -> str:
    """Hash of the scenario's TOML text: a changed scenario file makes new run keys."""
    path = Path(scenario)
    if path.suffix == ".toml" or path.exists():
        data = path.read_bytes()
    else:
        data = (resources.files("protocol.sim") / "scenarios" / f"{scenario}.toml").read_bytes()
    return hashlib.sha256(data).hexdigest()[:16]


def plan(scenario: str, axes: list[Axis], seeds: list[int], backend: Optional[str] = None,
         fixed: Optional[dict[str, Any]] = None) -> tuple[list[dict[str, Any]], list[RunSpec]]:
    """Every (grid point, seed) run. Each grid point is validated like a scenario first, so a
    bad value fails the sweep before anything runs."""
    grid = points(axes)
    fixed = dict(fixed or {})
    for point in grid:
        load_scenario(scenario, {**fixed, **point})  # raises ScenarioError naming the key
    digest = scenario_hash(scenario)
    specs = [RunSpec(scenario, digest, tuple(sorted(point.items())), seed, backend,
                     tuple(sorted(fixed.items())))
             for point in grid for seed in seeds]
    return grid, specs


def store_runs(engine: Engine, specs: list[RunSpec], store: RunStore, stop: Stop, *,
               first: Optional[RunRecord] = None,
               progress: Optional[Progress] = None) -> None:
    """Run ``specs`` on ``engine``, storing each record as it finishes and telling ``progress``
    (records finished, of all to store); ``first``, a run already executed, is stored first. A
    signal caught meanwhile requests ``stop`` (the caller raises once it returns); the engine is
    closed either way."""
    total = len(specs) + (first is not None)
    finished = 0
    runs = engine.map(specs, stop)  # before the handlers: starting Ray installs its own
    with stop_on_signals(stop):
        try:
            # the measured run is stored once a signal can no longer cut the sweep between
            # two runs: what is stored was run by a sweep that stops cleanly
            for record in itertools.chain([first] if first is not None else [], runs):
                store.add(record)
                finished += 1
                if progress:
                    progress(record, finished, total)
        except KeyboardInterrupt:
            if not stop.requested:  # not a signal this sweep caught: the caller's to handle
                raise
        finally:
            engine.close()


def run_sweep(scenario: str, axes: list[Axis], seeds: list[int], engine: Engine, out: Path, *,
              backend: Optional[str] = None, fixed: Optional[dict[str, Any]] = None,
              progress: Optional[Progress] = None, data_format: str = "csv",
              grace: float = DEFAULT_GRACE,
              on_stop: Optional[Callable[[int, int], None]] = None,
              conditions: Optional[Sequence[str]] = None,
              before: Optional[Callable[[Estimate], None]] = None, parallel: int = 1) -> SweepResult:
    """Run what is not stored yet, then aggregate everything stored for this sweep and write
    the tables: ``aggregates.csv``, or with ``data_format="parquet"`` ``aggregates.parquet`` and
    ``runs.parquet``.

    ``conditions`` names the swept keys that are conditions rather than design parameters
    (keys, prefixes or patterns; default :data:`~protocol.sweep.frontier.DEFAULT_CONDITIONS`):
    the frontier is computed per combination of their values. ``before``, if given, is called with
    an :class:`Estimate` of the time the runs still to do take with ``parallel`` at a time (from
    the stored runs, or from the first run executed here and timed) before the engine starts;
    it may raise to stop the sweep, the measured run staying stored.

    Ctrl-C, SIGINT or SIGTERM (caught while the engine runs, from the main thread) cancels the
    queued runs at once and lets the runs in flight finish and be stored for up to ``grace``
    seconds (a second signal stops waiting); ``on_stop(cancelled, in_flight)`` is told when the
    queue is dropped. Then :class:`~protocol.sweep.interrupt.SweepInterrupted` is raised, with no
    tables written; the same call again runs only the missing runs."""
    if data_format not in FORMATS:
        raise ValueError(f"format {data_format!r}: expected one of {', '.join(FORMATS)}")
    condition_keys([a.key for a in axes], conditions)  # a condition naming no swept key fails now
    started = time.perf_counter()
    grid, specs = plan(scenario, axes, seeds, backend, fixed)
    store = RunStore(out)
    todo = [s for s in specs if not store.done(s.key)]
    rest, first = todo, None
    if before is not None and todo:
        stored = [store.records[s.key] for s in specs if s.key in store.records]
        timed = sorted(r.seconds for r in stored if r.status == "ok" and r.seconds)
        if timed:
            before(Estimate(len(todo), timed[len(timed) // 2], parallel, "stored runs"))
        else:
            first, rest = execute(todo[0]), todo[1:]
            try:
                before(Estimate(len(rest), first.seconds, parallel, "measured first run"))
            except BaseException:
                store.add(first)  # the measured run stays stored
                raise
    stop = Stop(grace, on_stop)
    store_runs(engine, rest, store, stop, first=first, progress=progress)
    if stop.requested:
        raise SweepInterrupted(stop.signum, sum(store.done(s.key) for s in specs), len(specs), out)
    records = [store.records[s.key] for s in specs if s.key in store.records]
    result = SweepResult(axes, grid, records, aggregate(grid, records),
                         skipped=len(specs) - len(todo),
                         failed=[r for r in records if r.status != "ok"],
                         wall_seconds=time.perf_counter() - started,
                         scenario=scenario, fixed=dict(fixed or {}),
                         conditions=None if conditions is None else tuple(conditions))
    if data_format == "parquet":
        write_parquet(result, out)
    else:
        write_aggregates(result, out)
    return result


def write_aggregates(result: SweepResult, out: Path) -> Path:
    # a tail quantile from too few seeds is an empty cell; NAME.note says why
    return write_csv(out / "aggregates.csv", [a.row() for a in result.aggregates])


def write_parquet(result: SweepResult, out: Path) -> tuple[Path, Path]:
    """``aggregates.parquet`` (one row per grid point) and ``runs.parquet`` (one row per run):
    :meth:`SweepResult.frame` written with pyarrow."""
    points_path, runs_path = out / "aggregates.parquet", out / "runs.parquet"
    result.frame("points").to_parquet(points_path, engine="pyarrow", index=False)
    result.frame("runs").to_parquet(runs_path, engine="pyarrow", index=False)
    return points_path, runs_path
