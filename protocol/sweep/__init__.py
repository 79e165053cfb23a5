"""Parameter sweeps and Monte Carlo: a scenario over a grid of overrides times N seeds, on a
local process pool or on Ray, resumable run by run (``perpsim sweep``); aggregates with
order-statistic intervals for tail quantiles ("n too small for VaR95" below 72 seeds) and
bootstrap intervals for the rest, the Pareto front of two of them per condition, ``sweep.html``
and DataFrames."""

from protocol.sweep.aggregate import (
                                      STATISTICS,
                                      Interval,
                                      PointAggregate,
                                      Statistic,
                                      aggregate,
                                      min_seeds,
                                      percentile,
                                      quantile_ranks,
)
from protocol.sweep.engines import LocalEngine, RayEngine, make_engine
from protocol.sweep.frontier import (
                                      DEFAULT_CONDITIONS,
                                      DEFAULT_FRONTIER,
                                      Frontier,
                                      condition_keys,
                                      frontiers,
                                      pareto_front,
)
from protocol.sweep.grid import Axis, parse_axes, points
from protocol.sweep.interrupt import SweepInterrupted
from protocol.sweep.run import RunRecord, RunSpec, execute
from protocol.sweep.store import RunStore
from protocol.sweep.sweep import Estimate, SweepResult, plan, run_sweep

__all__ = ["Axis", "DEFAULT_CONDITIONS", "DEFAULT_FRONTIER", "Estimate", "Frontier", "Interval",
           "LocalEngine", "PointAggregate", "RayEngine", "RunRecord", "RunSpec", "RunStore",
           "STATISTICS", "Statistic", "SweepInterrupted", "SweepResult", "aggregate", "condition_keys", "execute",
           "frontiers", "make_engine", "min_seeds", "pareto_front", "parse_axes", "percentile",
           "plan", "points", "quantile_ranks", "run_sweep"]
