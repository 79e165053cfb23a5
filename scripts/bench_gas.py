"""Gas per venue operation on the reference EVM (pyevm), against the targets of the margin issue.

Gas is deterministic: the same script gives the same table on every machine. The venue is measured
in its steady state: every market already has open interest on both sides (two background traders),
so a trade updates market totals rather than creating them, as on a live venue. Run:
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

from protocol import MarketConfig, Venue  # noqa: E402
from protocol.venue.units import to_wad  # noqa: E402

TARGETS = {
    "deposit": 60_000,
    "open isolated": 160_000,
    "open cross (with one other cross position)": 160_000,
    "close": 120_000,
    "add margin": 60_000,
    "remove margin": 60_000,
    "add margin (account with 2 cross positions)": None,
    "liquidate isolated": 130_000,
    "liquidate cross account (5 positions)": 450_000,
    "oracle update (10 markets)": 120_000,
}

SYMBOLS = ["ETH", "BTC", "SOL", "ARB", "OP", "AVAX", "LINK", "DOGE", "XRP", "BNB"]


def measure(backend: str = "pyevm") -> dict[str, int]:
    markets = [MarketConfig(symbol=s, initial_price=1000 + i) for i, s in enumerate(SYMBOLS)]
    venue = Venue.launch(backend=backend, markets=markets)
    gas: dict[str, int] = {}
    for name, side in (("longs", 1), ("shorts", -1)):
        background = venue.trader(name, usdc=1_000_000)
        background.deposit(500_000)
        for symbol in SYMBOLS:
            background.open(symbol, side, 5, "cross")
    alice = venue.trader("alice", usdc=100_000)
    alice.deposit(10_000)
    gas["deposit"] = alice.deposit(10_000).gas_used  # a returning depositor (balance slot set)
    gas["open isolated"] = alice.open("ETH", 1, 10, "isolated", margin=200).gas_used
    gas["add margin"] = alice.add_margin("ETH", 50).gas_used
    gas["remove margin"] = alice.remove_margin("ETH", 50).gas_used
    alice.open("BTC", 1, 10, "cross")
    gas["open cross (with one other cross position)"] = alice.open("SOL", 1, 10, "cross").gas_used
    # Margin leaving the cross balance must keep the cross positions' transfer rule, so an
    # account that also trades cross pays for valuing them.
    gas["add margin (account with 2 cross positions)"] = alice.add_margin("ETH", 50).gas_used
    gas["close"] = alice.close("ETH").gas_used

    bob = venue.trader("bob", usdc=10_000)
    bob.deposit(1_000)
    bob.open("ETH", 1, 50, "isolated", margin=21)
    carol = venue.trader("carol", usdc=10_000)
    carol.deposit(150)
    for symbol in SYMBOLS[:5]:
        carol.open(symbol, 1, 50, "cross")
    keeper = venue.keeper("k")
    crash = {s: venue.price(s) * 95 / 100 for s in SYMBOLS}
    gas["oracle update (10 markets)"] = venue.set_prices(crash).gas_used
    gas["liquidate isolated"] = keeper.liquidate(bob, "ETH").gas_used
    carol_health = venue.account(carol)
    assert carol_health.equity < carol_health.maintenance_margin, carol_health
    gas["liquidate cross account (5 positions)"] = keeper.liquidate(carol).gas_used
    return gas


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="pyevm")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    gas = measure(args.backend)
    table = Table(title=f"perpsim gas per operation ({args.backend})")
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
