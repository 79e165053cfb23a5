"""How keeper work and simulations grow with the size of the book (revm).

* :func:`measure_book`: N accounts with one position each (isolated ETH longs, isolated BTC
  shorts, every tenth a cross account), then a crash (ETH -2%, BTC +3%). Times the keeper's full
  Reader scan (``venue.liquidatable(start, 1000)`` over every account) and the liquidation of
  everything found, in ``liquidateBatch`` transactions of 50 targets.
* :func:`measure_sim`: a :class:`~protocol.sim.engine.Simulation` of the default scenario scaled
  to N traders.
"""

from __future__ import annotations

import dataclasses
import random
import time
from decimal import Decimal
from typing import Any, Callable, Iterable, Optional

from protocol import MarketConfig, Venue
from protocol.keepers import BlockBuilder, LiquidationKeeper, OrderKeeper, Strategy
from protocol.sim.engine import Simulation
from protocol.sim.loader import load_scenario
from protocol.sim.scenario import Scenario
from protocol.venue.units import to_wad

MAX_UINT = 2**256 - 1
CHUNK = 1_000
BATCH = 50
IDLE_BLOCKS = 5  # blocks timed with nothing happening, per book size and scan
MARKETS = [MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000)),
           MarketConfig(symbol="BTC", max_leverage=20, initial_price=Decimal(60000))]
CRASH = {"ETH": Decimal(3000) * Decimal("0.98"), "BTC": Decimal(60000) * Decimal("1.03")}


def populate(venue: Venue, n: int) -> list[tuple[str, Optional[str]]]:
    """``n`` fresh accounts with one position each; the admin deposits for them (deposits are
    permissionless), each account opens its own position: two transactions per account."""
    admin, ch = venue.admin, venue.clearinghouse
    venue.usdc.mint(admin, venue.tokens(400 * n), sender=admin).raise_for_status()
    venue.usdc.approve(ch.address, MAX_UINT, sender=admin).raise_for_status()
    rng = random.Random(n)
    targets: list[tuple[str, Optional[str]]] = []
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
            ch.deposit(account, margin, sender=admin).raise_for_status()
            ch.increase_position(account, market, size, leverage, 2, 0,
                                 sender=account).raise_for_status()
            targets.append((account, None))
        else:
            ch.deposit(account, venue.tokens(400), sender=admin).raise_for_status()
            ch.increase_position(account, market, size, leverage, 1, margin,
                                 sender=account).raise_for_status()
            targets.append((account, "ETH" if market == 0 else "BTC"))
    return targets


def full_scan(venue: Venue, chunk: int = CHUNK) -> tuple[list[tuple[str, Optional[str]]], int]:
    """Every liquidatable target, LiquidationKeeper-style; and the number of Reader calls."""
    total = venue.account_count()
    found: list[tuple[str, Optional[str]]] = []
    start, calls = 0, 0
    while True:
        part, start = venue.liquidatable(start, chunk)
        found += part
        calls += 1
        if start >= total:
            return found, calls


def measure_book(n: int, backend: str = "revm") -> dict[str, Any]:
    """Setup, scan and liquidation times for a book of ``n`` positions."""
    # 100,000 positions hold ~15M USD of ETH longs: the pool must back that open interest
    venue = Venue.launch(backend=backend, markets=MARKETS, pool_liquidity=max(10_000_000, 1_000 * n))
    try:
        started = time.perf_counter()
        populate(venue, n)
        setup = time.perf_counter() - started
        idle = {scan: idle_block_ms(venue, scan) for scan in ("index", "chain")}
        venue.set_prices(CRASH)
        keeper = venue.keeper("k")
        started = time.perf_counter()
        found, calls = full_scan(venue)
        scan = time.perf_counter() - started
        started = time.perf_counter()
        liquidated: set[str] = set()  # accounts (each holds one position)
        txs = 0
        for i in range(0, len(found), BATCH):
            receipt = keeper.liquidate_batch(found[i:i + BATCH])
            txs += 1
            liquidated.update(e["account"].lower() for e in receipt.events
                              if e.name in ("PositionLiquidated", "AccountLiquidated"))
        liquidation = time.perf_counter() - started
        remaining = len(full_scan(venue)[0])  # untimed check: nothing left to liquidate
    finally:
        venue.chain.close()
    return {"positions": n, "setup_seconds": setup, "scan_seconds": scan, "reader_calls": calls,
            "liquidatable": len(found), "liquidated": len(liquidated), "remaining": remaining,
            "batches": txs,
            "liquidation_seconds": liquidation, "idle_index_ms": idle["index"],
            "idle_chain_ms": idle["chain"]}


def idle_block_ms(venue: Venue, scan: str, blocks: int = IDLE_BLOCKS) -> float:
    """Mean wall time (ms) of a block in which nothing happens, for a liquidation keeper and
    an order keeper finding their targets by ``scan`` (the event index, or Reader scans of
    every account and open order); the keepers' first block, which builds the index, is not
    counted."""
    strategy = Strategy(scan=scan)
    builder = BlockBuilder(venue, [LiquidationKeeper(venue, f"idle-{scan}", strategy),
                                   OrderKeeper(venue, f"idle-orders-{scan}", strategy)])
    builder.step()
    started = time.perf_counter()
    for _ in range(blocks):
        venue.advance_time(60)
        builder.step()
    return (time.perf_counter() - started) / blocks * 1000


def scaled(traders: int, blocks: int, backend: str, scan: str = "index") -> Scenario:
    """The default scenario with its trader population scaled to ``traders`` (same mix). Its
    liquidation and order keepers find their targets per ``scan``: ``index`` (the event index)
    or ``chain`` (Reader scans, the liquidation keeper's of everything every 10 blocks and of
    its watchlist in between)."""
    sc = load_scenario("default", {"blocks": blocks, "backend": backend})
    base = sum(p.count for p in sc.agents if p.type != "lp")
    agents = []
    for p in sc.agents:
        count = p.count if p.type == "lp" else round(p.count * traders / base)
        agents.append(dataclasses.replace(p, count=count))
    keepers = tuple(dataclasses.replace(k, strategy=dataclasses.replace(
        k.strategy, scan=scan, full_scan_interval=10 if k.type == "liquidation" else 1))
        for k in sc.keepers)
    return sc.with_(agents=tuple(agents), keepers=keepers)


def measure_sim(traders: int, blocks: int = 240, backend: str = "revm") -> dict[str, Any]:
    sc = scaled(traders, blocks, backend)
    started = time.perf_counter()
    result = Simulation(sc).run()
    seconds = time.perf_counter() - started
    txs = result.summary["transactions"]
    return {"traders": traders, "blocks": blocks, "transactions": txs,
            "liquidations": result.summary["liquidations"], "seconds": seconds,
            "tps": txs / seconds if seconds else 0.0}


def linearity(points: dict[int, float]) -> dict[str, Any]:
    """Seconds per unit at each size, and whether the largest size's per-unit cost is within
    2x of the smallest's (growth roughly linear). Sizes under 1,000 are noisy and skipped
    unless nothing else is there."""
    sizes = sorted(points)
    big = [s for s in sizes if s >= 1_000] or sizes
    per_unit = {s: points[s] / s for s in sizes}
    lo, hi = per_unit[big[0]], per_unit[big[-1]]
    ratio = hi / lo if lo > 0 else float("inf")
    return {"per_unit_seconds": per_unit, "ratio_largest_to_smallest": ratio,
            "linear": ratio <= 2.0}


def run_scaling(positions: Iterable[int], traders: Iterable[int], blocks: int = 240,
                backend: str = "revm", log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    books: dict[int, dict[str, Any]] = {}
    for n in positions:
        books[n] = measure_book(n, backend)
        log(f"book {n:,}: setup {books[n]['setup_seconds']:.1f} s, scan "
            f"{books[n]['scan_seconds']:.2f} s, liquidate {books[n]['liquidation_seconds']:.2f} s")
    sims: dict[int, dict[str, Any]] = {}
    for t in traders:
        sims[t] = measure_sim(t, blocks, backend)
        log(f"sim {t:,} traders: {sims[t]['seconds']:.1f} s")
    scan = {n: b["scan_seconds"] for n, b in books.items()}
    liq = {n: b["liquidation_seconds"] for n, b in books.items()}
    sim = {t: s["seconds"] for t, s in sims.items()}
    return {"backend": backend, "scan_seconds": scan, "liquidation_seconds": liq,
            "sim_seconds": sim, "setup_seconds": {n: b["setup_seconds"] for n, b in books.items()},
            "books": books, "sims": sims, "sim_blocks": blocks,
            "linear": {"scan": linearity(scan), "liquidation": linearity(liq),
                       "sim": linearity(sim)}}
