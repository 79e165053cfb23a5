"""Where runs execute: a local process pool (default) or a Ray cluster.

Both take the same picklable :class:`~protocol.sweep.run.RunSpec` list and yield
:class:`~protocol.sweep.run.RunRecord` objects as runs finish. A run is one independent chain,
so a sweep parallelises perfectly; the engine only schedules and moves small records.

Both keep only as many runs in flight as there are workers and hold the rest in their own
queue, so a :class:`~protocol.sweep.interrupt.Stop` request (Ctrl-C, SIGINT, SIGTERM) drops the
queue at once and waits only for the runs in flight, up to the grace period; ``close()`` then
kills whatever still runs.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
from collections import deque
from typing import Any, Callable, Iterable, Iterator, Optional, Protocol

from protocol.sweep.interrupt import Stop, worker_init
from protocol.sweep.run import RunRecord, RunSpec, execute

POLL = 0.1  # seconds between looks at a stop request while runs are in flight


class Engine(Protocol):
    name: str

    def map(self, specs: Iterable[RunSpec], stop: Optional[Stop] = None) -> Iterator[RunRecord]:
        """Yield each run's record as it finishes. Once ``stop`` is requested, start nothing
        more (calling ``stop.acknowledge``) and yield only the runs in flight, until
        ``stop.expired``."""
        ...

    def close(self) -> None:
        """Release the workers, killing runs still in flight."""
        ...


class LocalEngine:
    """A process pool of ``workers`` processes (default: one per CPU). ``workers=1`` runs in
    this process, which keeps tracebacks and profiling simple; there a stop request lets the
    run in flight finish (however long it takes) unless a second signal abandons it.

    Workers ignore SIGINT and SIGTERM (the sweep's main process decides what stops) and die with
    the main process. ``task`` is what runs one spec (a module-level function: the pool pickles
    it by name); the default, :func:`~protocol.sweep.run.execute`, a sweep's run."""

    name = "local"

    def __init__(self, workers: Optional[int] = None,
                 task: Callable[[RunSpec], RunRecord] = execute):
        self.workers = workers or os.cpu_count() or 1
        self.task = task
        self._pool: Optional[cf.ProcessPoolExecutor] = None
        self._pending: set[cf.Future[RunRecord]] = set()

    def map(self, specs: Iterable[RunSpec], stop: Optional[Stop] = None) -> Iterator[RunRecord]:
        specs, stop = list(specs), stop or Stop()
        if self.workers == 1:
            return self._in_process(specs, stop)
        return self._pooled(specs, stop)

    def _in_process(self, specs: list[RunSpec], stop: Stop) -> Iterator[RunRecord]:
        for i, spec in enumerate(specs):
            if stop.requested:
                stop.acknowledge(len(specs) - i, 0)
                return
            stop.interruptible = True  # a second signal raises KeyboardInterrupt in the run
            try:
                record = self.task(spec)
            finally:
                stop.interruptible = False
            yield record
        if stop.requested:
            stop.acknowledge(0, 0)

    def _pooled(self, specs: list[RunSpec], stop: Stop) -> Iterator[RunRecord]:
        # fork: workers inherit the imported package and compiled artifacts at no cost
        fork = multiprocessing.get_context("fork")
        self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=fork,
                                            initializer=worker_init, initargs=(os.getpid(),))
        queue = deque(specs)
        while self._pending or (queue and not stop.requested):
            if stop.requested:
                stop.acknowledge(len(queue), len(self._pending))
                queue.clear()
                if stop.expired:
                    return
            # one run per worker: nothing waits inside the pool, so stopping drops the queue here
            while queue and len(self._pending) < self.workers:
                self._pending.add(self._pool.submit(self.task, queue.popleft()))
            done, self._pending = cf.wait(self._pending, timeout=POLL,
                                          return_when=cf.FIRST_COMPLETED)
            for future in done:
                yield future.result()
        if stop.requested:
            stop.acknowledge(len(queue), 0)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if self._pending:  # abandoned runs: their workers are killed (they ignore SIGTERM)
            for process in list((pool._processes or {}).values()):
                if process.is_alive():
                    process.kill()
            self._pending = set()
        # Joins the pool's manager thread, which ends once it sees the killed workers. Left
        # running, it races the interpreter's exit hook for the pool's wake-up pipe and prints
        # an OSError traceback after the sweep's last line.
        pool.shutdown(wait=True, cancel_futures=True)


class RayEngine:
    """Each run is a Ray task. ``address`` None starts a private local Ray with ``workers`` CPUs
    (default: all); give a running cluster's address (``auto`` on a cluster node, or
    ``ray://head:10001`` through Ray Client) to run there, where the cluster's CPUs set the
    parallelism. If Ray is already initialised in this process it is used as it is. Every node
    needs the same perpsim installed (``pip install 'perpsim[ray]'``) and its artifacts compiled:
    tasks import ``protocol`` from the node's Python, no code is shipped."""

    name = "ray"

    def __init__(self, address: Optional[str] = None, workers: Optional[int] = None):
        try:
            import ray  # function-level: Ray is the optional 'ray' extra
        except ImportError:
            raise RuntimeError("the ray engine needs Ray: pip install 'perpsim[ray]'") from None
        self._ray = ray
        self.address = address
        self.workers = workers
        self._owns_ray = False  # shut Ray down on close() only if this engine started it
        self._pending: dict[Any, RunSpec] = {}  # ObjectRef -> RunSpec, the tasks in flight
        self._connect()
        self._remote = ray.remote(execute)

    def _connect(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            return
        quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
        if self.address and "://" in self.address:
            ray.init(self.address)  # Ray Client: other init options would go to the server
        elif self.address or os.environ.get("RAY_ADDRESS"):
            ray.init(self.address, **quiet)  # join a running cluster: it owns the resources
        else:
            # a private local Ray turns on token auth by default and says so at WARNING level
            logging.getLogger("ray._private.authentication").setLevel(logging.ERROR)
            ray.init(num_cpus=self.workers, include_dashboard=False, **quiet)
        self._owns_ray = True

    def map(self, specs: Iterable[RunSpec], stop: Optional[Stop] = None) -> Iterator[RunRecord]:
        self._connect()  # now, not at the first record: ray.init sets signal handlers
        return self._run(list(specs), stop or Stop())

    def _run(self, specs: list[RunSpec], stop: Stop) -> Iterator[RunRecord]:
        ray = self._ray
        queue = deque(specs)
        # one task per CPU of the cluster: the rest waits here, where a stop drops it at once
        window = max(int(ray.cluster_resources().get("CPU", 1)), 1)
        while self._pending or (queue and not stop.requested):
            if stop.requested:
                stop.acknowledge(len(queue), len(self._pending))
                queue.clear()
                if stop.expired:
                    return
            while queue and len(self._pending) < window:
                spec = queue.popleft()
                self._pending[self._remote.remote(spec)] = spec
            done, _ = ray.wait(list(self._pending), num_returns=1, timeout=POLL)
            for ref in done:
                spec = self._pending.pop(ref)
                try:
                    record = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    # execute() never raises, so this is the task's worker or node dying
                    record = RunRecord(spec.key, spec.point, spec.seed, "error",
                                       error=f"{type(exc).__name__}: {exc}".splitlines()[0],
                                       traceback=str(exc))
                yield record
        if stop.requested:
            stop.acknowledge(len(queue), 0)

    def close(self) -> None:
        for ref in self._pending:
            self._ray.cancel(ref, force=True)
        self._pending = {}
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False


def make_engine(name: str, workers: Optional[int] = None, address: Optional[str] = None) -> Engine:
    if name == "local":
        return LocalEngine(workers)
    if name == "ray":
        return RayEngine(address, workers)
    raise ValueError(f"unknown engine {name!r}: local or ray")
