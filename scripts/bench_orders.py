"""Gas of two-step orders and batch liquidation on pyevm, and the Reader's liquidation scan.

Gas is measured on the reference EVM (pyevm) and is deterministic. The scan populates N accounts
with one position each (isolated ETH longs, isolated BTC shorts, every tenth a cross account),
moves prices, and finds every liquidatable target with ``Reader.liquidatable`` in chunks of 1,000
accounts, checking the result against one ``isLiquidatable`` read per position. The measurements
live in ``protocol.bench`` (gas, scaling). Run:
    .venv/bin/python scripts/bench_orders.py [--positions N] [--scan-backend revm] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from protocol import Venue  # noqa: E402
from protocol.bench.gas import measure_orders as measure_gas  # noqa: E402
from protocol.bench.scaling import CHUNK, CRASH, MARKETS, full_scan, populate  # noqa: E402


def measure_scan(backend: str, n: int) -> dict[str, float]:
    venue = Venue.launch(backend=backend, markets=MARKETS)
    started = time.perf_counter()
    targets = populate(venue, n)
    setup = time.perf_counter() - started
    venue.set_prices(CRASH)
    total = venue.account_count()
    started = time.perf_counter()
    found, calls = full_scan(venue, CHUNK)
    scan = time.perf_counter() - started
    started = time.perf_counter()
    truth = {(a.lower(), m) for a, m in targets if venue.is_liquidatable(a, m)}
    single = time.perf_counter() - started
    assert {(a.lower(), m) for a, m in found} == truth, "Reader disagrees with isLiquidatable"
    # Gas of the heaviest chunk, sent as a transaction (the view itself reports none).
    chunk_gas = max(
        venue.reader.transact(venue.admin, "liquidatable", venue.clearinghouse.address, s, CHUNK,
                              gas=30_000_000).raise_for_status().gas_used
        for s in range(0, total, CHUNK))
    return {"positions": n, "setup_s": setup, "scan_s": scan, "calls": calls,
            "max_calls": math.ceil(n / CHUNK), "liquidatable": len(truth),
            "single_reads_s": single, "chunk_gas": chunk_gas}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="pyevm", help="EVM for the gas table")
    parser.add_argument("--scan-backend", default="revm", help="EVM for the Reader scan")
    parser.add_argument("--positions", type=int, default=10_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    console = Console()

    gas = measure_gas(args.backend)
    table = Table(title=f"perpsim order and batch gas ({args.backend})")
    table.add_column("operation")
    table.add_column("gas", justify="right")
    for op, used in gas.items():
        table.add_row(op, f"{used:,}")
    console.print(table)

    scan = measure_scan(args.scan_backend, args.positions)
    ok = scan["calls"] <= scan["max_calls"] and scan["chunk_gas"] < 30_000_000
    table = Table(title=f"Reader liquidation scan ({args.scan_backend}, chunks of {CHUNK:,})")
    for col in ("positions", "setup", "scan wall time", "Reader calls", "limit",
                "liquidatable", "single reads", "max gas / chunk", "status"):
        table.add_column(col, justify="right")
    table.add_row(f"{scan['positions']:,}", f"{scan['setup_s']:.1f} s", f"{scan['scan_s']:.3f} s",
                  str(scan["calls"]), f"≤ {scan['max_calls']}", f"{scan['liquidatable']:,}",
                  f"{scan['single_reads_s']:.2f} s", f"{scan['chunk_gas']:,}",
                  "ok" if ok else "OVER")
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps({"gas": gas, "scan": scan}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
