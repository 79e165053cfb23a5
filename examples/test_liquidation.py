"""A test an auditor can copy: install perpsim, then `pytest examples/` (add
`--perpsim-backend all` to run it on both EVMs). The fixtures come from perpsim's pytest plugin."""


def test_a_crash_liquidates_a_50x_long(venue, trader, keeper, assert_invariants):
    alice = trader("alice", usdc=1_000, deposit=1_000)
    alice.open("ETH", size=1, leverage=50, mode="isolated", margin=70)
    venue.set_price("ETH", 2_950)
    keeper.liquidate(alice, "ETH")
    assert venue.position(alice, "ETH") is None
    assert_invariants(venue)


def test_a_healthy_position_cannot_be_liquidated(venue, trader, keeper):
    import pytest
    from protocol.errors import PositionHealthy

    bob = trader("bob", deposit=5_000)
    bob.open("ETH", size=1, leverage=5, mode="isolated", margin=700)
    with pytest.raises(PositionHealthy):
        keeper.liquidate(bob, "ETH")
