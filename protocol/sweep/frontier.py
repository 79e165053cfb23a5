"""The trade-off between two aggregates across a sweep's grid points, and its Pareto front: the
settings no other setting beats on both objectives (the recommendation of a risk report)."""

from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from protocol.sweep.aggregate import KEEPER_PREFIX, STATISTIC, PointAggregate, Statistic, keeper_statistic

DEFAULT_FRONTIER = ("var95_bad_debt", "fees_paid_mean")


def objective(name: str) -> Statistic:
    """The statistic called ``name`` (a column of aggregates.csv); ValueError naming the choices."""
    if name in STATISTIC:
        return STATISTIC[name]
    if name.startswith(KEEPER_PREFIX) and len(name) > len(KEEPER_PREFIX):
        return keeper_statistic(name[len(KEEPER_PREFIX):])
    choices = ", ".join([*STATISTIC, KEEPER_PREFIX + "KEEPER"])
    raise ValueError(f"frontier objective {name!r}: expected one of {choices}")


def parse_frontier(text: str) -> tuple[str, str]:
    """``"var95_bad_debt,fees_paid_mean"`` -> the two objective names, each checked."""
    names = [n.strip() for n in text.split(",")]
    if len(names) != 2 or names[0] == names[1]:
        raise ValueError(f"--frontier {text!r}: expected two different objectives X,Y")
    for name in names:
        objective(name)
    return names[0], names[1]


def _score(stat: Statistic, value: Decimal) -> Decimal:
    return -value if stat.better == "lower" else value  # higher score is better


def pareto_front(aggregates: Sequence[PointAggregate], x: Statistic, y: Statistic
                 ) -> list[PointAggregate]:
    """The points (in grid order) that no other point dominates: at least as good on both
    objectives and strictly better on one. Points missing either objective are left out."""
    scored = [(a, _score(x, a.value(x.name)), _score(y, a.value(y.name)))
              for a in aggregates if a.value(x.name) is not None and a.value(y.name) is not None]
    return [a for a, sx, sy in scored
            if not any(ox >= sx and oy >= sy and (ox > sx or oy > sy) for _, ox, oy in scored)]
