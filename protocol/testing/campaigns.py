"""Fuzz campaigns on several workers: independent seeds in parallel, on local processes or Ray.

Worker ``i`` of ``N`` runs its share of the sequences with seed ``base + i`` (``base``: the
campaign's seed, 0 when none is given), so a parallel campaign is as reproducible as a single
one. A worker that finds a failure writes its crash bundle into ``<crash dir>/seed-<seed>``.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from protocol.errors import PerpsimError
from protocol.lifeline import die_with_parent
from protocol.testing.crash import Failure
from protocol.testing.fuzz import run_campaign, write_fuzz_bundle

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class WorkerReport:
    """What one worker ran and found (picklable: it crosses processes)."""

    seed: int
    runs: int
    steps: int
    seconds: float
    outcomes: dict[str, int] = field(default_factory=dict)
    error: Optional[str] = None  # the failure in one line
    steps_taken: tuple[str, ...] = ()  # its shrunk sequence
    bundle: Optional[str] = None  # its crash bundle


@dataclass(frozen=True)
class ParallelResult:
    """Every worker's report, in seed order, and the campaign's totals."""

    workers: tuple[WorkerReport, ...]
    seconds: float  # wall time

    @property
    def steps(self) -> int:
        return sum(w.steps for w in self.workers)

    @property
    def outcomes(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for w in self.workers:
            for key, count in w.outcomes.items():
                total[key] = total.get(key, 0) + count
        return total

    @property
    def failed(self) -> tuple[WorkerReport, ...]:
        return tuple(w for w in self.workers if w.error is not None)

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0


def shares(runs: int, workers: int) -> list[int]:
    """``runs`` split as evenly as possible over ``workers`` (the first ones take the rest)."""
    if workers < 1:
        raise ValueError(f"workers: must be at least 1, got {workers}")
    return [runs // workers + (1 if i < runs % workers else 0) for i in range(workers)]


#: A worker's arguments: :func:`work`'s.
_Job = tuple[int, int, Optional[str], dict[str, Any]]


def work(runs: int, seed: int, crash_dir: Optional[str], campaign: Mapping[str, Any]) -> WorkerReport:
    """One worker: :func:`~protocol.testing.fuzz.run_campaign` with ``seed``; a failure's
    bundle goes to ``crash_dir/seed-<seed>``."""
    result = run_campaign(runs, seed=seed, **campaign)
    error = bundle = None
    if result.error is not None:
        error = Failure.of(result.error).one_line()
        if crash_dir is not None:
            bundle = str(write_fuzz_bundle(result, Path(crash_dir) / f"seed-{seed}"))
    return WorkerReport(seed, runs, result.steps, result.seconds, dict(result.outcomes), error,
                        tuple(result.steps_taken), bundle)


def run_parallel(runs: int, workers: int, *, engine: str = "local", seed: Optional[int] = None,
                 crash_dir: Optional[str | Path] = None, address: Optional[str] = None,
                 **campaign: Any) -> ParallelResult:
    """Run ``runs`` sequences over ``workers`` independent seeds on ``engine`` (``"local"``:
    processes on this machine; ``"ray"``: a local Ray instance, or the cluster at ``address``).
    ``campaign`` is what :func:`~protocol.testing.fuzz.run_campaign` takes besides the runs
    and the seed."""
    if engine not in ENGINES:
        raise PerpsimError(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
    base = 0 if seed is None else seed
    jobs = [(n, base + i, None if crash_dir is None else str(crash_dir), dict(campaign))
            for i, n in enumerate(shares(runs, workers)) if n]
    started = time.perf_counter()
    if engine == "ray":
        reports = _on_ray(jobs, workers, address)
    else:
        # spawned, not forked: a worker starts from a fresh interpreter, as alone, whatever
        # campaigns this process ran before (a forked one inherits their venue and caches)
        # a worker dies with this process, so a killed campaign leaves none behind
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs), os.cpu_count() or 1),
                                 mp_context=multiprocessing.get_context("spawn"),
                                 initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            reports = list(pool.map(work, *zip(*jobs)))
    return ParallelResult(tuple(reports), time.perf_counter() - started)


def _on_ray(jobs: list[_Job], workers: int, address: Optional[str]) -> list[WorkerReport]:
    try:
        import ray  # function-level: Ray is the optional 'ray' extra
    except ModuleNotFoundError:
        raise PerpsimError("--engine ray needs Ray: pip install 'perpsim[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address, logging_level="ERROR",  # type: ignore[arg-type]  # ray's stub says int; it takes names
                     log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False,
                     logging_level="ERROR",  # type: ignore[arg-type]  # ray's stub says int; it takes names
                     log_to_driver=False)
    try:
        remote = ray.remote(work)
        return ray.get([remote.remote(*job) for job in jobs])
    finally:
        if started_here:
            ray.shutdown()
