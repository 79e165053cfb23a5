"""A test an auditor can copy: install perpsim, then `pytest examples/` (add
`--perpsim-backend all` to run it on both EVMs, `--perpsim-gas` for a gas report per contract
function, `--perpsim-trace` for the decoded call trace of a failing test's transaction). The
fixtures and the `perpsim` marker come from perpsim's pytest plugin."""

from decimal import Decimal

import pytest

from protocol import MarketConfig
from protocol.errors import InstantTradingDisabled, PositionHealthy, TradingPaused


def test_a_crash_liquidates_a_50x_long(venue, trader, keeper, assert_invariants):
    alice = trader("alice", usdc=1_000, deposit=1_000)
    alice.open("ETH", size=1, leverage=50, mode="isolated", margin=70)
    venue.set_price("ETH", 2_950)
    keeper.liquidate(alice, "ETH")
    assert venue.position(alice, "ETH") is None
    assert_invariants(venue)


def test_a_healthy_position_cannot_be_liquidated(venue, trader, keeper):
    bob = trader("bob", deposit=5_000)
    bob.open("ETH", size=1, leverage=5, mode="isolated", margin=700)
    with pytest.raises(PositionHealthy):
        keeper.liquidate(bob, "ETH")


SOL = MarketConfig(symbol="SOL", max_leverage=20, taker_fee_bps=10, initial_price=Decimal(150))


@pytest.mark.perpsim(markets=[SOL], instant_trading=False, pool_liquidity=1_000_000)
def test_a_custom_market_trades_through_orders(venue, trader, keeper):
    carol = trader("carol", usdc=1_000)
    with pytest.raises(InstantTradingDisabled):
        carol.open("SOL", size=10, leverage=10, mode="isolated", margin=200)
    order = carol.create_order("SOL", "market_increase", 10, leverage=10, collateral=200)
    venue.advance_time(1)
    venue.set_price("SOL", 151)  # market orders fill at a price newer than themselves
    keeper.execute_order(order.order_id)
    assert venue.position(carol, "SOL").size == 10


def test_the_admin_pauses_opening_not_closing(venue, trader):
    dave = trader("dave", deposit=2_000)
    dave.open("ETH", size=1, leverage=10, mode="cross")
    venue.pause()
    with pytest.raises(TradingPaused):
        dave.open("ETH", size=1, leverage=10, mode="cross")
    dave.close("ETH")
