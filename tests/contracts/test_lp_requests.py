"""Two-step LP deposits and redemptions (OrderBook LP requests, LiquidityPool direct access) on
the real contracts: the sandwich around an oracle update is closed, requests run only at a price
newer than themselves, and every refusal has its name.

Every test runs on both in-process EVMs (``backend`` fixture: pyevm, revm with ``--backend all``).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from venue_fixtures import BTC, ETH, ZERO_FEES, execute_lp_request, funded

from protocol import Venue, errors
from protocol.constants import GWEI
from protocol.keepers import OrderKeeper, Strategy
from protocol.keepers.block import BlockBuilder

MAX_UINT = 2**256 - 1


@pytest.fixture(scope="module")
def base(backend):
    # No fees and no borrowing: the pool's value moves only with prices, so amounts are exact.
    return Venue.launch(backend=backend, markets=[replace(ETH, **ZERO_FEES), replace(BTC, **ZERO_FEES)],
                        pool_liquidity=10_000_000)


def reason(venue, event):
    return venue.chain.registry.decode_error(event["reason"])


def open_long(venue, name="alice", size=100):
    alice = funded(venue, name, 100_000, deposit=100_000)
    alice.open("ETH", size=size, leverage=10, mode="cross")
    return alice


# ---------------------------------------------------------------------- the sandwich
def test_a_deposit_before_a_known_update_earns_nothing(venue):
    pool = venue.pool
    open_long(venue)  # 300k long at 3,000
    attacker = venue.trader("attacker", usdc=1_000_000)
    with pytest.raises(errors.LpRequestRequired):
        attacker.provide_liquidity(1_000_000)
    # What the sandwich would have paid: shares at 3,000, redeemed at 2,700 (alice's 30k loss).
    shares_then = pool.preview_deposit(venue.tokens(1_000_000))
    request = attacker.request_deposit(1_000_000)
    with venue.snapshot():
        venue.set_price("ETH", 2_700)
        assert pool.preview_redeem(shares_then) > venue.tokens(1_002_000)
    venue.advance_time(1)
    venue.set_price("ETH", 2_700)  # the update the attacker saw coming
    expected = pool.preview_deposit(venue.tokens(1_000_000))
    minted = venue.keeper("k").execute_lp_request(request.request_id).events_named("LpRequestExecuted")
    assert minted[0]["out"] == expected == venue.lp_shares(attacker) < shares_then
    back = execute_lp_request(venue, attacker.request_redeem()).events_named("LpRequestExecuted")
    assert venue.tokens(1_000_000) - 2 <= back[0]["out"] <= venue.tokens(1_000_000)
    assert venue.usd(venue.usdc.balance_of(attacker.address)) <= 1_000_000


# ---------------------------------------------------------------------- direct access
def test_direct_access_only_while_no_position_is_open(venue):
    pool, ch, book = venue.pool, venue.clearinghouse, venue.order_book
    lp = venue.trader("lp2", usdc=20_000)
    assert ch.open_entry() == 0 and pool.direct_access(lp.address)
    assert pool.max_deposit(lp.address, sender=lp.address) == MAX_UINT
    lp.provide_liquidity(10_000)  # nothing open: the ERC-4626 entry points work for anyone
    alice = open_long(venue, size=1)
    assert ch.open_entry() == 3_000 * 10**18
    assert not pool.direct_access(lp.address) and pool.direct_access(book.address)
    shares = venue.lp_shares(lp)
    for view, arg in (("maxDeposit", lp.address), ("maxMint", lp.address),
                      ("maxWithdraw", lp.address), ("maxRedeem", lp.address)):
        assert pool.call(view, arg, sender=lp.address) == 0, view
    assert pool.max_redeem_by_request(lp.address) == shares
    assert pool.max_withdraw_by_request(lp.address) == pool.preview_redeem(shares)
    for call in (lambda: lp.provide_liquidity(1), lambda: lp.withdraw_liquidity(1),
                 lambda: venue.pool.mint(10**6, lp.address, sender=lp.address).raise_for_status(),
                 lambda: venue.pool.redeem(10**6, lp.address, lp.address,
                                           sender=lp.address).raise_for_status()):
        with pytest.raises(errors.LpRequestRequired) as info:
            call()
        assert info.value.args[0].lower() == lp.address.lower()
    alice.close("ETH")
    assert ch.open_entry() == 0
    lp.withdraw_liquidity(5_000)  # closed again: directly
    assert venue.usd(venue.usdc.balance_of(lp.address)) == 15_000


# ---------------------------------------------------------------------- timing
def test_a_request_runs_only_at_a_price_newer_than_itself(venue):
    book, ch, reader = venue.order_book, venue.clearinghouse, venue.reader
    open_long(venue, size=1)
    lp = venue.trader("lp2", usdc=1_000)
    keeper = venue.keeper("k")
    with venue.chain.block():  # a price pushed in the request's own second is not newer
        request = lp.request_deposit(1_000)
        stamped = venue.set_price("ETH", 3_000).timestamp
    created = book.lp_request(request.request_id)[3]
    assert created == stamped == ch.valuation_time()  # BTC has no open interest
    with pytest.raises(errors.PriceNotNewer) as info:
        keeper.execute_lp_request(request.request_id)
    assert info.value.args == (request.request_id, stamped, created)
    assert not book.is_lp_request_executable(request.request_id)
    ids, following = reader.executable_lp_requests(book.address, 0, 10)
    assert (list(ids), following) == ([], 1)
    pushed = venue.set_price("ETH", 3_000).timestamp
    assert pushed > created and pushed == ch.valuation_time()
    assert book.is_lp_request_executable(request.request_id)
    ids, following = reader.executable_lp_requests(book.address, 0, 10)
    assert (list(ids), following) == ([request.request_id], 1)
    with pytest.raises(errors.OwnerCannotExecute):  # choosing when would be a free option
        book.execute_lp_request(request.request_id, sender=lp.address).raise_for_status()
    keeper.execute_lp_request(request.request_id)
    with pytest.raises(errors.LpRequestNotFound):
        keeper.execute_lp_request(request.request_id)
    assert not book.is_lp_request_executable(request.request_id)


def test_a_stale_market_without_open_interest_holds_no_request_back(venue):
    ch = venue.clearinghouse
    assert ch.valuation_time() == MAX_UINT  # nothing open: the value depends on no price
    lp = venue.trader("lp2", usdc=1_000)
    request = lp.request_deposit(1_000)
    venue.keeper("k").execute_lp_request(request.request_id)  # at once, in the next block
    open_long(venue, size=1)
    eth = venue.set_price("ETH", 3_000).timestamp
    venue.advance_time(7 * 24 * 3600)  # BTC's last price is a week old; ETH's too
    assert ch.valuation_time() == eth
    request = lp.request_redeem()
    venue.set_price("ETH", 3_000)  # ETH alone is pushed: BTC stays a week old
    assert ch.valuation_time() > venue.oracle.latest(venue.market_id("BTC"))[1]
    assert venue.keeper("k").execute_lp_request(request.request_id).events_named("LpRequestExecuted")


def test_the_owner_cancels_only_after_the_timeout(venue):
    book = venue.order_book
    timeout = book.market_order_timeout()
    open_long(venue, size=1)
    lp = venue.trader("lp2", usdc=1_000)
    request = lp.request_deposit(1_000, execution_fee=10**15)
    created = book.lp_request(request.request_id)[3]
    eve = venue.trader("eve")
    with pytest.raises(errors.NotOrderOwner):
        book.cancel_lp_request(request.request_id, sender=eve.address).raise_for_status()
    venue.advance_time(created + timeout - venue.chain.timestamp)  # exactly at the limit
    with pytest.raises(errors.LpRequestLocked) as info:
        lp.cancel_lp_request(request.request_id)
    assert info.value.args == (request.request_id, created + timeout)
    venue.advance_time(1)
    eth_before = lp.eth_balance
    cancelled = lp.cancel_lp_request(request.request_id)
    assert cancelled.events_named("LpRequestCancelled")[0]["refund"] == 10**15
    assert lp.eth_balance - eth_before == 10**15  # no gas: the test chain's price is zero
    assert venue.usd(venue.usdc.balance_of(lp.address)) == 1_000
    assert venue.lp_requests() == []
    with pytest.raises(errors.LpRequestNotFound):
        lp.cancel_lp_request(request.request_id)


# ---------------------------------------------------------------------- refusals and failures
def test_requests_refuse_bad_input_by_name(venue):
    book = venue.order_book
    lp = venue.trader("lp2", usdc=1_000)
    with pytest.raises(errors.ZeroAmount):
        lp.request_deposit(0)
    with pytest.raises(errors.InvalidReceiver):
        lp.request_deposit(1, receiver="0x" + "00" * 20)
    book.set_min_execution_fee(1_000, sender=venue.admin).raise_for_status()
    with pytest.raises(errors.InsufficientExecutionFee) as info:
        lp.request_deposit(1, execution_fee=999)
    assert info.value.args == (999, 1_000)
    lp.request_deposit(1)  # the minimum by default
    with pytest.raises(errors.ERC20InsufficientBalance):
        lp.request_deposit(1_000)  # 999 left in the wallet
    with pytest.raises(errors.LpRequestNotFound):
        venue.keeper("k").execute_lp_request(99)


def test_min_out_fails_the_request_and_returns_the_escrow(venue):
    pool, book = venue.pool, venue.order_book
    open_long(venue, size=1)
    lp = venue.trader("lp2", usdc=1_000)
    keeper = venue.keeper("k")
    request = lp.request_deposit(1_000, min_shares=MAX_UINT >> 200)
    venue.advance_time(1)
    venue.set_price("ETH", 3_000)
    shares = pool.preview_deposit(venue.tokens(1_000))
    failed = keeper.execute_lp_request(request.request_id).events_named("LpRequestFailed")[0]
    assert reason(venue, failed).args == (shares, MAX_UINT >> 200)
    assert isinstance(reason(venue, failed), errors.MinOutNotMet)
    assert venue.usdc.balance_of(lp.address) == venue.tokens(1_000) and venue.lp_shares(lp) == 0
    # Exactly the minimum goes through.
    request = lp.request_deposit(1_000, min_shares=shares)
    assert execute_lp_request(venue, request).events_named("LpRequestExecuted")[0]["out"] == shares
    held = venue.lp_shares(lp)
    worth = pool.preview_redeem(held)
    request = lp.request_redeem(min_usd=venue.usd(worth + 1))
    assert book.lp_request(request.request_id)[5] == worth + 1
    failed = execute_lp_request(venue, request).events_named("LpRequestFailed")[0]
    assert reason(venue, failed).args == (worth, worth + 1) and venue.lp_shares(lp) == held
    request = lp.request_redeem(min_usd=venue.usd(worth))
    assert execute_lp_request(venue, request).events_named("LpRequestExecuted")[0]["out"] == worth


def test_receiver_gets_the_shares_and_the_assets(venue):
    open_long(venue, size=1)
    lp, friend = venue.trader("lp2", usdc=1_000), venue.trader("friend")
    execute_lp_request(venue, lp.request_deposit(1_000, receiver=friend.address))
    assert venue.lp_shares(lp) == 0 and venue.lp_shares(friend) > 0
    shares = venue.lp_shares(friend)
    worth = venue.pool.preview_redeem(shares)
    execute_lp_request(venue, friend.request_redeem(receiver=lp.address))
    assert venue.usdc.balance_of(lp.address) == worth
    assert venue.lp_shares(friend) == 0


@pytest.mark.parametrize("fee", [10**17, 1_000])
def test_execution_fee_pays_the_keepers_gas_and_returns_the_rest(venue, fee):
    open_long(venue, size=1)
    lp = venue.trader("lp2", usdc=1_000)
    keeper = venue.keeper("k")
    request = lp.request_deposit(1_000, execution_fee=fee)
    assert venue.lp_requests(lp)[0].execution_fee_wei == fee
    venue.advance_time(1)
    venue.set_price("ETH", 3_000)
    lp_before, keeper_before = lp.eth_balance, keeper.eth_balance
    receipt = keeper.execute_lp_request(request.request_id, gas_price=10 * GWEI)
    event = receipt.events_named("LpRequestExecuted")[0]
    gas_cost = receipt.gas_used * 10 * GWEI
    assert event["keeperFee"] + event["refund"] == fee
    assert lp.eth_balance - lp_before == event["refund"]
    assert keeper.eth_balance - keeper_before == event["keeperFee"] - gas_cost
    if fee >= 10**17:
        assert gas_cost <= event["keeperFee"] <= 1.3 * gas_cost and event["refund"] > 0
    else:
        assert (event["keeperFee"], event["refund"]) == (fee, 0)


# ---------------------------------------------------------------------- views and the keeper bot
def test_lp_requests_view_and_the_order_keeper_bot(venue):
    open_long(venue, size=1)
    lps = [venue.trader(f"lp{i}", usdc=1_000) for i in range(2)]
    venue.advance_time(1)
    first = lps[0].request_deposit(400, min_shares=7)
    second = lps[1].request_deposit(600)
    views = venue.lp_requests()
    assert [(r.id, r.kind, r.amount, r.min_out) for r in views] == \
        [(first.request_id, "deposit", 400, 7), (second.request_id, "deposit", 600, 0)]
    assert views[0].account == views[0].receiver and views[0].account.lower() == lps[0].address.lower()
    assert [r.id for r in venue.lp_requests(lps[1])] == [second.request_id]
    bot = OrderKeeper(venue, "orders", Strategy())
    builder = BlockBuilder(venue, [bot])
    assert not builder.step().landed  # no newer price yet
    venue.set_price("ETH", 3_000)
    landed = builder.step().landed
    assert sorted(ld.intent.args[0] for ld in landed) == [first.request_id, second.request_id]
    assert all(ld.intent.function == "executeLpRequest" and ld.receipt.status for ld in landed)
    assert venue.lp_requests() == [] and all(venue.lp_shares(lp) > 0 for lp in lps)
    redeem = lps[0].request_redeem(venue.lp_shares(lps[0]) // 2)
    (view,) = venue.lp_requests()
    assert (view.kind, view.amount, view.min_out) == ("redeem", venue.lp_shares(lps[0]), 0)
    assert view.id == redeem.request_id
