"""Each margin rule of SPEC §3-§9 and §11, on the real contracts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from venue_fixtures import funded, redeem_liquidity

from protocol import errors
from protocol.errors import Reverted


def test_deposit_withdraw_and_wallet(venue):
    alice = venue.trader("alice", usdc=10_000)
    alice.deposit(5_000)
    alice.withdraw(100)
    account = venue.account(alice)
    assert account.cross_balance == Decimal(4_900)
    assert account.wallet == Decimal(5_100)
    with pytest.raises(errors.InsufficientBalance):
        alice.withdraw(4_901)


def test_isolated_open_moves_margin_and_charges_fee(venue):
    alice = funded(venue, "alice")
    receipt = alice.open("ETH", size=1, leverage=10, mode="isolated", margin=300)
    assert receipt.gas_used > 0 and receipt.events_named("PositionIncreased")
    p = venue.position(alice, "ETH")
    fee = Decimal(3000) * Decimal(5) / Decimal(10_000)
    assert (p.mode, p.size, p.entry_price, p.margin) == ("isolated", 1, 3000, 300 - fee)
    assert venue.account(alice).cross_balance == 10_000 - 300
    assert p.liquidation_price is not None and p.liquidation_price < 3000


def test_isolated_liquidation_touches_nothing_else(venue):
    alice = funded(venue, "alice")
    alice.open("ETH", size=1, leverage=50, mode="isolated", margin=61)
    alice.open("BTC", size=0.1, leverage=10, mode="isolated", margin=700)
    before_btc = venue.raw_position(alice, "BTC")
    balance_before = venue.account(alice).cross_balance
    venue.set_price("ETH", 2950)
    assert venue.is_liquidatable(alice, "ETH")
    receipt = venue.keeper("k").liquidate(alice, "ETH")
    event = receipt.events_named("PositionLiquidated")[0]
    assert venue.position(alice, "ETH") is None
    assert venue.raw_position(alice, "BTC") == before_btc
    remainder = venue.account(alice).cross_balance - balance_before
    assert remainder >= 0  # only what is left after the penalty comes back
    assert event["badDebt"] == 0 and event["penalty"] > 0


def test_cross_position_survives_longer_with_profitable_hedge(venue):
    iso = funded(venue, "iso", deposit=200)
    cross = funded(venue, "cross", deposit=200)
    iso.open("ETH", size=1, leverage=20, mode="isolated", margin=160)
    cross.open("ETH", size=1, leverage=20, mode="cross")
    cross.open("BTC", size=-0.01, leverage=20, mode="cross")  # profits when BTC falls
    venue.set_prices({"ETH": 2870, "BTC": 54000})
    assert venue.is_liquidatable(iso, "ETH")
    assert not venue.is_liquidatable(cross)


def test_mode_cannot_change_while_open(venue):
    alice = funded(venue, "alice")
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    with pytest.raises(errors.ModeMismatch):
        alice.open("ETH", size=1, leverage=10, mode="cross")
    alice.close("ETH")
    alice.open("ETH", size=1, leverage=10, mode="cross")
    assert venue.position(alice, "ETH").mode == "cross"


def test_different_markets_may_use_different_modes(venue):
    alice = funded(venue, "alice")
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    alice.open("BTC", size=-0.1, leverage=5, mode="cross")
    assert (venue.position(alice, "ETH").mode, venue.position(alice, "BTC").mode) == \
        ("isolated", "cross")


def test_remove_margin_respects_transfer_rule(venue):
    alice = funded(venue, "alice")
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    alice.remove_margin("ETH", 50)
    with pytest.raises(errors.TransferRuleViolated) as info:
        alice.remove_margin("ETH", 60)  # would leave less than max(IM, 10%) = 300
    assert info.value.args[1] == 300 * 10**18
    alice.add_margin("ETH", 100)
    assert venue.position(alice, "ETH").margin > 440


def test_withdraw_beyond_free_collateral_reverts(venue):
    alice = funded(venue, "alice", deposit=1_000)
    alice.open("ETH", size=1, leverage=5, mode="cross")  # IM 600, transfer rule 600
    with pytest.raises(errors.TransferRuleViolated):
        alice.withdraw(500)
    alice.withdraw(300)


def test_cross_open_needs_free_collateral(venue):
    alice = funded(venue, "alice", deposit=100)
    with pytest.raises(errors.InsufficientFreeCollateral):
        alice.open("ETH", size=1, leverage=20, mode="cross")  # IM 150 > 100


def test_healthy_liquidations_revert(venue):
    alice = funded(venue, "alice")
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    alice.open("BTC", size=0.1, leverage=10, mode="cross")
    keeper = venue.keeper("k")
    with pytest.raises(errors.PositionHealthy):
        keeper.liquidate(alice, "ETH")
    with pytest.raises(errors.AccountHealthy):
        keeper.liquidate(alice)


def test_gap_through_bankruptcy_creates_bad_debt_paid_by_insurance_then_pool(venue):
    alice = funded(venue, "alice")
    alice.open("ETH", size=10, leverage=50, mode="isolated", margin=700)
    insurance = venue.insurance_fund()
    pool_before = venue.clearinghouse.pool_assets()
    venue.set_price("ETH", 2700)  # loss 3000 on 700 margin: 2300 short
    receipt = venue.keeper("k").liquidate(alice, "ETH")
    bad = receipt.events_named("BadDebt")[0]
    shortfall = bad["amount"]
    assert shortfall > 0
    assert bad["fromInsurance"] == venue.tokens(insurance)
    assert bad["fromPool"] == shortfall - bad["fromInsurance"] > 0
    assert venue.insurance_fund() == 0
    liq = receipt.events_named("PositionLiquidated")[0]
    assert liq["penalty"] == 0 and liq["badDebt"] == shortfall
    # The pool received the trader's loss (plus the borrowing fee just settled, under $0.001
    # here) and paid the part of it the margin could not.
    pool_after = venue.clearinghouse.pool_assets()
    borrowing = pool_after - pool_before - (-liq["realizedPnl"] - bad["fromPool"])
    assert 0 <= borrowing < 1_000


def test_cross_liquidation_closes_cross_positions_only(venue):
    alice = funded(venue, "alice", deposit=460)
    alice.open("ETH", size=1, leverage=20, mode="cross")
    alice.open("BTC", size=0.01, leverage=5, mode="isolated", margin=150)
    isolated_before = venue.raw_position(alice, "BTC")
    venue.set_prices({"ETH": 2700, "BTC": 59000})
    assert venue.is_liquidatable(alice) and not venue.is_liquidatable(alice, "BTC")
    receipt = venue.keeper("k").liquidate(alice)
    assert receipt.events_named("AccountLiquidated")[0]["positions"] == 1
    assert venue.position(alice, "ETH") is None
    assert venue.raw_position(alice, "BTC") == isolated_before


def test_isolated_margin_cannot_drain_cross_positions(venue):
    alice = funded(venue, "alice", deposit=460)
    alice.open("ETH", size=1, leverage=20, mode="cross")
    with pytest.raises(errors.TransferRuleViolated):
        alice.open("BTC", size=0.01, leverage=5, mode="isolated", margin=200)
    alice.open("BTC", size=0.01, leverage=5, mode="isolated", margin=150)
    with pytest.raises(errors.TransferRuleViolated):
        alice.add_margin("BTC", 50)


def test_keeper_reward_and_insurance_share(venue):
    alice = funded(venue, "alice")
    alice.open("ETH", size=1, leverage=50, mode="isolated", margin=61)
    venue.set_price("ETH", 2950)
    keeper = venue.keeper("k")
    insurance_before = venue.insurance_fund()
    event = keeper.liquidate(alice, "ETH").events_named("PositionLiquidated")[0]
    assert event["keeperReward"] == event["penalty"] // 2
    assert venue.account(keeper).cross_balance == venue.usd(event["keeperReward"])
    assert venue.insurance_fund() - insurance_before == venue.usd(event["penalty"] - event["keeperReward"])


def test_partial_liquidation_of_large_position(backend):
    from protocol import MarketConfig, Venue

    eth = MarketConfig(symbol="ETH", initial_price=Decimal(3000), partial_threshold_usd=Decimal(100_000),
                       liquidation_cooldown=30)
    venue = Venue.launch(backend=backend, markets=[eth])
    whale = venue.trader("whale", usdc=10_000)
    whale.deposit(10_000)
    whale.open("ETH", size=50, leverage=50, mode="isolated", margin=3_100)
    venue.set_price("ETH", 2_970)  # equity ~1600 vs MM 1485: still above 2/3 MM
    keeper = venue.keeper("k")
    while not venue.is_liquidatable(whale, "ETH"):
        venue.set_price("ETH", venue.price("ETH") - 1)
    first = keeper.liquidate(whale, "ETH").events_named("PositionLiquidated")[0]
    assert first["sizeClosed"] == -10 * 10**18  # 20% slice
    assert venue.position(whale, "ETH").size == 40
    if venue.is_liquidatable(whale, "ETH"):
        with pytest.raises(errors.LiquidationCooldown):
            keeper.liquidate(whale, "ETH")


def test_partial_liquidation_falls_back_to_whole_when_profit_carried_the_position(backend):
    """A large position whose margin was eaten by funding but whose price profit keeps its
    equity between 2/3 MM and MM: a 20% slice would leave negative margin, so it goes whole."""
    from protocol import MarketConfig, Venue

    eth = MarketConfig(symbol="ETH", initial_price=Decimal(3000), partial_threshold_usd=Decimal(20_000),
                       funding_rate_per_hour=Decimal("0.0100000000000008"),  # nearest exact to 1%
                       max_funding_rate_per_hour=Decimal("0.0100000000000008"),
                       borrow_rate_per_year=Decimal(0))
    venue = Venue.launch(backend=backend, markets=[eth])
    whale, shrimp = funded(venue, "whale"), funded(venue, "shrimp")
    whale.open("ETH", size=10, leverage=50, mode="isolated", margin=700)
    shrimp.open("ETH", size=-1, leverage=10, mode="isolated", margin=1_000)
    venue.set_price("ETH", 3_300)
    for _ in range(200):  # funding drains the long's margin ten minutes at a time
        if venue.is_liquidatable(whale, "ETH"):
            break
        venue.advance_time(600)
        venue.set_price("ETH", 3_300)
    else:
        pytest.fail("funding never brought the long to liquidation")
    view = venue.position(whale, "ETH")
    assert view.equity * 3 >= view.maintenance_margin * 2, view  # partial-liquidation territory
    slice_left = view.margin + view.unrealized_pnl / 5 - view.pending_funding - view.pending_borrowing
    assert slice_left < 0, view
    event = venue.keeper("k").liquidate(whale, "ETH").events_named("PositionLiquidated")[0]
    assert event["sizeClosed"] == -10 * 10**18
    assert venue.position(whale, "ETH") is None


def test_funding_longs_pay_shorts_and_sums_to_zero(venue):
    long_ = funded(venue, "long")
    short = funded(venue, "short")
    long_.open("ETH", size=3, leverage=10, mode="cross")
    short.open("ETH", size=-1, leverage=10, mode="cross")
    venue.advance_time(3600)
    venue.set_price("ETH", 3000)
    venue.clearinghouse.update_funding(0, sender=venue.admin).raise_for_status()
    paid = venue.position(long_, "ETH").pending_funding
    received = venue.position(short, "ETH").pending_funding
    assert paid > 0 > received
    assert paid + received >= 0  # rounding favours the protocol
    assert paid + received < Decimal("0.000001")


def test_pause_blocks_opening_not_closing(venue):
    alice = funded(venue, "alice")
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    venue.pause()
    with pytest.raises(errors.TradingPaused):
        alice.open("BTC", size=0.1, leverage=10, mode="isolated", margin=700)
    alice.add_margin("ETH", 10)
    alice.close("ETH")


def test_stale_price_stops_trading_and_liquidation_not_closing_or_adding_margin(venue):
    alice = funded(venue, "alice")
    bob = funded(venue, "bob")
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    bob.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    venue.advance_time(3601)  # past the heartbeat, inside the close grace period
    with pytest.raises(errors.StalePrice):
        alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    with pytest.raises(errors.StalePrice):
        venue.keeper("k").liquidate(alice, "ETH")
    alice.add_margin("ETH", 10)
    alice.close("ETH")
    venue.advance_time(3600)  # past the grace period too: nothing uses the price
    with pytest.raises(errors.StalePrice):
        bob.close("ETH")
    bob.add_margin("ETH", 10)
    venue.set_price("ETH", 3000)
    bob.close("ETH")


def test_open_interest_cap(backend):
    from protocol import MarketConfig, Venue

    eth = MarketConfig(symbol="ETH", initial_price=Decimal(3000), max_long_oi_usd=Decimal(10_000))
    venue = Venue.launch(backend=backend, markets=[eth])
    alice = venue.trader("alice", usdc=100_000)
    alice.deposit(100_000)
    alice.open("ETH", size=3, leverage=10, mode="cross")
    with pytest.raises(errors.OpenInterestCap):
        alice.open("ETH", size=1, leverage=10, mode="cross")


def test_pool_shares_and_reserve_rule(backend):
    from protocol import MarketConfig, Venue

    eth = MarketConfig(symbol="ETH", initial_price=Decimal(3000), reserve_factor_bps=5_000,
                       borrow_rate_per_year=Decimal(0))  # the pool's value holds still
    venue = Venue.launch(backend=backend, markets=[eth], pool_liquidity=100_000)
    lp = venue.trader("lp2", usdc=50_000)
    lp.provide_liquidity(50_000)
    assert venue.pool.balance_of(lp.address) > 0
    alice = venue.trader("alice", usdc=100_000)
    alice.deposit(100_000)
    alice.open("ETH", size=20, leverage=5, mode="cross")  # 60k OI <= 50% of 150k
    # The pool keeps 60k / 50% = 120k of its 150,030 (fees included): maxWithdraw says so, to
    # the order book that executes LP requests while positions are open.
    pool = venue.pool
    most = pool.max_withdraw_by_request(lp.address)
    assert most == venue.tokens(30_030)
    assert redeem_liquidity(venue, lp, pool.preview_withdraw(venue.tokens(40_000))) \
        .events_named("LpRequestFailed")
    shares = pool.max_redeem_by_request(lp.address)
    expected = pool.preview_redeem(shares)
    paid = redeem_liquidity(venue, lp, shares).events_named("LpRequestExecuted")[0]["out"]
    assert paid == expected <= most
    assert venue.tokens(120_000) <= venue.clearinghouse.pool_assets() <= venue.tokens(120_000) + 1


def test_chainlink_feed(venue):
    venue.set_price("ETH", 3100)
    feed = venue.deployment.feeds["ETH"]
    round_id, answer, _, updated, answered = feed.call("latestRoundData")
    assert answer == 3100 * 10**18 and feed.call("decimals") == 18
    assert updated == venue.oracle.latest(0)[1] and round_id == answered >= 2


# ---------------------------------------------------------------- bad inputs, each named
def test_bad_inputs_have_named_errors(venue):
    alice = funded(venue, "alice")
    bob = funded(venue, "bob")
    ch, admin = venue.clearinghouse, venue.admin
    cases = [
        ("ZeroSize", lambda: alice.open("ETH", size=0, leverage=10, mode="cross")),
        ("InvalidLeverage", lambda: alice.open("ETH", size=1, leverage=0, mode="cross")),
        ("InvalidLeverage", lambda: alice.open("ETH", size=1, leverage=51, mode="cross")),
        ("MarginBelowInitial", lambda: alice.open("ETH", size=1, leverage=10, mode="isolated",
                                                  margin=299)),
        ("UnknownMarket", lambda: ch.increase_position(alice.address, 7, 10**18, 10, 2, 0,
                                                       sender=alice.address).raise_for_status()),
        ("Unauthorized", lambda: ch.decrease_position(alice.address, 0, 10**18,
                                                      sender=bob.address).raise_for_status()),
        ("AccessControlUnauthorizedAccount",
         lambda: venue.oracle.push_prices([(0, venue.chain.timestamp, 10**18)],
                                          sender=bob.address).raise_for_status()),
        ("AccessControlUnauthorizedAccount",
         lambda: ch.set_paused(True, sender=bob.address).raise_for_status()),
        ("ParamOutOfBounds",
         lambda: ch.configure_market(0, b"ETH".ljust(32, b"\0"), (*venue.markets["ETH"].encode(6)[:4], 500,  # maxLeverage 500
                              *venue.markets["ETH"].encode(6)[5:]), sender=admin).raise_for_status()),
        ("ZeroPrice", lambda: venue.oracle.push_prices([
            (0, venue.chain.timestamp,
             0)], sender=admin).raise_for_status()),  # the client refuses it first
        ("NoPosition", lambda: alice.add_margin("ETH", 1)),
        # notional below the market's $1 minimum: dust would let funding indices run away
        ("PositionTooSmall", lambda: alice.open("ETH", size="0.0003", leverage=2, mode="cross")),
        ("PositionTooSmall", lambda: (alice.open("BTC", size="0.001", leverage=2, mode="cross"),
                                      alice.decrease("BTC", size="0.00099"))),
    ]
    for name, action in cases:
        with pytest.raises(Reverted) as info:
            action()
        assert info.value.error == name, (name, info.value)
        assert isinstance(info.value, getattr(errors, name))
    with pytest.raises(KeyError, match="unknown market 'DOGE'"):
        alice.open("DOGE", size=1, leverage=2, mode="cross")
    with pytest.raises(ValueError, match="more than 6 decimals"):
        alice.deposit("0.0000001")
