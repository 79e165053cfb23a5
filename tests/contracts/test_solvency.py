"""Liquidation and opening correctness (issue 14, section 6): a skipped batch target leaves no
trace, no isolated position opens liquidatable, orders honour the close grace period, and the
model's view of the chain includes every market's heartbeat and partial-liquidation time."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from venue_fixtures import BTC, ETH, funded

from protocol import MarketConfig, Venue, errors
from protocol.constants import WAD
from protocol.testing import assert_invariants
from protocol.testing.invariants import load_state


@pytest.fixture(scope="module")
def base(backend):
    eth = replace(ETH, partial_threshold_usd=Decimal(50_000), liquidation_cooldown=600)
    return Venue.launch(backend=backend, markets=[eth, BTC], insurance=1_000)


def test_a_target_cooling_down_is_skipped_without_a_trace(venue):
    whale = funded(venue, "whale", 50_000, deposit=20_000)
    whale.open("ETH", size=30, leverage=20, mode="isolated", margin=4_700)  # 90k notional
    venue.set_price("ETH", 2_870)  # below maintenance, above 2/3 of it: a slice
    keeper = venue.keeper("k")
    receipt = keeper.liquidate_batch([(whale, "ETH")])
    first = receipt.events_named("PositionLiquidated")
    assert len(first) == 1 and first[0]["sizeClosed"] == -6 * WAD  # 20% of 30 ETH
    until = receipt.timestamp + 600
    venue.advance_time(300)  # inside the cooldown, with funding and borrowing pending
    assert venue.is_liquidatable(whale, "ETH")
    ch, eth = venue.clearinghouse, venue.market_id("ETH")

    def state():
        return (ch.position(whale.address, eth), ch.market_state(eth),
                ch.cross_balance(whale.address), ch.pool_assets(),
                ch.funding_reserve(), ch.insurance_fund())

    before = state()
    assert ch.pending_charges(whale.address, eth)[1] > 0  # a skip must not wipe these
    skipped = keeper.liquidate_batch([(whale, "ETH")])
    assert skipped.status and not skipped.events_named("PositionLiquidated")
    assert not skipped.events_named("FundingUpdated")
    assert state() == before
    # The cooldown ends at exactly `until`: one second before, still refused.
    venue.advance_time(until - 1 - venue.chain.timestamp)
    with pytest.raises(errors.LiquidationCooldown) as info:
        keeper.liquidate(whale, "ETH")
    assert info.value.args == (eth, until)
    assert_invariants(venue)
    second = keeper.liquidate(whale, "ETH")
    assert second.timestamp == until
    assert second.events_named("PositionLiquidated")[0]["sizeClosed"] == -(24 * WAD) * 2_000 // 10_000


def test_model_loads_every_markets_heartbeat_and_partial_time(venue):
    venue.oracle.set_max_price_age(venue.market_id("BTC"), 120,
                                   sender=venue.admin).raise_for_status()
    whale = funded(venue, "whale", 50_000, deposit=20_000)
    whale.open("ETH", size=30, leverage=20, mode="isolated", margin=4_700)
    venue.set_price("ETH", 2_870)
    venue.keeper("k").liquidate(whale, "ETH")
    model = load_state(venue).model
    assert model.heartbeats[venue.market_id("BTC")] == 120
    assert model.heartbeats[venue.market_id("ETH")] == venue.oracle.max_price_age(0)
    assert model.last_partial_liquidation[(whale.address.lower(), 0)] == \
        venue.clearinghouse.last_partial_liquidation(whale.address, 0) > 0
    venue.advance_time(200)  # BTC is stale after 120 s, ETH is not
    with pytest.raises(Exception) as info:
        model.now = venue.chain.timestamp
        model.fresh_price(venue.market_id("BTC"))
    assert info.value.name == "StalePrice"
    assert model.fresh_price(venue.market_id("ETH")) == 2_870 * WAD


def test_orders_close_through_the_grace_period(venue):
    alice = funded(venue, "alice", 10_000, deposit=5_000)
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    stop = alice.create_order("ETH", "stop_loss", trigger_price=2_950)
    buy = alice.create_order("BTC", "market_increase", 0.01, leverage=5, collateral=200)
    venue.set_prices({"ETH": 2_940, "BTC": 60_000})  # newer than both orders
    age = venue.oracle.max_price_age(0)
    venue.advance_time(age + 60)  # stale, inside the 1 h grace period
    keeper = venue.keeper("k")
    with pytest.raises(errors.StalePrice):
        keeper.execute_order(buy.order_id)  # increases need a fresh price
    executed = keeper.execute_order(stop.order_id)
    assert executed.events_named("OrderExecuted") and venue.position(alice, "ETH") is None


@pytest.fixture(scope="module")
def open_venue():
    return Venue.launch(backend="revm", markets=[ETH, BTC])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(max_leverage=st.integers(1, 200), fee_bps=st.integers(0, 100), mmf_share=st.integers(1, 99),
       leverage_share=st.integers(1, 100), extra_bps=st.integers(0, 300), long=st.booleans())
def test_no_isolated_position_opens_liquidatable(open_venue, max_leverage, fee_bps, mmf_share,
                                                 leverage_share, extra_bps, long):
    """For any allowed parameters (mmf below 1 / max leverage, any taker fee up to its cap) and
    any margin at or a little above the initial margin, an open either reverts with a named
    error or leaves a position that is not liquidatable."""
    venue = open_venue
    mmf = Decimal(mmf_share) / 100 / max_leverage
    leverage = max(1, max_leverage * leverage_share // 100)
    cfg = MarketConfig(symbol="ETH", max_leverage=max_leverage, mmf=mmf, taker_fee_bps=fee_bps,
                       initial_price=Decimal(3000))
    with venue.snapshot():
        venue.configure_market(cfg)
        trader = funded(venue, "t", 100_000, deposit=100_000)
        margin = (Decimal(3000) / leverage * (10_000 + extra_bps) / 10_000).quantize(Decimal("0.01"))
        try:
            trader.open("ETH", size=1 if long else -1, leverage=leverage, mode="isolated",
                        margin=margin)
        except errors.Reverted as refused:  # a named refusal (below IM, MM, minimum collateral...)
            assert refused.error in {"MarginBelowInitial", "MarginBelowMaintenance",
                                     "BelowMinCollateral", "InsufficientMargin", "PositionTooSmall"}
            return
        assert not venue.is_liquidatable(trader, "ETH")


def test_an_increase_cannot_reprice_the_margin_of_what_is_held(venue):
    """A 0.001 ETH increase at 50x once cut a 2x position's initial margin from 1,500 to 60
    and let through a withdrawal just refused. Now an increase must use the position's
    leverage; changing it is explicit and checked."""
    alice = funded(venue, "alice", 10_000, deposit=2_000)
    alice.open("ETH", size=1, leverage=2, mode="cross")
    health = venue.clearinghouse.account_health(alice.address)
    assert health[2] == 1_500 * WAD  # IM of 1 ETH at 2x
    with pytest.raises(errors.TransferRuleViolated):
        alice.withdraw(1_000)
    with pytest.raises(errors.LeverageMismatch) as info:
        alice.open("ETH", size=0.001, leverage=50, mode="cross")
    assert info.value.args == (venue.market_id("ETH"), 2, 50)
    assert venue.clearinghouse.account_health(alice.address)[2] == 1_500 * WAD
    with pytest.raises(errors.TransferRuleViolated):
        alice.withdraw(1_000)
    # Explicitly, up: the initial margin falls, and so does what a withdrawal must leave.
    event = alice.set_leverage("ETH", 50).events_named("LeverageUpdated")[0]
    assert (event["market"], event["leverage"]) == (venue.market_id("ETH"), 50)
    assert venue.clearinghouse.account_health(alice.address)[2] == 60 * WAD
    alice.open("ETH", size=0.001, leverage=50, mode="cross")
    alice.withdraw(1_000)
    # Down again needs the margin: 1,501.5 of IM against about 1,000 of equity.
    with pytest.raises(errors.InsufficientFreeCollateral):
        alice.set_leverage("ETH", 2)
    assert venue.raw_position(alice, "ETH").leverage == 50


def test_set_leverage_on_an_isolated_position_checks_its_own_margin(venue):
    bob = funded(venue, "bob", 10_000, deposit=5_000)
    bob.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    with pytest.raises(errors.MarginBelowInitial):
        bob.set_leverage("ETH", 5)  # 600 of IM, about 398 of equity
    with pytest.raises(errors.InvalidLeverage):
        bob.set_leverage("ETH", 51)  # above the market's 50x
    with pytest.raises(errors.NoPosition):
        bob.set_leverage("BTC", 5)
    bob.set_leverage("ETH", 8)  # 375 of IM
    assert venue.raw_position(bob, "ETH").leverage == 8
    bob.open("ETH", size=0.1, leverage=8, mode="isolated", margin=40)
    assert_invariants(venue)


def test_a_cross_liquidation_pays_each_markets_keeper_share(backend):
    """The penalty (what the account can pay of its markets' fees) is split across the markets
    in proportion to their fees, and each part pays its own market's keeper share."""
    eth = replace(ETH, keeper_share_bps=5_000)
    btc = replace(BTC, keeper_share_bps=2_000)
    venue = Venue.launch(backend=backend, markets=[eth, btc], insurance=1_000)
    alice = funded(venue, "alice", 1_000, deposit=500)
    alice.open("ETH", size=1, leverage=20, mode="cross")
    alice.open("BTC", size=0.05, leverage=10, mode="cross")
    venue.set_prices({"ETH": 2_600, "BTC": 60_000})
    assert venue.is_liquidatable(alice)
    receipt = venue.keeper("k").liquidate(alice)
    closed = {e["market"]: e for e in receipt.events_named("PositionLiquidated")}
    sizes = {0: WAD, 1: 5 * WAD // 100}
    scale = venue.scale

    def fee_tokens(market):  # ceil(ceil(size x price) x 100 bps), WAD -> tokens rounded up
        notional = -(-sizes[market] * closed[market]["price"] // WAD)
        return -(-(-(-notional * 100 // 10_000)) // scale)

    fees = {m: fee_tokens(m) for m in (0, 1)}
    account = receipt.events_named("AccountLiquidated")[0]
    assert account["badDebt"] == 0 and account["penalty"] == sum(fees.values())  # room to pay
    eth_part = account["penalty"] * fees[0] // sum(fees.values())
    btc_part = account["penalty"] - eth_part
    assert account["keeperReward"] == eth_part * 5_000 // 10_000 + btc_part * 2_000 // 10_000
    assert account["keeperReward"] != account["penalty"] * 5_000 // 10_000  # not one market's share
    assert_invariants(venue)


def test_preview_market_change_names_who_it_would_liquidate_and_changes_nothing(venue):
    alice = funded(venue, "alice", 10_000, deposit=5_000)
    alice.open("ETH", size=1, leverage=40, mode="isolated", margin=80)  # 75 of IM at 40x
    bob = funded(venue, "bob", 10_000, deposit=5_000)
    bob.open("ETH", size=1, leverage=5, mode="isolated", margin=700)
    ch = venue.clearinghouse
    config_before = ch.market_config(0)
    preview = venue.preview_market_change("ETH", max_leverage=25, mmf=Decimal("0.03"))  # MM 90 > ~78
    assert preview.liquidatable == [(alice.address, "ETH")]
    with venue.snapshot():  # the preview read health after applying the change (an accrual)
        venue.configure_market("ETH", max_leverage=25, mmf=Decimal("0.03"))
        equity, _ = ch.position_health(alice.address, 0)
    expected = Decimal(3 * 3_000) / 100 - Decimal(equity) / WAD  # MM at 3% minus equity
    assert preview.shortfall == expected and preview.shortfall > 0
    assert ch.market_config(0) == config_before and not venue.is_liquidatable(alice, "ETH")
    assert venue.preview_market_change("ETH", mmf=Decimal("0.011")).liquidatable == []
    assert venue.preview_market_change("ETH", mmf=Decimal("0.011")).shortfall == 0
    with pytest.raises(TypeError):
        venue.preview_market_change("ETH", maximum_leverage=20)


TIERS = ((0, 40), (150_000, 20), (400_000, 10))  # scaled-down Hyperliquid-style tiers


@pytest.fixture(scope="module")
def tiered(backend):
    eth = MarketConfig(symbol="ETH", tiers=TIERS, initial_price=Decimal(3000),
                       max_long_oi_usd=Decimal(10**9), max_short_oi_usd=Decimal(10**9))
    return Venue.launch(backend=backend, markets=[eth, BTC], pool_liquidity=50_000_000)


def test_tiers_set_maintenance_and_leverage_by_notional(tiered):
    from protocol.margin import maintenance_margin

    venue = tiered
    assert venue.markets["ETH"].max_leverage == 40
    ch = venue.clearinghouse
    stored = [ch.market_tier(0, i) for i in range(3)]
    assert [t[:2] for t in stored] == [(0, 40), (150_000 * WAD, 20), (400_000 * WAD, 10)]
    assert stored[0][3] == 3 and ch.market_tier(1, 0)[3] == 0  # BTC has none
    # deduction(1) = 150k x (1/40 - 1/80), deduction(2) = that + 400k x (1/20 - 1/40)
    assert [t[2] for t in stored] == [0, 1_875 * WAD, 11_875 * WAD]
    whale = funded(venue, "whale", 2_000_000, deposit=1_000_000)
    # 60 ETH = 180k notional: tier 2 (20x), so 40x is refused, 20x allowed.
    with pytest.raises(errors.InvalidLeverage) as info:
        whale.open("ETH", size=60, leverage=40, mode="isolated", margin=10_000)
    assert info.value.args == (40, 20)
    whale.open("ETH", size=60, leverage=20, mode="isolated", margin=10_000)
    equity, mm = ch.position_health(whale.address, 0)
    notional = Decimal(180_000)
    assert Decimal(mm) / WAD == maintenance_margin(notional, TIERS) == notional / 40 - 1_875
    # Continuous at the bounds, and each tier's fraction above them.
    assert maintenance_margin(150_000, TIERS) == Decimal(150_000) / 80
    assert maintenance_margin(400_000, TIERS) == Decimal(400_000) / 40 - 1_875
    assert maintenance_margin(1_000_000, TIERS) == Decimal(1_000_000) / 20 - 11_875
    # A small position keeps 40x.
    small = funded(venue, "small", 10_000, deposit=5_000)
    small.open("ETH", size=1, leverage=40, mode="isolated", margin=80)
    assert ch.position_health(small.address, 0)[1] == 3_000 * WAD // 80
    assert_invariants(venue)


def test_liquidation_price_uses_the_tier_at_that_price(tiered):
    from protocol.margin import liquidation_price, maintenance_margin

    venue = tiered
    whale = funded(venue, "whale", 2_000_000, deposit=1_000_000)
    whale.open("ETH", size=51, leverage=20, mode="isolated", margin=7_700)  # 153k: the 20x tier
    view = venue.position(whale, "ETH")
    expected = liquidation_price(side=1, price=3_000, size=51, equity=view.equity, tiers=TIERS)
    assert view.liquidation_price == expected
    # At that price equity meets the tiered maintenance margin exactly...
    equity_there = view.equity + 51 * (expected - 3_000)
    assert abs(equity_there - maintenance_margin(51 * expected, TIERS)) < Decimal("1e-12")
    # ... of the lower tier the notional has fallen into (under 150k): its fraction applies.
    assert 51 * expected < 150_000 < 51 * 3_000
    below = (expected - Decimal("0.5")).quantize(Decimal("0.01"))
    above = (expected + Decimal("0.5")).quantize(Decimal("0.01"))
    venue.set_price("ETH", above)
    assert not venue.is_liquidatable(whale, "ETH")
    venue.set_price("ETH", below)
    assert venue.is_liquidatable(whale, "ETH")
    with pytest.raises(ValueError):
        MarketConfig(symbol="X", tiers=((0, 40), (100, 50)))  # leverage may not rise


def test_a_scenario_sets_tiers_and_refuses_bad_ones(tmp_path):
    from protocol.sim.loader import ScenarioError, load_scenario

    sc = load_scenario("default", {"markets.ETH.tiers": [[0, 50], [150_000, 20]], "blocks": 2})
    eth = next(m for m in sc.markets if m.symbol == "ETH")
    assert eth.tiers == ((0, 50), (150_000, 20)) and eth.max_leverage == 50
    with pytest.raises(ScenarioError, match="max_leverage=50"):  # the file says 50 for ETH
        load_scenario("default", {"markets.ETH.tiers": [[0, 40], [150_000, 20]]})
    assert MarketConfig(symbol="X", tiers=((0, 40),)).max_leverage == 40
    with pytest.raises(ValueError):
        MarketConfig(symbol="X", max_leverage=50, tiers=((0, 40),))  # an explicit 50 differs
    with pytest.raises(ScenarioError, match="tiers"):
        load_scenario("default", {"markets.ETH.tiers": [[0, 40], [100, 50]]})
    with pytest.raises(ScenarioError, match="tiers"):
        load_scenario("default", {"markets.ETH.tiers": [[0, 40, 1]]})


def _stale_btc_account(venue):
    """A cross account long 10 ETH and 0.1 BTC; BTC then rallies 10% and its feed stops (120 s
    heartbeat) while ETH keeps updating. Returns (trader, model at the current block)."""
    btc, eth = venue.market_id("BTC"), venue.market_id("ETH")
    venue.oracle.set_max_price_age(btc, 120, sender=venue.admin).raise_for_status()
    trader = funded(venue, "t", 5_000, deposit=5_000)
    trader.open("ETH", size=10, leverage=10, mode="cross")
    trader.open("BTC", size=0.1, leverage=10, mode="cross")
    venue.set_prices({"BTC": 66_000})  # +600 of profit on BTC
    model = load_state(venue).model
    # The ETH price at which the account is 300 USD above maintenance counting BTC's profit,
    # and so about 300 below it without: found on the model, then checked on chain.
    price = 3_000
    while True:
        model.prices[eth] = (price * WAD, model.now)
        equity, mm, _, _ = model.cross_health(trader.address.lower())
        if equity - mm < 300 * WAD:
            break
        price -= 1
    price += 1  # one dollar above: 300 USD above maintenance with the profit, below without
    model.prices[eth] = (price * WAD, model.now)
    equity, mm, _, _ = model.cross_health(trader.address.lower())
    assert 300 * WAD <= equity - mm < 600 * WAD
    venue.set_prices({"ETH": price})
    return trader, price


def test_a_stale_market_can_neither_shield_nor_help_a_cross_account(venue):
    trader, price = _stale_btc_account(venue)
    btc, eth, ch = venue.market_id("BTC"), venue.market_id("ETH"), venue.clearinghouse
    assert not venue.is_liquidatable(trader)
    venue.advance_time(121)  # BTC is now past its heartbeat
    venue.set_prices({"ETH": price})
    with pytest.raises(errors.StalePrice):
        ch.account_health(trader.address)  # withdrawals and opens still need every price
    # Without BTC's profit the account is below maintenance; the tiny stale market does not
    # stop its liquidation.
    model = load_state(venue).model
    account = trader.address.lower()
    equity, mm, fresh_mask, _, _ = model.cross_for_liquidation(account)
    assert fresh_mask == 1 << eth and equity < mm
    assert ch.is_account_liquidatable(trader.address) and venue.is_liquidatable(trader)
    assert venue.liquidatable()[0] == [(trader.address, None)]
    assert venue.at_risk(threshold_bps=20_000)[0] == [(trader.address, None)]
    health = venue.reader.health(ch.address, venue.encode_targets([(trader, None)]))
    assert health[0][4] is True
    assert_invariants(venue)

    expected = model.liquidate_account("keeper", account)
    receipt = venue.keeper("k").liquidate(trader)
    closed = receipt.events_named("PositionLiquidated")
    assert [e["market"] for e in closed] == [eth]  # the stale market's position stays open
    event = receipt.events_named("AccountLiquidated")[0]
    assert (event["penalty"], event["keeperReward"], event["badDebt"], event["positions"]) == \
        (expected["penalty"], expected["reward"], expected["bad_debt"], 1)
    assert ch.cross_markets(trader.address) == 1 << btc
    assert ch.position(trader.address, btc)[0] == WAD // 10
    assert ch.cross_balance(trader.address) == model.cross_balance[account]
    assert_invariants(venue, deep=True)

    # What is left sits in the stale market only: nothing can be closed on its price.
    assert not ch.is_account_liquidatable(trader.address)
    equity, mm, fresh_mask, _, _ = load_state(venue).model.cross_for_liquidation(account)
    if equity < mm:
        with pytest.raises(errors.StalePrice):
            venue.keeper("k").liquidate(trader)
    else:
        with pytest.raises(errors.AccountHealthy):
            venue.keeper("k").liquidate(trader)


def test_a_stale_loss_counts_in_full(venue):
    """A stale market's loss is counted at its last price: the conservative side of the rule."""
    trader, price = _stale_btc_account(venue)
    venue.set_prices({"BTC": 54_000, "ETH": 3_000})  # BTC now loses 600
    venue.advance_time(121)
    venue.set_prices({"ETH": 3_000})
    model = load_state(venue).model
    account = trader.address.lower()
    equity, mm, *_ = model.cross_for_liquidation(account)
    model.prices[venue.market_id("BTC")] = (54_000 * WAD, model.now)  # as if it were fresh
    assert model.cross_health(account)[:2] == (equity, mm)
    assert not venue.is_liquidatable(trader)
    assert_invariants(venue)


def _price_below_maintenance(venue, trader, market: str, start: int) -> int:
    """The highest whole-dollar price of ``market`` at which the cross account is liquidatable,
    found on the model."""
    model = load_state(venue).model
    mid, account = venue.market_id(market), trader.address.lower()
    price = start
    while True:
        model.prices[mid] = (price * WAD, model.now)
        equity, mm, *_ = model.cross_for_liquidation(account)
        if equity < mm:
            assert equity * 3 >= mm * 2  # still above 2/3 of maintenance: a slice
            return price
        price -= 1


def test_a_large_cross_account_is_liquidated_in_slices_largest_first(venue):
    trader = funded(venue, "big", 7_000, deposit=7_000)
    trader.open("BTC", size=0.2, leverage=10, mode="cross")  # 12k: BTC's threshold is 1M
    trader.open("ETH", size=30, leverage=20, mode="cross")  # 90k: over ETH's 50k threshold
    ch, eth, btc = venue.clearinghouse, venue.market_id("ETH"), venue.market_id("BTC")
    venue.set_price("ETH", _price_below_maintenance(venue, trader, "ETH", 3_000))
    account = trader.address.lower()
    model = load_state(venue).model
    expected = model.liquidate_account("k", account)
    keeper = venue.keeper("k")
    receipt = keeper.liquidate(trader)
    sliced = receipt.events_named("PositionLiquidated")
    assert not receipt.events_named("AccountLiquidated")
    assert [(e["market"], e["sizeClosed"]) for e in sliced] == [(eth, -6 * WAD)]  # 20% of the largest
    assert (sliced[0]["penalty"], sliced[0]["keeperReward"]) == (expected["penalty"], expected["reward"])
    assert expected["penalty"] > 0 and expected["reward"] > 0
    assert ch.cross_balance(trader.address) == model.cross_balance[account]
    assert ch.position(trader.address, btc)[0] == WAD // 5  # the smaller one untouched
    assert ch.last_partial_liquidation(trader.address, eth) == receipt.timestamp
    assert_invariants(venue, deep=True)

    # Still below maintenance: the next slice waits for the cooldown, to the second.
    until = receipt.timestamp + 600
    venue.set_price("ETH", _price_below_maintenance(venue, trader, "ETH", sliced[0]["price"] // WAD))
    assert venue.is_liquidatable(trader)
    with pytest.raises(errors.LiquidationCooldown) as info:
        keeper.liquidate(trader)
    assert info.value.args == (eth, until)

    def state():
        return (ch.position(trader.address, eth), ch.market_state(eth),
                ch.cross_balance(trader.address), ch.pool_assets(), ch.insurance_fund())

    venue.advance_time(until - 1 - venue.chain.timestamp)
    before = state()
    skipped = keeper.liquidate_batch([(trader, None)])
    assert skipped.status and not skipped.events_named("PositionLiquidated") and state() == before
    second = keeper.liquidate(trader)
    assert second.timestamp == until
    assert [(e["market"], e["sizeClosed"]) for e in second.events_named("PositionLiquidated")] == \
        [(eth, -(24 * WAD) * 2_000 // 10_000)]

    # Below 2/3 of maintenance the whole account goes at once, cooldown or not.
    venue.set_price("ETH", 2_000)
    model = load_state(venue).model
    equity, mm, *_ = model.cross_for_liquidation(account)
    assert equity * 3 < mm * 2
    expected = model.liquidate_account("k", account)
    whole = keeper.liquidate(trader)
    event = whole.events_named("AccountLiquidated")[0]
    assert (event["positions"], event["penalty"], event["badDebt"]) == \
        (2, expected["penalty"], expected["bad_debt"])
    assert ch.cross_markets(trader.address) == 0
    assert_invariants(venue)


def test_a_cross_slice_that_would_empty_the_balance_takes_the_whole_account(venue):
    """Profit elsewhere can carry an account whose balance a slice's loss would exhaust: then
    the slice is not possible and the whole account goes, as for an isolated position."""
    trader = funded(venue, "carried", 3_500, deposit=3_500)
    trader.open("BTC", size=-1, leverage=20, mode="cross")
    venue.set_prices({"BTC": 40_000})  # +20,000 unrealised on BTC carries what follows
    trader.open("ETH", size=30, leverage=20, mode="cross")  # 90k, over ETH's 50k threshold
    venue.set_price("ETH", _price_below_maintenance(venue, trader, "ETH", 3_000))
    model = load_state(venue).model
    account = trader.address.lower()
    equity, mm, _, largest, notional = model.cross_for_liquidation(account)
    eth = venue.market_id("ETH")
    p = model.position(account, eth)
    part = abs(p.size) * 2_000 // 10_000
    assert largest == eth and not model._slice_leaves_margin(
        eth, p, model.cross_balance[account], part, model.prices[eth][0])
    expected = model.liquidate_account("k", account)
    receipt = venue.keeper("k").liquidate(trader)
    assert receipt.events_named("AccountLiquidated")[0]["positions"] == 2 == expected["positions"]
    assert_invariants(venue)


def test_risk_increasing_changes_wait_for_the_delay(venue):
    ch, eth = venue.clearinghouse, venue.market_id("ETH")

    def max_leverage() -> int:
        return ch.market_config(eth)[4]

    assert venue.change_market("ETH", max_leverage=40).events_named("MarketConfigured")  # no delay yet
    assert max_leverage() == 40
    with pytest.raises(errors.ParamOutOfBounds):
        venue.set_risk_change_delay(30 * 86_400 + 1)
    assert venue.set_risk_change_delay(30 * 86_400).events_named("RiskChangeDelaySet")
    set_delay = venue.set_risk_change_delay(3_600)
    assert set_delay.events_named("RiskChangeDelaySet")[0]["delay"] == 3_600

    scheduled = venue.change_market("ETH", max_leverage=20)
    (event,) = scheduled.events_named("MarketChangeScheduled")
    ready_at = scheduled.timestamp + 3_600
    assert (event["market"], event["readyAt"]) == (eth, ready_at)
    assert not scheduled.events_named("MarketConfigured")
    assert max_leverage() == 40 and venue.markets["ETH"].max_leverage == 40
    # Traders can still open at the old leverage while the change waits.
    trader = funded(venue, "t", 5_000, deposit=5_000)
    trader.open("ETH", size=1, leverage=40, mode="cross")
    venue.advance_time(ready_at - 1 - venue.chain.timestamp)
    with pytest.raises(errors.MarketChangeNotReady) as info:
        venue.change_market("ETH", max_leverage=20)
    assert info.value.args == (eth, ready_at)
    applied = venue.change_market("ETH", max_leverage=20)
    assert applied.timestamp == ready_at and applied.events_named("MarketConfigured")
    assert max_leverage() == 20 and venue.markets["ETH"].max_leverage == 20
    # Risk-reducing changes apply at once, delay or not; so does repeating what applies.
    assert venue.change_market("ETH", max_leverage=20, taker_fee_bps=3).events_named("MarketConfigured")
    assert venue.change_market("ETH", max_leverage=30).events_named("MarketConfigured")
    assert max_leverage() == 30

    # Tiers: allowing less leverage at some notional waits, allowing more does not.
    tight = [(0, 30), (100_000, 10)]
    receipt = venue.set_market_tiers("ETH", tight)
    assert receipt.events_named("MarketChangeScheduled") and not receipt.events_named("MarketTiersSet")
    assert ch.market_tier(eth, 0)[3] == 0 and venue.markets["ETH"].tiers == ()
    venue.advance_time(3_600)
    assert venue.set_market_tiers("ETH", tight).events_named("MarketTiersSet")
    assert ch.market_tier(eth, 1)[1] == 10
    looser = [(0, 30), (200_000, 10)]  # the 10x tier starts later: more leverage between
    assert venue.set_market_tiers("ETH", looser).events_named("MarketTiersSet")
    tighter = [(0, 30), (200_000, 10), (500_000, 5)]
    assert venue.set_market_tiers("ETH", tighter).events_named("MarketChangeScheduled")
    assert venue.set_market_tiers("ETH", []).events_named("MarketTiersSet")  # none: 30x everywhere

    # The preview still shows what a change would do, and schedules nothing.
    preview = venue.preview_market_change("ETH", max_leverage=2)
    assert isinstance(preview.liquidatable, list)
    assert max_leverage() == 30
    later = venue.change_market("ETH", max_leverage=2)
    assert later.events_named("MarketChangeScheduled")  # not applied by the preview either


def test_the_borrow_index_lasts_at_the_highest_allowed_rate(backend):
    """(g) At the bound (1e11 WAD per second, 315% a year) the index in WAD steps passed uint64
    in under six years and bricked the market, admin included. In 1e-15 steps it does not: ten
    years accrue in one step, charged exactly, and the admin can still change the market."""
    eth = replace(ETH, borrow_rate_per_year=Decimal("3.1536"), funding_rate_per_hour=Decimal(0),
                  max_funding_rate_per_hour=Decimal(0))
    venue = Venue.launch(backend=backend, markets=[eth], pool_liquidity=1_000_000)
    ch = venue.clearinghouse
    assert ch.market_config(0)[3] == 10**11  # the bound
    trader = funded(venue, "long", 100_000, deposit=100_000)
    trader.open("ETH", size=1, leverage=2, mode="cross")
    opened = ch.position(trader.address, 0)[5]
    _, _, index, _, _, last, *_ = ch.market_state(0)
    venue.advance_time(10 * 365 * 24 * 3600)
    venue.set_price("ETH", 3_000)
    ch.update_funding(0, sender=trader.address).raise_for_status()
    _, _, later, _, _, now, *_ = ch.market_state(0)
    assert later == index + -(-10**11 * (now - last) // 10**3)  # one step, rounded up
    assert 10**11 * (later - opened) > 2**64  # past where WAD steps overflowed
    venue.change_market("ETH", taker_fee_bps=7)  # accrues first: the admin is not locked out
    receipt = trader.close("ETH")
    _, _, closed, *_ = ch.market_state(0)
    owed = -(-3_000 * WAD * (closed - opened) // 10**15)  # WAD
    assert receipt.events_named("PositionDecreased")[0]["borrowingPaid"] == -(-owed // 10**12)
    assert_invariants(venue)
