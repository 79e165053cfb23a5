"""Sweep scaling: the same 40-run sweep on 1 and on 2 local workers, and the engine's overhead.

The sweep is the default scenario shortened to --blocks blocks, over 4 grid points x 10 seeds.
Speed-up = wall(1 worker) / wall(2 workers) (target >= 1.7x on 2 cores). Engine overhead per
run = (wall x workers - sum of the runs' own time) / runs, as a share of a typical run (target
< 5%): scheduling, process start-up and moving records. Run:
    .venv/bin/python scripts/bench_sweep.py [--blocks 240] [--engine local|ray]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from protocol.sweep import Axis, make_engine, run_sweep  # noqa: E402

AXES = [Axis("markets.ETH.max_leverage", (10, 50)), Axis("keepers.latency", (0, 2))]
SEEDS = list(range(1, 11))


def measure(workers: int, blocks: int, engine: str) -> tuple[float, list[float], list]:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = run_sweep("default", AXES, SEEDS, make_engine(engine, workers), Path(out),
                           fixed={"blocks": blocks})
        wall = time.perf_counter() - started
    return wall, [r.seconds for r in result.records], [a.row() for a in result.aggregates]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=240)
    parser.add_argument("--engine", default="local")
    args = parser.parse_args()
    table = Table(title=f"40-run sweep (default scenario, {args.blocks} blocks), {args.engine} engine")
    for col in ("workers", "wall s", "runs/min", "speed-up", "mean run s", "engine overhead/run"):
        table.add_column(col, justify="right")
    base = None
    aggregates = []
    for workers in (1, 2):
        wall, seconds, rows = measure(workers, args.blocks, args.engine)
        aggregates.append(rows)
        base = base or wall
        overhead = (wall * workers - sum(seconds)) / len(seconds)
        typical = statistics.mean(seconds)
        table.add_row(str(workers), f"{wall:.1f}", f"{len(seconds) / wall * 60:.1f}",
                      f"{base / wall:.2f}x", f"{typical:.2f}", f"{overhead / typical * 100:.1f}%")
    Console().print(table)
    Console().print("aggregates identical for 1 and 2 workers: "
                    f"{'yes' if aggregates[0] == aggregates[1] else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
