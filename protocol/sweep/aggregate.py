"""Risk figures per grid point, over its seeds: the numbers a risk team sizes parameters by.

Percentiles use the nearest-rank method on exact values, so the same records give the same
aggregates whatever order they finished in and whichever engine ran them.

Every aggregate carries a :data:`CONFIDENCE` interval over the point's seeds:

- tail quantiles (VaR95, LaR95, SaR95, LP return p5) an exact distribution-free order-statistic
  interval ``[X_(r), X_(s)]`` (:func:`quantile_ranks`: ranks from the binomial distribution of how
  many seeds fall below the true quantile, computed with ``math.comb``; valid for any distribution
  and conservative with ties). Below :func:`min_seeds` seeds (72 for a 95% interval of a 95th or
  5th percentile) no such interval exists, and the figure is ``None`` with the reason "n too
  small for VaR95" instead of the worst seed;
- means and worst cases a bootstrap interval (percentile method, :data:`BOOTSTRAP_RESAMPLES`
  resamples drawn by a generator seeded from :data:`BOOTSTRAP_SEED` and the grid point, so the
  interval is reproducible): a wide interval says the seeds are too few.
"""

from __future__ import annotations

import functools
import json
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable, Iterable, Optional, Sequence

from protocol.plugins import Aggregate
from protocol.sim.metrics import AGGREGATES
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
    """A :data:`CONFIDENCE` interval of one aggregate: order-statistic for a tail quantile,
    bootstrap otherwise."""

    low: Decimal
    high: Decimal


@functools.lru_cache(maxsize=64)
def _binomial_cdf(n: int, p: Fraction) -> tuple[tuple[int, ...], int]:
    """``P(B <= k)`` for ``k = 0..n``, ``B ~ Binomial(n, p)``, exactly: the numerators over one
    common denominator (integer arithmetic, ``math.comb``)."""
    a, d = p.numerator, p.denominator
    b = d - a
    total, out = 0, []
    for k in range(n + 1):
        total += math.comb(n, k) * a**k * b**(n - k)
        out.append(total)
    return tuple(out), d**n


def quantile_ranks(n: int, p: Decimal, confidence: Decimal = CONFIDENCE
                   ) -> Optional[tuple[int, int]]:
    """1-based ranks ``(r, s)`` of the equal-tailed distribution-free confidence interval
    ``[X_(r), X_(s)]`` of the ``p``-quantile from ``n`` sorted values, or ``None`` when ``n`` is
    too small for one to exist at ``confidence``.

    With ``B ~ Binomial(n, p)`` the number of values below the true quantile,
    ``P(X_(r) > q) = P(B <= r - 1)`` and ``P(X_(s) < q) = P(B >= s)``: ``r`` is the largest rank
    with ``P(B <= r - 1) <= alpha / 2`` and ``s`` the smallest with ``P(B <= s - 1) >= 1 - alpha / 2``
    (``alpha = 1 - confidence``), so the interval holds the quantile with probability at least
    ``confidence`` whatever the distribution (conservatively so with ties). Example: 100 values,
    95th percentile, 95% -> ``(90, 100)``; 72 values -> ``(64, 72)``; 71 -> ``None``."""
    if n < 1:
        return None
    half = (1 - Fraction(confidence)) / 2
    cdf, denominator = _binomial_cdf(n, Fraction(p))
    low = half.numerator * denominator  # P <= alpha/2  <=>  numerator * half.denominator <= low
    high = (half.denominator - half.numerator) * denominator  # P >= 1 - alpha/2
    lows = [r for r in range(1, n + 1) if cdf[r - 1] * half.denominator <= low]
    highs = [s for s in range(1, n + 1) if cdf[s - 1] * half.denominator >= high]
    if not lows or not highs:
        return None
    return max(lows), min(highs)


def quantile_coverage(n: int, p: Decimal, ranks: tuple[int, int]) -> Fraction:
    """The exact coverage ``P(r <= B <= s - 1)`` of the interval ``[X_(r), X_(s)]``."""
    cdf, denominator = _binomial_cdf(n, Fraction(p))
    r, s = ranks
    return Fraction(cdf[s - 1] - cdf[r - 1], denominator)


def min_seeds(p: Decimal, confidence: Decimal = CONFIDENCE) -> int:
    """The fewest values from which :func:`quantile_ranks` gives an interval for the
    ``p``-quantile at ``confidence``: the least ``n`` with ``max(p, 1 - p) ** n <= alpha / 2``
    (72 for the 95th or 5th percentile at 95%)."""
    half = (1 - Fraction(confidence)) / 2
    tail, n = max(Fraction(p), 1 - Fraction(p)), 1
    while tail**n > half:
        n += 1
    return n


@dataclass(frozen=True)
class Statistic:
    """One aggregate: a per-run metric reduced over seeds, its unit and which way is better."""

    name: str  # PointAggregate attribute and aggregates.csv column
    label: str  # as a reader sees it
    unit: str  # "usd" | "fraction" (shown as %)
    metric: str  # per-run figure in RunRecord.metrics
    reduce: Callable[[Sequence[Decimal]], Decimal]
    better: str  # "lower" | "higher"
    quantile: Optional[Decimal] = None  # p of a tail quantile: order-statistic interval
    short: str = ""  # the name in "n too small for VaR95"


def p95(values: Sequence[Decimal]) -> Decimal:
    return percentile(values, Decimal("0.95"))


def p5(values: Sequence[Decimal]) -> Decimal:
    return percentile(values, Decimal("0.05"))


P95, P5 = Decimal("0.95"), Decimal("0.05")
#: A declared reduction (:attr:`protocol.plugins.Aggregate.reduce`) -> its function and, for a
#: tail quantile, its p.
REDUCERS: dict[str, tuple[Callable[[Sequence[Decimal]], Decimal], Optional[Decimal]]] = {
    "mean": (mean, None), "max": (max, None), "p95": (p95, P95), "p5": (p5, P5)}


def statistic(declared: Aggregate) -> Statistic:
    """The statistic a metric declares."""
    reduce, quantile = REDUCERS[declared.reduce]
    return Statistic(declared.name, declared.label, declared.unit, declared.figure, reduce,
                     declared.better, quantile, declared.short)


#: The sweep's statistics: what the built-in metrics declare (:data:`protocol.sim.metrics.AGGREGATES`).
STATISTICS: tuple[Statistic, ...] = tuple(statistic(a) for a in AGGREGATES)
STATISTIC = {s.name: s for s in STATISTICS}


def too_few_seeds(stat: Statistic, n: int, confidence: Decimal = CONFIDENCE) -> Optional[str]:
    """Why tail quantile ``stat`` has no figure from ``n`` seeds ("n too small for VaR95: 10
    seeds, a 95% interval needs at least 72"), or ``None`` when it has one."""
    if stat.quantile is None:
        return None
    need = min_seeds(stat.quantile, confidence)
    if n >= need:
        return None
    return (f"n too small for {stat.short}: {n} seed{'s' if n != 1 else ''}, a "
            f"{confidence * 100:.0f}% interval needs at least {need}")


KEEPER_PREFIX = "keeper_profit_mean."


def keeper_statistic(keeper: str) -> Statistic:
    """Keeper ``keeper``'s mean net profit (USD) as a statistic."""
    return Statistic(KEEPER_PREFIX + keeper, f"keeper {keeper} net profit, mean", "usd",
                     KEEPER_PREFIX + keeper, mean, "higher")


@dataclass
class PointAggregate:
    """One grid point over its seeds. Money in USD; returns and shares as fractions.

    Each statistic of :data:`STATISTICS` is an attribute (``point.var95_bad_debt``): ``None``
    when the records lack its figure or, for a tail quantile, below :func:`min_seeds` seeds (see
    ``reasons``)."""

    params: dict[str, Any]
    runs: int
    failed: int
    values: dict[str, Optional[Decimal]]  # statistic name -> figure, for the figures recorded
    keeper_profit_mean: dict[str, Decimal]
    bad_debt: list[Decimal] = field(default_factory=list)  # per seed, for distributions
    lp_return: list[Decimal] = field(default_factory=list)
    ci: dict[str, Interval] = field(default_factory=dict)  # statistic name -> its interval
    reasons: dict[str, str] = field(default_factory=dict)  # statistic name -> why it is None

    def __getattr__(self, name: str) -> Optional[Decimal]:
        if name in STATISTIC:
            values: dict[str, Optional[Decimal]] = self.__dict__["values"]
            return values.get(name)
        raise AttributeError(name)

    def shown(self, name: str) -> bool:
        """Whether the page and table have something to show for ``name``: a figure or the
        reason it has none."""
        return self.value(name) is not None or name in self.reasons

    def value(self, name: str) -> Optional[Decimal]:
        """The aggregate called ``name`` (a :data:`STATISTICS` name or ``keeper_profit_mean.K``)."""
        if name.startswith(KEEPER_PREFIX):
            return self.keeper_profit_mean.get(name[len(KEEPER_PREFIX):])
        if name not in STATISTIC:
            raise AttributeError(name)
        return self.values.get(name)

    def statistics(self) -> list[Statistic]:
        """The statistics this point has a value for, keepers last."""
        return ([s for s in STATISTICS if self.value(s.name) is not None]
                + [keeper_statistic(k) for k in sorted(self.keeper_profit_mean)])

    def row(self) -> dict[str, Any]:
        """Flat row for ``aggregates.csv`` (parameters first): the statistics whose figures the
        records hold, in :data:`STATISTICS` order, then keepers, intervals and notes."""
        out: dict[str, Any] = dict(self.params)
        out.update(runs=self.runs, failed=self.failed)
        for stat in STATISTICS:
            if stat.name in self.values:
                out[stat.name] = self.values[stat.name]
        for name, value in sorted(self.keeper_profit_mean.items()):
            out[f"{KEEPER_PREFIX}{name}"] = value
        for stat in self.statistics():
            if stat.name in self.ci:
                out[f"{stat.name}.ci_low"] = self.ci[stat.name].low
                out[f"{stat.name}.ci_high"] = self.ci[stat.name].high
        for name, reason in sorted(self.reasons.items()):
            out[f"{name}.note"] = reason
        return out


def point_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def bootstrap(samples: dict[str, list[Decimal]],
              reducers: dict[str, Callable[[Sequence[Decimal]], Decimal]], seed: str
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


def quantile_interval(values: Sequence[Decimal], p: Decimal, confidence: Decimal = CONFIDENCE
                      ) -> Optional[Interval]:
    """The order-statistic interval of :func:`quantile_ranks` over ``values`` (``None`` when
    there are too few)."""
    ranks = quantile_ranks(len(values), p, confidence)
    if ranks is None:
        return None
    ordered = sorted(values)
    return Interval(ordered[ranks[0] - 1], ordered[ranks[1] - 1])


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
        stored = [m.get(metric, default) for m in ok]
        if None not in stored:  # a figure older stored runs lack is left out, not invented
            samples[metric] = [Decimal(v) for v in stored if v is not None]
    for k in keepers:
        samples[KEEPER_PREFIX + k] = [Decimal(m["keeper_profit"].get(k, "0")) for m in ok]
    stats = [s for s in STATISTICS if s.metric in samples] + [keeper_statistic(k) for k in keepers]
    reasons = {s.name: r for s in stats if (r := too_few_seeds(s, len(ok))) is not None}
    values: dict[str, Optional[Decimal]] = {
        s.name: None if s.name in reasons else s.reduce(samples[s.metric]) for s in stats}
    booted = [s for s in stats if s.quantile is None]
    ci = bootstrap({s.name: samples[s.metric] for s in booted}, {s.name: s.reduce for s in booted},
                   seed=point_key(params))
    for s in stats:
        if s.quantile is not None and s.name not in reasons:
            interval = quantile_interval(samples[s.metric], s.quantile)
            if interval is not None:
                ci[s.name] = interval
    ci = {s.name: ci[s.name] for s in stats if s.name in ci}  # in the statistics' order
    return PointAggregate(
        params=params, runs=len(ok), failed=failed,
        values={s.name: values[s.name] for s in STATISTICS if s.name in values},
        keeper_profit_mean={k: v for k in keepers if (v := values[KEEPER_PREFIX + k]) is not None},
        bad_debt=samples["bad_debt"], lp_return=samples["lp_return"], ci=ci, reasons=reasons)
