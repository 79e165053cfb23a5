"""Issue 29 §3: a mark price per market, separate from the oracle: the EMA of the oracle price
stepped at each accrual, mark' = (mark x W + p x elapsed) // (W + elapsed), W = 150 s until the
admin sets it (1..3600 s, ``MarkWindowOutOfBounds``). Checked to the wei against numbers worked
here, on each backend of ``--backend``, and the reference model against the chain."""

from __future__ import annotations

import pytest
from venue_fixtures import BTC, ETH, funded

from protocol import Venue, errors
from protocol.testing.invariants import load_state

WAD = 10**18
ETH_ID = 0


@pytest.fixture(scope="module")
def base(chain_backend):
    return Venue.launch(backend=chain_backend, markets=[ETH, BTC], insurance=1_000)


@pytest.fixture()
def venue(base):
    with base.snapshot():
        yield base


def stored(venue) -> tuple[int, int]:
    """(mark price, window as set) as stored at the last accrual."""
    mark, window, _, _ = venue.clearinghouse.market_memory(ETH_ID)
    return mark, window


def last_update(venue) -> int:
    return venue.clearinghouse.market_state(ETH_ID)[5]


def accrue_after(venue, seconds: int, price: int) -> int:
    """Wait, push ``price``, accrue ETH; returns the seconds the accrual covered."""
    before = last_update(venue)
    venue.advance_time(seconds)
    venue.set_price("ETH", price)
    venue.keeper("k").update_funding("ETH")
    return last_update(venue) - before


def test_the_mark_price_is_an_ema_of_the_oracle_to_the_wei(venue):
    assert stored(venue) == (0, 0)  # no accrual yet: the view reports the oracle price
    assert venue.clearinghouse.mark_price(ETH_ID) == 3_000 * WAD
    accrue_after(venue, 10, 3_000)
    assert stored(venue) == (3_000 * WAD, 0)  # the first accrual takes the oracle price
    e1 = accrue_after(venue, 100, 3_100)
    mark1 = (3_000 * WAD * 150 + 3_100 * WAD * e1) // (150 + e1)
    assert stored(venue)[0] == mark1
    if e1 == 100:  # the worked number: 3000 + 100 x 100 / 250
        assert mark1 == 3_040 * WAD
    e2 = accrue_after(venue, 37, 2_900)
    mark2 = (mark1 * 150 + 2_900 * WAD * e2) // (150 + e2)
    assert stored(venue)[0] == mark2 and mark2 % WAD != 0  # rounded down to the wei
    # A new window applies from its accrual on: the old one up to it.
    venue.advance_time(20)
    venue.set_price("ETH", 2_950)
    before = last_update(venue)
    receipt = venue.set_mark_window("ETH", 600)
    assert receipt.events_named("MarkWindowSet")[0].args["window"] == 600
    e3 = last_update(venue) - before
    mark3 = (mark2 * 150 + 2_950 * WAD * e3) // (150 + e3)
    assert stored(venue) == (mark3, 600)
    e4 = accrue_after(venue, 300, 3_000)
    mark4 = (mark3 * 600 + 3_000 * WAD * e4) // (600 + e4)
    assert stored(venue)[0] == mark4
    assert venue.clearinghouse.market_memory(1)[0] == 0  # BTC did not accrue: its own mark


def test_trades_fill_at_the_oracle_price_whatever_the_mark(venue):
    accrue_after(venue, 10, 3_000)
    alice = funded(venue, "alice", 10_000, deposit=10_000)
    venue.advance_time(5)
    venue.set_price("ETH", 3_600)  # the mark lags the jump
    opened = alice.open("ETH", size=1, leverage=10, mode="cross")
    assert opened.events_named("PositionIncreased")[0].args["price"] == 3_600 * WAD
    assert 3_000 * WAD < stored(venue)[0] < 3_600 * WAD
    assert venue.mark_price("ETH") < venue.price("ETH")


def test_the_mark_window_is_bounded_and_admin_only(venue):
    for window in (0, 3_601):
        with pytest.raises(errors.MarkWindowOutOfBounds) as refused:
            venue.set_mark_window("ETH", window)
        assert refused.value.args == (window, 3_600)
    venue.set_mark_window("ETH", 3_600)
    venue.set_mark_window("ETH", 1)
    assert stored(venue)[1] == 1
    alice = funded(venue, "alice", 0, deposit=0)
    with pytest.raises(errors.Reverted):
        venue.clearinghouse.set_mark_window(ETH_ID, 100, sender=alice.address).raise_for_status()


def test_the_reference_model_steps_the_mark_as_the_chain(venue):
    accrue_after(venue, 10, 3_000)
    for wait, price, window in ((7, 3_013, None), (400, 2_777, 90), (1, 2_778, None), (5_000, 3_333, None)):
        venue.advance_time(wait)
        venue.set_price("ETH", price)
        model = load_state(venue).model
        if window is None:
            venue.keeper("k").update_funding("ETH")
            model.now = last_update(venue)
            model.update_funding(ETH_ID)
        else:
            venue.set_mark_window("ETH", window)
            model.now = last_update(venue)
            model.set_mark_window(ETH_ID, window)
        mem = model.memory[ETH_ID]
        assert (mem.mark_price, mem.mark_window) == stored(venue)
        assert model.states[ETH_ID].long_funding == venue.clearinghouse.market_state(ETH_ID)[3]
