"""Three liquidation keepers race through a crash: who wins, profit net of gas, and how keeper
latency changes bad debt.

A book of isolated and cross positions at leverages from 5x to 50x meets a 30% ETH crash over 60
blocks (0.5% a block). Part 1 runs the three keepers together; the block builder includes their transactions in
gas-bid order, so a rival's later, lower bid for an already liquidated target pays gas for
nothing. Part 2 replays the same crash with one keeper at each latency and measures bad debt.
Everything is seeded; the numbers are identical on every run. Run:
    .venv/bin/python scripts/keeper_race.py [--backend revm] [--traders 300] [--seed 7]
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
from protocol.constants import GWEI  # noqa: E402
from protocol.keepers import BlockBuilder, LiquidationKeeper, OracleKeeper, Strategy  # noqa: E402
from protocol.prices import Crash  # noqa: E402

ETH_USD = Decimal(3000)
START, CRASH, CRASH_BLOCKS, BLOCKS = Decimal(3000), Decimal("0.30"), 60, 72
CRASH_PATH = Crash("ETH", START, drop_pct=CRASH, start_block=0,
                   over_blocks=CRASH_BLOCKS).path(BLOCKS, block_time=12, seed=0)
RIVALS = (  # name, poll interval (blocks), latency (blocks), gas bid (gwei)
    ("sparse-cheap", 4, 0, 1),
    ("steady", 1, 1, 5),
    ("laggard-rich", 1, 2, 20),
)


def build_book(venue: Venue, traders: int, seed: int) -> None:
    """Each trader deposits just what its position needs (plus a cushion), so the crash
    liquidates in order of leverage; cross accounts carry 30% above initial margin."""
    rng = random.Random(seed)
    for i in range(traders):
        leverage = rng.choice((5, 10, 15, 20, 25, 30, 40, 50))
        size = Decimal(rng.randint(1, 30)) / 10
        initial = size * START / leverage
        t = venue.trader(f"t{i}", usdc=20_000)
        if rng.random() < 0.6:
            margin = (initial * Decimal("1.01")).quantize(Decimal("0.01"))
            t.deposit(margin)
            t.open("ETH", size, leverage, "isolated", margin=margin)
        else:
            t.deposit((initial * Decimal("1.3")).quantize(Decimal("0.01")))
            t.open("ETH", size, leverage, "cross")


def bad_debt(receipts) -> Decimal:
    return sum((Decimal(e["amount"]) for r in receipts for e in r.events_named("BadDebt")), Decimal(0))


def run_crash(venue: Venue, keepers: list[LiquidationKeeper]) -> tuple[BlockBuilder, int]:
    oracle = OracleKeeper.replaying(venue, CRASH_PATH)
    builder = BlockBuilder(venue, [oracle, *keepers])
    builder.run(BLOCKS)
    liquidations = sum(len(landed.receipt.events_named("PositionLiquidated"))
                       for landed in builder.receipts() if landed.intent.bot is not oracle)
    return builder, liquidations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="revm")
    parser.add_argument("--traders", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    started = time.perf_counter()
    console = Console(width=110)

    venue = Venue.launch(backend=args.backend, markets=[MarketConfig(symbol="ETH", initial_price=START)],
                         insurance=20_000)
    build_book(venue, args.traders, args.seed)

    with venue.snapshot():
        keepers = [LiquidationKeeper(venue, name, Strategy(poll_interval=poll, latency=lat,
                                                           gas_price=bid * GWEI))
                   for name, poll, lat, bid in RIVALS]
        builder, liquidations = run_crash(venue, keepers)
        table = Table(title=f"Race: {args.traders} traders, ETH -30% over {CRASH_BLOCKS} blocks "
                            f"({liquidations} positions liquidated)")
        for col in ("keeper", "poll", "latency", "bid gwei", "wins", "lost txs", "rewards $",
                    "gas $", "net $"):
            table.add_column(col, justify="left" if col == "keeper" else "right")
        for (name, poll, lat, bid), k in zip(RIVALS, keepers):
            led = k.ledger
            table.add_row(name, str(poll), str(lat), str(bid), str(led.wins), str(led.losses),
                          f"{led.rewards_usd:,.2f}", f"{led.gas_usd(ETH_USD):,.2f}",
                          f"{led.net_profit_usd(ETH_USD):,.2f}")
        console.print(table)

    table = Table(title="Bad debt by keeper latency (one keeper, same crash)")
    for col in ("latency (blocks)", "positions liquidated", "bad debt $", "insurance fund after $"):
        table.add_column(col, justify="right")
    for latency in (0, 1, 2, 4, 8):
        with venue.snapshot():
            keeper = LiquidationKeeper(venue, f"solo{latency}", Strategy(latency=latency, gas_price=GWEI))
            builder, liquidations = run_crash(venue, [keeper])
            debt = bad_debt(ld.receipt for ld in builder.receipts(keeper))
            table.add_row(str(latency), str(liquidations), f"{venue.usd(int(debt)):,.2f}",
                          f"{venue.insurance_fund():,.2f}")
    console.print(table)
    console.print(f"[dim]{args.backend}, seed {args.seed}, {time.perf_counter() - started:.1f} s[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
