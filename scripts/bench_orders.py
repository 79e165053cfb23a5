"""Gas of two-step orders and batch liquidation on pyevm, and the Reader's liquidation scan.

Gas is measured on the reference EVM (pyevm) and is deterministic. The scan populates N accounts
with one position each (isolated ETH longs, isolated BTC shorts, every tenth a cross account),
moves prices, and finds every liquidatable target with ``Reader.liquidatable`` in chunks of 1,000
accounts, checking the result against one ``isLiquidatable`` read per position. Run:
    .venv/bin/python scripts/bench_orders.py [--positions N] [--scan-backend revm] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from protocol import MarketConfig, Venue  # noqa: E402
from protocol.venue.units import to_wad  # noqa: E402

MAX_UINT = 2**256 - 1
CHUNK = 1_000
MARKETS = [MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000)),
           MarketConfig(symbol="BTC", max_leverage=20, initial_price=Decimal(60000))]


def measure_gas(backend: str = "pyevm") -> dict[str, int]:
    venue = Venue.launch(backend=backend, markets=MARKETS, insurance=1_000)
    for name, side in (("longs", 1), ("shorts", -1)):  # steady state: OI on both sides
        background = venue.trader(name, usdc=1_000_000)
        background.deposit(500_000)
        for symbol in ("ETH", "BTC"):
            background.open(symbol, side, 5, "cross")
    keeper = venue.keeper("k")
    alice = venue.trader("alice", usdc=100_000)
    alice.deposit(1_000)
    gas: dict[str, int] = {}
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400)
    gas["createOrder (market increase, with collateral)"] = order.gas_used
    venue.set_price("ETH", 3000)
    gas["executeOrder (market increase)"] = keeper.execute_order(order.order_id).gas_used
    stop = alice.create_order("ETH", "stop_loss", trigger_price=2900)
    venue.set_price("ETH", 2890)
    executed = keeper.execute_order(stop.order_id)
    assert executed.events_named("OrderExecuted")
    gas["createOrder (stop-loss)"] = stop.gas_used
    gas["executeOrder (stop-loss)"] = executed.gas_used
    gas["createOrder + executeOrder (stop-loss)"] = stop.gas_used + executed.gas_used

    venue.set_price("ETH", 3000)
    traders = []
    for i in range(50):
        t = venue.trader(f"t{i}", usdc=100)
        t.deposit(100)
        t.open("ETH", "0.1", 50, "isolated", margin=7)
        traders.append(t)
    venue.set_price("ETH", 2950)
    receipt = keeper.liquidate_batch([(t, "ETH") for t in traders])
    assert len(receipt.events_named("PositionLiquidated")) == 50
    gas["liquidateBatch (50 isolated positions)"] = receipt.gas_used
    return gas


def populate(venue: Venue, n: int) -> list[tuple[str, str | None]]:
    admin, ch = venue.admin, venue.clearinghouse
    venue.usdc.transact(admin, "mint", admin, venue.tokens(400 * n)).raise_for_status()
    venue.usdc.transact(admin, "approve", ch.address, MAX_UINT).raise_for_status()
    rng = random.Random(n)
    targets = []
    for i in range(n):
        if i % 500 == 0:  # one block per transaction: keep the prices younger than 1 h
            venue.set_prices({"ETH": 3000, "BTC": 60000})
        account = venue.chain.new_account()
        if i % 2 == 0:
            market, size, leverage = 0, to_wad("0.1", "size"), rng.choice([5, 10, 20, 40, 50])
        else:
            market, size, leverage = 1, -to_wad("0.005", "size"), rng.choice([2, 5, 10, 15, 20])
        margin = venue.tokens(Decimal(300) / leverage + 1)
        if i % 10 == 9:
            ch.transact(admin, "deposit", account, margin).raise_for_status()
            ch.transact(account, "increasePosition", account, market, size, leverage, 2,
                        0).raise_for_status()
            targets.append((account, None))
        else:
            ch.transact(admin, "deposit", account, venue.tokens(400)).raise_for_status()
            ch.transact(account, "increasePosition", account, market, size, leverage, 1,
                        margin).raise_for_status()
            targets.append((account, "ETH" if market == 0 else "BTC"))
    return targets


def measure_scan(backend: str, n: int) -> dict[str, float]:
    venue = Venue.launch(backend=backend, markets=MARKETS)
    started = time.perf_counter()
    targets = populate(venue, n)
    setup = time.perf_counter() - started
    venue.set_prices({"ETH": Decimal(3000) * Decimal("0.98"),
                      "BTC": Decimal(60000) * Decimal("1.03")})
    total = venue.account_count()
    started = time.perf_counter()
    found, start, calls = [], 0, 0
    while True:
        chunk, start = venue.liquidatable(start, CHUNK)
        found += chunk
        calls += 1
        if start >= total:
            break
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
