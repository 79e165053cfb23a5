"""Gas per venue operation on the reference EVM (pyevm), against the targets of the margin issue.

Gas is deterministic: the same code gives the same numbers on every machine. The venue is measured
in its steady state: every market already has open interest on both sides (two background traders),
so a trade updates market totals rather than creating them, as on a live venue.

Three measurements, each on its own venue:

* :func:`measure_margin` (10 markets): deposit, open/close, margin moves, single liquidations,
  a 10-market oracle update (``scripts/bench_gas.py``).
* :func:`measure_orders` (ETH, BTC): two-step orders and a 50-target batch liquidation
  (``scripts/bench_orders.py``).
* :func:`measure_scaling` (50 markets): close of a cross position, cross liquidation with 1 and 20
  positions, oracle updates of 1 and 50 markets.

:func:`measure` merges them under the benchmark's operation names (:data:`OPERATIONS`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable, Optional

from protocol import MarketConfig, Venue

#: Targets of ``scripts/bench_gas.py`` (its row names).
TARGETS: dict[str, Optional[int]] = {
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
    "close in profit (the cap reads 10 markets)": None,
}

SYMBOLS = ["ETH", "BTC", "SOL", "ARB", "OP", "AVAX", "LINK", "DOGE", "XRP", "BNB"]
ORDER_MARKETS = [MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000)),
                 MarketConfig(symbol="BTC", max_leverage=20, initial_price=Decimal(60000))]
MANY = 50  # markets of the scaling venue (MAX_MARKETS is 64)

#: The benchmark's operations, in table order, with their targets (None: no target).
OPERATIONS: dict[str, Optional[int]] = {
    "deposit": 60_000,
    "open isolated": 160_000,
    "open cross (with one other cross position)": 160_000,
    "close isolated": 120_000,
    "close cross": 120_000,
    "close in profit (the cap reads 10 markets)": None,
    "add margin": 60_000,
    "remove margin": 60_000,
    "add margin (account with 2 cross positions)": None,
    "liquidate isolated": 130_000,
    "liquidate cross (1 position)": None,
    "liquidate cross (5 positions)": 450_000,
    "liquidate cross (20 positions)": None,
    "liquidateBatch (50 isolated positions)": None,
    "oracle update (1 market)": None,
    "oracle update (10 markets)": 120_000,
    "oracle update (50 markets)": None,
    "createOrder (market increase, with collateral)": None,
    "executeOrder (market increase)": None,
    "createOrder (stop-loss)": None,
    "executeOrder (stop-loss)": None,
}


def _steady_state(venue: Venue, symbols: Iterable[str]) -> None:
    """Two background traders hold opposite cross positions in every market."""
    for name, side in (("longs", 1), ("shorts", -1)):
        background = venue.trader(name, usdc=1_000_000)
        background.deposit(500_000)
        for symbol in symbols:
            background.open(symbol, side, 5, "cross")


def measure_margin(backend: str = "pyevm", modules: dict[str, str] | None = None) -> dict[str, int]:
    """The rows of ``scripts/bench_gas.py`` (names of :data:`TARGETS`)."""
    markets = [MarketConfig(symbol=s, initial_price=Decimal(1000 + i)) for i, s in enumerate(SYMBOLS)]
    venue = Venue.launch(backend=backend, markets=markets, modules=modules)
    gas: dict[str, int] = {}
    _steady_state(venue, SYMBOLS)
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
    # A profitable close reads every market's open interest and price for the profit cap.
    alice.open("ETH", 1, 10, "isolated", margin=200)
    venue.set_price("ETH", venue.price("ETH") * 11 / 10)
    gas["close in profit (the cap reads 10 markets)"] = alice.close("ETH").gas_used
    return gas


def measure_orders(backend: str = "pyevm") -> dict[str, int]:
    """The order and batch rows of ``scripts/bench_orders.py``."""
    venue = Venue.launch(backend=backend, markets=ORDER_MARKETS, insurance=1_000)
    _steady_state(venue, ("ETH", "BTC"))
    # A live book is not empty: a resting order and LP request keep the open lists' length
    # slots written, so a new one pays for its own entries only.
    maker = venue.trader("maker", usdc=10_000)
    maker.create_order("BTC", "limit_increase", 0.01, leverage=10, trigger_price=1, collateral=100)
    maker.request_deposit(100)
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

    lp = venue.trader("lp", usdc=100_000)  # alice's position is open: LPs go two-step
    deposit = lp.request_deposit(10_000)
    venue.set_prices({"ETH": 3000, "BTC": venue.price("BTC")})  # every market with open interest
    gas["requestDeposit (LP)"] = deposit.gas_used
    gas["executeLpRequest (deposit)"] = keeper.execute_lp_request(deposit.request_id).gas_used
    redeem = lp.request_redeem(venue.lp_shares(lp) // 2)  # its share approval is a tx of its own
    venue.set_prices({"ETH": 3000, "BTC": venue.price("BTC")})
    gas["requestRedeem (LP)"] = redeem.gas_used
    gas["executeLpRequest (redeem)"] = keeper.execute_lp_request(redeem.request_id).gas_used

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


def many_markets(n: int = MANY) -> list[MarketConfig]:
    return [MarketConfig(symbol=f"M{i:02d}", initial_price=Decimal(1000 + i)) for i in range(n)]


def measure_scaling(backend: str = "pyevm", markets: int = MANY) -> dict[str, int]:
    """Operations whose cost grows with positions or markets, on a ``markets``-market venue."""
    configs = many_markets(markets)
    symbols = [c.symbol for c in configs]
    venue = Venue.launch(backend=backend, markets=configs)
    _steady_state(venue, symbols)
    gas: dict[str, int] = {}
    gas["oracle update (1 market)"] = venue.set_prices({symbols[0]: venue.price(symbols[0])}).gas_used
    gas["oracle update (50 markets)"] = venue.set_prices(
        {s: venue.price(s) for s in symbols[:50]}).gas_used

    alice = venue.trader("alice", usdc=100_000)
    alice.deposit(10_000)
    alice.open(symbols[1], 1, 10, "cross")
    alice.open(symbols[2], 1, 10, "cross")
    gas["close cross"] = alice.close(symbols[2]).gas_used

    victims = {}
    for n in (1, 20):  # 50x cross longs: a 5% drop takes every account under maintenance
        victim = venue.trader(f"cross{n}", usdc=10_000)
        victim.deposit(Decimal(30) * n)
        for symbol in symbols[:n]:
            victim.open(symbol, 1, 50, "cross")
        victims[n] = victim
    keeper = venue.keeper("k")
    venue.set_prices({s: venue.price(s) * 95 / 100 for s in symbols})
    for n, victim in victims.items():
        health = venue.account(victim)
        assert health.equity < health.maintenance_margin, (n, health)
        receipt = keeper.liquidate(victim)
        gas[f"liquidate cross ({n} position{'s' if n > 1 else ''})"] = receipt.gas_used
    return gas


def measure(backend: str = "pyevm") -> dict[str, int]:
    """Every operation of :data:`OPERATIONS`, gas used."""
    margin, orders, scaling = measure_margin(backend), measure_orders(backend), measure_scaling(backend)
    renamed = dict(margin)
    renamed["close isolated"] = renamed.pop("close")
    renamed["liquidate cross (5 positions)"] = renamed.pop("liquidate cross account (5 positions)")
    merged = {**renamed, **orders, **scaling}
    return {op: merged[op] for op in OPERATIONS}


def check(gas: dict[str, int]) -> dict[str, dict[str, Any]]:
    """``{op: {"gas", "target", "ok"}}`` (``ok`` None without a target)."""
    out = {}
    for op, used in gas.items():
        target = OPERATIONS.get(op, TARGETS.get(op))
        out[op] = {"gas": used, "target": target, "ok": None if target is None else used <= target}
    return out
