"""Where runs execute: a local process pool (default) or a Ray cluster.

Both take the same picklable :class:`~protocol.sweep.run.RunSpec` list and yield
:class:`~protocol.sweep.run.RunRecord` objects as runs finish. A run is one independent chain,
so a sweep parallelises perfectly; the engine only schedules and moves small records.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
from typing import Iterable, Iterator, Optional, Protocol

from protocol.sweep.run import RunRecord, RunSpec, execute


class Engine(Protocol):
    name: str

    def map(self, specs: Iterable[RunSpec]) -> Iterator[RunRecord]: ...

    def close(self) -> None: ...


class LocalEngine:
    """A process pool of ``workers`` processes (default: one per CPU). ``workers=1`` runs in
    this process, which keeps tracebacks and profiling simple."""

    name = "local"

    def __init__(self, workers: Optional[int] = None):
        self.workers = workers or os.cpu_count() or 1
        self._pool: Optional[cf.ProcessPoolExecutor] = None

    def map(self, specs: Iterable[RunSpec]) -> Iterator[RunRecord]:
        specs = list(specs)
        if self.workers == 1:
            for spec in specs:
                yield execute(spec)
            return
        # fork: workers inherit the imported package and compiled artifacts at no cost
        self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"))
        futures = [self._pool.submit(execute, spec) for spec in specs]
        for future in cf.as_completed(futures):
            yield future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


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
            import ray
        except ImportError:
            raise RuntimeError("the ray engine needs Ray: pip install 'perpsim[ray]'") from None
        self._ray = ray
        self.address = address
        self.workers = workers
        self._owns_ray = False  # shut Ray down on close() only if this engine started it
        self._pending: dict = {}  # ObjectRef -> RunSpec, the tasks in flight
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

    def map(self, specs: Iterable[RunSpec]) -> Iterator[RunRecord]:
        ray = self._ray
        self._connect()
        queue = list(specs)
        queue.reverse()  # pop() from the end submits in the given order
        # a bounded window of tasks in flight keeps ray.wait cheap on sweeps of many runs
        cpus = int(ray.cluster_resources().get("CPU", 1))
        window = max(4 * cpus, 16)
        while queue or self._pending:
            while queue and len(self._pending) < window:
                spec = queue.pop()
                self._pending[self._remote.remote(spec)] = spec
            done, _ = ray.wait(list(self._pending), num_returns=1)
            spec = self._pending.pop(done[0])
            try:
                record = ray.get(done[0])
            except ray.exceptions.RayError as exc:
                # execute() never raises, so this is the task's worker or node dying
                record = RunRecord(spec.key, spec.point, spec.seed, "error",
                                   error=f"{type(exc).__name__}: {exc}".splitlines()[0],
                                   traceback=str(exc))
            yield record

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
