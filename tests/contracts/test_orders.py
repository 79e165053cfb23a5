"""Two-step orders (OrderBook), the Reader's batch scan and batch liquidation, on the real contracts.

Every test runs on both in-process EVMs (``backend`` fixture: pyevm, revm with ``--backend all``).
"""

from __future__ import annotations

import math
import time

import pytest
from venue_fixtures import funded, launch

from protocol import errors
from protocol.bench.scaling import CRASH, full_scan, populate
from protocol.constants import GWEI
from protocol.venue.units import to_wad

ZERO_ADDRESS = "0x" + "00" * 20


def order_gone(venue, order_id):
    return int(venue.order_book.order(order_id)[0], 16) == 0


# ---------------------------------------------------------------------- trigger and timing rules
def test_stop_loss_fills_at_first_update_past_trigger_and_not_before(venue):
    alice = funded(venue, "alice")
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    order = alice.create_order("ETH", "stop_loss", trigger_price=2900)
    keeper = venue.keeper("k")
    with pytest.raises(errors.PriceNotNewer):  # the latest price predates the order
        keeper.execute_order(order.order_id)
    path = [2990, 2950, 2920, 2900.01, 2900, 2850]
    filled_at = None
    for price in path:
        venue.set_price("ETH", price)
        if price > 2900:
            with pytest.raises(errors.OrderNotTriggered) as info:
                keeper.execute_order(order.order_id)
            assert info.value.args == (order.order_id, to_wad(price, "price"), to_wad(2900, "price"))
            assert venue.position(alice, "ETH").size == 1
            continue
        receipt = keeper.execute_order(order.order_id)
        decreased = receipt.events_named("PositionDecreased")
        assert len(decreased) == 1
        assert decreased[0]["price"] == to_wad(price, "price")
        assert decreased[0]["sizeDelta"] == -10**18
        assert receipt.events_named("OrderExecuted")[0]["price"] == to_wad(price, "price")
        filled_at = price
        break
    assert filled_at == 2900  # the first update at or below the trigger, not a later one
    assert venue.position(alice, "ETH") is None
    assert order_gone(venue, order.order_id) and venue.orders(alice) == []


def test_market_order_needs_a_price_newer_than_itself(venue):
    alice = funded(venue, "alice", deposit=0)
    bob = funded(venue, "bob", deposit=0)  # one pending market order per account (SPEC §10)
    keeper = venue.keeper("k")
    # Price older than the order.
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400)
    with pytest.raises(errors.PriceNotNewer) as info:
        keeper.execute_order(order.order_id)
    assert info.value.args[1] < info.value.args[2]
    # Price from the same block as the order: equal is not newer.
    with venue.chain.block():
        venue.set_price("ETH", 3010)
        same_block = bob.create_order("ETH", "market_increase", 1, leverage=10, collateral=400)
    with pytest.raises(errors.PriceNotNewer) as info:
        keeper.execute_order(same_block.order_id)
    assert info.value.args[1] == info.value.args[2]
    # A later update makes both executable.
    venue.set_price("ETH", 3020)
    for o in (order, same_block):
        receipt = keeper.execute_order(o.order_id)
        assert receipt.events_named("PositionIncreased")[0]["price"] == to_wad(3020, "price")
    assert venue.position(alice, "ETH").size == venue.position(bob, "ETH").size == 1


def test_expired_market_order_cannot_execute_and_anyone_may_cancel_it(venue):
    alice = funded(venue, "alice", deposit=0)
    bob = funded(venue, "bob", deposit=0)
    keeper = venue.keeper("k")
    wallet_before = venue.account(alice).wallet
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400)
    with pytest.raises(errors.NotOrderOwner):  # live: only its owner may cancel
        bob.cancel_order(order.order_id)
    venue.advance_time(301)  # timeout is 300 s
    venue.set_price("ETH", 3000)  # fresh and newer than the order, but too late
    with pytest.raises(errors.OrderExpired):
        keeper.execute_order(order.order_id)
    receipt = bob.cancel_order(order.order_id)
    cancelled = receipt.events_named("OrderCancelled")[0]
    assert cancelled["by"].lower() == bob.address.lower()
    assert order_gone(venue, order.order_id)
    assert venue.account(alice).wallet == wallet_before
    assert venue.position(alice, "ETH") is None


def test_a_market_order_is_no_free_option_for_its_owner(venue):
    """Its owner can neither cancel it before it expires (after seeing the next price) nor
    execute it (choosing when); after expiry it is cancelled with a full refund."""
    alice = funded(venue, "alice", deposit=0)
    wallet, eth = venue.account(alice).wallet, alice.eth_balance
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400,
                               execution_fee=10**16)
    expires = order.timestamp + venue.order_book.market_order_timeout()
    venue.set_price("ETH", 2_990)  # executable now
    with pytest.raises(errors.MarketOrderLocked) as info:
        alice.cancel_order(order.order_id)
    assert info.value.args == (order.order_id, expires)
    with pytest.raises(errors.OwnerCannotExecute):
        venue.order_book.execute_order(order.order_id, sender=alice.address).raise_for_status()
    venue.advance_time(expires - venue.chain.timestamp)  # at expiry: still locked, still live
    with pytest.raises(errors.MarketOrderLocked):
        alice.cancel_order(order.order_id)
    event = alice.cancel_order(order.order_id).events_named("OrderCancelled")[0]  # one second on
    assert (event["keeperFee"], event["refund"]) == (0, 10**16)
    assert venue.account(alice).wallet == wallet and alice.eth_balance == eth


def test_cancel_refunds_escrow_and_whole_execution_fee(venue):
    alice = funded(venue, "alice", deposit=0)
    alice.deposit(1_000)
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    wallet_before, eth_before = venue.account(alice).wallet, alice.eth_balance
    fee = 10**16
    increase = alice.create_order("ETH", "limit_increase", 1, leverage=10, collateral=500,
                                  trigger_price=2800, execution_fee=fee)
    stop = alice.create_order("ETH", "stop_loss", trigger_price=2700, execution_fee=fee)
    assert venue.account(alice).wallet == wallet_before - 500
    assert alice.eth_balance == eth_before - 2 * fee  # gas_price 0: only the fees left
    assert venue.order_book.order(increase.order_id)[-1] == fee
    assert len(venue.orders(alice)) == 2
    for o in (increase, stop):
        event = alice.cancel_order(o.order_id).events_named("OrderCancelled")[0]
        assert (event["keeperFee"], event["refund"]) == (0, fee)
    assert venue.account(alice).wallet == wallet_before
    assert alice.eth_balance == eth_before
    assert venue.orders(alice) == []


def test_orders_work_when_instant_trading_is_off(backend):
    venue = launch(backend, instant_trading=False, min_execution_fee=10**15)
    alice = funded(venue, "alice", deposit=0)
    alice.deposit(1_000)
    with pytest.raises(errors.InstantTradingDisabled):
        alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    with pytest.raises(errors.InsufficientExecutionFee):
        alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400,
                           execution_fee=10**15 - 1)
    keeper = venue.keeper("k")
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400)
    venue.set_price("ETH", 3000)
    keeper.execute_order(order.order_id).events_named("OrderExecuted")[0]
    assert venue.position(alice, "ETH").size == 1
    close = alice.create_order("ETH", "market_decrease")
    venue.set_price("ETH", 3100)
    keeper.execute_order(close.order_id)
    assert venue.position(alice, "ETH") is None


@pytest.mark.parametrize("fee", [10**17, 1_000])
def test_execution_fee_split_with_gas_price(venue, fee):
    alice = funded(venue, "alice", deposit=0)
    keeper = venue.keeper("k")
    gas_price = 10 * GWEI
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400,
                               execution_fee=fee)
    venue.set_price("ETH", 3000)
    trader_before, keeper_before = alice.eth_balance, keeper.eth_balance
    receipt = keeper.execute_order(order.order_id, gas_price=gas_price)
    event = receipt.events_named("OrderExecuted")[0]
    gas_cost = receipt.gas_used * gas_price
    assert event["keeperFee"] + event["refund"] == fee
    assert alice.eth_balance - trader_before == event["refund"]
    assert keeper.eth_balance - keeper_before == event["keeperFee"] - gas_cost
    if fee >= 10**17:  # fee above the gas cost: the keeper is paid its gas, the trader the rest
        assert 0 < event["keeperFee"] < fee and event["refund"] > 0
        # The keeper's estimate (measured gas + 45k overhead) covers the real gas bill. It
        # overshoots it by at most the 45k and the storage refunds the execution earns (the
        # order's slots and its open-list entry cleared), which the EVM hands back after the fee
        # is fixed and which are at most a fifth of the gas before them (EIP-3529). The same on
        # every EVM: gas is exact everywhere.
        before_refunds = receipt.gas_used * 5 // 4
        assert gas_cost <= event["keeperFee"] <= (before_refunds + 45_000) * gas_price
    else:  # fee below the gas cost: the keeper gets all of it, the trader nothing
        assert (event["keeperFee"], event["refund"]) == (fee, 0)


def test_refused_trade_fails_the_order_and_refunds_collateral(venue):
    alice = funded(venue, "alice", deposit=0)
    keeper = venue.keeper("k")
    wallet_before = venue.account(alice).wallet
    # 1 ETH at 10x needs 300 of initial margin; 100 is refused by the clearinghouse.
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=100)
    assert venue.account(alice).wallet == wallet_before - 100
    venue.set_price("ETH", 3000)
    receipt = keeper.execute_order(order.order_id)
    assert receipt.status and not receipt.events_named("OrderExecuted")
    failed = receipt.events_named("OrderFailed")
    assert len(failed) == 1 and len(failed[0]["reason"]) >= 4
    assert not receipt.events_named("PositionIncreased")
    assert venue.account(alice).wallet == wallet_before
    assert venue.account(alice).cross_balance == 0
    assert venue.position(alice, "ETH") is None
    assert order_gone(venue, order.order_id) and venue.orders(alice) == []
    with pytest.raises(errors.OrderNotFound):
        keeper.execute_order(order.order_id)


def test_stop_loss_does_not_close_a_position_flipped_since(venue):
    alice = funded(venue, "alice")
    keeper = venue.keeper("k")
    alice.open("ETH", size=1, leverage=5, mode="isolated", margin=700)
    stop = alice.create_order("ETH", "stop_loss", trigger_price=2900)  # protects the long
    alice.close("ETH")
    alice.open("ETH", size=-1, leverage=5, mode="isolated", margin=700)
    venue.set_price("ETH", 2890)
    receipt = keeper.execute_order(stop.order_id)
    failed = receipt.events_named("OrderFailed")
    assert len(failed) == 1 and failed[0]["reason"][:4] == errors_selector("PositionSideChanged")
    assert venue.position(alice, "ETH").size == -1


def errors_selector(name: str) -> bytes:
    from eth_utils import keccak

    return keccak(text=f"{name}(bool,int256)")[:4]


# ---------------------------------------------------------------------- Reader scan
def reader_positions(request, backend):
    """10,000 positions (the issue's requirement) where setup is fast. On pyevm opening them
    takes ~60 ms each, ~10 min for 10,000, so pyevm uses 150 unless ``--slow`` (the scan's
    paging is the same code on both EVMs; revm pages through 10,000)."""
    if backend == "pyevm" and not request.config.getoption("--slow"):
        return 150
    return 10_000


def test_reader_finds_every_liquidatable_position_in_few_calls(request, backend):
    n = reader_positions(request, backend)
    venue = launch(backend)
    started = time.perf_counter()
    targets = populate(venue, n)
    setup = time.perf_counter() - started
    assert venue.account_count() == n
    venue.set_prices(CRASH)

    started = time.perf_counter()
    found, calls = full_scan(venue, 1_000)
    scan = time.perf_counter() - started
    truth = {(a.lower(), m) for a, m in targets if venue.is_liquidatable(a, m)}
    print(f"\n{backend}: {n} positions, setup {setup:.1f} s, scan {scan:.2f} s in {calls} calls, "
          f"{len(truth)} liquidatable")
    assert calls <= math.ceil(n / 1_000)
    assert len(found) == len(set(found))
    assert {(a.lower(), m) for a, m in found} == truth
    # Every kind is represented, so the comparison means something.
    kinds = {m for _, m in truth}
    assert kinds == {"ETH", "BTC", None}
    assert 0 < len(truth) < n


# ---------------------------------------------------------------------- batch liquidation
def test_batch_liquidation_of_50_fits_a_block_and_skips_the_rest(venue):
    traders = []
    for i in range(52):
        t = funded(venue, f"t{i}", usdc=100, deposit=100)
        t.open("ETH", size="0.1", leverage=50, mode="isolated", margin=7)
        traders.append(t)
    healthy = funded(venue, "healthy", usdc=1_000, deposit=1_000)
    healthy.open("ETH", size="0.1", leverage=5, mode="isolated", margin=100)
    healthy.open("BTC", size="0.01", leverage=5, mode="cross")
    nobody = venue.trader("nobody")
    venue.set_price("ETH", 2950)
    doomed, spare = traders[:50], traders[50:]
    assert all(venue.is_liquidatable(t, "ETH") for t in traders)
    keeper = venue.keeper("k")
    receipt = keeper.liquidate_batch([(t, "ETH") for t in doomed])
    assert receipt.gas_used < 30_000_000
    liquidated = receipt.events_named("PositionLiquidated")
    assert len(liquidated) == 50
    assert {e["account"].lower() for e in liquidated} == {t.address.lower() for t in doomed}
    assert all(venue.position(t, "ETH") is None for t in doomed)

    # Gone, healthy, empty and wrong-mode targets are skipped; the one live target still goes.
    mixed = [(doomed[0], "ETH"), (healthy, "ETH"), (healthy, None), (healthy, "BTC"),
             (nobody, None), (nobody, "BTC"), (spare[0], "ETH"), (doomed[1], "ETH")]
    before = venue.raw_position(healthy, "ETH"), venue.raw_position(healthy, "BTC")
    receipt = keeper.liquidate_batch(mixed)
    assert receipt.status
    liquidated = receipt.events_named("PositionLiquidated")
    assert [e["account"].lower() for e in liquidated] == [spare[0].address.lower()]
    assert not receipt.events_named("AccountLiquidated")
    assert (venue.raw_position(healthy, "ETH"), venue.raw_position(healthy, "BTC")) == before
    assert venue.is_liquidatable(spare[1], "ETH")  # not named, not touched
