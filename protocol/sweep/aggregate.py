"""Risk figures per grid point, over its seeds: the numbers a risk team sizes parameters by.

Percentiles use the nearest-rank method on exact values, so the same records give the same
aggregates whatever order they finished in and whichever engine ran them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Sequence

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
        for name, value in sorted(self.keeper_profit_mean.items()):
            out[f"keeper_profit_mean.{name}"] = value
        return out


def point_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def aggregate(points: Sequence[dict[str, Any]], records: Iterable[RunRecord]) -> list[PointAggregate]:
    """Aggregates for each grid point, in grid order; points with no finished run are skipped."""
    by_point: dict[str, list[RunRecord]] = {}
    for record in records:
        by_point.setdefault(point_key(record.params), []).append(record)
    out = []
    for params in points:
        group = sorted(by_point.get(point_key(params), []), key=lambda r: r.seed)
        ok = [r.metrics for r in group if r.status == "ok"]
        if not ok:
            continue
        d = lambda name: [Decimal(m[name]) for m in ok]  # noqa: E731
        keepers = sorted({k for m in ok for k in m["keeper_profit"]})
        out.append(PointAggregate(
            params=dict(params), runs=len(ok), failed=len(group) - len(ok),
            var95_bad_debt=percentile(d("bad_debt"), Decimal("0.95")),
            lar95_liquidation_volume=percentile(d("liquidated_notional"), Decimal("0.95")),
            # Runs stored before the external market existed have no impact cost: none was paid.
            sar95_liquidation_impact=percentile([Decimal(m.get("liquidation_impact_cost", "0"))
                                                 for m in ok], Decimal("0.95")),
            insurance_max_drawdown=max(d("insurance_max_drawdown")),
            insurance_max_drawdown_mean=mean(d("insurance_max_drawdown")),
            lp_return_mean=mean(d("lp_return")),
            lp_return_p5=percentile(d("lp_return"), Decimal("0.05")),
            keeper_profit_mean={k: mean([Decimal(m["keeper_profit"].get(k, "0")) for m in ok])
                                for k in keepers},
            wiped_out_share_mean=mean(d("wiped_out_share")),
            bad_debt=d("bad_debt"), lp_return=d("lp_return")))
    return out
