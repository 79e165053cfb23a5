"""Stop-losses against liquidation: how the latency of order execution changes realised losses.

Traders hold isolated longs (10x-25x) protected by a stop-loss halfway to their liquidation price.
ETH falls 30% over 60 blocks. An order keeper executes stop-losses `latency` blocks after they
become executable; a liquidation keeper acts at once. The later the stop-loss fills, the worse
its price, and past some latency the liquidation comes first and the trader loses the margin and
pays the penalty. Seeded and deterministic. Run:
    .venv/bin/python scripts/order_latency.py [--backend revm] [--traders 200] [--seed 11]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from protocol import MarketConfig, Venue  # noqa: E402
from protocol.keepers import BlockBuilder, LiquidationKeeper, OracleKeeper, OrderKeeper, Strategy  # noqa: E402
from protocol.margin import liquidation_price  # noqa: E402
from protocol.prices import Crash  # noqa: E402

START, CRASH, CRASH_BLOCKS, BLOCKS = Decimal(3000), Decimal("0.30"), 60, 72
CRASH_PATH = Crash("ETH", START, drop_pct=CRASH, start_block=0,
                   over_blocks=CRASH_BLOCKS).path(BLOCKS, block_time=12, seed=0)
LATENCIES = (0, 1, 2, 4, 8, 16)


def build_book(venue: Venue, traders: int, seed: int) -> list:
    """Longs with a stop-loss halfway between entry and liquidation price; returns
    (trader, deposit, trigger) for each."""
    rng = random.Random(seed)
    mmf = venue.markets["ETH"].maintenance_fraction
    book = []
    for i in range(traders):
        leverage = rng.randint(10, 25)
        size = Decimal(rng.randint(5, 30)) / 10
        margin = (size * START / leverage * Decimal("1.01")).quantize(Decimal("0.01"))
        t = venue.trader(f"t{i}", usdc=margin)
        t.deposit(margin)
        t.open("ETH", size, leverage, "isolated", margin=margin)
        liq = liquidation_price(1, START, size, margin, mmf)
        trigger = ((START + liq) / 2).quantize(Decimal("0.01"))
        t.create_order("ETH", "stop_loss", trigger_price=trigger)
        book.append((t, margin, trigger))
    return book


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="revm")
    parser.add_argument("--traders", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    started = time.perf_counter()
    venue = Venue.launch(backend=args.backend, markets=[MarketConfig(symbol="ETH", initial_price=START)],
                         insurance=20_000)
    book = build_book(venue, args.traders, args.seed)
    traders = {t.address.lower(): (t, deposit, trigger) for t, deposit, trigger in book}

    table = Table(title=f"{args.traders} stop-loss longs, ETH -30% over {CRASH_BLOCKS} blocks")
    for col in ("order latency (blocks)", "stop-losses filled", "liquidated first",
                "avg fill below trigger %", "realised loss $", "loss per trader $"):
        table.add_column(col, justify="right")
    for latency in LATENCIES:
        with venue.snapshot():
            oracle = OracleKeeper.replaying(venue, CRASH_PATH)
            orders = OrderKeeper(venue, f"orders{latency}", Strategy(latency=latency))
            liquidator = LiquidationKeeper(venue, f"liq{latency}", Strategy(latency=0))
            builder = BlockBuilder(venue, [oracle, liquidator, orders])
            builder.run(BLOCKS)
            fills = [e for landed in builder.receipts(orders)
                     for e in landed.receipt.events_named("PositionDecreased")]
            triggers = [traders[e["account"].lower()][2] for e in fills]
            slippage = [(trigger - Decimal(e["price"]) / 10**18) / trigger * 100
                        for trigger, e in zip(triggers, fills)]
            liquidated = sum(len(landed.receipt.events_named("PositionLiquidated"))
                             for landed in builder.receipts(liquidator))
            loss = sum((deposit - venue.account(t).cross_balance for t, deposit, _ in book),
                       Decimal(0))
            avg = sum(slippage, Decimal(0)) / len(slippage) if slippage else Decimal(0)
            table.add_row(str(latency), str(len(fills)), str(liquidated), f"{avg:.2f}",
                          f"{loss:,.2f}", f"{loss / len(book):,.2f}")
    Console(width=110).print(table)
    Console().print(f"[dim]{args.backend}, seed {args.seed}, {time.perf_counter() - started:.1f} s[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
