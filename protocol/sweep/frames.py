"""A sweep as pandas DataFrames (``SweepResult.frame``): per run and per grid point.

Exact values are text in runs.jsonl and aggregates.csv; here amounts and fractions become float64
so a notebook can plot and group them (counts stay integers). Parameters keep their TOML types.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas

if TYPE_CHECKING:
    import pandas

    from protocol.sweep.sweep import SweepResult

RUN_COLUMNS = ("seed", "status", "error", "seconds")


def _number(value: Any) -> Any:
    if isinstance(value, (bool, int)) or value is None:  # counts stay integers
        return value
    if isinstance(value, (Decimal, float)):
        return float(value)
    try:
        return float(Decimal(str(value)))
    except ArithmeticError:
        return value


def runs_frame(result: "SweepResult") -> "pandas.DataFrame":
    """One row per stored run: the grid point's parameters, ``seed``, ``status``, ``error``,
    ``seconds``, then the run's metrics (``keeper_profit.NAME`` per keeper; empty when it failed)."""
    keys = [a.key for a in result.axes]
    rows = []
    for record in result.records:
        row: dict[str, Any] = {k: record.params.get(k) for k in keys}
        row.update(seed=record.seed, status=record.status,
                   error=record.error.splitlines()[0] if record.error else "",
                   seconds=record.seconds)
        for name, value in record.metrics.items():
            if isinstance(value, dict):
                row.update({f"{name}.{k}": _number(v) for k, v in sorted(value.items())})
            else:
                row[name] = _number(value)
        rows.append(row)
    columns = list(dict.fromkeys([*keys, *RUN_COLUMNS, *(c for row in rows for c in row)]))
    return pandas.DataFrame(rows, columns=columns)


def points_frame(result: "SweepResult") -> "pandas.DataFrame":
    """One row per grid point with a finished run: the columns of ``aggregates.csv``."""
    keys = {a.key for a in result.axes}
    rows = [{k: (v if k in keys else _number(v)) for k, v in a.row().items()}
            for a in result.aggregates]
    return pandas.DataFrame(rows, columns=list(dict.fromkeys(c for row in rows for c in row)))
