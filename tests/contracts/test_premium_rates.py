"""Issue 29 §3: funding with memory. ``HyperliquidPremiumRates`` (Hyperliquid's premium +
clamped interest, paid hourly at 1/8 of the 8-hour rate) on a market, checked to the wei against
numbers worked in this file from the cited formula, its clamps probed at the boundary, and its
Python mirror (``protocol.margin.rates.HyperliquidPremiumRates``) in the reference model against
the chain. Each test runs on each backend of ``--backend``.

The formula (Hyperliquid docs, "Funding"; WAD integers, ``/`` truncating toward zero), with the
market's mark price (the oracle's EMA) in place of the order book's impact prices:

    mark'    = (mark x 150 + price x elapsed) / (150 + elapsed)          (the core's EMA)
    premium  = (mark' - price) x 1e18 / price
    P'       = (P x 3600 + premium x elapsed) / (3600 + elapsed)         (the kept word)
    F (8 h)  = P' + clamp(0.01% - P', -0.05%, +0.05%)
    hourly   = clamp(F / 8, -4%, +4%);  rate = clamp(hourly / 3600, +-market maxFundingRate)

and the core moves the payers' index by ceil(price x elapsed x |rate| / 1e18), the receivers'
by that x payers' size / receivers' size (down).
"""

from __future__ import annotations

import pytest
from venue_fixtures import BTC, ETH, ceil_div, funded, market_state, tdiv

from protocol import Venue
from protocol.margin.rates import HyperliquidPremiumRates
from protocol.testing.invariants import load_state

WAD = 10**18
ETH_ID = 0
INTEREST, CLAMP, HOURLY_CAP, WINDOW = 10**14, 5 * 10**14, 4 * 10**16, 3_600
PARAMS = (INTEREST, CLAMP, HOURLY_CAP, WINDOW)
MARK_WINDOW = 150  # the core's default for a stateful module




def clamp(x: int, bound: int) -> int:
    return max(-bound, min(bound, x))


def rate_8h(p: int, interest: int = INTEREST, bound: int = CLAMP) -> int:
    return p + clamp(interest - p, bound)


def per_second(p: int, max_funding_rate: int, hourly_cap: int = HOURLY_CAP) -> int:
    return clamp(tdiv(clamp(tdiv(rate_8h(p), 8), hourly_cap), 3_600), max_funding_rate)


@pytest.fixture(scope="module")
def base(chain_backend):
    venue = Venue.launch(backend=chain_backend, markets=[ETH, BTC], insurance=1_000)
    venue.premium = venue.set_market_module("ETH", "rates", "HyperliquidPremiumRates", *PARAMS)
    return venue


@pytest.fixture()
def venue(base):
    with base.snapshot():
        yield base


def market(venue) -> dict:
    return market_state(venue, ETH_ID)


def memory(venue) -> tuple[int, int, bool, int]:
    return tuple(venue.clearinghouse.market_memory(ETH_ID))


def test_premium_funding_matches_the_hyperliquid_formula_to_the_wei(venue):
    cap = venue.clearinghouse.market_config(ETH_ID)[2]  # the market's maxFundingRate, per second
    alice = funded(venue, "alice", 100_000, deposit=100_000)
    bob = funded(venue, "bob", 100_000, deposit=100_000)
    carol = funded(venue, "carol", 100_000, deposit=100_000)
    alice.open("ETH", size=12, leverage=10, mode="cross")
    bob.open("ETH", size=-4, leverage=10, mode="cross")
    mark, index = memory(venue)[0], memory(venue)[3]
    snapshot = venue.raw_position(alice, "ETH").funding_index
    kinds, rates = [], []
    # (seconds, price, action): at rest the interest leg alone; a small rise (the lagging mark:
    # a negative premium), a big one (the market's cap, shorts paying), the index decaying over
    # two hours, falls (a positive premium, the cap with longs paying), a skew change.
    steps = [(3_600, 3_000, None), (60, 3_003, None), (30, 3_003, None),
             (120, 3_300, lambda: carol.open("ETH", size=-12, leverage=10, mode="cross")),
             (7_200, 3_300, None), (40, 3_250, None), (600, 2_990, None),
             (5, 2_991, lambda: alice.close("ETH"))]
    for wait, price, action in steps:
        before = market(venue)
        venue.advance_time(wait)
        venue.set_price("ETH", price)
        receipt = action() if action else venue.keeper("k").update_funding("ETH")
        closed = receipt.events_named("PositionDecreased")
        after = market(venue)
        elapsed = after["lastUpdate"] - before["lastUpdate"]
        p = price * WAD
        mark = (mark * MARK_WINDOW + p * elapsed) // (MARK_WINDOW + elapsed)
        premium = tdiv((mark - p) * WAD, p)
        index = tdiv(index * WINDOW + premium * elapsed, WINDOW + elapsed)
        rate = per_second(index, cap)
        rates.append(rate)
        kinds.append("capped" if abs(rate) == cap else "interest" if premium == 0 else
                     "premium+" if premium > 0 else "premium-")
        assert memory(venue)[0] == mark
        assert memory(venue)[3] == index
        payer_delta = ceil_div(p * elapsed * abs(rate), WAD)
        payer, receiver = (before["longSize"], before["shortSize"])[:: 1 if rate > 0 else -1]
        receiver_delta = payer_delta * payer // receiver
        long_delta, short_delta = ((payer_delta, -receiver_delta) if rate > 0
                                   else (-receiver_delta, payer_delta))
        assert after["longFunding"] - before["longFunding"] == long_delta
        assert after["shortFunding"] - before["shortFunding"] == short_delta
    # The big rise caps the rate with shorts paying, the fall with longs paying.
    assert kinds == ["interest", "premium-", "premium-", "capped", "premium-", "premium+",
                     "capped", "capped"]
    assert -cap in rates and cap in rates
    # At rest: 0.01% per 8 hours, 1/8 an hour, per second: 3,472,222,222 WAD.
    assert per_second(0, cap) == 10**14 // 8 // 3_600 == 3_472_222_222
    delta = market(venue)["longFunding"] - snapshot
    owed = ceil_div(12 * WAD * delta, WAD) if delta >= 0 else -(12 * WAD * -delta // WAD)
    tokens = ceil_div(owed, venue.scale) if owed >= 0 else -(-owed // venue.scale)
    assert closed[0].args["fundingPaid"] == tokens


def test_the_clamps_at_the_boundary(venue):
    module = venue.premium
    # The interest adjustment: interest - P == +-0.05% exactly is not clamped; one more is.
    for p in (INTEREST - CLAMP, INTEREST - CLAMP - 1, INTEREST + CLAMP, INTEREST + CLAMP + 1, 0):
        assert module.call("fundingRate8h", p) == rate_8h(p)
    assert rate_8h(INTEREST - CLAMP) == INTEREST == rate_8h(INTEREST - CLAMP - 1) + 1
    assert rate_8h(INTEREST + CLAMP + 1) == INTEREST + 1
    # The hourly cap, on a module whose cap is under the core's bound (Hyperliquid's 4% an hour
    # is above it): F / 8 == cap exactly passes, one more unit of F / 8 is capped.
    small_cap = 36 * 10**14  # 0.36% an hour: 1e12 WAD per second
    capped = venue.chain.deploy("HyperliquidPremiumRates", INTEREST, CLAMP, small_cap, WINDOW,
                                sender=venue.admin)
    big = 10**13  # the core's MAX_FUNDING_RATE as the market's bound
    for p in (8 * small_cap + CLAMP, 8 * small_cap + CLAMP + 8, -8 * small_cap + CLAMP - 8):
        expected = clamp(tdiv(clamp(tdiv(rate_8h(p), 8), small_cap), 3_600), big)
        assert capped.call("fundingRatePerSecond", p, big) == expected
    assert capped.call("fundingRatePerSecond", 8 * small_cap + CLAMP, big) == small_cap // 3_600
    assert capped.call("fundingRatePerSecond", 8 * small_cap + CLAMP + 8, big) == small_cap // 3_600
    # The market's bound: a rate one unit above it is clamped, at it passes.
    p = 8 * 3_600 * 10**10 + CLAMP  # F / 8 / 3600 == 1e10 exactly
    assert module.call("fundingRatePerSecond", p, 10**10) == 10**10
    assert module.call("fundingRatePerSecond", p, 10**10 - 1) == 10**10 - 1
    # The premium and its index, truncated toward zero.
    assert module.call("premium", 2_999 * WAD, 3_000 * WAD) == tdiv(-WAD * WAD, 3_000 * WAD)
    assert module.call("premiumIndex", -7, -10**15, 1) == tdiv(-7 * WINDOW - 10**15, WINDOW + 1)
    assert module.call("premiumIndex", 5, 10**15, 0) == 5


def test_the_reference_models_premium_mirror_matches_the_chain(venue):
    mirror = HyperliquidPremiumRates(*PARAMS)
    alice = funded(venue, "alice", 100_000, deposit=100_000)
    bob = funded(venue, "bob", 100_000, deposit=100_000)
    alice.open("ETH", size=3, leverage=10, mode="cross")
    bob.open("ETH", size=-30, leverage=10, mode="cross")
    for wait, price in ((600, 3_000), (40, 3_030), (900, 2_950), (13, 3_010), (5_000, 3_010)):
        venue.advance_time(wait)
        venue.set_price("ETH", price)
        model = load_state(venue, {"rates": mirror}).model
        venue.keeper("k").update_funding("ETH")
        model.now = market(venue)["lastUpdate"]
        model.update_funding(ETH_ID)
        assert model.states[ETH_ID] == type(model.states[ETH_ID])(*venue.clearinghouse.market_state(ETH_ID))
        mem = model.memory[ETH_ID]
        assert (mem.mark_price, mem.mark_window, mem.stateful_rates, mem.rates_state) == memory(venue)
    assert memory(venue)[3] != 0


def test_the_constructor_refuses_a_zero_window():
    with pytest.raises(ValueError):
        HyperliquidPremiumRates(INTEREST, CLAMP, HOURLY_CAP, 0)
