"""Price impact on chain (GMX v2's rule in the ``ImpactPricing`` module): fills worse than the
oracle when a trade widens the open-interest imbalance, better (paid from the impact pool) when
it narrows it, both parts on a flip, every cap at the amount where it binds, liquidations at
their own cap, orders' acceptable price against the execution price.

ETH below: impact factors 1e-9 (positive) and 2e-9 (negative) per USD, exponent 2, no fees or
borrowing, so every amount is exact: 100 ETH at $3,000 on a balanced book is a $300k imbalance,
F_negative = 2e-9 x 300,000^2 = $180.

Every test runs on both in-process EVMs (``backend`` fixture: pyevm, revm with ``--backend all``).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from protocol import MarketConfig, Venue, errors
from venue_fixtures import ZERO_FEES, funded

D = Decimal
WAD = 10**18
ETH = MarketConfig(symbol="ETH", max_leverage=50, initial_price=D(3000), **ZERO_FEES,
                   impact_factor_positive=D("0.000000001"), impact_factor_negative=D("0.000000002"),
                   max_negative_impact_bps=10_000, max_liquidation_impact_bps=10_000)
BTC = MarketConfig(symbol="BTC", max_leverage=20, initial_price=D(60000), **ZERO_FEES)


def launch(backend, eth=ETH):
    return Venue.launch(backend=backend, markets=[eth, BTC], pool_liquidity=10_000_000)


@pytest.fixture(scope="module")
def base(backend):
    return launch(backend)


def impact_event(receipt):
    (event,) = receipt.events_named("PriceImpact")
    return event


def test_widening_fills_worse_and_narrowing_better_paid_from_the_pool(venue):
    alice, bob = funded(venue, "alice", 200_000, 200_000), funded(venue, "bob", 200_000, 200_000)
    assert venue.quote_fill("ETH", 100) == D("3001.8")  # the view a keeper reads, before
    opened = alice.open("ETH", 100, 10, "cross")
    e = impact_event(opened)
    assert (e["oraclePrice"], e["fillPrice"], e["poolDelta"]) == (3000 * WAD, D("3001.8") * WAD, 180 * WAD)
    assert opened.events_named("PositionIncreased")[0]["price"] == D("3001.8") * WAD
    assert venue.position(alice, "ETH").entry_price == D("3001.8")
    assert venue.impact_pool("ETH") == 180
    # A short of 50 narrows $300k to $150k: 1e-9 x (300k^2 - 150k^2) = $67.5, sold above oracle.
    assert venue.quote_fill("ETH", -50) == D("3001.35")
    e = impact_event(bob.open("ETH", -50, 10, "cross"))
    assert (e["fillPrice"], e["poolDelta"]) == (D("3001.35") * WAD, D("-67.5") * WAD)
    assert venue.impact_pool("ETH") == D("112.5")
    # Stock markets pay nothing and log nothing.
    assert not alice.open("BTC", 1, 10, "cross").events_named("PriceImpact")
    assert venue.impact_pool("BTC") == 0


def test_a_flip_gets_both_parts(venue):
    alice, bob = funded(venue, "alice", 200_000, 200_000), funded(venue, "bob", 400_000, 400_000)
    alice.open("ETH", 100, 10, "cross")  # net +100, pool 180
    # -150 flips +$300k to -$150k: +F_pos(300k) - F_neg(150k) = 90 - 45 = +$45, 0.30 a unit.
    e = impact_event(bob.open("ETH", -150, 10, "cross"))
    assert (e["fillPrice"], e["poolDelta"]) == (D("3000.3") * WAD, -45 * WAD)
    assert venue.impact_pool("ETH") == 135


def test_positive_impact_is_capped_by_the_pool(backend):
    generous = replace(ETH, impact_factor_positive=D("0.000000004"), impact_factor_negative=D("0.000000001"))
    venue = launch(backend, generous)
    alice, bob = funded(venue, "alice", 200_000, 200_000), funded(venue, "bob", 200_000, 200_000)
    alice.open("ETH", 100, 10, "cross")  # pays F_neg(300k) = $90 into the pool
    assert venue.impact_pool("ETH") == 90
    # Closing the imbalance would earn F_pos(300k) = $360; the pool has $90: 0.90 a unit.
    e = impact_event(bob.open("ETH", -100, 10, "cross"))
    assert (e["fillPrice"], e["poolDelta"]) == (D("3000.9") * WAD, -90 * WAD)
    assert venue.impact_pool("ETH") == 0


def test_negative_impact_is_capped_at_its_bps_exactly(backend):
    venue = launch(backend, replace(ETH, max_negative_impact_bps=6))  # 0.06% of $300k = $180
    alice = funded(venue, "alice", 400_000, 400_000)
    assert impact_event(alice.open("ETH", 100, 10, "cross"))["poolDelta"] == 180 * WAD  # at the cap
    venue = launch(backend, replace(ETH, max_negative_impact_bps=5))  # $150 < $180: binds
    alice = funded(venue, "alice", 400_000, 400_000)
    e = impact_event(alice.open("ETH", 100, 10, "cross"))
    assert (e["fillPrice"], e["poolDelta"]) == (D("3001.5") * WAD, 150 * WAD)


def test_a_liquidation_fills_at_its_own_cap(backend):
    venue = launch(backend, replace(ETH, max_liquidation_impact_bps=1))
    bob, alice = funded(venue, "bob", 400_000, 400_000), funded(venue, "alice", 5_000, 5_000)
    bob.open("ETH", -100, 10, "cross")  # net -100
    alice.open("ETH", 10, 50, "isolated", margin=700)  # net -90
    venue.set_price("ETH", 2_950)
    module = venue.deployment.impact
    oracle = 2_950 * WAD
    # Selling 10 widens $265.5k to $295k: 2e-9 x (295k^2 - 265.5k^2) = $33.0695 > the cap,
    # 0.01% of $29.5k = $2.95, so the liquidation fills $0.295 a unit below the oracle.
    positive, negative = module.call("impactParts", 0, -10 * WAD, oracle)
    assert (positive, negative) == (0, D("33.0695") * WAD)
    expected = module.call("liquidationFillPrice", 0, -10 * WAD, oracle)
    assert expected == oracle - D("0.295") * WAD
    assert module.call("fillPrice", 0, -10 * WAD, oracle) == oracle - D("3.30695") * WAD  # a trade's
    receipt = venue.keeper("k").liquidate(alice, "ETH")
    assert receipt.events_named("PositionLiquidated")[0]["price"] == expected
    assert impact_event(receipt)["poolDelta"] == D("2.95") * WAD


def test_an_order_checks_its_acceptable_price_against_the_execution_price(venue):
    alice = funded(venue, "alice", 200_000, 0)
    keeper = venue.keeper("k")
    order = alice.create_order("ETH", "market_increase", 100, leverage=10, collateral=40_000,
                               acceptable_price=D("3001.79"))
    venue.advance_time(1)
    venue.set_price("ETH", 3_000)
    with pytest.raises(errors.AcceptablePriceExceeded) as info:  # the oracle alone would pass
        keeper.execute_order(order.order_id)
    assert info.value.args[1:] == (D("3001.8") * WAD, D("3001.79") * WAD)
    venue.advance_time(venue.order_book.call("marketOrderTimeout") + 1)
    alice.cancel_order(order.order_id)
    order = alice.create_order("ETH", "market_increase", 100, leverage=10, collateral=40_000,
                               acceptable_price=D("3001.8"))
    venue.advance_time(1)
    venue.set_price("ETH", 3_000)
    keeper.execute_order(order.order_id)
    assert venue.position(alice, "ETH").entry_price == D("3001.8")


def test_impact_is_a_cost_the_margin_must_cover_at_open(venue):
    alice = funded(venue, "alice", 10_000, 10_000)
    # 100 ETH at 50x needs $6,000 at the oracle; the $180 of impact comes out of the equity too.
    with pytest.raises(errors.MarginBelowInitial):
        alice.open("ETH", 100, 50, "isolated", margin=6_100)
    alice.open("ETH", 100, 50, "isolated", margin=6_180)
    assert not venue.is_liquidatable(alice, "ETH")


def test_bad_impact_configs_are_refused(venue):
    for kwargs in ({"impact_exponent_positive": 0}, {"impact_exponent_negative": 4},
                   {"max_negative_impact_bps": 10_001}, {"max_liquidation_impact_bps": -1},
                   {"impact_factor_negative": D("-1")}, {"impact_factor_positive": D("1e-19")}):
        with pytest.raises(ValueError):
            replace(ETH, **kwargs)
    module, admin = venue.deployment.impact, venue.admin
    good = ETH.impact_encoded()
    for index, value, field in ((2, 0, "exponentPositive"), (3, 4, "exponentNegative"),
                                (4, 10_001, "maxNegativeImpactBps"), (5, 10_001, "maxLiquidationImpactBps")):
        bad = list(good)
        bad[index] = value
        with pytest.raises(errors.ImpactConfigOutOfBounds) as info:
            module.transact(admin, "setImpactConfig", 0, tuple(bad)).raise_for_status()
        assert info.value.args[0].rstrip(b"\0").decode() == field
    stranger = venue.trader("eve")
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        module.transact(stranger.address, "setImpactConfig", 0, good).raise_for_status()
    with pytest.raises(ValueError, match="ImpactPricing"):
        Venue.launch(backend="revm", markets=[ETH], modules={"pricing": "OraclePricing"})
