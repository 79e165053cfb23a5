"""CSV and JSON writers for a run's exact values (``csv`` module only, ``\\n`` line endings)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from protocol.sim.result import (
    EVENT_COLUMNS,
    LIQUIDATION_COLUMNS,
    POSITION_COLUMNS,
    LiquidationMark,
    PositionSample,
    Row,
    RunResult,
    event_args_json,
)
from protocol.values import cell, jsonable

RUN_INFO = ("scenario", "seed", "backend", "mode", "block_time", "markets", "cohorts", "keepers",
            "spot_check_every")


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([cell(v) for v in row])
    return path


def write_timeseries(rows: Sequence[Row], path: Path) -> Path:
    """One line per block; header = the first row's keys in order (all rows must share them)."""
    header = list(rows[0]) if rows else []
    for i, row in enumerate(rows):
        if list(row) != header:
            raise ValueError(f"row {i} keys differ from row 0: {sorted(set(row) ^ set(header))}")
    return _write_csv(path, header, ([row[k] for k in header] for row in rows))


def write_events(events: Sequence[Row], path: Path) -> Path:
    """``block, tx, contract, event, args`` (args as :func:`event_args_json`)."""
    return _write_csv(path, EVENT_COLUMNS, (
        [e.get("block"), e.get("tx"), e.get("contract"), e.get("event"),
         event_args_json(e.get("args") or {})] for e in events))


def write_liquidations(marks: Sequence[LiquidationMark], path: Path) -> Path:
    """One line per liquidated position, columns = the :class:`LiquidationMark` fields."""
    return _write_csv(path, LIQUIDATION_COLUMNS,
                      ([getattr(m, c) for c in LIQUIDATION_COLUMNS] for m in marks))


def write_positions(samples: Sequence[PositionSample], path: Path) -> Path:
    """One line per open position per sample, columns = the :class:`PositionSample` fields."""
    return _write_csv(path, POSITION_COLUMNS,
                      ([getattr(p, c) for c in POSITION_COLUMNS] for p in samples))


def run_info(result: RunResult) -> dict[str, Any]:
    """What the run was (``run.json``): enough, with the tables, to rebuild its report, and
    what it ran (:meth:`protocol.sim.provenance.Provenance.info`: overrides, modules, contracts
    hash, version, commit, the scenario file)."""
    return {**{name: list(v) if isinstance(v := getattr(result, name), tuple) else v
               for name in RUN_INFO}, **result.provenance.info()}


def write_json(data: Any, path: Path) -> Path:
    """Sorted keys, indent 2, Decimals as strings (ints stay numbers), trailing newline."""
    path.write_text(json.dumps(jsonable(data), sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return path


def write_comparison(comparison: Mapping[str, Mapping[str, Any]], modes: Sequence[str],
                     path: Path) -> Path:
    """Study metrics side by side: ``metric, <mode>...`` (metrics in the study's order)."""
    return _write_csv(path, ["metric", *modes], (
        [metric, *(per_mode.get(m) for m in modes)] for metric, per_mode in comparison.items()))
