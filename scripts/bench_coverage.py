"""Benchmark: what coverage mode (``protocol.testing.coverage``) costs, per backend.

One venue workload (deposit, an isolated 10x long, a cross short, a price move, a decrease, a
close, a liquidation after a 13% drop) runs on a launched venue, reverted to the same snapshot
each time, with and without a coverage collector. CPU seconds (``time.process_time``: the
machine may be shared) and the opcode steps the coverage counted are printed; overhead is
CPU with coverage / CPU without. Both backends must report the same coverage (checked).

    python scripts/bench_coverage.py [--backend pyevm|revm|all] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocol import Venue  # noqa: E402
from protocol.testing.coverage import collecting  # noqa: E402


def workload(venue) -> None:
    alice = venue.trader("alice", usdc=20_000)
    bob = venue.trader("bob", usdc=20_000)
    keeper = venue.keeper("keeper")
    alice.deposit(10_000)
    bob.deposit(10_000)
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    bob.open("ETH", size=-0.5, leverage=5, mode="cross")
    venue.set_price("ETH", 3_030)
    bob.decrease("ETH", 0.25)
    bob.close("ETH")
    venue.set_price("ETH", 2_620)
    keeper.liquidate(alice, "ETH")


def measure(backend: str, repeat: int) -> tuple[float, float, int, str]:
    venue = Venue.launch(backend=backend)
    token = venue.chain.take_snapshot()
    plain = []
    for _ in range(repeat):
        started = time.process_time()
        workload(venue)
        plain.append(time.process_time() - started)
        venue.chain.revert_to(token)
    with collecting() as collector:
        started = time.process_time()
        workload(venue)
        covered = time.process_time() - started
    venue.chain.revert_to(token)
    steps = sum(sum(hits) for hits in collector.hits.values())
    return min(plain), covered, steps, collector.report().lcov()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("pyevm", "revm", "all"), default="all")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    backends = ("pyevm", "revm") if args.backend == "all" else (args.backend,)
    table = Table(title="coverage mode: CPU seconds of the venue workload")
    for column in ("backend", "plain", "coverage", "overhead", "opcode steps", "ms per step"):
        table.add_column(column, justify="right")
    reports = {}
    for backend in backends:
        plain, covered, steps, lcov = measure(backend, args.repeat)
        reports[backend] = lcov
        table.add_row(backend, f"{plain:.3f}", f"{covered:.2f}", f"{covered / plain:,.1f}x",
                      f"{steps:,}", f"{1000 * (covered - plain) / steps:.4f}")
    Console().print(table)
    if len(reports) == 2:
        same = reports["pyevm"] == reports["revm"]
        print("pyevm and revm coverage identical:", same)
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
