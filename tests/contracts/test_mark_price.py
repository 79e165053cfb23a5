"""Issue 29 §3: a mark price per market, separate from the oracle. A market *tracks memory*
while its rates module is stateful or once the admin has set its mark window (1..3600 s,
``MarkWindowOutOfBounds``); only such a market's accruals read and write its ``marketMemory``
slot, stepping the EMA of the oracle price mark' = (mark x W + p x elapsed) // (W + elapsed)
(W = 150 s while a stateful module tracks with no window set), started at the oracle price by
its first accrual after it began to track. Any other market's mark is the oracle price, and its
accruals leave ``marketMemory`` untouched (what keeps them cheap: ``scripts/bench_gas.py``).
Checked to the wei against numbers worked here, on each backend of ``--backend``, and the
reference model against the chain."""

from __future__ import annotations

import pytest
from venue_fixtures import BTC, ETH, funded

from protocol import Venue, errors
from protocol.testing.invariants import load_state

WAD = 10**18
ETH_ID, BTC_ID = 0, 1
UNTOUCHED = (0, 0, False, 0)


@pytest.fixture(scope="module")
def base(chain_backend):
    return Venue.launch(backend=chain_backend, markets=[ETH, BTC], insurance=1_000)


@pytest.fixture()
def venue(base):
    with base.snapshot():
        yield base


def memory(venue, market: int = ETH_ID) -> tuple[int, int, bool, int]:
    """(mark price, window as set, stateful, word) as stored."""
    return tuple(venue.clearinghouse.market_memory(market))


def last_update(venue, market: int = ETH_ID) -> int:
    return venue.clearinghouse.market_state(market)[5]


def accrue_at(venue, elapsed: int, price: int) -> None:
    """Push ``price`` and accrue ETH in one block, exactly ``elapsed`` seconds after its last
    accrual."""
    before = last_update(venue)
    venue.advance_time(before + elapsed - venue.chain.timestamp)
    with venue.chain.block():
        venue.set_price("ETH", price)
        venue.keeper("k").update_funding("ETH")
    assert last_update(venue) - before == elapsed


def oracle(venue, market: int = ETH_ID) -> int:
    return venue.oracle.latest(market)[0]


def test_a_stock_markets_accruals_leave_its_memory_alone_and_its_mark_is_the_oracle(venue):
    assert memory(venue) == UNTOUCHED
    assert venue.clearinghouse.mark_price(ETH_ID) == oracle(venue) == 3_000 * WAD
    alice = funded(venue, "alice", 10_000, deposit=10_000)
    for elapsed, price in ((60, 3_000), (100, 3_100), (37, 2_900)):
        accrue_at(venue, elapsed, price)
        assert memory(venue) == UNTOUCHED
        assert venue.clearinghouse.mark_price(ETH_ID) == price * WAD
    # A trade accrues too; a price pushed since the last accrual is the mark at once.
    venue.advance_time(30)
    venue.set_price("ETH", 3_333)
    opened = alice.open("ETH", size=1, leverage=10, mode="cross")
    assert opened.events_named("FundingUpdated")
    venue.advance_time(30)
    venue.set_price("ETH", 3_210)
    alice.close("ETH")
    assert memory(venue) == UNTOUCHED
    venue.advance_time(5)
    venue.set_price("ETH", 3_222)
    assert venue.mark_price("ETH") == venue.price("ETH") == 3_222
    # The model says the same.
    model = load_state(venue).model
    model.now = venue.chain.timestamp
    assert model.mark_price(ETH_ID) == 3_222 * WAD
    assert not model.memory_of(ETH_ID).tracks


def test_after_set_mark_window_the_ema_runs_to_the_wei(venue):
    accrue_at(venue, 60, 3_000)
    venue.advance_time(20)
    venue.set_price("ETH", 2_950)
    receipt = venue.set_mark_window("ETH", 200)
    assert receipt.events_named("MarkWindowSet")[0].args["window"] == 200
    # Tracking from now on: its accrual just now was the last untracked one, so no mark yet,
    # and the view is the oracle price until the next accrual.
    assert memory(venue) == (0, 200, False, 0)
    venue.advance_time(5)
    venue.set_price("ETH", 3_050)
    assert venue.clearinghouse.mark_price(ETH_ID) == 3_050 * WAD
    # The first accrual after it began to track takes the oracle price.
    accrue_at(venue, 50, 3_100)
    assert memory(venue) == (3_100 * WAD, 200, False, 0)
    # 3100 x 200 + 3600 x 300 = 1,700,000 over 500 s: 3400.
    accrue_at(venue, 300, 3_600)
    assert memory(venue)[0] == 3_400 * WAD
    # 3400 x 200 + 2900 x 7 = 700,300 over 207 s, rounded down to the wei.
    accrue_at(venue, 7, 2_900)
    assert memory(venue)[0] == 700_300 * WAD // 207 == 3_383_091_787_439_613_526_570
    mark = memory(venue)[0]
    # The view steps it to now at the latest price, and stores nothing.
    venue.advance_time(100)
    venue.set_price("ETH", 3_000)
    e = venue.chain.timestamp - last_update(venue)
    assert venue.clearinghouse.mark_price(ETH_ID) == (mark * 200 + 3_000 * WAD * e) // (200 + e)
    assert memory(venue)[0] == mark
    # A new window applies from its accrual on: the old one up to it.
    venue.advance_time(20)
    venue.set_price("ETH", 2_950)
    before = last_update(venue)
    venue.set_mark_window("ETH", 600)
    e3 = last_update(venue) - before
    mark3 = (mark * 200 + 2_950 * WAD * e3) // (200 + e3)
    assert memory(venue) == (mark3, 600, False, 0)
    accrue_at(venue, 300, 3_000)
    assert memory(venue)[0] == (mark3 * 600 + 3_000 * WAD * 300) // 900
    # BTC accrues as a stock market all along: its memory untouched, its mark the oracle's.
    venue.advance_time(10)
    venue.keeper("k").update_funding("BTC")
    assert memory(venue, BTC_ID) == UNTOUCHED
    assert venue.clearinghouse.mark_price(BTC_ID) == oracle(venue, BTC_ID)


def test_trades_fill_at_the_oracle_price_whatever_the_mark(venue):
    venue.set_mark_window("ETH", 150)
    accrue_at(venue, 60, 3_000)
    alice = funded(venue, "alice", 10_000, deposit=10_000)
    venue.advance_time(5)
    venue.set_price("ETH", 3_600)  # the mark lags the jump
    opened = alice.open("ETH", size=1, leverage=10, mode="cross")
    assert opened.events_named("PositionIncreased")[0].args["price"] == 3_600 * WAD
    assert 3_000 * WAD < memory(venue)[0] < 3_600 * WAD
    assert venue.mark_price("ETH") < venue.price("ETH")


def test_the_mark_window_is_bounded_and_admin_only(venue):
    for window in (0, 3_601):
        with pytest.raises(errors.MarkWindowOutOfBounds) as refused:
            venue.set_mark_window("ETH", window)
        assert refused.value.args == (window, 3_600)
    assert memory(venue) == UNTOUCHED  # refused: the market does not track
    venue.set_mark_window("ETH", 3_600)
    venue.set_mark_window("ETH", 1)
    assert memory(venue)[1] == 1
    alice = funded(venue, "alice", 0, deposit=0)
    with pytest.raises(errors.Reverted):
        venue.clearinghouse.set_mark_window(ETH_ID, 100, sender=alice.address).raise_for_status()


def test_the_reference_model_steps_the_mark_as_the_chain(venue):
    accrue_at(venue, 60, 3_000)
    steps = ((7, 3_013, None), (60, 2_990, None), (400, 2_777, 90), (1, 2_778, None),
             (33, 2_800, None), (5_000, 3_333, None), (12, 3_300, 1_000), (250, 3_100, None))
    for wait, price, window in steps:
        venue.advance_time(wait)
        venue.set_price("ETH", price)
        model = load_state(venue).model
        model.now = venue.chain.timestamp
        assert model.mark_price(ETH_ID) == venue.clearinghouse.mark_price(ETH_ID)
        if window is None:
            venue.keeper("k").update_funding("ETH")
            model.now = last_update(venue)
            model.update_funding(ETH_ID)
        else:
            venue.set_mark_window("ETH", window)
            model.now = last_update(venue)
            model.set_mark_window(ETH_ID, window)
        mem = model.memory[ETH_ID]
        assert (mem.mark_price, mem.mark_window, mem.stateful_rates, mem.rates_state) == memory(venue)
        assert model.states[ETH_ID].long_funding == venue.clearinghouse.market_state(ETH_ID)[3]
    assert memory(venue)[0] != 0  # tracked since the window was set


def test_the_tracking_flag_sits_in_the_config_slot_accrual_reads():
    """``StoredConfig.tracksMemory`` shares slot 0 with the rates module's id and the stock
    rates' parameters, which accrual reads anyway: a stock market's accrual pays a warm read
    for it and leaves its ``marketMemory`` slot alone."""
    from protocol.chain.abi import load_artifact

    types = load_artifact("Clearinghouse").raw["storageLayout"]["types"]
    (config,) = [t for name, t in types.items() if name.startswith("t_struct(StoredConfig)")]
    slots = {m["label"]: int(m["slot"]) for m in config["members"]}
    assert slots["tracksMemory"] == slots["ratesModule"] == slots["fundingFactor"] == 0
