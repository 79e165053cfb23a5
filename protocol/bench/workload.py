"""The standard keeper workload: a trading session, then a crash cleaned up by competing keepers.

A venue with ETH and BTC (default markets, 50M USD pool). N traders are created and funded
before the clock starts (wallet setup is not counted). Timed:

1. every trader deposits and opens one position in a seeded-random market: 60% isolated at
   2-50x with margin covering the initial margin with some room, 40% cross;
2. four rounds: the oracle pushes a ±1% random-walk price, then each trader, with seeded
   probability, closes a position (20%), adds margin (20%, isolated only), removes a little
   margin (10%, isolated only) or opens in the other market (20%);
3. a crash: ETH -25% over 5 oracle pushes; after each push two :class:`LiquidationKeeper` bots
   (different gas bids) run one :class:`BlockBuilder` step (Reader scan, batched liquidations).

Every protocol transaction is counted, reverted ones included (the chain's recorder sees them
all). Blocks are one second apart, so the oracle re-pushes its prices every
:data:`REFRESH_EVERY` traders to stay younger than the venue's max price age.
"""

from __future__ import annotations

import cProfile
import gc
import random
import time
from decimal import Decimal
from typing import Any, Callable, Optional, cast

from protocol.chain import Receipt
from protocol.constants import GWEI, MAX_UINT
from protocol.errors import Reverted
from protocol.keepers import BlockBuilder, LiquidationKeeper, Strategy
from protocol.venue.client import Trader, Venue

REFRESH_EVERY = 500
ROUNDS = 4
CRASH_STEPS = 5
CRASH = Decimal("0.25")
POOL_LIQUIDITY = 50_000_000


def _q(x: float, places: str = "0.0001") -> Decimal:
    return Decimal(repr(x)).quantize(Decimal(places))


class Workload:
    """One run of the workload; :meth:`setup` is untimed, :meth:`run` is timed."""

    def __init__(self, backend: str, traders: int = 1000, seed: int = 1):
        self.backend = backend
        self.n = traders
        self.rng = random.Random(seed)
        self.venue: Optional[Venue] = None
        self.reverted = 0

    # ---------------------------------------------------------------- untimed
    def setup(self) -> None:
        v = self.venue = Venue.launch(backend=self.backend, pool_liquidity=POOL_LIQUIDITY)
        # the launch's default markets, each with its initial price
        self.prices = {s: Decimal(cast(Decimal, c.initial_price)) for s, c in v.markets.items()}
        self.symbols = list(v.markets)
        chain, ch = v.chain, v.clearinghouse
        self.traders: list[Trader] = []
        for i in range(self.n):  # a wallet, its collateral and one approval (no order book, pool)
            address = chain.new_account()
            v.mint(address, 100_000)
            v.usdc.approve(ch.address, MAX_UINT, sender=address).raise_for_status()
            self.traders.append(Trader(v, f"t{i}", address))
        self.positions: list[dict[str, str]] = [{} for _ in range(self.n)]  # symbol -> mode
        self.bots = [LiquidationKeeper(v, "fast", Strategy(gas_price=3 * GWEI)),
                     LiquidationKeeper(v, "slow", Strategy(gas_price=1 * GWEI))]
        self.builder = BlockBuilder(v, self.bots)

    # ---------------------------------------------------------------- timed
    def run(self) -> dict[str, Any]:
        v = cast(Venue, self.venue)  # set up
        chain = v.chain
        # What the process allocated before (other benchmarks, the setup) is not this run's to
        # collect: it is frozen out of the collector's generations while the run is timed.
        gc.collect()
        gc.freeze()
        started = time.perf_counter()
        try:
            with chain.recording() as receipts:
                self._open_all()
                for _ in range(ROUNDS):
                    self._round()
                liquidations = self._crash()
        finally:
            seconds = time.perf_counter() - started
            gc.unfreeze()
        self.receipts = receipts
        txs = len(receipts)
        return {"backend": self.backend, "traders": self.n, "transactions": txs,
                "reverted": sum(1 for r in receipts if not r.status),
                "liquidations": liquidations, "seconds": seconds,
                "tps": txs / seconds if seconds > 0 else 0.0}

    def _try(self, fn: Callable[..., object], *args: Any, **kwargs: Any) -> bool:
        try:
            fn(*args, **kwargs)
            return True
        except Reverted:
            self.reverted += 1
            return False

    def _push(self) -> None:
        cast(Venue, self.venue).set_prices(self.prices)  # set up

    def _open(self, i: int, symbol: str) -> None:
        rng, trader = self.rng, self.traders[i]
        notional = rng.uniform(1_000, 20_000)
        size = _q(notional / float(self.prices[symbol]), "0.000001")
        side = 1 if rng.random() < 0.5 else -1
        if rng.random() < 0.6:
            leverage = rng.randint(2, 50)
            margin = _q(notional / leverage * rng.uniform(1.1, 1.5), "0.01")
            self._try(trader.deposit, margin + 10)
            if self._try(trader.open, symbol, side * size, leverage, "isolated", margin=margin):
                self.positions[i][symbol] = "isolated"
        else:
            leverage = rng.randint(2, 20)
            self._try(trader.deposit, _q(notional / leverage * rng.uniform(1.2, 2.0), "0.01"))
            if self._try(trader.open, symbol, side * size, leverage, "cross"):
                self.positions[i][symbol] = "cross"

    def _open_all(self) -> None:
        for i in range(self.n):
            if i % REFRESH_EVERY == 0:
                self._push()
            self._open(i, self.rng.choice(self.symbols))

    def _round(self) -> None:
        rng = self.rng
        for s in self.symbols:
            self.prices[s] = _q(float(self.prices[s]) * (1 + rng.uniform(-0.01, 0.01)), "0.01")
        for i in range(self.n):
            if i and i % REFRESH_EVERY == 0:
                self._push()
            if i == 0:
                self._push()
            held = self.positions[i]
            trader = self.traders[i]
            r = rng.random()
            isolated = [s for s, m in held.items() if m == "isolated"]
            if r < 0.2:
                if held:
                    symbol = rng.choice(sorted(held))
                    self._try(trader.close, symbol)
                    del held[symbol]
            elif r < 0.4:
                if isolated:
                    symbol = rng.choice(sorted(isolated))
                    amount = _q(rng.uniform(10, 200), "0.01")
                    self._try(trader.deposit, amount)
                    self._try(trader.add_margin, symbol, amount)
            elif r < 0.5:
                if isolated:
                    self._try(trader.remove_margin, rng.choice(sorted(isolated)),
                              _q(rng.uniform(1, 10), "0.01"))
            elif r < 0.7:
                others = [s for s in self.symbols if s not in held]
                if others:
                    self._open(i, rng.choice(others))

    def _crash(self) -> int:
        step = CRASH / CRASH_STEPS
        start = self.prices["ETH"]
        liquidations = 0
        for k in range(1, CRASH_STEPS + 1):
            self.prices["ETH"] = (start * (1 - step * k)).quantize(Decimal("0.01"))
            self._push()
            result = self.builder.step()
            # the workload's bots are liquidation keepers
            liquidations += sum(len(cast(LiquidationKeeper, bot).liquidation_events(ld.receipt))
                                for ld in result.landed for bot in [ld.intent.bot])
        return liquidations

    def close(self) -> None:
        if self.venue is not None:
            self.venue.chain.close()


def run_workload(backend: str, traders: int = 1000, seed: int = 1, *,
                 profiler: Optional[cProfile.Profile] = None, receipts: bool = False) -> dict[str, Any]:
    """Set up (untimed) and run (timed) the workload; ``{"transactions", "seconds", "tps", ...}``
    (and ``"receipts"``, every transaction's, when asked). ``profiler`` (a ``cProfile.Profile``)
    is enabled around the timed part only."""
    w = Workload(backend, traders, seed)
    started = time.perf_counter()
    try:
        w.setup()
        setup = time.perf_counter() - started
        if profiler is not None:
            profiler.enable()
        try:
            out = w.run()
        finally:
            if profiler is not None:
                profiler.disable()
    finally:
        w.close()
    out["setup_seconds"] = setup
    if receipts:
        out["receipts"] = w.receipts
    return out


def gas_parity(receipts: list[Receipt], reference: list[Receipt]) -> dict[str, int]:
    """Compare two runs' transactions one by one (status, gas used, block, time, output,
    logs): ``{"transactions": N, "mismatches": M}``, a missing or extra transaction counting
    as a mismatch."""
    def outcome(r: Receipt) -> tuple[Any, ...]:
        return r.status, r.gas_used, r.block, r.timestamp, r.output, list(r.logs)

    mismatches = abs(len(receipts) - len(reference))
    mismatches += sum(outcome(a) != outcome(b) for a, b in zip(receipts, reference))
    return {"transactions": min(len(receipts), len(reference)), "mismatches": mismatches}
