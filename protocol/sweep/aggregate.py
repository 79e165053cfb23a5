"""Risk figures per grid point, over its seeds: the numbers a risk team sizes parameters by.

Percentiles use the nearest-rank method on exact values, so the same records give the same
aggregates whatever order they finished in and whichever engine ran them.

Every aggregate carries a bootstrap confidence interval over the point's seeds (percentile method,
:data:`BOOTSTRAP_RESAMPLES` resamples drawn by a generator seeded from :data:`BOOTSTRAP_SEED` and the
grid point, so the interval is reproducible): a wide interval says the seeds are too few.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable, Optional, Sequence

from protocol.sweep.run import RunRecord


def percentile(values: Sequence[Decimal], p: Decimal) -> Decimal:
    """Nearest-rank percentile: the smallest value with at least ``p`` of the values at or
    below it (``p`` in (0, 1])."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = math.ceil(p * len(ordered))
    return ordered[max(rank, 1) - 1]


def mean(values: Sequence[Decimal]) -> Decimal:
    return (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.000001"))


CONFIDENCE = Decimal("0.95")
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 17


@dataclass(frozen=True)
class Interval:
    """A bootstrap confidence interval (:data:`CONFIDENCE`) of one aggregate."""

    low: Decimal
    high: Decimal


@dataclass(frozen=True)
class Statistic:
    """One aggregate: a per-run metric reduced over seeds, its unit and which way is better."""

    name: str  # PointAggregate attribute and aggregates.csv column
    label: str  # as a reader sees it
    unit: str  # "usd" | "fraction" (shown as %)
    metric: str  # per-run figure in RunRecord.metrics
    reduce: Callable[[Sequence[Decimal]], Decimal]
    better: str  # "lower" | "higher"


def p95(values: Sequence[Decimal]) -> Decimal:
    return percentile(values, Decimal("0.95"))


def p5(values: Sequence[Decimal]) -> Decimal:
    return percentile(values, Decimal("0.05"))


STATISTICS: tuple[Statistic, ...] = (
    Statistic("var95_bad_debt", "VaR95 bad debt", "usd", "bad_debt", p95, "lower"),
    Statistic("lar95_liquidation_volume", "LaR95 liquidation volume", "usd", "liquidated_notional",
              p95, "lower"),
    Statistic("sar95_liquidation_impact", "SaR95 liquidation impact cost", "usd",
              "liquidation_impact_cost", p95, "lower"),
    Statistic("insurance_max_drawdown", "insurance max drawdown, worst", "fraction",
              "insurance_max_drawdown", max, "lower"),
    Statistic("insurance_max_drawdown_mean", "insurance max drawdown, mean", "fraction",
              "insurance_max_drawdown", mean, "lower"),
    Statistic("lp_return_mean", "LP return, mean", "fraction", "lp_return", mean, "higher"),
    Statistic("lp_return_p5", "LP return, p5", "fraction", "lp_return", p5, "higher"),
    Statistic("wiped_out_share_mean", "traders wiped out, mean", "fraction", "wiped_out_share", mean,
              "lower"),
    Statistic("fees_paid_mean", "fees earned, mean", "usd", "fees_paid", mean, "higher"),
)
STATISTIC = {s.name: s for s in STATISTICS}
KEEPER_PREFIX = "keeper_profit_mean."


def keeper_statistic(keeper: str) -> Statistic:
    """Keeper ``keeper``'s mean net profit (USD) as a statistic."""
    return Statistic(KEEPER_PREFIX + keeper, f"keeper {keeper} net profit, mean", "usd",
                     KEEPER_PREFIX + keeper, mean, "higher")


@dataclass
class PointAggregate:
    """One grid point over its seeds. Money in USD; returns and shares as fractions."""

    params: dict[str, Any]
    runs: int
    failed: int
    var95_bad_debt: Decimal  # 95th percentile of bad debt
    lar95_liquidation_volume: Decimal  # 95th percentile of liquidated notional
    sar95_liquidation_impact: Decimal  # 95th percentile of liquidations' price-impact cost
    insurance_max_drawdown: Decimal  # worst over seeds
    insurance_max_drawdown_mean: Decimal
    lp_return_mean: Decimal
    lp_return_p5: Decimal  # 5th percentile
    keeper_profit_mean: dict[str, Decimal]
    wiped_out_share_mean: Decimal
    bad_debt: list[Decimal] = field(default_factory=list)  # per seed, for distributions
    lp_return: list[Decimal] = field(default_factory=list)
    fees_paid_mean: Optional[Decimal] = None  # None for runs stored before fees were recorded
    ci: dict[str, Interval] = field(default_factory=dict)  # statistic name -> bootstrap interval

    def value(self, name: str) -> Optional[Decimal]:
        """The aggregate called ``name`` (a :data:`STATISTICS` name or ``keeper_profit_mean.K``)."""
        if name.startswith(KEEPER_PREFIX):
            return self.keeper_profit_mean.get(name[len(KEEPER_PREFIX):])
        return getattr(self, name)

    def statistics(self) -> list[Statistic]:
        """The statistics this point has a value for, keepers last."""
        return ([s for s in STATISTICS if self.value(s.name) is not None]
                + [keeper_statistic(k) for k in sorted(self.keeper_profit_mean)])

    def row(self) -> dict[str, Any]:
        """Flat row for ``aggregates.csv`` (parameters first)."""
        out: dict[str, Any] = dict(self.params)
        out.update(runs=self.runs, failed=self.failed, var95_bad_debt=self.var95_bad_debt,
                   lar95_liquidation_volume=self.lar95_liquidation_volume,
                   sar95_liquidation_impact=self.sar95_liquidation_impact,
                   insurance_max_drawdown=self.insurance_max_drawdown,
                   insurance_max_drawdown_mean=self.insurance_max_drawdown_mean,
                   lp_return_mean=self.lp_return_mean, lp_return_p5=self.lp_return_p5,
                   wiped_out_share_mean=self.wiped_out_share_mean)
        if self.fees_paid_mean is not None:
            out["fees_paid_mean"] = self.fees_paid_mean
        for name, value in sorted(self.keeper_profit_mean.items()):
            out[f"{KEEPER_PREFIX}{name}"] = value
        for stat in self.statistics():
            if stat.name in self.ci:
                out[f"{stat.name}.ci_low"] = self.ci[stat.name].low
                out[f"{stat.name}.ci_high"] = self.ci[stat.name].high
        return out


def point_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def bootstrap(samples: dict[str, list[Decimal]], reducers: dict[str, Callable], seed: str
              ) -> dict[str, Interval]:
    """Percentile-bootstrap intervals of each ``reducers[name](samples[name])``. Every statistic
    is evaluated on the same resamples of the seeds (drawn by ``random.Random(seed)``)."""
    n = len(next(iter(samples.values()), []))
    if n == 0:
        return {}
    rng = random.Random(f"{BOOTSTRAP_SEED}:{seed}")
    draws = [[rng.randrange(n) for _ in range(n)] for _ in range(BOOTSTRAP_RESAMPLES)]
    tail = (1 - CONFIDENCE) / 2
    out = {}
    for name, values in samples.items():
        estimates = [reducers[name]([values[i] for i in draw]) for draw in draws]
        out[name] = Interval(percentile(estimates, tail), percentile(estimates, 1 - tail))
    return out


def aggregate(points: Sequence[dict[str, Any]], records: Iterable[RunRecord]) -> list[PointAggregate]:
    """Aggregates for each grid point, in grid order; points with no finished run are skipped."""
    by_point: dict[str, list[RunRecord]] = {}
    for record in records:
        by_point.setdefault(point_key(record.params), []).append(record)
    out = []
    for params in points:
        group = sorted(by_point.get(point_key(params), []), key=lambda r: r.seed)
        ok = [r.metrics for r in group if r.status == "ok"]
        if ok:
            out.append(_point(dict(params), ok, failed=len(group) - len(ok)))
    return out


def _point(params: dict[str, Any], ok: list[dict[str, Any]], failed: int) -> PointAggregate:
    keepers = sorted({k for m in ok for k in m["keeper_profit"]})
    samples: dict[str, list[Decimal]] = {}
    for metric in {s.metric for s in STATISTICS}:
        # Runs stored before the external market existed have no impact cost: none was paid.
        default = "0" if metric == "liquidation_impact_cost" else None
        values = [m.get(metric, default) for m in ok]
        if None not in values:  # a figure older stored runs lack is left out, not invented
            samples[metric] = [Decimal(v) for v in values]
    for k in keepers:
        samples[KEEPER_PREFIX + k] = [Decimal(m["keeper_profit"].get(k, "0")) for m in ok]
    stats = [s for s in STATISTICS if s.metric in samples] + [keeper_statistic(k) for k in keepers]
    values = {s.name: s.reduce(samples[s.metric]) for s in stats}
    ci = bootstrap({s.name: samples[s.metric] for s in stats}, {s.name: s.reduce for s in stats},
                   seed=point_key(params))
    return PointAggregate(
        params=params, runs=len(ok), failed=failed,
        **{s.name: values[s.name] for s in STATISTICS if s.name in values},
        keeper_profit_mean={k: values[KEEPER_PREFIX + k] for k in keepers},
        bad_debt=samples["bad_debt"], lp_return=samples["lp_return"], ci=ci)
