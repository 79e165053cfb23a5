"""Simulation throughput: N traders over B one-minute blocks of the default scenario.

The default population is scaled to N traders (same mix). The liquidation keeper does a full
Reader scan every 10 blocks and watches at-risk positions in between, as a production keeper
would with a large book. Reports wall time and protocol transactions per second (agents,
keepers and oracle pushes), and the share of wall time spent in the EVM's view calls (every
``eth_call`` the keepers, the metrics and the agents make, timed around the backend). Run:
    .venv/bin/python scripts/bench_sim.py [--traders 1000] [--blocks 1440] [--backend revm]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from protocol.bench.scaling import scaled  # noqa: E402
from protocol.chain import Chain, connect  # noqa: E402
from protocol.sim.engine import Simulation  # noqa: E402


def timed_views(chain: Chain) -> list[float]:
    """Time every view call the backend executes on ``chain``: [calls, seconds]."""
    spent = [0, 0.0]
    call = chain._call

    def timed(*args):
        started = time.perf_counter()
        try:
            return call(*args)
        finally:
            spent[0] += 1
            spent[1] += time.perf_counter() - started

    chain._call = timed
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traders", type=int, default=1000)
    parser.add_argument("--blocks", type=int, default=1440)
    parser.add_argument("--backend", default="revm")
    parser.add_argument("--scan", choices=("index", "chain"), default="index",
                        help="how keepers find targets: the event index, or Reader scans")
    args = parser.parse_args()
    sc = scaled(args.traders, args.blocks, args.backend, args.scan)
    traders = sum(p.count for p in sc.agents if p.type != "lp")
    chain = connect(args.backend)
    views = timed_views(chain)
    started = time.perf_counter()
    try:
        result = Simulation(sc, chain=chain).run()
    finally:
        chain.close()
    wall = time.perf_counter() - started
    txs = result.summary["transactions"]
    table = Table(title=f"perpsim simulation throughput ({args.backend}, keepers: {args.scan})")
    for col in ("traders", "blocks", "transactions", "liquidations", "wall s", "protocol tx/s",
                "view calls", "view s", "views % of wall"):
        table.add_column(col, justify="right")
    table.add_row(f"{traders:,}", f"{args.blocks:,}", f"{txs:,}", f"{result.summary['liquidations']:,}",
                  f"{wall:.1f}", f"{txs / wall:,.0f}", f"{views[0]:,}", f"{views[1]:.1f}",
                  f"{100 * views[1] / wall:.0f}%")
    Console(width=160).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
