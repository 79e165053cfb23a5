"""Rounding at wei precision: every requirement and charge rounds against the trader, exactly as
the reference model says (round numbers hide these; the inputs here have wei remainders)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from venue_fixtures import ZERO_FEES

from protocol import MarketConfig, Venue
from protocol.margin import math as m

ODD_PRICE = 3000 * 10**18 - 2999  # size x price leaves a remainder below one wei of notional
ODD_SIZE = 10**18 + 1


def push(venue, price: int) -> None:
    venue.oracle.push_prices([(0, venue.chain.timestamp, price)],
                             sender=venue.admin).raise_for_status()


def test_fee_and_maintenance_round_up_at_wei_precision(venue):
    ch, cfg = venue.clearinghouse, venue.markets["ETH"]
    alice = venue.trader("alice", usdc=10_000)
    alice.deposit(5_000)
    push(venue, ODD_PRICE)
    receipt = ch.increase_position(alice.address, 0, ODD_SIZE, 10, 1, venue.tokens(400),
                                   sender=alice.address).raise_for_status()
    notional = m.notional_up(ODD_SIZE, ODD_PRICE)
    assert notional != m.notional_down(ODD_SIZE, ODD_PRICE)  # the knife edge is real
    fee = receipt.events_named("PositionIncreased")[0]["fee"]
    assert fee == m.fee_tokens(notional, cfg.taker_fee_bps, venue.scale)
    assert fee != m.fee_tokens(m.notional_down(ODD_SIZE, ODD_PRICE), cfg.taker_fee_bps, venue.scale)
    _, mm = ch.position_health(alice.address, 0)
    assert mm == m.maintenance(notional, cfg.mmf_wad())
    assert mm != m.maintenance(m.notional_down(ODD_SIZE, ODD_PRICE), cfg.mmf_wad())


def test_a_partial_close_releases_entry_notional_against_the_trader(venue):
    ch = venue.clearinghouse
    alice = venue.trader("alice", usdc=10_000)
    alice.deposit(5_000)
    price = 3000 * 10**18 + 1
    push(venue, price)
    size = 10**18
    ch.increase_position(alice.address, 0, size, 10, 1, venue.tokens(400),
                         sender=alice.address).raise_for_status()
    entry = m.entry_notional(True, size, price)
    close = size // 2
    receipt = ch.decrease_position(alice.address, 0, close, sender=alice.address).raise_for_status()
    realized = receipt.events_named("PositionDecreased")[0]["realizedPnl"]
    closed = m.closed_entry(entry, close, size, True)
    assert realized == m.credit_tokens(m.pnl(close, closed, price), venue.scale)
    # Rounding the closed share down instead would hand the trader the wei remainder.
    in_favour = entry * close // size
    assert realized < m.credit_tokens(m.pnl(close, in_favour, price), venue.scale)


def test_oracle_refuses_outdated_and_future_timestamps(venue):
    from protocol import errors

    oracle, admin = venue.oracle, venue.admin
    now = venue.chain.timestamp
    oracle.push_prices([(0, now, 3000 * 10**18)], sender=admin).raise_for_status()
    with pytest.raises(errors.OutdatedPrice):  # the same timestamp again
        oracle.push_prices([(0, now, 3001 * 10**18)], sender=admin).raise_for_status()
    with pytest.raises(errors.OutdatedPrice):  # an older one
        oracle.push_prices([(0, now - 1, 3001 * 10**18)], sender=admin).raise_for_status()
    later = venue.chain.timestamp
    with pytest.raises(errors.FuturePrice):
        oracle.push_prices([(0, later + 1, 3001 * 10**18)], sender=admin).raise_for_status()
    oracle.push_prices([(0, later, 3001 * 10**18)], sender=admin).raise_for_status()
    assert oracle.latest(0)[:2] == (3001 * 10**18, later)


@pytest.mark.parametrize("side", [1, -1])
def test_acceptable_price_bounds_the_fill(venue, side):
    from protocol import errors

    alice = venue.trader("alice", usdc=10_000)
    bob = venue.trader("bob", usdc=10_000)  # one pending market order per account (SPEC §10)
    keeper = venue.keeper("k")
    # A long accepts at most 2,990 and a short at least 3,010: with the oracle at 3,000 both
    # refuse; with the bound on the trader's side of the price both fill.
    strict = bob.create_order("ETH", "market_increase", side, leverage=10, collateral=400,
                              acceptable_price=3000 - side * 10)
    loose = alice.create_order("ETH", "market_increase", side, leverage=10, collateral=400,
                               acceptable_price=3000 + side * 10)
    venue.set_price("ETH", 3000)
    with pytest.raises(errors.AcceptablePriceExceeded):
        keeper.execute_order(strict.order_id)
    keeper.execute_order(loose.order_id)
    assert venue.position(alice, "ETH").size == side


@pytest.mark.parametrize("collateral,decimals", [("MockUSDC", 6), ("MockDAI", 18)])
def test_collateral_decimals_are_read_from_the_token(backend, collateral, decimals):
    """SPEC §1: the collateral's decimals come from the token. The same trade on a 6- and an
    18-decimal stablecoin charges and pays the same dollars, each in its own token units."""
    eth = MarketConfig(symbol="ETH", initial_price=Decimal(3000), **{**ZERO_FEES, "taker_fee_bps": 10})
    venue = Venue.launch(backend=backend, markets=[eth], collateral=collateral, pool_liquidity=100_000)
    unit = 10**decimals
    assert venue.decimals == decimals and venue.clearinghouse.scale() == 10**(18 - decimals)
    alice = venue.trader("alice", usdc=10_000)
    alice.deposit(5_000)
    opened = alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    assert opened.events_named("PositionIncreased")[0]["fee"] == 3 * unit  # 3,000 x 10 bps
    venue.set_prices({"ETH": 3_300})
    closed = alice.close("ETH")
    event = closed.events_named("PositionDecreased")[0]
    assert (event["realizedPnl"], event["fee"]) == (300 * unit, 3 * unit + unit * 3 // 10)
    assert venue.usdc.balance_of(alice.address) == 5_000 * unit
    assert venue.account(alice).cross_balance == 5_000 - 3 + 300 - Decimal("3.3")
