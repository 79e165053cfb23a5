"""The property ``model agrees`` (protocol.testing.agreement): the reference model replays the
Clearinghouse transactions between two loads of the chain's state and must end where the chain
did. On both in-process EVMs (``backend``)."""

from __future__ import annotations

import pytest
from venue_fixtures import funded

from protocol.margin.model import Model, ModelRevert
from protocol.testing.agreement import MODEL_AGREES, ModelWatch
from protocol.testing.invariants import InvariantViolation, load_state


def test_a_refused_leverage_change_leaves_the_models_position_as_it_was(venue):
    """A cross position whose market's price went stale: ``updateLeverage`` is refused
    (StalePrice) and the position keeps its leverage, on chain and in the model. The model used
    to set the new leverage before valuing the account, and kept it when the valuation refused
    (found by the fuzzer's ``model agrees``)."""
    alice = funded(venue, "alice", 20_000, 10_000)
    alice.open("ETH", size=1, leverage=20, mode="cross")
    venue.advance_time(venue.oracle.max_price_age(0) + 1)
    model = load_state(venue).model
    receipt = venue.clearinghouse.update_leverage(alice.address, 0, 2, sender=alice.address)
    assert receipt.error.error == "StalePrice"
    model.now = receipt.timestamp
    with pytest.raises(ModelRevert, match="StalePrice"):
        model.update_leverage(alice.address.lower(), 0, 2)
    assert model.position(alice.address.lower(), 0).leverage == 20
    assert venue.raw_position(alice, "ETH").leverage == 20


def test_the_model_follows_trader_and_keeper_transactions(venue):
    """Deposits, opens in both modes, margin, leverage, a decrease, a refusal and a liquidation
    between two checks: replayed, each outcome and the end state the chain's."""
    watch = ModelWatch(venue).install()
    try:
        alice, bob = funded(venue, "alice", 50_000, 0), funded(venue, "bob", 50_000, 10_000)
        keeper = venue.keeper("k")
        bob.open("ETH", size=2, leverage=10, mode="isolated", margin=700)
        watch.check(load_state(venue))
        alice.deposit(20_000)
        alice.open("BTC", size="0.5", leverage=5, mode="cross")
        alice.open("ETH", size=-3, leverage=10, mode="isolated", margin=1_000)
        alice.add_margin("ETH", 200)
        alice.set_leverage("BTC", 4)
        alice.decrease("BTC", "0.1")
        refused = venue.clearinghouse.withdraw(alice.address, 10**15, sender=alice.address)
        assert not refused.status
        keeper.update_funding("ETH")
        watch.check(load_state(venue))
        assert (watch.compared, watch.skipped, watch.replayed) == (1, 0, 8)
        venue.set_price("ETH", 2_660)  # an oracle push (the model does not follow it): bob under water
        watch.check(load_state(venue))
        assert (watch.compared, watch.skipped) == (1, 1)
        keeper.liquidate(bob, "ETH")
        watch.check(load_state(venue))
        assert (watch.compared, watch.replayed) == (2, 9)
    finally:
        watch.uninstall()


def test_a_model_that_predicts_otherwise_breaks_the_property(venue, monkeypatch):
    """A deposit the model credits one unit more: the states differ, and the violation names
    the field; a refusal the model does not predict names both outcomes."""
    watch = ModelWatch(venue).install()
    try:
        alice = funded(venue, "alice", 50_000, 0)
        watch.check(load_state(venue))
        deposit = Model.deposit
        monkeypatch.setattr(Model, "deposit", lambda self, account, amount: deposit(self, account, amount + 1))
        alice.deposit(1_000)
        with pytest.raises(InvariantViolation, match="the model's cross_balance != the chain's") as caught:
            watch.check(load_state(venue))
        assert caught.value.name == MODEL_AGREES
        monkeypatch.setattr(Model, "deposit", deposit)

        def refuse(self, account, amount):
            raise ModelRevert("ZeroAmount")
        monkeypatch.setattr(Model, "withdraw", refuse)
        alice.withdraw(10)
        with pytest.raises(InvariantViolation, match="the chain went through, the model refuses ZeroAmount"):
            watch.check(load_state(venue))
    finally:
        watch.uninstall()
