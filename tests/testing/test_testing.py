"""The auditor's toolkit: assert_invariants catches a broken state, and the pytest plugin's
fixtures work in a fresh test file."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol.testing import InvariantViolation, assert_invariants

pytest_plugins = ["pytester"]


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
    venue.usdc.transfer(venue.clearinghouse.address, 1, sender=donor.address).raise_for_status()
    with pytest.raises(InvariantViolation) as info:
        assert_invariants(venue)
    assert info.value.name == "conservation"
    assert info.value.details["held"] == info.value.details["buckets"] + 1
    assert "conservation" in str(info.value) and "held=" in str(info.value)


def test_the_plugin_fixtures_in_a_fresh_test_file(pytester):
    """The README's example file, as a user would run it, plus a check that each test starts
    from the launch state."""
    example = Path(__file__).resolve().parents[2] / "examples" / "test_liquidation.py"
    pytester.makepyfile(test_example=example.read_text(), test_isolation="""
        def test_opens_a_position(venue, trader):
            trader("alice", deposit=1_000).open("ETH", size=1, leverage=5, mode="cross")
            assert venue.account_count() == 1

        def test_state_is_reverted_between_tests(venue):
            assert venue.account_count() == 0  # alice of the test before is gone
    """)
    result = pytester.runpytest("--perpsim-backend", "all", "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=12)  # six tests on two EVMs
