"""Parameter sweeps and Monte Carlo: a scenario over a grid of overrides times N seeds, on a
local process pool or on Ray, resumable run by run (``perpsim sweep``)."""

from protocol.sweep.aggregate import PointAggregate, aggregate, percentile
from protocol.sweep.engines import LocalEngine, RayEngine, make_engine
from protocol.sweep.grid import Axis, parse_axes, points
from protocol.sweep.run import RunRecord, RunSpec, execute
from protocol.sweep.store import RunStore
from protocol.sweep.sweep import SweepResult, plan, run_sweep

__all__ = ["Axis", "LocalEngine", "PointAggregate", "RayEngine", "RunRecord", "RunSpec",
           "RunStore", "SweepResult", "aggregate", "execute", "make_engine", "parse_axes",
           "percentile", "plan", "points", "run_sweep"]
