"""Issue 14, sections 1 and 2: winners can always close (the profit cap), reserves are counted
across markets, and auto-deleveraging brings pending profit back within what the pool holds.

The venue: a 1M pool, zero fees (so every amount below is exact and known), ETH and BTC with the
default reserve factor of 100%."""

from __future__ import annotations

from decimal import Decimal

import pytest
from venue_fixtures import ZERO_FEES, funded, provide_liquidity, redeem_liquidity

from protocol import MarketConfig, Venue, errors
from protocol.constants import WAD
from protocol.testing import assert_invariants
from protocol.testing.invariants import load_state
from protocol.venue.adl import max_adl_size

USDC = 10**6
MARKETS = [MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000), **ZERO_FEES),
           MarketConfig(symbol="BTC", max_leverage=20, initial_price=Decimal(60000), **ZERO_FEES)]


@pytest.fixture(scope="module")
def base(backend):
    return Venue.launch(backend=backend, markets=MARKETS, pool_liquidity=1_000_000)


def two_winners(venue):
    """Two 450k longs in two markets, each +120%: 540k of profit each, 1.08M pending against
    a 1M pool."""
    alice = funded(venue, "alice", 100_000, deposit=100_000)
    bob = funded(venue, "bob", 100_000, deposit=100_000)
    alice.open("ETH", size=150, leverage=10, mode="isolated", margin=45_000)
    bob.open("BTC", size=Decimal("7.5"), leverage=10, mode="cross")
    venue.set_prices({"ETH": 6_600, "BTC": 132_000})
    return alice, bob


# ====================================================================== reserves across markets
def test_open_interest_in_all_markets_together_stays_within_the_reserve(venue):
    alice = funded(venue, "alice", 200_000, deposit=200_000)
    bob = funded(venue, "bob", 200_000, deposit=200_000)
    alice.open("ETH", size=300, leverage=10, mode="cross")  # 900k of the 1M reserve
    # Each market alone is within the reserve; together they may not commit the pool twice.
    with pytest.raises(errors.OpenInterestCap) as info:
        bob.open("BTC", size=Decimal("1.666667"), leverage=10, mode="cross")  # 100,000.02
    assert info.value.args[2:] == (1_000_000_020_000 * 10**12, 1_000_000 * WAD)
    bob.open("BTC", size=Decimal("1.666666"), leverage=10, mode="cross")  # 99,999.96: fits
    assert venue.solvency().open_entry == Decimal("999999.96")
    # An LP may not withdraw what the open entry notional of all markets needs either.
    lp = venue.trader("lp2", usdc=100)
    provide_liquidity(venue, lp, 100)
    bob.open("BTC", size=Decimal("0.0016"), leverage=10, mode="cross")  # +96: 1,000,095.96
    pool, ch = venue.pool, venue.clearinghouse
    # maxWithdraw tells the truth: 1,000,100 - 1,000,095.96 may leave, exactly, and only
    # through the order book's requests while positions are open.
    assert ch.max_pool_withdrawal() == 4_040_000
    assert pool.max_withdraw_by_request(lp.address) == 4_040_000
    assert pool.max_withdraw(lp.address, sender=lp.address) == 0
    shares = pool.max_redeem_by_request(lp.address)
    assert pool.preview_redeem(shares) <= 4_040_000 < pool.preview_redeem(shares + 10**6)
    failed = redeem_liquidity(venue, lp, shares + 10**6).events_named("LpRequestFailed")[0]
    reason = venue.chain.registry.decode_error(failed["reason"])
    assert isinstance(reason, errors.ERC4626ExceededMaxRedeem) and reason.args[2] == shares
    paid = pool.preview_redeem(shares)
    executed = redeem_liquidity(venue, lp, shares).events_named("LpRequestExecuted")[0]
    assert executed["out"] == paid and 4_040_000 - paid < pool.preview_redeem(10**6) + 1
    left = pool.max_redeem_by_request(lp.address)
    assert redeem_liquidity(venue, lp, left + 10**6).events_named("LpRequestFailed")
    assert_invariants(venue)


# ====================================================================== the profit cap
def test_pool_value_counts_trader_profit_only_up_to_the_cap(venue):
    two_winners(venue)
    s = venue.solvency()
    assert (s.pending_profit, s.pnl_factor) == (Decimal(1_080_000), Decimal("1.08"))
    assert s.capped and s.adl_allowed
    assert venue.pool_value() == 1_000_000 - 900_000  # 90% of the pool, not 108%


def test_winners_are_paid_pro_rata_and_every_close_goes_through(venue):
    alice, bob = two_winners(venue)
    ch = venue.clearinghouse
    first = alice.close("ETH")
    capped = first.events_named("ProfitCapped")[0]
    # 540k of 1.08M pending, the cap 900k: paid 540k x 900k / 1.08M.
    assert (capped["full"], capped["paid"]) == (540_000 * USDC, 450_000 * USDC)
    assert first.events_named("PositionDecreased")[0]["realizedPnl"] == 450_000 * USDC
    assert ch.pool_assets() == 550_000 * USDC
    # 540k pending against a budget of 900k - 450k paid: the same 5/6 (SPEC §8.1, the episode).
    second = bob.close("BTC")
    assert second.events_named("ProfitCapped")[0]["paid"] == 450_000 * USDC
    assert ch.pool_assets() == 100_000 * USDC
    assert venue.account(alice).cross_balance == 100_000 + 450_000
    assert venue.account(bob).cross_balance == 100_000 + 450_000
    assert_invariants(venue)


def test_exactly_at_the_cap_profit_is_paid_in_full(venue):
    alice, bob = two_winners(venue)
    venue.set_prices({"ETH": 6_000, "BTC": 120_000})  # 450k + 450k = exactly 90% of 1M
    assert venue.solvency().pnl_factor == Decimal("0.9") and not venue.solvency().capped
    receipt = alice.close("ETH")
    assert not receipt.events_named("ProfitCapped")
    assert receipt.events_named("PositionDecreased")[0]["realizedPnl"] == 450_000 * USDC


def test_a_winner_larger_than_its_sides_net_profit_is_capped_by_its_own_profit(backend):
    """A side's losers net its winners' profit down (880k pending), but the profit being paid
    (960k) is what must fit under the cap: it is paid 960k x 900k / 960k, never more than the
    cap."""
    eth = MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000),
                       reserve_factor_bps=30_000, **ZERO_FEES)
    venue = Venue.launch(backend=backend, markets=[eth], pool_liquidity=1_000_000)
    alice = funded(venue, "alice", 100_000, deposit=100_000)
    carol = funded(venue, "carol", 200_000, deposit=200_000)
    alice.open("ETH", size=300, leverage=10, mode="cross")  # 900k at 3,000
    venue.set_price("ETH", 7_000)
    carol.open("ETH", size=100, leverage=10, mode="cross")  # 700k at 7,000
    venue.set_price("ETH", 6_200)  # alice +960k, carol -80k: the long side nets 880k
    assert venue.solvency().pending_profit == 880_000
    receipt = alice.close("ETH")
    capped = receipt.events_named("ProfitCapped")[0]
    assert (capped["full"], capped["paid"]) == (960_000 * USDC, 900_000 * USDC)
    assert venue.clearinghouse.pool_assets() == 100_000 * USDC
    assert_invariants(venue)


def test_without_the_cap_the_second_winner_cannot_close(venue):
    """The behaviour the cap replaces: first come, paid in full; the next close reverts."""
    alice, bob = two_winners(venue)
    venue.set_pnl_factors(max_pnl_factor_traders=0)
    assert venue.pool_value() == 1_000_000 - 1_080_000
    assert alice.close("ETH").events_named("PositionDecreased")[0]["realizedPnl"] == 540_000 * USDC
    with pytest.raises(errors.PoolInsolvent):
        bob.close("BTC")


def test_a_liquidation_is_never_refused_for_the_pool(venue):
    """A cross account whose BTC long is in profit and ETH short deep in loss is liquidated
    while the cap binds: the profitable leg is paid capped, and nothing reverts."""
    alice, bob = two_winners(venue)
    carol = funded(venue, "carol", 7_000, deposit=7_000)
    venue.set_prices({"ETH": 3_000, "BTC": 60_000})
    carol.open("BTC", size=Decimal("0.5"), leverage=20, mode="cross")  # +36k at the rally
    carol.open("ETH", size=-12, leverage=20, mode="cross")  # -43.2k
    venue.set_prices({"ETH": 6_600, "BTC": 132_000})
    assert venue.solvency().capped and venue.is_liquidatable(carol)
    receipt = venue.keeper("k").liquidate(carol)
    assert receipt.events_named("ProfitCapped")[0]["account"].lower() == carol.address.lower()
    assert_invariants(venue)


def test_the_cap_bounds_are_enforced(venue):
    ch = venue.clearinghouse
    for args, name in (((10_001, 8_500, 7_700), "maxPnlFactorTraders"),
                       ((9_000, 0, 0), "maxPnlFactorAdl"), ((9_000, 10_001, 7_700), "maxPnlFactorAdl"),
                       ((9_000, 8_500, 8_500), "minPnlFactorAfterAdl"),
                       ((9_000, 8_500, 0), "minPnlFactorAfterAdl")):
        receipt = ch.set_pnl_factors(*args, sender=venue.admin)
        assert receipt.error.error == "ParamOutOfBounds"
        assert receipt.error.args[0].rstrip(b"\0").decode() == name
    ch.set_pnl_factors(10_000, 10_000, 9_999, sender=venue.admin).raise_for_status()
    assert ch.solvency()[3:] == (10_000, 10_000, 9_999)
    with pytest.raises(ValueError):
        venue.set_pnl_factors(max_pnl_factor_adl=Decimal("0.85005"))  # finer than a basis point


def test_launch_takes_the_pnl_factors(backend):
    venue = Venue.launch(backend=backend, markets=MARKETS, pool_liquidity=1_000,
                         max_pnl_factor_traders=Decimal("0.5"), min_pnl_factor_after_adl=Decimal("0.3"))
    assert venue.clearinghouse.solvency()[3:] == (5_000, 8_500, 3_000)
    with pytest.raises(errors.ParamOutOfBounds):
        Venue.launch(backend=backend, markets=MARKETS, pool_liquidity=1_000,
                     min_pnl_factor_after_adl=Decimal("0.9"))  # not below the 85% trigger


# ====================================================================== auto-deleveraging
def test_adl_candidates_rank_by_leverage_on_profit(venue):
    alice, bob = two_winners(venue)
    dave = funded(venue, "dave", 100_000, deposit=100_000)
    venue.set_prices({"ETH": 3_000, "BTC": 60_000})
    dave.open("ETH", size=10, leverage=2, mode="isolated", margin=15_000)
    loser = funded(venue, "loser", 10_000, deposit=10_000)
    loser.open("ETH", size=-1, leverage=5, mode="isolated", margin=1_000)
    venue.set_prices({"ETH": 6_600, "BTC": 132_000})
    ranked = venue.adl_candidates("ETH")
    assert [c.account for c in ranked] == [alice.address, dave.address]  # no loser
    top = ranked[0]
    assert (top.side, top.size) == ("long", Decimal(150))
    # (6,600 / 3,000) x (990k notional / 585k equity)
    assert top.raw_score == 22 * WAD // 10 * 990_000 * WAD // (585_000 * WAD)
    # dave: 66k notional, equity 15k + 36k
    assert ranked[1].raw_score == 22 * WAD // 10 * 66_000 * WAD // (51_000 * WAD)
    btc = venue.adl_candidates("BTC")[0]
    assert btc.account == bob.address and btc.side == "long"


def test_adl_closes_at_the_oracle_price_without_a_fee_and_lowers_the_factor(backend):
    fees = [MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000), taker_fee_bps=10,
                         funding_rate_per_hour=Decimal(0), max_funding_rate_per_hour=Decimal(0),
                         borrow_rate_per_year=Decimal(0)),
            MARKETS[1]]
    venue = Venue.launch(backend=backend, markets=fees, pool_liquidity=1_000_000)
    alice, bob = two_winners(venue)
    keeper = venue.keeper("adl", adl=True)
    expected = load_state(venue).model.auto_deleverage(alice.address.lower(), 0, 150 * WAD)
    ch = venue.clearinghouse
    margin = ch.position(alice.address, 0)[-1]
    assert margin == (45_000 - 450) * USDC  # the opening fee, 10 bps of 450k, came out of it
    before = ch.cross_balance(alice.address)
    receipt = keeper.auto_deleverage(alice, "ETH")
    event = receipt.events_named("AutoDeleveraged")[0]
    assert event["price"] == 6_600 * WAD and event["sizeDelta"] == -150 * WAD
    assert (event["score"], event["factorBefore"], event["factorAfter"], event["realizedPnl"]) == \
        (expected["score"], expected["before"], expected["after"], expected["pnl"])
    assert event["factorAfter"] < event["factorBefore"]
    # No fee: the margin and the (capped) profit come back whole.
    assert ch.cross_balance(alice.address) == before + margin + event["realizedPnl"]
    assert_invariants(venue)


def test_adl_stops_at_the_floor(venue):
    alice, bob = two_winners(venue)
    keeper = venue.keeper("adl", adl=True)
    keeper.auto_deleverage(alice, "ETH")  # all of it: 1.08 -> 540k / 550k
    ch, btc = venue.clearinghouse, venue.market_id("BTC")
    with pytest.raises(errors.AdlOvershoot) as info:
        keeper.auto_deleverage(bob, "BTC", size=Decimal("7.5"))  # would leave 0
    assert info.value.args == (0, 77 * WAD // 100)
    most = max_adl_size(venue, keeper.address, bob.address, "BTC")
    tolerance = 75 * WAD // 10 // 10**6  # 1 ppm of the position
    with venue.snapshot():  # a little more would go below the floor
        with pytest.raises(errors.AdlOvershoot):
            ch.auto_deleverage(bob.address, btc, most + tolerance, sender=keeper.address) \
                .raise_for_status()
    receipt = keeper.auto_deleverage(bob, "BTC")  # as much as the floor allows
    event = receipt.events_named("AutoDeleveraged")[0]
    assert -event["sizeDelta"] == most
    assert 77 * WAD // 100 <= event["factorAfter"] < 7701 * WAD // 10_000
    assert ch.position(bob.address, btc)[0] == 75 * WAD // 10 - most
    with pytest.raises(errors.AdlNotRequired):  # 0.77 is below the 0.85 trigger now
        keeper.auto_deleverage(bob, "BTC", size=Decimal("0.1"))
    assert_invariants(venue)


def test_adl_refuses_when_not_needed_or_not_profitable(venue):
    alice = funded(venue, "alice", 100_000, deposit=100_000)
    alice.open("ETH", size=10, leverage=10, mode="isolated", margin=3_000)
    venue.set_price("ETH", 3_100)
    keeper = venue.keeper("adl", adl=True)
    with pytest.raises(errors.AdlNotRequired) as info:
        keeper.auto_deleverage(alice, "ETH")
    assert info.value.args == (1_000 * WAD // 1_000_000, 85 * WAD // 100)
    alice_short = funded(venue, "short", 100_000, deposit=100_000)
    alice_short.open("BTC", size=-1, leverage=10, mode="cross")
    venue.set_pnl_factors(max_pnl_factor_traders=Decimal("0.0009"), max_pnl_factor_adl=Decimal("0.0009"),
                          min_pnl_factor_after_adl=Decimal("0.0001"))
    venue.set_price("BTC", 61_000)  # the short loses
    with pytest.raises(errors.AdlNotProfitable):
        keeper.auto_deleverage(alice_short, "BTC", size=1)
    # Exactly at the trigger is not above it: 1,000 of profit against 1M is 0.1% (cap off).
    venue.set_pnl_factors(max_pnl_factor_traders=0, max_pnl_factor_adl=Decimal("0.001"),
                          min_pnl_factor_after_adl=Decimal("0.0001"))
    venue.set_price("BTC", 60_000)
    assert venue.solvency().pnl_factor == Decimal("0.001")
    with pytest.raises(errors.AdlNotRequired):
        keeper.auto_deleverage(alice, "ETH", size=1)


def test_a_cross_account_with_a_stale_market_waits_for_its_feed(venue):
    """ADL ranks a cross account by its equity, which needs every one of its markets' prices:
    while one feed is stale the account is neither a candidate nor auto-deleveraged."""
    alice, bob = two_winners(venue)
    bob.open("ETH", size=Decimal("0.01"), leverage=10, mode="cross")
    venue.advance_time(3_601)
    venue.set_price("BTC", 132_000)  # ETH's last price is now past its heartbeat
    assert venue.solvency().adl_allowed
    assert [c.account for c in venue.adl_candidates("BTC")] == []
    with pytest.raises(errors.StalePrice):
        venue.keeper("adl", adl=True).auto_deleverage(bob, "BTC", size=1)
    venue.set_price("ETH", 6_600)
    assert [c.account for c in venue.adl_candidates("BTC")] == [bob.address]
    keeper = venue.keeper("adl", adl=True)
    with pytest.raises(errors.AdlNotHighestRanked):  # alice's ETH, fresh again, ranks first
        keeper.auto_deleverage(bob, "BTC", size=1)
    keeper.auto_deleverage(alice, "ETH", size=1)


# ------------------------------------------------ positive impact under the cap (stop 35)
IMPACT_ETH = MarketConfig(symbol="ETH", initial_price=Decimal(3000), **ZERO_FEES,
                          impact_factor_positive=Decimal("0.00000025"),
                          impact_factor_negative=Decimal("0.0000005"), max_negative_impact_bps=20,
                          max_positive_impact_bps=10, max_liquidation_impact_bps=20)


def _paid_in_order(venue, order) -> dict[str, int]:
    """Close each of ``order``'s ETH positions in one block, in turn, from the same state:
    what each was paid (``ProfitCapped.paid``, tokens) and the price impact it realised."""
    ch, mid = venue.clearinghouse, venue.market_id("ETH")
    with venue.chain.snapshot():
        with venue.chain.block():
            receipts = [ch.decrease_position(t.address, mid, 2**256 - 1,
                                             sender=t.address) for t in order]
        out = {}
        for t, r in zip(order, receipts):
            assert r.status, r.error
            [capped] = [e for e in r.events if e.name == "ProfitCapped"]
            [impact] = [e for e in r.events if e.name == "PriceImpact"]
            out[t.name] = (capped["paid"], impact["realized"])
    return out


def test_positive_impact_the_pool_pays_leaves_the_next_close_its_fraction(backend):
    """Found by the 1,000,000-step fuzz campaign (path independence, one step): two shorts under
    a binding cap, a small one and a large one. Closing first, the small one is paid +$0.27 of
    positive impact out of the pool; the budget f x assets fell by f of that, the episode's hold
    did not, and the large one, closing second, was paid 26 units ($0.000026) less than when it
    went first. The hold now takes back f of positive impact paid out, as it keeps f of negative
    impact paid in (SPEC §8.1): the order no longer matters, to the unit."""
    venue = Venue.launch(backend=backend, markets=[IMPACT_ETH], pool_liquidity=11_000_000)
    seed = funded(venue, "seed", 1_000_000, 100_000)
    seed.open("ETH", size=5, leverage=5, mode="cross")
    [paid_in] = [e for e in seed.close("ETH").events if e.name == "PriceImpact"]
    assert paid_in["realized"] == -97_500_000  # $97.50 into the impact pool, which pays positive impact
    small, large = funded(venue, "small", 1_000_000, 20_000), funded(venue, "large", 1_000_000, 20_000)
    small.open("ETH", size=Decimal("-0.1"), leverage=5, mode="cross")
    large.open("ETH", size=Decimal("-1.4"), leverage=5, mode="cross")
    venue.set_price("ETH", Decimal("2266.50"))  # -24.45%: both shorts in profit
    venue.set_pnl_factors(max_pnl_factor_traders=Decimal("0.0001"))  # the cap binds hard
    small_first = _paid_in_order(venue, [small, large])
    large_first = _paid_in_order(venue, [large, small])
    assert small_first["small"][1] == 266_002  # first in line, the small short earns $0.27
    assert large_first["small"][1] == -11_498  # second, after the large one crossed the skew, it pays
    assert small_first["large"][0] - large_first["large"][0] in (-1, 0, 1)
    assert small_first["small"][0] - large_first["small"][0] in (-1, 0, 1)
