"""The trade-off between two aggregates across a sweep's grid points, and its Pareto front: the
settings no other setting beats on both objectives (the recommendation of a risk report).

Only design parameters are compared: swept keys that are conditions (market liquidity, keepers,
prices: :data:`DEFAULT_CONDITIONS`, or ``--conditions``) get one front per combination of their
values (:func:`frontiers`), and points whose intervals cannot be told apart are flagged."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any, Optional, Sequence, cast

from protocol.sweep.aggregate import (
    KEEPER_PREFIX,
    STATISTIC,
    PointAggregate,
    Statistic,
    keeper_statistic,
    point_key,
)

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


def _known(value: Optional[Decimal]) -> Decimal:
    """An objective's value of a point that has it (the callers keep only such points)."""
    return cast(Decimal, value)


def _score(stat: Statistic, value: Decimal) -> Decimal:
    return -value if stat.better == "lower" else value  # higher score is better


def _dominates(a: PointAggregate, b: PointAggregate, x: Statistic, y: Statistic) -> bool:
    ax, ay = _score(x, _known(a.value(x.name))), _score(y, _known(a.value(y.name)))
    bx, by = _score(x, _known(b.value(x.name))), _score(y, _known(b.value(y.name)))
    return ax >= bx and ay >= by and (ax > bx or ay > by)


def pareto_front(aggregates: Sequence[PointAggregate], x: Statistic, y: Statistic
                 ) -> list[PointAggregate]:
    """The points (in grid order) that no other point dominates: at least as good on both
    objectives and strictly better on one. Points missing either objective are left out."""
    scored = [(a, _score(x, _known(a.value(x.name))), _score(y, _known(a.value(y.name))))
              for a in aggregates if a.value(x.name) is not None and a.value(y.name) is not None]
    return [a for a, sx, sy in scored
            if not any(ox >= sx and oy >= sy and (ox > sx or oy > sy) for _, ox, oy in scored)]


# ---------------------------------------------------------------------------------------------
# design parameters and conditions

#: Swept keys that describe the world a venue meets, not a choice its designer makes: prices,
#: external liquidity (``liquidity.feedback``), keepers (their latency is a bot's, not the
#: venue's), the agent population, oracle delays and outages, the run's length. Each entry is a
#: key, a dotted prefix (``liquidity`` covers ``liquidity.feedback``) or an ``fnmatch`` pattern
#: (``*`` also crosses dots). Every other swept key (``markets.*``, ``venue.*``, oracle mode,
#: heartbeat and deviation, ``mode``) is a design parameter. ``--conditions`` replaces the list.
DEFAULT_CONDITIONS: tuple[str, ...] = (
    "prices", "liquidity", "keepers", "agents", "oracle.*.delay_blocks", "oracle.*.outages",
    "blocks", "block_time", "seed", "backend")


def _matches(key: str, pattern: str) -> bool:
    return key == pattern or key.startswith(pattern + ".") or fnmatchcase(key, pattern)


def condition_keys(keys: Sequence[str], conditions: Optional[Sequence[str]] = None) -> list[str]:
    """The swept ``keys`` that are conditions (in their order): those matching an entry of
    ``conditions`` (default :data:`DEFAULT_CONDITIONS`); the others are design parameters. An
    explicit entry that matches no key is a ValueError naming the swept keys."""
    patterns = DEFAULT_CONDITIONS if conditions is None else tuple(conditions)
    if conditions is not None:
        for pattern in patterns:
            if not any(_matches(k, pattern) for k in keys):
                raise ValueError(f"condition {pattern!r} matches no swept key; swept: "
                                 f"{', '.join(keys) or 'none'}")
    return [k for k in keys if any(_matches(k, p) for p in patterns)]


def parse_conditions(text: Optional[str]) -> Optional[tuple[str, ...]]:
    """``--conditions`` text -> entries: ``None`` (not given: the default), ``"none"`` or ``""``
    -> ``()`` (every swept key is a design parameter), else the comma-separated keys."""
    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    return () if names in ((), ("none",)) else names


# ---------------------------------------------------------------------------------------------
# the frontier per condition, and what the intervals cannot tell apart


def _interval(stat: Statistic, a: PointAggregate) -> tuple[Decimal, Decimal]:
    value = _known(a.value(stat.name))
    ci = a.ci.get(stat.name)
    return (ci.low, ci.high) if ci is not None else (value, value)


def beats(a: PointAggregate, b: PointAggregate, x: Statistic, y: Statistic) -> bool:
    """Whether ``a`` is better than ``b`` on at least one objective beyond the intervals' noise:
    its whole interval is better than ``b``'s whole interval (a point without an interval counts
    as its value). Two points that overlap on every objective where one is better cannot be
    told apart at the intervals' confidence."""
    for stat in (x, y):
        (al, ah), (bl, bh) = _interval(stat, a), _interval(stat, b)
        if (ah < bl) if stat.better == "lower" else (al > bh):
            return True
    return False


@dataclass
class Frontier:
    """The Pareto front among the points that share one combination of condition values.

    ``ties`` maps a point's key (:func:`~protocol.sweep.aggregate.point_key`) to the Pareto points
    it is not distinguishable from at the intervals' confidence: for a Pareto point, the other
    Pareto points (its frontier neighbours first among them) it does not :func:`beat <beats>`:
    where it is better, their intervals overlap, so it may be dominated; for a dominated point,
    the Pareto points that dominate it but do not beat it: it may be Pareto-optimal."""

    condition: dict[str, Any]
    points: list[PointAggregate]  # the group's points with both objectives, grid order
    front: list[PointAggregate]  # Pareto-optimal, by the first objective
    ties: dict[str, list[PointAggregate]] = field(default_factory=dict)

    def tied(self, a: PointAggregate) -> list[PointAggregate]:
        return self.ties.get(point_key(a.params), [])


def frontiers(aggregates: Sequence[PointAggregate], x: Statistic, y: Statistic,
              conditions: Sequence[str] = ()) -> list[Frontier]:
    """One :class:`Frontier` per combination of the ``conditions`` keys' values (in grid order;
    a single one with no condition key): design settings are compared only under the same
    conditions. Groups with no point carrying both objectives are left out."""
    groups: dict[str, list[PointAggregate]] = {}
    for a in aggregates:
        if a.value(x.name) is None or a.value(y.name) is None:
            continue
        groups.setdefault(point_key({c: a.params.get(c) for c in conditions}), []).append(a)
    out = []
    for group in groups.values():
        front = sorted(pareto_front(group, x, y), key=lambda a: _known(a.value(x.name)))
        ties = {}
        on_front = {point_key(a.params) for a in front}
        for a in group:
            if point_key(a.params) in on_front:
                others = [b for b in front if b is not a and not beats(a, b, x, y)]
            else:
                others = [b for b in front if _dominates(b, a, x, y) and not beats(b, a, x, y)]
            if others:
                ties[point_key(a.params)] = others
        out.append(Frontier({c: group[0].params.get(c) for c in conditions}, group, front, ties))
    return out
