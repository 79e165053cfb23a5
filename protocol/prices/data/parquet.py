"""Rows of named columns from a Parquet file (pyarrow)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from protocol.prices.data._text import Stamp
from protocol.prices.data.errors import DataFileError

_SCALE = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def rows(file: str, columns: tuple[str, ...]) -> list[tuple[int, list[Any]]]:
    """``(row number from 1, [value of each of columns])`` of every row. A timestamp column's
    values are :class:`Stamp` (exact: the stored integer over its unit, ns included); others are
    what pyarrow gives (str, int, float, Decimal, None)."""
    try:
        schema = pq.read_schema(file)
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise DataFileError(file, None, f"no column(s) {', '.join(missing)} (it has "
                                f"{', '.join(schema.names)})")
        table = pq.read_table(file, columns=list(columns))
    except (OSError, pa.ArrowException) as exc:
        raise DataFileError(file, None, f"not a readable Parquet file: {exc}") from None
    values: list[list[Any]] = []
    for name in columns:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            scale = _SCALE[col.type.unit]
            values.append([None if v is None else Stamp(Decimal(v) / scale)
                           for v in col.cast(pa.int64()).to_pylist()])
        else:
            values.append(col.to_pylist())
    return [(i + 1, [v[i] for v in values]) for i in range(table.num_rows)]
