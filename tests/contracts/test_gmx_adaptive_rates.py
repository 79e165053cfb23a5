"""Issue 29 §3: funding with memory. ``GmxAdaptiveRates`` (GMX v2's adaptive funding) on a
market, checked to the wei against numbers worked in this file from the cited formula, its
thresholds and bounds probed at the boundary, and its Python mirror
(``protocol.margin.rates.GmxAdaptiveRates``) in the reference model against the chain. Each test
runs on each backend of ``--backend``.

The formula (gmx-synthetics ``market/MarketUtils.sol`` ``getNextFundingFactorPerSecond``;
factors in 30 decimals, products rounded down, signed ``/`` truncating toward zero):

    f = applyExponentFactor(|L - S|, exponent) x 1e30 / (L + S)       (open interest, USD)
    skew with the saved factor's sign:  f > stable  -> Increase;  f < decrease -> Decrease
    skew against it (or saved 0):       Increase
    Increase: saved += f x fundingIncreaseFactorPerSecond / 1e30 x elapsed  (toward the heavier side)
    Decrease: |saved| -= fundingDecreaseFactorPerSecond x elapsed, 1 unit of its sign at least
    next = bound(|saved'|, 0, max) (kept), applied = bound(|next|, min, max) (0 as +)

GMX charges the elapsed interval at ``applied`` (``getNextFundingAmountPerSize``): the rate is
applied / 1e12 WAD per second, and the core moves the payers' index by ceil(price x elapsed x
|rate| / 1e18), the receivers' by that x payers' size / receivers' size (down).
"""

from __future__ import annotations

import pytest
from venue_fixtures import BTC, ETH, ceil_div, funded, market_state, tdiv

from protocol import Venue, errors
from protocol.margin import prbmath
from protocol.margin.rates import GmxAdaptiveRates
from protocol.testing.invariants import load_state

WAD = 10**18
FLOAT = 10**30
YEAR = 365 * 86_400
ETH_ID = 0
# GMX's arbitrum fundingRateConfig_Low (protocol/venue/presets.py), thresholdForDecreaseFunding
# 2% (GMX: 0) so that the decrease branch runs.
MAX = 75 * FLOAT // 100 // YEAR  # 75% a year, per second
INCREASE = MAX // (3 * 3_600)  # reaches MAX in 3 hours at full skew
DECREASE = MAX // (48 * 3_600)
STABLE, DECREASE_AT = 4 * FLOAT // 100, 2 * FLOAT // 100
MIN = FLOAT // 100 // YEAR  # 1% a year
PARAMS = (INCREASE, DECREASE, STABLE, DECREASE_AT, MIN, MAX, WAD)




def factor(long_oi: int, short_oi: int, exponent: int = WAD) -> int:
    diff = abs(long_oi - short_oi) * 10**12
    if diff < FLOAT:
        return 0
    if exponent != WAD:
        diff = prbmath.pow(diff // 10**12, exponent) * 10**12
    return diff * FLOAT // ((long_oi + short_oi) * 10**12)


def bound(value: int, low: int, high: int) -> int:
    magnitude = min(max(abs(value), low), high)
    return -magnitude if value < 0 else magnitude


def gmx_next(saved: int, long_oi: int, short_oi: int, elapsed: int, params=PARAMS) -> tuple[int, int, str]:
    """(applied, next saved, the change type) from the cited formula."""
    increase, decrease, stable, decrease_at, low, high, exponent = params
    if long_oi == 0 or short_oi == 0:
        return 0, 0, "none"
    f = factor(long_oi, short_oi, exponent)
    step = f * increase // FLOAT * elapsed * (-1 if long_oi < short_oi else 1)
    change = "increase"
    if (saved > 0 and long_oi > short_oi) or (saved < 0 and short_oi > long_oi):
        change = "increase" if f > stable else "decrease" if f < decrease_at else "none"
    nxt = saved
    if change == "increase":
        nxt = saved + step
    elif change == "decrease":
        sign = 1 if saved > 0 else -1
        nxt = sign if abs(saved) <= decrease * elapsed else (abs(saved) - decrease * elapsed) * sign
    nxt = bound(nxt, 0, high)
    return bound(nxt, low, high), nxt, change


@pytest.fixture(scope="module")
def base(chain_backend):
    venue = Venue.launch(backend=chain_backend, markets=[ETH, BTC], insurance=1_000)
    venue.gmx = venue.set_market_module("ETH", "rates", "GmxAdaptiveRates", *PARAMS)
    return venue


@pytest.fixture()
def venue(base):
    with base.snapshot():
        yield base


def market(venue) -> dict:
    return market_state(venue, ETH_ID)


def word(venue) -> int:
    return venue.clearinghouse.market_memory(ETH_ID)[3]


def test_gmx_adaptive_funding_matches_the_gmx_formula_to_the_wei(venue):
    assert venue.clearinghouse.market_memory(ETH_ID)[2:] == (True, 0)
    alice = funded(venue, "alice", 100_000, deposit=100_000)
    bob = funded(venue, "bob", 100_000, deposit=100_000)
    carol = funded(venue, "carol", 200_000, deposit=200_000)
    alice.open("ETH", size=12, leverage=10, mode="cross")
    venue.advance_time(60)
    bob.open("ETH", size=-4, leverage=10, mode="cross")
    assert word(venue) == 0  # a lone side: GMX saves 0 and charges nothing
    snapshot = venue.raw_position(alice, "ETH").funding_index
    saved, changes = 0, []
    # (seconds to wait, price, what happens at the accrual): skew 12/4 (f = 0.5) increases for
    # two accruals; carol's 7.8 short brings f under 2%, so the factor decreases, partly, then to
    # 1 unit; her 12 more turn the skew short: the factor increases the other way, to -MAX.
    steps = [(3_600, 3_000, None),
             (7_200, 3_000, lambda: carol.open("ETH", size="-7.8", leverage=10, mode="cross")),
             (5_400, 3_000, None), (86_400, 3_000, None),
             (1_800, 3_150, lambda: carol.open("ETH", size=-12, leverage=10, mode="cross")),
             (3_600, 3_150, None), (200_000, 3_100, None),
             (900, 3_100, lambda: alice.close("ETH"))]
    for wait, price, action in steps:
        before = market(venue)
        venue.advance_time(wait)
        venue.set_price("ETH", price)
        receipt = action() if action else venue.keeper("k").update_funding("ETH")
        closed = receipt.events_named("PositionDecreased")
        after = market(venue)
        elapsed = after["lastUpdate"] - before["lastUpdate"]
        applied, saved_next, change = gmx_next(saved, before["longEntry"], before["shortEntry"], elapsed)
        changes.append(change)
        per_second = tdiv(applied, 10**12)
        payer_delta = ceil_div(price * WAD * elapsed * abs(per_second), WAD)
        payer, receiver = (before["longSize"], before["shortSize"])[:: 1 if per_second > 0 else -1]
        receiver_delta = payer_delta * payer // receiver
        long_delta, short_delta = ((payer_delta, -receiver_delta) if per_second > 0
                                   else (-receiver_delta, payer_delta))
        assert after["longFunding"] - before["longFunding"] == long_delta
        assert after["shortFunding"] - before["shortFunding"] == short_delta
        assert word(venue) == saved_next
        saved = saved_next
    # The branches the book went through, and the bounds it reached.
    assert changes == ["increase", "increase", "decrease", "decrease", "decrease", "increase",
                       "increase", "increase"]
    assert saved == -MAX
    # Alice's funding, settled as she closes (charged as the velocity test works it out).
    delta = market(venue)["longFunding"] - snapshot
    owed = ceil_div(12 * WAD * delta, WAD) if delta >= 0 else -(12 * WAD * -delta // WAD)
    tokens = ceil_div(owed, venue.scale) if owed >= 0 else -(-owed // venue.scale)
    assert closed[0].args["fundingPaid"] == tokens
    assert tokens < 0  # the skew turned short and stayed: longs were paid on balance


def deploy(venue, stable: int, decrease_at: int):
    params = (INCREASE, DECREASE, stable, decrease_at, MIN, MAX, WAD)
    return venue.chain.deploy("GmxAdaptiveRates", *params, sender=venue.admin), params


def ask(module, *args) -> tuple[int, int]:
    return tuple(module.call("nextFundingFactorPerSecond", *args))


def test_the_thresholds_decrease_floor_and_bounds_at_the_boundary(venue):
    long_oi, short_oi = 300 * WAD, 100 * WAD  # f = 0.5 exactly
    half = FLOAT // 2
    assert venue.gmx.call("openInterestFactor", long_oi, short_oi) == half == factor(long_oi, short_oi)
    saved = 10**21  # above MIN
    # f == thresholdForStableFunding: no increase; == thresholdForDecreaseFunding: no decrease.
    at, params = deploy(venue, half, half)
    assert ask(at, saved, long_oi, short_oi, 60) == (saved, saved) == gmx_next(saved, long_oi, short_oi, 60, params)[:2]
    above, params = deploy(venue, half - 1, half)  # one unit under f: increase
    grown = saved + half * INCREASE // FLOAT * 60
    assert ask(above, saved, long_oi, short_oi, 60) == (grown, grown) == gmx_next(saved, long_oi, short_oi, 60, params)[:2]
    below, params = deploy(venue, half, half + 1)  # one unit over f: decrease
    shrunk = saved - DECREASE * 60
    assert ask(below, saved, long_oi, short_oi, 60) == (shrunk, shrunk) == gmx_next(saved, long_oi, short_oi, 60, params)[:2]
    # The decrease bottoms at 1 unit of the sign when |saved| <= decrease x elapsed (not 0),
    # and the interval is charged at MIN then. f = 0 (under $1 of difference): decrease.
    skewless = (100 * WAD + WAD - 1, 100 * WAD)
    assert factor(*skewless) == 0 and factor(100 * WAD + WAD, 100 * WAD) > 0
    gmx = venue.gmx
    assert ask(gmx, DECREASE * 10, *skewless, 10) == (MIN, 1)
    assert ask(gmx, DECREASE * 10 + 2, *skewless, 10) == (MIN, 2)
    assert ask(gmx, -DECREASE * 10, *skewless[::-1], 10) == (-MIN, -1)
    # Increase to exactly MAX stays; one unit beyond is clamped; a word of 0 is charged +MIN.
    step = half * INCREASE // FLOAT
    assert ask(gmx, MAX - step, long_oi, short_oi, 1) == (MAX, MAX)
    assert ask(gmx, MAX - step + 1, long_oi, short_oi, 1) == (MAX, MAX)
    assert ask(gmx, MAX - step - 1, long_oi, short_oi, 1) == (MAX - 1, MAX - 1)
    assert ask(gmx, 0, 100 * WAD, 100 * WAD, 50) == (MIN, 0)
    # A balanced book is no skew with the word's sign, whichever its sign: f = 0 increases it
    # by 0 (the word kept), where a decrease would take DECREASE x 50 off.
    for saved in (10**21, -10**21):
        assert ask(gmx, saved, 100 * WAD, 100 * WAD, 50) == (saved, saved) == gmx_next(saved, 100 * WAD, 100 * WAD, 50)[:2]
    # Either side empty: 0 and 0 (GMX returns before the factor and saves 0).
    assert ask(gmx, MAX, long_oi, 0, 50) == (0, 0)
    # The exponent, as GMX's applyExponentFactor: prb-math's pow of the WAD difference.
    curved = venue.chain.deploy("GmxAdaptiveRates", *PARAMS[:6], 3 * WAD // 2, sender=venue.admin)
    assert curved.call("openInterestFactor", long_oi, short_oi) == factor(long_oi, short_oi, 3 * WAD // 2)


def test_a_stable_threshold_at_the_books_factor_holds_the_word_on_chain(venue):
    alice = funded(venue, "alice", 100_000, deposit=100_000)
    bob = funded(venue, "bob", 100_000, deposit=100_000)
    alice.open("ETH", size=12, leverage=10, mode="cross")
    bob.open("ETH", size=-4, leverage=10, mode="cross")
    state = market(venue)
    f = factor(state["longEntry"], state["shortEntry"])
    assert f == FLOAT // 2  # 36,000 against 12,000 USD
    module, params = deploy(venue, f, 0)
    venue.set_market_module("ETH", "rates", module)
    words = []
    for wait in (600, 900, 1_200):
        before = market(venue)["lastUpdate"]
        venue.advance_time(wait)
        venue.keeper("k").update_funding("ETH")
        elapsed = market(venue)["lastUpdate"] - before
        words.append((word(venue), elapsed))
    # From 0 the skew is against the word: increase; then f == stable: no change.
    (first, e1), (second, _), (third, _) = words
    assert first == f * INCREASE // FLOAT * e1 > 0
    assert second == third == first


def test_the_reference_models_gmx_mirror_matches_the_chain(venue):
    mirror = GmxAdaptiveRates(*PARAMS)
    alice = funded(venue, "alice", 100_000, deposit=100_000)
    bob = funded(venue, "bob", 100_000, deposit=100_000)
    alice.open("ETH", size=3, leverage=10, mode="cross")
    bob.open("ETH", size=-30, leverage=10, mode="cross")
    for wait, price in ((600, 3_000), (40_000, 2_900), (200_000, 2_950), (13, 3_010)):
        venue.advance_time(wait)
        venue.set_price("ETH", price)
        model = load_state(venue, {"rates": mirror}).model
        venue.keeper("k").update_funding("ETH")
        model.now = market(venue)["lastUpdate"]
        model.update_funding(ETH_ID)
        assert model.states[ETH_ID] == type(model.states[ETH_ID])(*venue.clearinghouse.market_state(ETH_ID))
        mem = model.memory[ETH_ID]
        assert (mem.mark_price, mem.mark_window, mem.stateful_rates, mem.rates_state) == \
            tuple(venue.clearinghouse.market_memory(ETH_ID))
    assert word(venue) == -MAX  # short-heavy long enough: the bound


def test_the_constructor_refuses_no_increase_or_a_max_beyond_the_core():
    with pytest.raises(ValueError):
        GmxAdaptiveRates(0, *PARAMS[1:])
    with pytest.raises(ValueError):
        GmxAdaptiveRates(*PARAMS[:5], 10**25 + 1, WAD)


def test_the_contracts_constructors_refuse_the_same(venue):
    with pytest.raises(errors.Reverted):
        venue.chain.deploy("GmxAdaptiveRates", 0, *PARAMS[1:], sender=venue.admin)
    with pytest.raises(errors.Reverted):
        venue.chain.deploy("GmxAdaptiveRates", *PARAMS[:5], 10**25 + 1, WAD, sender=venue.admin)
    with pytest.raises(errors.Reverted):
        venue.chain.deploy("HyperliquidPremiumRates", 10**14, 5 * 10**14, 4 * 10**16, 0,
                           sender=venue.admin)
    assert venue.chain.deploy("GmxAdaptiveRates", *PARAMS[:5], 10**25, WAD, sender=venue.admin)
