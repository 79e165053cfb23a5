"""Parameter sweeps and Monte Carlo: a scenario over a grid of overrides times N seeds, on a
local process pool or on Ray, resumable run by run (``perpsim sweep``); aggregates with bootstrap
intervals, the Pareto front of two of them, ``sweep.html`` and DataFrames."""

from protocol.sweep.aggregate import STATISTICS, Interval, PointAggregate, Statistic, aggregate, percentile
from protocol.sweep.engines import LocalEngine, RayEngine, make_engine
from protocol.sweep.frontier import DEFAULT_FRONTIER, pareto_front
from protocol.sweep.grid import Axis, parse_axes, points
from protocol.sweep.interrupt import SweepInterrupted
from protocol.sweep.run import RunRecord, RunSpec, execute
from protocol.sweep.store import RunStore
from protocol.sweep.sweep import SweepResult, plan, run_sweep

__all__ = ["Axis", "DEFAULT_FRONTIER", "Interval", "LocalEngine", "PointAggregate", "RayEngine",
           "RunRecord", "RunSpec", "RunStore", "STATISTICS", "Statistic", "SweepInterrupted",
           "SweepResult", "aggregate",
           "execute", "make_engine", "pareto_front", "parse_axes", "percentile", "plan", "points",
           "run_sweep"]
