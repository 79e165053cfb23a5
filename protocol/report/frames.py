"""A run's tables as Parquet files (``perpsim run --format parquet``), and a run rebuilt from
its folder (``perpsim report``).

Parquet files store every column as text of the exact value, so reading one back loses nothing:
``pandas.read_parquet(path)`` gives strings, ``RunResult.frame`` gives numbers
(:mod:`protocol.sim.frames`).
"""

from __future__ import annotations

import csv
import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from protocol.sim.provenance import Provenance
from protocol.sim.result import LiquidationMark, PositionSample, RunResult
from protocol.values import cell

FILES = {"rows": "timeseries", "liquidations": "liquidations", "positions": "positions",
         "events": "events"}


def write_parquet(result: RunResult, out: Path) -> list[Path]:
    """Each table as ``<name>.parquet``, every column the text of its exact values."""
    paths = []
    for table, name in FILES.items():
        header, records = result.records(table)
        df = pd.DataFrame({c: pd.array([None if r[i] is None else cell(r[i]) for r in records],
                                       dtype="string") for i, c in enumerate(header)})
        path = out / f"{name}.parquet"
        df.to_parquet(path, engine="pyarrow", index=False)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------- read back
def _read_table(run_dir: Path, name: str) -> list[dict[str, str]]:
    csv_path, parquet_path = run_dir / f"{name}.csv", run_dir / f"{name}.parquet"
    if csv_path.is_file():
        with csv_path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    if parquet_path.is_file():
        df = pd.read_parquet(parquet_path, engine="pyarrow")
        return [{k: ("" if v is None or v is pd.NA else str(v)) for k, v in r.items()}
                for r in df.to_dict("records")]
    return []


def _exact(text: str) -> Any:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return Decimal(text)
    except ArithmeticError:
        return text


def _typed(cls: type, record: dict[str, str]) -> Any:
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in record:
            continue
        text = record[f.name]
        kwargs[f.name] = text if f.type in ("str", str) else _exact(text)
    return cls(**kwargs)


def load_run(run_dir: Path) -> RunResult:
    """A run rebuilt from the folder ``perpsim run`` wrote (``run.json``, ``summary.json`` and
    its CSV or Parquet tables), to redraw its report."""
    run_dir = Path(run_dir)
    info_path = run_dir / "run.json"
    if not info_path.is_file():
        raise ValueError(f"{run_dir}: not a run folder (no run.json; perpsim run writes one)")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    summary = _decimals(json.loads((run_dir / "summary.json").read_text(encoding="utf-8")))
    rows = [{k: (v if k == "tx_hash" else _exact(v)) for k, v in r.items()}
            for r in _read_table(run_dir, "timeseries")]
    events = [{"block": _exact(e["block"]), "tx": _exact(e["tx"]), "contract": e["contract"],
               "event": e["event"], "args": json.loads(e["args"] or "{}")}
              for e in _read_table(run_dir, "events")]
    return RunResult(
        scenario=info["scenario"], seed=info["seed"], backend=info["backend"], mode=info["mode"],
        block_time=info["block_time"], markets=tuple(info["markets"]),
        cohorts=tuple(info["cohorts"]), keepers=tuple(info["keepers"]), rows=rows,
        events=events, summary=summary,
        liquidations=[_typed(LiquidationMark, r) for r in _read_table(run_dir, "liquidations")],
        positions=[_typed(PositionSample, r) for r in _read_table(run_dir, "positions")],
        spot_check_every=info.get("spot_check_every", 0), provenance=_provenance(run_dir, info))


def _provenance(run_dir: Path, info: dict[str, Any]) -> Provenance:
    """What the run ran, from run.json and its scenario.toml (older runs: empty)."""
    toml = run_dir / info["scenario_file"] if info.get("scenario_file") else None
    text = toml.read_text(encoding="utf-8") if toml is not None and toml.is_file() else None
    return Provenance.from_info(info, text)


def _decimals(value: Any) -> Any:
    """summary.json writes Decimals as strings: numbers-as-text back to Decimal."""
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, str):
        number = _exact(value)
        return number if isinstance(number, Decimal) else value
    return value
