"""One run of a sweep: what it is (a picklable spec with a stable key) and what it produced."""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

from protocol.sim.engine import Simulation
from protocol.sim.loader import load_scenario
from protocol.sim.metrics import run_figures
from protocol.sim.result import RunResult


@dataclass(frozen=True)
class RunSpec:
    """A scenario (built-in name or file path), the grid point's overrides and a seed."""

    scenario: str
    scenario_hash: str
    params: tuple[tuple[str, Any], ...]  # sorted (key, value) pairs of the grid point
    seed: int
    backend: Optional[str] = None
    fixed: tuple[tuple[str, Any], ...] = ()  # overrides common to every run

    @property
    def key(self) -> str:
        """Stable identity: scenario content, parameters and seed."""
        text = json.dumps([self.scenario_hash, self.params, self.fixed, self.seed, self.backend],
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def point(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass
class RunRecord:
    """The outcome of one run: ``metrics`` if it finished, ``error`` and ``traceback`` if not.
    ``provenance`` (a finished run's): what it ran, as in a run's ``run.json``
    (:meth:`protocol.sim.provenance.Provenance.info`: overrides, modules, contracts sha256,
    perpsim version, commit), its ``backend``, and ``scenario_toml``, the scenario as run."""

    key: str
    params: dict[str, Any]
    seed: int
    status: str  # "ok" | "error"
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    traceback: str = ""
    seconds: float = 0.0
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    @classmethod
    def from_json(cls, line: str) -> "RunRecord":
        return cls(**json.loads(line))


def execute(spec: RunSpec, figures: Optional[Callable[[RunResult], dict[str, Any]]] = None
            ) -> RunRecord:
    """Run one simulation (in whatever process the engine chose) and keep the figures the
    aggregates need (``figures``, default :func:`run_metrics`). Never raises: a failure is
    recorded with its traceback."""
    started = time.perf_counter()
    try:
        scenario = load_scenario(spec.scenario, {**dict(spec.fixed), **dict(spec.params)})
        result = Simulation(scenario, backend=spec.backend, seed=spec.seed).run()
        metrics = (figures or run_metrics)(result)
        status, error, tb = "ok", "", ""
        info = result.provenance.info()
        del info["scenario_file"]
        provenance = {**info, "backend": result.backend,
                      "scenario_toml": result.provenance.scenario_toml}
    except Exception as exc:  # a failing run is data, and the sweep goes on
        metrics, status, provenance = {}, "error", {}
        error, tb = f"{type(exc).__name__}: {exc}", traceback.format_exc()
    return RunRecord(spec.key, spec.point, spec.seed, status, metrics, error, tb,
                     time.perf_counter() - started, provenance)


def run_metrics(result: RunResult) -> dict[str, Any]:
    """The per-run figures the aggregates are built from (exact values as strings): those the
    built-in metrics declare (:func:`protocol.sim.metrics.run_figures`)."""
    return run_figures(result.summary)
