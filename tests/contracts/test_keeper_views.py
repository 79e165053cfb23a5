"""Every view a keeper or a risk desk relies on, called directly, at the exact boundaries where
its answer changes: oracle freshness, the Reader's at-risk threshold, order triggers, the
account registry and the Reader's equity sum."""

from __future__ import annotations

import pytest
from venue_fixtures import funded, provide_liquidity

from protocol import errors
from protocol.constants import BPS, WAD


def test_prices_are_fresh_to_the_second_and_closable_through_the_grace(venue):
    oracle, eth = venue.oracle, venue.market_id("ETH")
    stamped = venue.set_price("ETH", 3_010).timestamp
    age, grace = oracle.max_price_age(eth), oracle.close_grace_period()
    venue.advance_time(stamped + age - venue.chain.timestamp)  # exactly maxPriceAge old
    assert oracle.fresh_price(eth) == 3_010 * WAD
    assert oracle.valuation_price(eth) == (3_010 * WAD, True)
    venue.advance_time(1)
    with pytest.raises(errors.StalePrice) as info:
        oracle.fresh_price(eth)
    assert info.value.args == (eth, stamped, age)
    assert oracle.valuation_price(eth) == (3_010 * WAD, False)
    venue.advance_time(grace - 1)  # exactly maxPriceAge + grace old
    assert oracle.close_price(eth) == 3_010 * WAD
    venue.advance_time(1)
    with pytest.raises(errors.StalePrice) as info:
        oracle.close_price(eth)
    assert info.value.args == (eth, stamped, age + grace)
    with pytest.raises(errors.NoPrice):
        oracle.valuation_price(7)


def test_at_risk_flags_exactly_below_the_threshold(venue):
    """``atRisk`` reports equity x 10,000 < maintenance x threshold: the largest threshold that
    does not flag a target and the next one up, for an isolated position and a cross account."""
    ch, reader, eth = venue.clearinghouse, venue.reader, venue.market_id("ETH")
    iso = funded(venue, "iso", 2_000, deposit=2_000)
    iso.open("ETH", size=5, leverage=20, mode="isolated", margin=1_000)
    cross = funded(venue, "cross", 2_000, deposit=2_000)
    cross.open("BTC", size=0.5, leverage=20, mode="cross")
    venue.set_prices({"ETH": 2_900, "BTC": 58_500})
    iso_equity, iso_mm = ch.position_health(iso.address, eth)
    cross_equity, cross_mm, _, _ = ch.account_health(cross.address)
    count = ch.account_count()
    for target, equity, mm in (((iso.address, eth), iso_equity, iso_mm),
                               ((cross.address, 2**256 - 1), cross_equity, cross_mm)):
        assert 0 < mm < equity
        threshold = equity * BPS // mm  # equity x BPS >= mm x threshold: not at risk
        target = (target[0].lower(), target[1])
        found, next_index = reader.at_risk(ch.address, 0, count, threshold)
        assert target not in _targets(found) and next_index == count
        found, _ = reader.at_risk(ch.address, 0, count, threshold + 1)
        assert target in _targets(found)
    # Neither is liquidatable: the scan at the maintenance margin itself finds neither.
    found, _ = reader.liquidatable(ch.address, 0, count)
    assert not {a for a, _ in _targets(found)} & {iso.address.lower(), cross.address.lower()}


def _targets(found) -> list[tuple[str, int]]:
    return [(account.lower(), market) for account, market in found]


def test_trigger_orders_become_executable_at_exactly_their_price(venue):
    book, reader = venue.order_book, venue.reader
    alice = funded(venue, "alice", 10_000, deposit=5_000)
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    stop = alice.create_order("ETH", "stop_loss", trigger_price=2_950).order_id
    take = alice.create_order("ETH", "take_profit", trigger_price=3_100).order_id
    end = book.open_order_count()
    assert end == 2 and sorted(book.open_order_ids(0, end)) == [stop, take]
    venue.set_price("ETH", 2_951)  # newer than the orders, one dollar short of the stop
    assert not book.is_executable(stop)
    with pytest.raises(errors.OrderNotTriggered) as info:
        book.check_executable(stop)
    assert info.value.args == (stop, 2_951 * WAD, 2_950 * WAD)
    assert reader.executable_orders(book.address, 0, end) == ((), end)
    venue.set_price("ETH", 2_950)
    assert book.is_executable(stop) and book.check_executable(stop) == 2_950 * WAD
    assert not book.is_executable(take)
    assert reader.executable_orders(book.address, 0, end) == ((stop,), end)
    venue.set_price("ETH", 3_100)
    assert reader.executable_orders(book.address, 0, end) == ((take,), end)
    # Paging by place in the open list: a page that ends before the order finds nothing and
    # says where to go on; the next page finds it; a page past the end is empty.
    place = list(book.open_order_ids(0, end)).index(take)
    assert reader.executable_orders(book.address, 0, place) == ((), place)
    assert reader.executable_orders(book.address, place, 1) == ((take,), place + 1)
    assert reader.executable_orders(book.address, end, 10) == ((), end)
    missing = book.next_order_id()
    assert not book.is_executable(missing)  # no such order
    with pytest.raises(errors.OrderNotFound):
        book.check_executable(missing)


def _open(book, kind: str) -> list[int]:
    return sorted(book.call(f"open{kind}Ids", 0, book.call(f"open{kind}Count")))


def test_the_open_lists_hold_exactly_the_open_orders_and_requests(venue):
    """Every way out of the book takes an id off its open list (the list keepers walk):
    cancelled, executed, failed, dropped when expired, and for LP requests cancelled and
    executed; pages cover the list once, whatever order removals left it in."""
    book, keeper = venue.order_book, venue.keeper("k")
    alice = funded(venue, "alice", 50_000, deposit=5_000)
    bob = funded(venue, "bob", 50_000, deposit=5_000)
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    stop = alice.create_order("ETH", "stop_loss", trigger_price=2_000).order_id
    take = alice.create_order("ETH", "take_profit", trigger_price=9_000).order_id
    limit = bob.create_order("ETH", "limit_increase", 1, leverage=10, trigger_price=2_500,
                             collateral=400).order_id
    first = bob.create_order("BTC", "market_increase", 0.01, leverage=10, collateral=100).order_id
    assert _open(book, "Order") == [stop, take, limit, first]
    alice.cancel_order(take)
    assert _open(book, "Order") == [stop, limit, first]
    venue.advance_time(book.market_order_timeout() + 1)  # bob's market order expires...
    second = bob.create_order("BTC", "market_increase", 0.01, leverage=10, collateral=100).order_id
    assert _open(book, "Order") == [stop, limit, second]  # ... and his next one drops it
    venue.set_price("BTC", venue.price("BTC"))
    venue.set_price("ETH", 2_000)
    keeper.execute_order(second)
    keeper.execute_order(stop)
    assert _open(book, "Order") == [limit]
    # A limit increase refused by the Clearinghouse (leverage above the market's) fails.
    failing = bob.create_order("ETH", "limit_increase", 1, leverage=10, trigger_price=2_500,
                               collateral=1).order_id
    venue.set_price("ETH", 2_000)
    assert [e.name for e in keeper.execute_order(failing).events
            if e.name.startswith("Order")] == ["OrderFailed"]
    keeper.execute_order(limit)
    assert _open(book, "Order") == [] and book.open_order_count() == 0
    lp = venue.trader("lp2", usdc=10_000)
    deposit = lp.request_deposit(1_000).request_id
    kept = lp.request_deposit(2_000).request_id
    assert _open(book, "LpRequest") == [deposit, kept]
    venue.advance_time(book.market_order_timeout() + 1)
    lp.cancel_lp_request(deposit)
    assert _open(book, "LpRequest") == [kept]
    venue.set_price("ETH", 2_000)
    venue.set_price("BTC", venue.price("BTC"))
    keeper.execute_lp_request(kept)
    assert _open(book, "LpRequest") == [] and book.open_lp_request_count() == 0


def test_the_keeper_scan_costs_what_is_open_not_what_was_ever_created(venue):
    """``executableOrders`` over the whole open list: the same gas with 1 order open after 30
    created and cancelled as with 1 order on a fresh book (it walked every id ever issued)."""
    book, reader = venue.order_book, venue.reader
    alice = funded(venue, "alice", 10_000, deposit=5_000)
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)

    def scan_gas() -> int:
        count = book.open_order_count()
        assert reader.executable_orders(book.address, 0, count)[1] == count == 1
        # a view sent as a transaction, for its gas
        return reader.transact(alice.address, "executableOrders", book.address, 0, 100).gas_used

    kept = alice.create_order("ETH", "stop_loss", trigger_price=2_000).order_id
    fresh = scan_gas()
    for _ in range(30):
        alice.cancel_order(alice.create_order("ETH", "take_profit", trigger_price=9_000).order_id)
    assert book.next_order_id() == kept + 31
    assert scan_gas() == fresh


def test_the_account_registry_lists_every_trader_once(venue):
    ch = venue.clearinghouse
    before = ch.account_count()
    bob = funded(venue, "bob", 1_000, deposit=0)
    assert not ch.is_registered(bob.address)
    bob.deposit(100)
    bob.deposit(100)  # a second deposit does not register again
    assert ch.is_registered(bob.address)
    assert ch.account_count() == before + 1
    assert ch.accounts(before).lower() == bob.address.lower()


def test_equities_sum_wallet_cross_isolated_and_lp_shares(venue):
    """At an unchanged price an open costs exactly its taker fee, so a trader's total equity
    is what it was funded with less the fees it paid; LP shares count at their value."""
    ch, reader, pool = venue.clearinghouse, venue.reader, venue.pool
    carol = funded(venue, "carol", 3_000, deposit=1_000)

    def equity() -> int:
        (value,) = reader.equities(ch.address, pool.address, [carol.address])
        return value

    assert equity() == 3_000 * WAD  # 2,000 in the wallet, 1,000 in the cross balance
    fee_bps = venue.markets["ETH"].taker_fee_bps
    assert fee_bps > 0
    carol.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    carol.open("BTC", size=-0.01, leverage=10, mode="cross")
    fee = (3_000 * WAD + 600 * WAD) * fee_bps // BPS  # on 3,000 and 600 of notional

    def charges() -> int:  # funding and borrowing accrued since the opens, seconds of them
        total = 0
        for market in ("ETH", "BTC"):
            funding, borrowing = ch.pending_charges(carol.address, venue.market_id(market))
            total += funding + borrowing
        return total

    assert 0 < charges() < WAD // 1_000
    assert equity() == 3_000 * WAD - fee - charges()
    provide_liquidity(venue, carol, 500)  # positions are open: a two-step request
    top = 3_000 * WAD - fee - charges()
    assert top - venue.scale <= equity() <= top  # shares round down
