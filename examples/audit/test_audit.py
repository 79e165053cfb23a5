"""An auditor's test file: two economic properties over a liquidation, and the Solidity coverage
the tests reached. Copy it next to your own venue's tests (the fixtures and the `perpsim` marker
come from perpsim's pytest plugin):

    pytest examples/audit                                  # the properties, on revm
    pytest examples/audit --perpsim-backend pyevm --perpsim-coverage out/audit-coverage
        # and out/audit-coverage/index.html (+ lcov.info): which lines and branches of
        # LiquidationLogic.sol, Solvency.sol, ... these tests reached (pyevm: coverage is
        # nearly free there, about 2 ms an opcode step on revm)

A property that breaks raises ``PropertyViolation`` naming it, with the numbers.
"""

from decimal import Decimal

import pytest

from protocol import MarketConfig
from protocol.testing.properties import (
    PATH_INDEPENDENCE,
    Comparison,
    PropertyViolation,
    check_path_independence,
    holdings,
    split_close,
)

# A market whose fees and rates bind: the properties must hold net of them, not only at zero.
ETH = MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000), taker_fee_bps=10,
                   liquidation_fee_bps=100)


@pytest.mark.perpsim(markets=[ETH], insurance=10_000)
def test_self_liquidation_is_no_free_lunch(venue, trader, keeper, assert_properties):
    """No free lunch: an attacker trading both sides, letting one side be liquidated by its own
    keeper and unwinding at the starting price ends with no more than it started with, less the
    fees it paid (and each of its actions left nothing liquidatable, checked too)."""
    long, short = trader("mallory", usdc=20_000, deposit=10_000), trader("mule", usdc=20_000, deposit=10_000)
    attacker = [long, short, keeper]
    start = holdings(venue, attacker)
    with venue.chain.recording() as receipts:
        long.open("ETH", size=5, leverage=50, mode="isolated", margin=310)
        short.open("ETH", size=-5, leverage=50, mode="isolated", margin=310)
        venue.set_price("ETH", 2_950)  # the long is liquidatable: the attacker's keeper takes the reward
        keeper.liquidate(long, "ETH")
        venue.set_price("ETH", 3_000)  # prices back where they started
        short.close("ETH")
    assert venue.position(long, "ETH") is None and venue.position(short, "ETH") is None
    assert_properties(venue, receipts, attacker=attacker, start=start)


@pytest.mark.perpsim(markets=[ETH])
def test_closing_in_pieces_pays_what_closing_at_once_pays(venue, trader):
    """Path independence: four decreases pay what one close pays, within rounding dust."""
    alice = trader("alice", usdc=50_000, deposit=20_000)
    alice.open("ETH", size=7, leverage=10, mode="cross")
    venue.set_price("ETH", 3_123.45)
    comparison = split_close(venue, alice, "ETH", 4)
    assert comparison is not None and comparison.n == 4
    check_path_independence(comparison)  # raises PropertyViolation if the pieces paid more


def test_a_split_that_pays_more_is_reported():
    """What a broken venue looks like: the pieces paid 1,000 units more than the whole."""
    with pytest.raises(PropertyViolation) as broken:
        check_path_independence(Comparison("closing ETH", whole=5_000_000, pieces=5_001_000, n=4))
    assert broken.value.name == PATH_INDEPENDENCE
    assert broken.value.details["difference"] == 1_000
