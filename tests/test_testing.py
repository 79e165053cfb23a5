"""The auditor's toolkit: assert_invariants catches a broken state, and the pytest plugin's
fixtures work in a fresh test file."""

from __future__ import annotations

import pytest

from protocol.testing import InvariantViolation, assert_invariants
from venue_fixtures import launch

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def base(backend):
    return launch(backend)


@pytest.fixture()
def venue(base):
    with base.snapshot():
        yield base


def test_invariants_hold_through_trading_and_liquidation(venue):
    alice = venue.trader("alice", usdc=10_000)
    alice.deposit(5_000)
    alice.open("ETH", size=1, leverage=50, mode="isolated", margin=70)
    alice.open("BTC", size=-0.05, leverage=10, mode="cross")
    venue.advance_time(3_000)
    venue.set_prices({"ETH": 2_950, "BTC": 61_000})
    assert_invariants(venue, deep=True)
    venue.keeper("k").liquidate(alice, "ETH")
    state = assert_invariants(venue, deep=True)
    assert (alice.address, 0) not in state.model.positions


def test_conservation_breaks_when_tokens_bypass_the_buckets(venue):
    donor = venue.trader("donor", usdc=100)
    venue.usdc.transact(donor.address, "transfer", venue.clearinghouse.address, 1).raise_for_status()
    with pytest.raises(InvariantViolation) as info:
        assert_invariants(venue)
    assert info.value.name == "conservation"
    assert info.value.details["held"] == info.value.details["buckets"] + 1
    assert "conservation" in str(info.value) and "held=" in str(info.value)


def test_the_plugin_fixtures_in_a_fresh_test_file(pytester):
    pytester.makepyfile(test_user="""
        import pytest
        from protocol.errors import PositionHealthy

        def test_crash_liquidates(venue, trader, keeper, assert_invariants):
            alice = trader("alice", usdc=1_000, deposit=1_000)
            alice.open("ETH", size=1, leverage=50, mode="isolated", margin=70)
            venue.set_price("ETH", 2_950)
            keeper.liquidate(alice, "ETH")
            assert venue.position(alice, "ETH") is None
            assert_invariants(venue)

        def test_state_is_reverted_between_tests(venue):
            assert venue.account_count() == 0  # alice and the keeper of the test before are gone

        def test_healthy_is_refused(venue, trader, keeper):
            bob = trader("bob", deposit=5_000)
            bob.open("ETH", size=1, leverage=5, mode="isolated", margin=700)
            with pytest.raises(PositionHealthy):
                keeper.liquidate(bob, "ETH")
    """)
    result = pytester.runpytest("--perpsim-backend", "all", "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)  # three tests on two EVMs
