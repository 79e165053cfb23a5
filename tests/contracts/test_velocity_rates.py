"""Issue 29 §3: funding with memory. ``VelocityRates`` (Synthetix v3's funding velocity) on a
market, checked to the wei against numbers worked in this file from the cited formula; its
Python mirror (``protocol.margin.rates.VelocityRates``) in the reference model against the
chain; the core's keeping of a stateful module's word (``ProgrammableStatefulRates``), and a
failing stateful module held to the rules of a failing stateless one. Every test runs on each
backend of ``--backend``.

The formula (Synthetix v3 perps-market ``storage/PerpsMarket.sol``, WAD integers, ``/``
truncating toward zero):

    proportionalSkew   = clamp(skew x 1e18 / skewScale, -1e18, 1e18)
    velocity           = proportionalSkew x maxFundingVelocity / 1e18          (per day per day)
    proportionalElapsed = elapsed x 1e18 / 86400
    currentFundingRate = lastFundingRate + velocity x proportionalElapsed / 1e18  (per day)
    average            = (lastFundingRate + currentFundingRate) / 2

mapped to the venue: the rate applied over the interval is average / 86400 WAD per second, and
the core moves the payers' index by ceil(price x elapsed x |rate| / 1e18), the receivers' by
that x payers' size / receivers' size (down). The rate is clamped to the market's
maxFundingRate x 86400 (ours, not Synthetix's): the day-long step below reaches it.
"""

from __future__ import annotations

import pytest
from eth_utils.crypto import keccak
from venue_fixtures import BTC, ETH, ceil_div, funded, market_state, tdiv

from protocol import Venue, errors
from protocol.margin.model import ModelRevert
from protocol.margin.rates import VelocityRates
from protocol.margin.types import ModuleKind
from protocol.testing.invariants import load_state

WAD = 10**18
DAY = 86_400
ETH_ID = 0
SKEW_SCALE = 20 * WAD  # 20 ETH of skew: the velocity's maximum
MAX_VELOCITY = 3 * WAD // 100  # 3% a day, per day

#: ProgrammableStatefulRates.Mode
ANSWER, ECHO_MARK, BAD_STATE, REVERT = range(4)




def synthetix_rate(last: int, skew: int, elapsed: int, cap: int | None = None) -> int:
    """currentFundingRate from the cited formula, WAD per day; clamped to +-``cap`` (the
    market's maxFundingRate per second x 86400) when given."""
    p_skew = max(-WAD, min(WAD, tdiv(skew * WAD, SKEW_SCALE)))
    velocity = tdiv(p_skew * MAX_VELOCITY, WAD)
    rate = last + tdiv(velocity * (elapsed * WAD // DAY), WAD)
    return rate if cap is None else max(-cap, min(cap, rate))


@pytest.fixture(scope="module")
def base(chain_backend):
    venue = Venue.launch(backend=chain_backend, markets=[ETH, BTC], insurance=1_000)
    venue.velocity = venue.set_market_module("ETH", "rates", "VelocityRates", SKEW_SCALE, MAX_VELOCITY)
    venue.stateful = venue.chain.deploy("ProgrammableStatefulRates", sender=venue.admin)
    return venue


@pytest.fixture()
def venue(base):
    with base.snapshot():
        yield base


def market(venue) -> dict:
    return market_state(venue, ETH_ID)


def memory(venue) -> tuple[int, int, bool, int]:
    return tuple(venue.clearinghouse.market_memory(ETH_ID))


def test_velocity_funding_matches_the_synthetix_formula_to_the_wei(venue):
    assert memory(venue)[2:] == (True, 0)  # stateful, fresh word
    alice = funded(venue, "alice", 100_000, deposit=100_000)
    bob = funded(venue, "bob", 100_000, deposit=100_000)
    carol = funded(venue, "carol", 100_000, deposit=100_000)
    alice.open("ETH", size=12, leverage=10, mode="cross")
    assert memory(venue)[3] == 0  # no skew before it
    before = market(venue)
    venue.advance_time(60)
    bob.open("ETH", size=-4, leverage=10, mode="cross")
    # A lone side pays nothing, but its skew drifts the rate all the same (+12: clamped at 1).
    expected_rate = synthetix_rate(0, 12 * WAD, market(venue)["lastUpdate"] - before["lastUpdate"])
    assert memory(venue)[3] == expected_rate > 0
    assert market(venue)["longFunding"] == before["longFunding"]
    snapshot = venue.raw_position(alice, "ETH").funding_index
    checked, clamped = 0, 0
    cap = venue.clearinghouse.market_config(ETH_ID)[2] * DAY  # 0.01% an hour: 0.24% a day
    # (seconds to wait, price, what happens at the accrual): skew +8, then +8 -> -4 (carol's
    # short of 12 lands after the accrual it triggers), then -4 for two accruals, then a price.
    steps = [(3_600, 3_000, None), (7_200, 3_000, lambda: carol.open("ETH", size=-12, leverage=10, mode="cross")),
             (5_400, 3_000, None), (86_400, 3_000, None), (1_800, 3_150, None),
             (900, 3_150, lambda: alice.close("ETH"))]
    for wait, price, action in steps:
        before = market(venue)
        venue.advance_time(wait)
        venue.set_price("ETH", price)
        receipt = action() if action else venue.keeper("k").update_funding("ETH")
        closed = receipt.events_named("PositionDecreased")
        assert receipt.events_named("FundingUpdated")
        after = market(venue)
        elapsed = after["lastUpdate"] - before["lastUpdate"]
        skew = before["longSize"] - before["shortSize"]
        current = synthetix_rate(expected_rate, skew, elapsed, cap)
        clamped += abs(current) == cap != abs(synthetix_rate(expected_rate, skew, elapsed))
        per_second = tdiv(tdiv(expected_rate + current, 2), DAY)
        payer_delta = ceil_div(price * WAD * elapsed * abs(per_second), WAD)
        payer, receiver = (before["longSize"], before["shortSize"])[:: 1 if per_second > 0 else -1]
        receiver_delta = payer_delta * payer // receiver
        long_delta, short_delta = ((payer_delta, -receiver_delta) if per_second > 0
                                   else (-receiver_delta, payer_delta))
        assert after["longFunding"] - before["longFunding"] == long_delta
        assert after["shortFunding"] - before["shortFunding"] == short_delta
        assert memory(venue)[3] == current
        expected_rate = current
        checked += 1
    assert (checked, clamped) == (6, 3)
    # The numbers worked: +8 of skew (0.4 of the scale) drifts 1.2% a day per day, so 0.05% a
    # day after an hour, less the wei that 3600 / 86400 = 0.041666... truncates.
    assert synthetix_rate(0, 8 * WAD, 3_600) == 500_000_000_000_000 - 1
    assert expected_rate < 0  # the skew turned short: the rate went through 0 and below
    # Alice's funding, settled as she closes: 12 ETH x the long index's move since she opened,
    # rounded as charged (WAD up when she pays, down when paid), then in tokens the same way.
    delta = market(venue)["longFunding"] - snapshot
    owed = ceil_div(12 * WAD * delta, WAD) if delta >= 0 else -(12 * WAD * -delta // WAD)
    tokens = ceil_div(owed, venue.scale) if owed >= 0 else -(-owed // venue.scale)
    assert closed[0].args["fundingPaid"] == tokens
    assert tokens < 0  # longs were paid while the skew was short


def test_the_reference_models_velocity_mirror_matches_the_chain(venue):
    mirror = VelocityRates(SKEW_SCALE, MAX_VELOCITY)
    alice = funded(venue, "alice", 100_000, deposit=100_000)
    bob = funded(venue, "bob", 100_000, deposit=100_000)
    alice.open("ETH", size=3, leverage=10, mode="cross")
    bob.open("ETH", size=-30, leverage=10, mode="cross")  # beyond the scale: velocity clamped
    for wait, price in ((600, 3_000), (40_000, 2_900), (200_000, 2_950), (13, 3_010)):
        venue.advance_time(wait)
        venue.set_price("ETH", price)
        model = load_state(venue, {"rates": mirror}).model
        venue.keeper("k").update_funding("ETH")
        model.now = market(venue)["lastUpdate"]
        model.update_funding(ETH_ID)
        assert model.states[ETH_ID] == type(model.states[ETH_ID])(*venue.clearinghouse.market_state(ETH_ID))
        mem = model.memory[ETH_ID]
        assert (mem.mark_price, mem.mark_window, mem.stateful_rates, mem.rates_state) == memory(venue)
    assert memory(venue)[3] < 0  # short-heavy: shorts pay


def test_a_stateful_modules_word_is_kept_passed_back_and_reset(venue):
    prog = venue.stateful
    prog.transact(venue.admin, "setAnswer", 0, 0).raise_for_status()
    venue.clearinghouse.set_market_module(ETH_ID, ModuleKind.RATES, prog.address,
                                          sender=venue.admin).raise_for_status()
    start = market(venue)["lastUpdate"]
    assert memory(venue)[2:] == (True, 0)
    for wait in (100, 250, 7):
        venue.advance_time(wait)
        venue.keeper("k").update_funding("ETH")
    assert memory(venue)[3] == market(venue)["lastUpdate"] - start  # the seconds, summed
    # The mark price it is handed is the one the core stores.
    prog.transact(venue.admin, "setMode", ECHO_MARK).raise_for_status()
    venue.advance_time(60)
    venue.set_price("ETH", 3_300)
    venue.keeper("k").update_funding("ETH")
    mark, _, _, word = memory(venue)
    assert word == mark  # the mark as stored at this accrual, which the module was handed
    assert 3_000 * WAD < mark < 3_300 * WAD
    # A stateless rule and no mark window: the market stops tracking memory, so the flag, the
    # word and the mark go back to 0; its accruals leave them there, and its mark is the oracle's.
    venue.clearinghouse.set_market_module(ETH_ID, ModuleKind.RATES, "0x" + "00" * 20,
                                          sender=venue.admin).raise_for_status()
    assert memory(venue) == (0, 0, False, 0)
    for price in (3_400, 3_050):
        venue.advance_time(30)
        venue.set_price("ETH", price)
        venue.keeper("k").update_funding("ETH")
        assert memory(venue) == (0, 0, False, 0)
        assert venue.clearinghouse.mark_price(ETH_ID) == price * WAD
    # Stateful again: tracking starts afresh, the first accrual hands the module the oracle
    # price as the mark (not the mark forgotten above) and stores it.
    venue.clearinghouse.set_market_module(ETH_ID, ModuleKind.RATES, prog.address,
                                          sender=venue.admin).raise_for_status()
    assert memory(venue) == (0, 0, True, 0)
    venue.advance_time(45)
    venue.set_price("ETH", 2_800)
    assert venue.clearinghouse.mark_price(ETH_ID) == 2_800 * WAD
    venue.keeper("k").update_funding("ETH")
    assert memory(venue) == (2_800 * WAD, 0, True, 2_800 * WAD)


def test_a_market_with_a_mark_window_keeps_tracking_after_its_stateful_module(venue):
    venue.advance_time(10)
    venue.keeper("k").update_funding("ETH")
    mark = memory(venue)[0]
    assert mark == 3_000 * WAD  # VelocityRates tracks: the first accrual took the oracle price
    venue.set_mark_window("ETH", 100)
    venue.clearinghouse.set_market_module(ETH_ID, ModuleKind.RATES, "0x" + "00" * 20,
                                          sender=venue.admin).raise_for_status()
    assert memory(venue) == (mark, 100, False, 0)  # stateless, but the window keeps the mark
    before = market(venue)["lastUpdate"]
    venue.advance_time(50)
    venue.set_price("ETH", 3_300)
    venue.keeper("k").update_funding("ETH")
    elapsed = market(venue)["lastUpdate"] - before
    assert memory(venue) == ((mark * 100 + 3_300 * WAD * elapsed) // (100 + elapsed), 100, False, 0)


def test_a_failing_stateful_module_obeys_the_stateless_rules(venue):
    prog = venue.stateful
    prog.transact(venue.admin, "setAnswer", 0, 0).raise_for_status()
    venue.clearinghouse.set_market_module(ETH_ID, ModuleKind.RATES, prog.address,
                                          sender=venue.admin).raise_for_status()
    alice = funded(venue, "alice", 10_000, deposit=10_000)
    alice.open("ETH", size=1, leverage=10, mode="cross")
    kept = memory(venue)[3]
    # A word beyond 2^103 - 1 is refused by name, with the word as the value.
    prog.transact(venue.admin, "setMode", BAD_STATE).raise_for_status()
    venue.advance_time(10)
    with pytest.raises(errors.ModuleResultOutOfBounds) as refused:
        venue.keeper("k").update_funding("ETH")
    assert refused.value.args == (ModuleKind.RATES, 2**103)
    # A reverting one: the trade reverts with the module's error; the pool's value does not.
    prog.transact(venue.admin, "setMode", REVERT).raise_for_status()
    with pytest.raises(errors.Reverted) as reverted:
        alice.open("ETH", size=1, leverage=10, mode="cross")
    assert reverted.value.data[:4] == keccak(text="StatefulRatesUnavailable(uint256,int256)")[:4]
    venue.clearinghouse.pool_value()
    # The admin can always replace it: the interval accrues nothing, the word is kept, then reset.
    before = market(venue)
    receipt = venue.clearinghouse.set_market_module(ETH_ID, ModuleKind.RATES, "0x" + "00" * 20,
                                                    sender=venue.admin).raise_for_status()
    assert receipt.events_named("RatesModuleFailed")
    after = market(venue)
    assert (after["longFunding"], after["borrowIndex"]) == (before["longFunding"], before["borrowIndex"])
    assert memory(venue)[2:] == (False, 0)
    assert kept > 0


def test_the_model_refuses_a_stateful_word_out_of_bounds():
    from protocol.margin.model.markets import MarketsRules  # noqa: F401  (the mixin under test)
    from protocol.margin.model.state import MarketMemory, MarketParams, MarketRules, MarketState

    class Bad:
        def rates(self, i):
            return 0, 0

        def stateful_rates(self, i, mem):
            return 0, 0, -(2**103)

    from protocol.margin.model import Model
    model = Model(scale=10**12, max_price_age=60)
    model.params.append(MarketParams(*([0] * 15)))
    model.states.append(MarketState(long_size=1, short_size=1))
    model.rules[0] = MarketRules(rates=Bad())
    model.memory[0] = MarketMemory(stateful_rates=True)
    model.now = 5
    with pytest.raises(ModelRevert) as refused:
        model.rates(0, 3_000 * WAD)
    assert refused.value.args == ("ModuleResultOutOfBounds", ModuleKind.RATES, 2**256 - 2**103)
