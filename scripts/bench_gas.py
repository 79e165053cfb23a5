"""Gas per venue operation on the reference EVM (pyevm), against the targets of the margin issue.

Gas is deterministic: the same script gives the same table on every machine. The venue is measured
in its steady state: every market already has open interest on both sides (two background traders),
so a trade updates market totals rather than creating them, as on a live venue. The measurement
lives in ``protocol.bench.gas`` (``perpsim bench`` runs it with more operations). Run:
    .venv/bin/python scripts/bench_gas.py [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from protocol.bench.gas import TARGETS  # noqa: E402,F401
from protocol.bench.gas import measure_margin as measure
from protocol.margin.types import STOCK_MODULES  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="pyevm")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--modules", choices=("inline", "stock"), default="inline",
                        help="stock: every market calls the stock rule modules as deployed "
                             "contracts (what a module call costs); inline: the default")
    args = parser.parse_args()
    gas = measure(args.backend, STOCK_MODULES if args.modules == "stock" else None)
    suffix = ", stock modules deployed" if args.modules == "stock" else ""
    table = Table(title=f"perpsim gas per operation ({args.backend}{suffix})")
    for col in ("operation", "gas", "target", "status"):
        table.add_column(col, justify="left" if col == "operation" else "right")
    failed = 0
    for op, used in gas.items():
        target = TARGETS[op]
        if target is None:
            table.add_row(op, f"{used:,}", "-", "")
            continue
        ok = used <= target
        failed += not ok
        table.add_row(op, f"{used:,}", f"{target:,}", "ok" if ok else "OVER")
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(gas, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
