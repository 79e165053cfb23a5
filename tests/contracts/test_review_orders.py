"""Issue 23, finding 6 and two earlier notes, on every backend (pyevm, revm and anvil).

* Finding 6: a market order is no free option. While it is pending, nothing its owner (or an
  operator) does can make the keeper's execution fail with a full refund: the order locks its
  account (``PendingMarketOrder``, SPEC §10) until it executes, fails, is cancelled or expires.
* Low-gas griefing: a keeper cannot make an order's or LP request's own execution run out of gas
  and so cancel it (``InsufficientExecutionGas``: GMX's minimum gas per kind of request;
  ``ExecutionOutOfGas`` for an execution that needs more than the minimum).
* ``Reader.equities`` counts what the OrderBook holds in escrow for each account.

The first tests of each part are the reproductions, written before the fix and seen failing on
the code before it (the issue's report quotes their output).
"""

from __future__ import annotations

import pytest
from venue_fixtures import BTC, ETH

from protocol import Venue, errors
from protocol.chain.abi import load_artifact
from protocol.constants import WAD
from protocol.keepers import BlockBuilder, OrderKeeper, Strategy
from protocol.margin.model import ModelRevert
from protocol.testing import assert_invariants, load_state
from protocol.venue.bounds import ParameterOutOfBounds

FEE = 10**15  # execution fee (wei); gas price 0: a keeper takes none of it, the owner gets it back
KINDS = {"increase": 0, "decrease": 1, "lp_deposit": 2, "lp_redeem": 3}
DEFAULT_MIN_GAS = {"increase": 1_800_000, "decrease": 900_000, "lp_deposit": 1_700_000,
                   "lp_redeem": 2_600_000}


@pytest.fixture(scope="module")
def base(chain_backend):
    """Orders only (instant trading off), as a venue that models order latency runs; the
    minimum execution fee 0, so a starved execution has nothing to send back."""
    return Venue.launch(backend=chain_backend, markets=[ETH, BTC], insurance=1_000,
                        instant_trading=False)


@pytest.fixture()
def venue(base):
    with base.snapshot():
        yield base


def instant(venue, on: bool) -> None:
    venue.clearinghouse.set_instant_trading(on, sender=venue.admin).raise_for_status()


def trader(venue, name, wallet=10_000, deposit=0):
    t = venue.trader(name, usdc=wallet)
    if deposit:
        t.deposit(deposit)
    return t


def order_events(receipt) -> list[str]:
    """The request's fate in a receipt, a failure with its decoded reason."""
    names = []
    for e in receipt.events:
        if e.name in ("OrderFailed", "LpRequestFailed"):
            reason = receipt.registry.decode_error(e["reason"]) if e["reason"] else None
            names.append(f"{e.name}: {reason or 'no reason (out of gas)'}")
        elif e.name in ("OrderExecuted", "OrderCancelled", "LpRequestExecuted",
                        "LpRequestCancelled"):
            names.append(e.name)
    return names


def next_price(venue, prices=None):
    """Every market priced one second later (``prices`` overrides some): newer than every
    order and request so far, what a keeper executes at."""
    venue.advance_time(1)
    venue.set_prices({m: venue.price(m) for m in venue.markets} | dict(prices or {}))


def send(venue, sender, function, *args, contract=None, **kwargs):
    """A raw transaction (its receipt, reverted or not)."""
    address = sender if isinstance(sender, str) else sender.address
    return (contract or venue.clearinghouse).transact(address, function, *args, **kwargs)


def plain(args) -> tuple:
    """An error's arguments with addresses in lower case."""
    return tuple(a.lower() if isinstance(a, str) else a for a in args)


def refused_pending(receipt, account, order_id) -> None:
    assert not receipt.status, "went through while the market order was pending"
    assert (receipt.error.error, plain(receipt.error.args)) == \
        ("PendingMarketOrder", (account.address.lower(), order_id)), receipt.error


def lock(venue, account) -> tuple:
    return tuple(venue.clearinghouse.order_lock(account.address))


def locked_accounts(venue, market) -> tuple:
    """(accounts holding a lock, of them in ``market``)."""
    return tuple(venue.clearinghouse.locked_accounts(market))


# ====================================================================== finding 6: reproductions
def test_withdraw_cannot_fail_a_pending_cross_order(venue):
    """The review: the owner sees the execution price on chain, withdraws, and the keeper's
    execution fails (InsufficientFreeCollateral) with a full refund."""
    alice = trader(venue, "alice", wallet=1_000, deposit=1_000)
    keeper = venue.keeper("k")
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, mode="cross",
                               execution_fee=FEE)
    next_price(venue, {"ETH": 2_950})  # the owner sees the price the keeper will use
    withdraw = send(venue, alice, "withdraw", alice.address, venue.tokens(1_000))
    execution = keeper.execute_order(order.order_id)
    outcome = (withdraw.status, withdraw.error and withdraw.error.error, order_events(execution))
    assert outcome == (False, "PendingMarketOrder", ["OrderExecuted"]), outcome
    assert plain(withdraw.error.args) == (alice.address.lower(), order.order_id)
    assert venue.position(alice, "ETH").size == 1


def test_update_leverage_cannot_fail_a_pending_increase(venue):
    """The review: an increase of an open position fails (LeverageMismatch) once its owner
    changes the position's leverage after seeing the price."""
    alice = trader(venue, "alice", wallet=10_000, deposit=5_000)
    keeper = venue.keeper("k")
    instant(venue, True)
    alice.open("ETH", 1, 10, "isolated", margin=800)
    instant(venue, False)
    wallet = venue.account(alice).wallet
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400)
    next_price(venue, {"ETH": 3_050})
    change = send(venue, alice, "updateLeverage", alice.address, 0, 5)
    execution = keeper.execute_order(order.order_id)
    outcome = (change.status, change.error and change.error.error, order_events(execution))
    assert outcome == (False, "PendingMarketOrder", ["OrderExecuted"]), outcome
    assert venue.position(alice, "ETH").size == 2 and venue.position(alice, "ETH").leverage == 10
    assert venue.account(alice).wallet == wallet - 400


def test_a_refund_receiver_cannot_revert_the_execution(venue):
    """An owner contract whose receive() burns every gas unit it is given made the keeper's
    transaction run out of gas after the trade, undoing it; the order then waited to expire and
    came back in full: a free option, as the refund of ETH went out with all the gas left. The
    refund now gets ``ETH_TRANSFER_GAS_LIMIT`` and, refused, waits in ``claimableEth``."""
    hostile = venue.chain.deploy(load_artifact("HostileOrderOwner"), sender=venue.admin)
    venue.mint(hostile.address, 1_000)
    hostile.transact(venue.admin, "approve", venue.usdc.address, venue.order_book.address)
    params = (0, 0, True, WAD, 10, 1, venue.tokens(400), 0, 0)  # ETH market increase, isolated
    hostile.transact(venue.admin, "place", venue.order_book.address, params, value=FEE) \
        .raise_for_status()
    order_id = venue.order_book.next_order_id() - 1
    next_price(venue)
    hostile.transact(venue.admin, "setBurn", True).raise_for_status()
    receipt = send(venue, venue.keeper("k"), "executeOrder", order_id, contract=venue.order_book,
                   gas=2_000_000)
    assert (receipt.status, order_events(receipt)) == (True, ["OrderExecuted"]), receipt.error
    assert venue.order_book.claimable_eth(hostile.address) == FEE
    assert venue.position(hostile.address, "ETH").size == 1
    assert venue.order_book.eth_transfer_gas_limit() == 50_000


# ====================================================================== finding 6: the lock
@pytest.fixture()
def pending(venue):
    """alice: an isolated ETH position (1 ETH, 10x), 5,000 in her cross balance and bob as her
    operator, then a market increase of it (1 ETH, 10x, 400 of collateral) priced and ready."""
    alice = trader(venue, "alice", wallet=10_000, deposit=5_000)
    bob = trader(venue, "bob", wallet=1_000)
    instant(venue, True)
    alice.open("ETH", 1, 10, "isolated", margin=800)
    instant(venue, False)
    send(venue, alice, "setOperator", bob.address, True).raise_for_status()
    return alice, bob


def owner_actions(venue, alice, bob):
    """What alice and her operator might do to fail her order, as raw transactions."""
    eth, tokens = venue.market_id("ETH"), venue.tokens(100)
    return {
        "withdraw": lambda: send(venue, alice, "withdraw", alice.address, tokens),
        "addMargin": lambda: send(venue, alice, "addMargin", alice.address, eth, tokens),
        "removeMargin": lambda: send(venue, alice, "removeMargin", alice.address, eth, tokens),
        "updateLeverage": lambda: send(venue, alice, "updateLeverage", alice.address, eth, 20),
        "operator withdraw": lambda: send(venue, bob, "withdraw", alice.address, tokens),
        "operator removeMargin": lambda: send(venue, bob, "removeMargin", alice.address, eth, tokens),
    }


@pytest.mark.parametrize("ending", ["executed", "failed", "cancelled", "expired"])
def test_every_owner_action_waits_for_the_order(venue, pending, ending):
    """Refused with ``PendingMarketOrder(alice, id)`` while the order is pending, changing
    nothing; each goes through, exactly, once the order executed, failed (for a reason of its
    own), was cancelled after expiry, or just expired."""
    alice, bob = pending
    keeper = venue.keeper("k")
    # A leverage other than the position's fails the order for a reason of its own.
    order = alice.create_order("ETH", "market_increase", 1, leverage=5 if ending == "failed" else 10,
                               collateral=400, execution_fee=FEE)
    expires = order.timestamp + 300
    assert lock(venue, alice) == (order.order_id, 0, expires)
    assert venue.pending_market_order(alice) == order.order_id
    assert locked_accounts(venue, 0) == (1, 1)
    next_price(venue)
    before = (venue.raw_position(alice, "ETH"), venue.account(alice).cross_balance,
              venue.account(alice).wallet)
    for name, action in owner_actions(venue, alice, bob).items():
        refused_pending(action(), alice, order.order_id)
    second = send(venue, alice, "createOrder", (1, 0, True, WAD // 100, 10, 1, 0, 0, 0),
                  contract=venue.order_book)
    refused_pending(second, alice, order.order_id)
    assert (venue.raw_position(alice, "ETH"), venue.account(alice).cross_balance,
            venue.account(alice).wallet) == before
    wallet = venue.account(alice).wallet

    if ending in ("executed", "failed"):
        receipt = keeper.execute_order(order.order_id)
        expected = "OrderExecuted" if ending == "executed" else \
            "OrderFailed: LeverageMismatch(market=0, current=10, requested=5)"
        assert order_events(receipt) == [expected]
        event = receipt.events_named("OrderExecuted" if ending == "executed" else "OrderFailed")[0]
        assert (event["keeperFee"], event["refund"]) == (0, FEE)
        assert venue.account(alice).wallet == wallet + (0 if ending == "executed" else 400)
    else:
        venue.advance_time(expires - venue.chain.timestamp + 1)  # one second past expiry
        with pytest.raises(errors.OrderExpired):
            keeper.execute_order(order.order_id)
        if ending == "cancelled":
            event = alice.cancel_order(order.order_id).events_named("OrderCancelled")[0]
            assert (event["keeperFee"], event["refund"]) == (0, FEE)
            assert venue.account(alice).wallet == wallet + 400
    assert venue.pending_market_order(alice) is None
    if ending == "expired":  # the order is still in the book, but no longer binds
        assert lock(venue, alice) == (order.order_id, 0, expires)
        assert locked_accounts(venue, 0) == (1, 1)
    else:
        assert lock(venue, alice) == (0, 0, 0)
        assert locked_accounts(venue, 0) == (0, 0)

    # Each action now goes through, with its exact effect.
    ch = venue.clearinghouse
    cross, margin = ch.cross_balance(alice.address), venue.raw_position(alice, "ETH").margin
    wallet = venue.usdc.balance_of(alice.address)
    t = venue.tokens(100)
    actions = owner_actions(venue, alice, bob)
    for name, effect in (("withdraw", (-t, 0, t)), ("addMargin", (-t, t, 0)),
                         ("removeMargin", (t, -t, 0)), ("operator withdraw", (-t, 0, t)),
                         ("operator removeMargin", (t, -t, 0))):
        actions[name]().raise_for_status()
        now = (ch.cross_balance(alice.address), venue.raw_position(alice, "ETH").margin,
               venue.usdc.balance_of(alice.address))
        assert now == (cross + effect[0], margin + effect[1], wallet + effect[2]), name
        cross, margin, wallet = now
    actions["updateLeverage"]().raise_for_status()
    assert venue.raw_position(alice, "ETH").leverage == 20
    assert_invariants(venue)


def test_direct_trades_of_the_owner_and_its_operators_wait(venue):
    """With instant trading on, a direct trade by the owner or an operator (open, increase,
    decrease, close) is refused while the order is pending; other accounts trade as usual."""
    alice = trader(venue, "alice", wallet=10_000, deposit=5_000)
    bob, carol = trader(venue, "bob", wallet=0), trader(venue, "carol", deposit=2_000)
    instant(venue, True)
    alice.open("BTC", 0.01, 10, "cross")
    send(venue, alice, "setOperator", bob.address, True).raise_for_status()
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, mode="cross")
    next_price(venue)
    eth, btc = venue.market_id("ETH"), venue.market_id("BTC")
    attempts = {
        "open": send(venue, alice, "increasePosition", alice.address, eth, -WAD, 10, 2, 0),
        "increase": send(venue, alice, "increasePosition", alice.address, btc, WAD // 100, 10, 2, 0),
        "decrease": send(venue, alice, "decreasePosition", alice.address, btc, WAD // 200),
        "close": send(venue, alice, "decreasePosition", alice.address, btc, 2**256 - 1),
        "operator open": send(venue, bob, "increasePosition", alice.address, eth, WAD, 10, 2, 0),
        "operator close": send(venue, bob, "decreasePosition", alice.address, btc, 2**256 - 1),
    }
    for name, receipt in attempts.items():
        refused_pending(receipt, alice, order.order_id)
    carol.open("ETH", 1, 10, "cross")  # nobody else is held up
    assert venue.raw_position(alice, "BTC").size == WAD // 100
    assert order_events(venue.keeper("k").execute_order(order.order_id)) == ["OrderExecuted"]
    alice.close("BTC")
    send(venue, bob, "decreasePosition", alice.address, eth, 2**256 - 1).raise_for_status()
    assert venue.position(alice, "ETH") is None and venue.position(alice, "BTC") is None


def test_margin_leaves_other_markets_and_other_accounts(venue):
    """Removing margin can only fail an order in the same market: from another market it goes
    through (it adds to the cross balance, which no pending order can fail on). An account
    without a pending order removes margin in a market where another account's order is."""
    alice = trader(venue, "alice", wallet=10_000, deposit=5_000)
    carol = trader(venue, "carol", wallet=10_000, deposit=5_000)
    instant(venue, True)
    alice.open("BTC", 0.1, 10, "isolated", margin=800)
    carol.open("ETH", 1, 10, "isolated", margin=800)
    instant(venue, False)
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, mode="cross")
    assert locked_accounts(venue, 0) == (1, 1)
    assert locked_accounts(venue, 1) == (1, 0)
    btc, cross = venue.raw_position(alice, "BTC").margin, venue.account(alice).cross_balance
    alice.remove_margin("BTC", 100)
    assert venue.raw_position(alice, "BTC").margin == btc - venue.tokens(100)
    assert venue.account(alice).cross_balance == cross + 100
    carol_margin = venue.raw_position(carol, "ETH").margin
    carol.remove_margin("ETH", 100)  # the market's count is 1, but carol holds no lock
    assert venue.raw_position(carol, "ETH").margin == carol_margin - venue.tokens(100)
    refused_pending(send(venue, alice, "addMargin", alice.address, 1, venue.tokens(1)), alice,
                    order.order_id)


def test_one_market_order_at_a_time_and_an_expired_one_makes_way(venue):
    """A second market order is refused while the first is live; trigger orders may be placed.
    Once the first has expired, a new market order takes over the lock and the expired order
    goes back to its owner in full (its collateral and its whole fee)."""
    alice = trader(venue, "alice", wallet=10_000)
    book = venue.order_book
    first = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400,
                               execution_fee=FEE)
    with pytest.raises(errors.PendingMarketOrder) as refused:
        alice.create_order("BTC", "market_increase", 0.01, leverage=10, collateral=100)
    assert plain(refused.value.args) == (alice.address.lower(), first.order_id)
    limit = alice.create_order("ETH", "limit_increase", 1, leverage=10, collateral=500,
                               trigger_price=2_500)
    venue.advance_time(301)
    wallet, eth = venue.account(alice).wallet, alice.eth_balance
    second = alice.create_order("BTC", "market_increase", 0.01, leverage=10, collateral=100,
                                execution_fee=FEE)
    dropped = second.events_named("OrderCancelled")
    assert [(e["id"], e["by"].lower(), e["keeperFee"], e["refund"]) for e in dropped] == \
        [(first.order_id, alice.address.lower(), 0, FEE)]
    assert venue.account(alice).wallet == wallet + 400 - 100
    assert alice.eth_balance == eth  # FEE back for the first, FEE paid for the second
    assert int(book.order(first.order_id)[0], 16) == 0
    assert lock(venue, alice) == (second.order_id, 1, second.timestamp + 300)
    assert locked_accounts(venue, 0) == (1, 0)
    assert locked_accounts(venue, 1) == (1, 1)
    assert venue.escrow(alice) == (600, 0)  # the limit order's 500 and the new order's 100
    assert [o.id for o in venue.orders(alice)] == [limit.order_id, second.order_id]
    assert_invariants(venue)


def test_trigger_orders_wait_for_the_market_order(venue):
    """A stop-loss whose price has come is not executable while its owner's market order is
    pending (executing it first could fail that order); once the order is done it executes."""
    alice = trader(venue, "alice", wallet=10_000, deposit=5_000)
    instant(venue, True)
    alice.open("ETH", 1, 10, "isolated", margin=800)
    instant(venue, False)
    stop = alice.create_order("ETH", "stop_loss", trigger_price=2_900)
    order = alice.create_order("BTC", "market_increase", 0.01, leverage=10, collateral=100)
    next_price(venue, {"ETH": 2_890})  # the stop's price, newer than both
    book, reader, keeper = venue.order_book, venue.reader, venue.keeper("k")
    assert not book.is_executable(stop.order_id)
    assert book.is_executable(order.order_id)
    assert list(reader.executable_orders(book.address, 0, 10)[0]) == [order.order_id]
    with pytest.raises(errors.PendingMarketOrder) as refused:
        keeper.execute_order(stop.order_id)
    assert plain(refused.value.args) == (alice.address.lower(), order.order_id)
    with pytest.raises(errors.PendingMarketOrder):
        book.check_executable(stop.order_id)
    assert order_events(keeper.execute_order(order.order_id)) == ["OrderExecuted"]
    assert list(reader.executable_orders(book.address, 0, 10)[0]) == [stop.order_id]
    assert order_events(keeper.execute_order(stop.order_id)) == ["OrderExecuted"]
    assert venue.position(alice, "ETH") is None


def test_the_owners_lp_redemption_waits_its_deposit_does_not(venue):
    """An LP redemption shrinks the reserve an increase needs (OpenInterestCap): the owner's
    waits for its market order. A deposit cannot fail the order and executes."""
    alice = trader(venue, "alice", wallet=10_000)
    keeper = venue.keeper("k")
    instant(venue, True)
    trader(venue, "carol", deposit=2_000).open("BTC", 0.01, 10, "cross")  # positions: two-step LP
    instant(venue, False)
    first = alice.request_deposit(2_000)
    next_price(venue)
    keeper.execute_lp_request(first.request_id)
    redeem = alice.request_redeem(venue.lp_shares(alice) // 2)
    deposit = alice.request_deposit(1_000)
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400)
    next_price(venue)
    book = venue.order_book
    assert not book.is_lp_request_executable(redeem.request_id)
    assert book.is_lp_request_executable(deposit.request_id)
    with pytest.raises(errors.PendingMarketOrder) as refused:
        keeper.execute_lp_request(redeem.request_id)
    assert plain(refused.value.args) == (alice.address.lower(), order.order_id)
    assert order_events(keeper.execute_lp_request(deposit.request_id)) == ["LpRequestExecuted"]
    assert order_events(keeper.execute_order(order.order_id)) == ["OrderExecuted"]
    assert order_events(keeper.execute_lp_request(redeem.request_id)) == ["LpRequestExecuted"]
    assert_invariants(venue)


def test_deposits_liquidations_and_keepers_go_on(venue):
    """The lock binds only the owner: it deposits, a keeper liquidates its unhealthy position
    in another market, and the order keeper executes the order."""
    alice = trader(venue, "alice", wallet=10_000, deposit=1_000)
    instant(venue, True)
    alice.open("BTC", 0.1, 20, "isolated", margin=310)
    instant(venue, False)
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400)
    cross = venue.account(alice).cross_balance
    alice.deposit(250)
    assert venue.account(alice).cross_balance == cross + 250
    next_price(venue, {"BTC": 57_500})
    assert venue.is_liquidatable(alice, "BTC")
    liquidated = venue.keeper("liq").liquidate(alice, "BTC")
    assert liquidated.events_named("PositionLiquidated")
    assert venue.position(alice, "BTC") is None
    assert order_events(venue.keeper("k").execute_order(order.order_id)) == ["OrderExecuted"]
    assert venue.position(alice, "ETH").size == 1
    assert_invariants(venue)


def test_the_order_expires_when_its_lock_does_whatever_the_timeout_becomes(venue):
    """An order and its lock expire together, at creation + the timeout as it was then: the
    admin raising the timeout does not revive an order its owner is free of, nor lowering it
    free the owner of an order a keeper can still execute."""
    alice = trader(venue, "alice", wallet=10_000, deposit=1_000)
    bob = trader(venue, "bob", wallet=10_000, deposit=1_000)
    book, keeper = venue.order_book, venue.keeper("k")
    longer = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400)
    shorter = bob.create_order("ETH", "market_increase", 1, leverage=10, collateral=400)
    book.set_market_order_timeout(60, sender=venue.admin).raise_for_status()
    next_price(venue)
    venue.advance_time(100)  # past 60, within 300
    refused_pending(send(venue, bob, "withdraw", bob.address, venue.tokens(1)), bob, shorter.order_id)
    assert order_events(keeper.execute_order(shorter.order_id)) == ["OrderExecuted"]
    book.set_market_order_timeout(3_600, sender=venue.admin).raise_for_status()
    venue.advance_time(longer.timestamp + 301 - venue.chain.timestamp)
    next_price(venue)
    with pytest.raises(errors.OrderExpired) as expired:
        keeper.execute_order(longer.order_id)
    assert expired.value.args == (longer.order_id, longer.timestamp + 300)
    alice.withdraw(1)  # free: the order can no longer execute
    alice.cancel_order(longer.order_id)


def test_the_order_keeper_sends_nothing_the_lock_holds_back(venue):
    """The order keeper bot reads what is executable: with a stop-loss triggered while its
    owner's market order is pending it sends the market order alone (no reverted transaction),
    and the stop-loss on its next scan."""
    alice = trader(venue, "alice", wallet=10_000, deposit=5_000)
    instant(venue, True)
    alice.open("ETH", 1, 10, "isolated", margin=800)
    instant(venue, False)
    stop = alice.create_order("ETH", "stop_loss", trigger_price=2_900)
    order = alice.create_order("BTC", "market_increase", 0.01, leverage=10, collateral=100)
    next_price(venue, {"ETH": 2_890})
    bot = OrderKeeper(venue, "orders", Strategy(gas_price=0))
    builder = BlockBuilder(venue, [bot])
    first = builder.step()
    assert [(ld.intent.args, ld.receipt.status) for ld in first.landed] == [((order.order_id,), True)]
    second = builder.step()
    assert [(ld.intent.args, ld.receipt.status) for ld in second.landed] == [((stop.order_id,), True)]
    assert bot.ledger.losses == 0 and venue.position(alice, "ETH") is None


def test_the_reference_model_mirrors_the_lock(venue):
    """The model, loaded from the chain, refuses what the chain refuses while the order is
    pending (removing margin only in the order's market) and nothing once it expired."""
    alice = trader(venue, "alice", wallet=10_000, deposit=5_000)
    instant(venue, True)
    alice.open("BTC", 0.1, 10, "isolated", margin=800)
    instant(venue, False)
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, mode="cross")
    model = load_state(venue).model
    account = next(a for a in model.cross_balance if a.lower() == alice.address.lower())
    eth, btc, tokens = venue.market_id("ETH"), venue.market_id("BTC"), venue.tokens(10)
    assert model.order_locks[account] == (order.order_id, eth, order.timestamp + 300)
    for name, action in (("withdraw", lambda m: m.withdraw(account, tokens)),
                         ("add_margin", lambda m: m.add_margin(account, btc, tokens)),
                         ("update_leverage", lambda m: m.update_leverage(account, btc, 5)),
                         ("increase", lambda m: m.increase(account, btc, WAD // 100, 10, 1, tokens)),
                         ("decrease", lambda m: m.decrease(account, btc, WAD // 100))):
        with pytest.raises(ModelRevert) as refused:
            action(model)
        assert refused.value.args == ("PendingMarketOrder", account, order.order_id), name
    model.remove_margin(account, btc, tokens)  # another market: allowed, as on chain
    alice.remove_margin("BTC", 10)
    model.now = order.timestamp + 301
    model.withdraw(account, tokens)


# ====================================================================== minimum execution gas
def lowest_landing_gas(venue, send_with, low=60_000, high=12_000_000):
    """The smallest gas limit at which ``send_with(gas)`` lands (status 1), and its receipt;
    every probe runs in a snapshot."""
    while low < high:
        mid = (low + high) // 2
        with venue.snapshot():
            landed = send_with(mid).status
        low, high = (low, mid) if landed else (mid + 1, high)
    with venue.snapshot():
        return low, send_with(low)


def requests(venue, kind, alice, keeper, *, refused=False):
    """A request of ``kind`` ready to execute and the function sending its execution with a
    gas limit. ``refused``: one the venue refuses for a reason of its own."""
    book = venue.order_book
    if kind == "increase":
        collateral = 100 if refused else 400  # 300 is the initial margin
        request = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=collateral)
        function, request_id = "executeOrder", request.order_id
    elif kind == "decrease":
        instant(venue, True)
        alice.open("ETH", 1, 10, "cross")
        instant(venue, False)
        request = alice.create_order("ETH", "market_decrease")
        function, request_id = "executeOrder", request.order_id
    else:
        if kind == "lp_redeem":
            deposit = alice.request_deposit(2_000)
            next_price(venue)
            book.execute_lp_request(deposit.request_id, sender=keeper.address).raise_for_status()
            request = alice.request_redeem(venue.lp_shares(alice) // 2,
                                           min_usd=10**6 if refused else 0)
        else:
            request = alice.request_deposit(2_000, min_shares=2**128 - 1 if refused else 0)
        function, request_id = "executeLpRequest", request.request_id
    next_price(venue, {"ETH": 3_100})
    return lambda gas: book.transact(keeper.address, function, request_id, gas=gas)


def starting_gas(venue, send_with) -> int:
    """How much of a transaction's gas limit is gone before the execution's first check
    (intrinsic, calldata, dispatch): the same for every limit."""
    with venue.snapshot():
        receipt = send_with(200_000)
    assert receipt.error.error == "InsufficientExecutionGas", receipt.error
    return 200_000 - receipt.error.args[0]


def test_a_keeper_cannot_starve_an_order_into_failing(venue):
    """At the lowest gas limit a keeper's transaction lands with, the order executes: any less
    and the transaction reverts, the order untouched. Before the minimum, the inner trade ran
    out of gas and the order was cancelled (OrderFailed, empty reason, collateral refunded)."""
    alice = trader(venue, "alice", wallet=1_000, deposit=1_000)
    keeper = venue.keeper("k")
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, mode="cross")
    next_price(venue)
    gas, receipt = lowest_landing_gas(venue, lambda g: send(
        venue, keeper, "executeOrder", order.order_id, contract=venue.order_book, gas=g))
    assert order_events(receipt) == ["OrderExecuted"], f"at {gas:,} gas: {order_events(receipt)}"


def test_a_keeper_cannot_starve_a_decrease_into_failing(venue):
    alice = trader(venue, "alice", wallet=1_000, deposit=1_000)
    keeper = venue.keeper("k")
    instant(venue, True)
    alice.open("ETH", 1, 10, "cross")
    instant(venue, False)
    order = alice.create_order("ETH", "market_decrease")
    next_price(venue, {"ETH": 3_100})
    gas, receipt = lowest_landing_gas(venue, lambda g: send(
        venue, keeper, "executeOrder", order.order_id, contract=venue.order_book, gas=g))
    assert order_events(receipt) == ["OrderExecuted"], f"at {gas:,} gas: {order_events(receipt)}"


@pytest.mark.parametrize("kind", ["increase", "decrease", "lp_deposit", "lp_redeem"])
@pytest.mark.parametrize("minimum", ["default", "lowest allowed"])
def test_no_gas_limit_fails_a_request(venue, kind, minimum):
    """Whatever gas a keeper sends, a request that would execute either executes or stays
    (the transaction reverts): at the lowest limit that lands, it executes. With the minimum at
    its lowest bound the inner call can run out of gas; that reverts too (ExecutionOutOfGas)."""
    alice, keeper = trader(venue, "alice", wallet=10_000, deposit=1_000), venue.keeper("k")
    send_with = requests(venue, kind, alice, keeper)
    overhead = starting_gas(venue, send_with)
    if minimum == "lowest allowed":
        venue.set_min_execution_gas(kind, 100_000)
    gas, receipt = lowest_landing_gas(venue, send_with)
    expected = "OrderExecuted" if kind in ("increase", "decrease") else "LpRequestExecuted"
    assert order_events(receipt) == [expected], f"at {gas:,} gas: {order_events(receipt)}"
    if minimum == "lowest allowed":  # 120k is above the minimum, below what the request needs
        with venue.snapshot():
            starved = send_with(overhead + 120_000)
        assert (starved.error.error, starved.error.args) == ("ExecutionOutOfGas", (120_000,))


@pytest.mark.parametrize("kind", ["increase", "decrease", "lp_deposit", "lp_redeem"])
def test_the_minimum_gas_is_exact(venue, kind):
    """One gas unit below the kind's minimum at the start of execution reverts
    ``InsufficientExecutionGas(minimum - 1, minimum)``; exactly the minimum executes."""
    alice, keeper = trader(venue, "alice", wallet=10_000, deposit=1_000), venue.keeper("k")
    send_with = requests(venue, kind, alice, keeper)
    minimum = venue.min_execution_gas(kind)
    assert minimum == DEFAULT_MIN_GAS[kind]
    overhead = starting_gas(venue, send_with)
    with venue.snapshot():
        below = send_with(minimum - 1 + overhead)
    assert (below.error.error, below.error.args) == \
        ("InsufficientExecutionGas", (minimum - 1, minimum))
    receipt = send_with(minimum + overhead)
    expected = "OrderExecuted" if kind in ("increase", "decrease") else "LpRequestExecuted"
    assert order_events(receipt) == [expected]


@pytest.mark.parametrize("kind,reason", [
    ("increase", "MarginBelowInitial"), ("lp_deposit", "MinOutNotMet"), ("lp_redeem", "MinOutNotMet")])
def test_a_real_refusal_at_the_minimum_still_fails_the_request(venue, kind, reason):
    """With just the minimum, a request the venue refuses for a reason of its own fails as
    before: its escrow goes back and the event names the reason."""
    alice, keeper = trader(venue, "alice", wallet=10_000, deposit=1_000), venue.keeper("k")
    send_with = requests(venue, kind, alice, keeper, refused=True)
    wallet, shares = venue.account(alice).wallet, venue.lp_shares(alice)
    receipt = send_with(venue.min_execution_gas(kind) + starting_gas(venue, send_with))
    [failed] = order_events(receipt)
    assert failed.split(": ")[1].startswith(reason), failed
    assert venue.account(alice).wallet == wallet + (100 if kind == "increase" else
                                                    2_000 if kind == "lp_deposit" else 0)
    assert venue.lp_shares(alice) > shares if kind == "lp_redeem" else True
    assert venue.escrow(alice) == (0, 0)


def test_the_minimum_is_set_per_kind_within_bounds(venue):
    book = venue.order_book
    for kind, code in KINDS.items():
        assert book.min_execution_gas(code) == DEFAULT_MIN_GAS[kind]
    for value in (100_000, 10_000_000):
        receipt = venue.set_min_execution_gas("decrease", value)
        assert receipt.events_named("MinExecutionGasSet")[0]["gas"] == value
        assert venue.min_execution_gas("decrease") == value
        assert venue.min_execution_gas("increase") == DEFAULT_MIN_GAS["increase"]
    for value in (99_999, 10_000_001):
        with pytest.raises(ParameterOutOfBounds, match="^min_execution_gas: "):
            venue.set_min_execution_gas("increase", value)
        refused = book.set_min_execution_gas(0, value, sender=venue.admin)
        assert (refused.error.error, refused.error.args) == \
            ("ParamOutOfBounds", (b"minExecutionGas".ljust(32, b"\0"), value))
    with pytest.raises(ValueError, match="unknown request kind"):
        venue.min_execution_gas("swap")


# ====================================================================== Reader.equities
def test_equities_count_order_collateral_in_escrow(venue):
    alice = trader(venue, "alice", wallet=1_000)
    ch, pool, book, reader = venue.clearinghouse, venue.pool, venue.order_book, venue.reader
    before = reader.equities_with_book(ch.address, pool.address, book.address, [alice.address])
    alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400)
    after = reader.equities_with_book(ch.address, pool.address, book.address, [alice.address])
    assert list(before) == list(after) == [1_000 * WAD]


def test_equities_count_every_kind_of_escrow_exactly(venue):
    """Order collateral (market and trigger orders) and LP deposit assets count at face value,
    LP redemption shares with the wallet's at the pool's share price; the three-argument form
    counts none of it. Each leaves the tally when its request leaves the book."""
    ch, pool, book, reader = venue.clearinghouse, venue.pool, venue.order_book, venue.reader
    alice, keeper = trader(venue, "alice", wallet=10_000), venue.keeper("k")
    instant(venue, True)
    trader(venue, "carol", deposit=2_000).open("BTC", 0.01, 10, "cross")  # positions: two-step LP
    instant(venue, False)

    def equity() -> int:
        return reader.equities_with_book(ch.address, pool.address, book.address, [alice.address])[0]

    def without_escrow() -> int:
        return reader.equities(ch.address, pool.address, [alice.address])[0]

    assert equity() == without_escrow() == 10_000 * WAD
    market = alice.create_order("ETH", "market_increase", 1, leverage=10, collateral=400)
    limit = alice.create_order("BTC", "limit_increase", 0.01, leverage=10, collateral=150,
                               trigger_price=50_000)
    deposit = alice.request_deposit(1_000)
    assert venue.escrow(alice) == (1_550, 0)
    assert tuple(book.escrow(alice.address)) == (venue.tokens(1_550), 0)
    assert equity() == 10_000 * WAD
    assert without_escrow() == (10_000 - 1_550) * WAD
    next_price(venue)
    keeper.execute_lp_request(deposit.request_id)
    shares = venue.lp_shares(alice)
    assert venue.escrow(alice) == (550, 0)
    redeem = alice.request_redeem(shares // 3)
    assert venue.escrow(alice) == (550, shares // 3)
    value = pool.convert_to_assets(shares)  # wallet and escrowed shares together
    assert equity() == (venue.tokens(9_000) + value) * venue.scale
    assert without_escrow() == \
        (venue.tokens(8_450) + pool.convert_to_assets(shares - shares // 3)) * venue.scale
    keeper.execute_order(market.order_id)  # the collateral becomes the position's margin
    assert venue.escrow(alice) == (150, shares // 3)
    alice.cancel_order(limit.order_id)
    next_price(venue)  # the redemption needs prices newer than itself
    keeper.execute_lp_request(redeem.request_id)
    assert venue.escrow(alice) == (0, 0)
    assert equity() == without_escrow()
    assert_invariants(venue)
