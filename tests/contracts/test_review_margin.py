"""Issue 23, section 1, findings 2, 3 and 11: the margin rules hold as SPEC §2, §4 and §5 write
them, on every EVM (pyevm, revm, anvil).

- Finding 2: a change of tiers, mmf or max leverage that raises the maintenance margin a market
  charges, or lowers the leverage it allows, at any notional waits for the risk-change delay;
  the comparison is on the maintenance each rule actually charges (SPEC §2).
- Finding 3: the initial margin of a tiered market is at least the tier's maintenance, so no
  withdraw, removeMargin, addMargin, updateLeverage, open, increase or order execution leaves an
  account or position below maintenance (SPEC §4, §5).
- Finding 11: an open or increase must leave its maintenance plus ``openBufferBps`` of its
  notional after the fee, so the next block's accrual cannot make it liquidatable (SPEC §5).

Every amount below is exact: the markets charge no funding or borrowing unless the test is about
them, so equity does not move between two transactions.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_utils import keccak

from protocol import MarketConfig, Venue, errors
from protocol.chain.abi import load_artifact
from protocol.constants import SECONDS_PER_DAY as DAY
from protocol.constants import WAD
from protocol.margin.requirements import MarginRule, build_tiers, raises_risk

NO_RATES = dict(funding_rate_per_hour=Decimal(0), max_funding_rate_per_hour=Decimal(0),
                borrow_rate_per_year=Decimal(0))

MARKETS = [
    MarketConfig(symbol="ETH", initial_price=Decimal(3000), **NO_RATES),
    # mmf below / above 1 / (2 x 50) = 1%, the maintenance of a tier (0, 50)
    MarketConfig(symbol="LOW", mmf=Decimal("0.005"), initial_price=Decimal(2960), **NO_RATES),
    MarketConfig(symbol="HIGH", mmf=Decimal("0.015"), tiers=((0, 50),), initial_price=Decimal(2975),
                 **NO_RATES),
    # from 100k of notional at most 2x: maintenance 25% x N - 24,000
    MarketConfig(symbol="TIER", tiers=((0, 50), (100_000, 2)), initial_price=Decimal(3200),
                 **NO_RATES),
    # the review's finding 11: 60x, a 1% fee, borrowing at 5% a year
    MarketConfig(symbol="L60", max_leverage=60, taker_fee_bps=100, initial_price=Decimal(3000),
                 funding_rate_per_hour=Decimal(0), max_funding_rate_per_hour=Decimal(0),
                 borrow_rate_per_year=Decimal("0.049999999994064")),  # the exact rate nearest 5%
    # mmf 9.99% at 10x: maintenance plus the buffer is above the initial margin
    MarketConfig(symbol="TIGHT", max_leverage=10, mmf=Decimal("0.0999"), initial_price=Decimal(3000),
                 **NO_RATES),
    MarketConfig(symbol="TIGHTB", max_leverage=10, mmf=Decimal("0.0999"), initial_price=Decimal(3000),
                 **NO_RATES),
    # the highest rates a market may charge: 3.6% an hour of funding, 315.36% a year borrowing
    MarketConfig(symbol="FAST", max_leverage=10, mmf=Decimal("0.0999"), initial_price=Decimal(3000),
                 funding_rate_per_hour=Decimal("0.036"),
                 max_funding_rate_per_hour=Decimal("0.036"), borrow_rate_per_year=Decimal("3.1536")),
]


@pytest.fixture(scope="module")
def base(chain_backend):
    return Venue.launch(backend=chain_backend, markets=MARKETS)


@pytest.fixture()
def venue(base):
    with base.snapshot():
        yield base


def trader(venue, name, deposit, wallet=None):
    t = venue.trader(name, usdc=wallet if wallet is not None else deposit)
    if deposit:
        t.deposit(deposit)
    return t


def mm(venue, who, market):
    """The position's maintenance margin as the chain charges it (WAD USD)."""
    return venue.clearinghouse.position_health(who.address, venue.market_id(market))[1]


def position_health(venue, who, market):
    return venue.clearinghouse.position_health(who.address, venue.market_id(market))


def account_health(venue, who):
    """(equity, maintenance, initial, transfer requirement), WAD USD."""
    return venue.clearinghouse.account_health(who.address)


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


# ---------------------------------------------------------------- finding 2: the delay
def test_adding_tiers_above_a_low_mmf_waits_for_the_delay(venue):
    """Review: tiers [(0, 50)] on a market with mmf 0.5% doubled every maintenance at once,
    MM 148 -> 296, past the delay."""
    alice = trader(venue, "alice", 10_000)
    alice.open("LOW", size=10, leverage=10, mode="isolated", margin=3_000)
    assert mm(venue, alice, "LOW") == 148 * WAD
    venue.set_risk_change_delay(DAY)
    receipt = venue.set_market_tiers("LOW", [(0, 50)])
    assert mm(venue, alice, "LOW") / WAD == 148, "the tiers applied at once"
    assert receipt.events_named("MarketChangeScheduled") and not receipt.events_named("MarketTiersSet")
    venue.advance_time(DAY)
    venue.set_price("LOW", 2960)
    assert venue.set_market_tiers("LOW", [(0, 50)]).events_named("MarketTiersSet")
    assert mm(venue, alice, "LOW") == 296 * WAD


def test_clearing_tiers_below_a_high_mmf_waits_for_the_delay(venue):
    """Review: clearing tiers [(0, 50)] from a market with mmf 1.5% raised maintenance at once,
    MM 297.5 -> 446 (446.25 exactly)."""
    alice = trader(venue, "alice", 10_000)
    alice.open("HIGH", size=10, leverage=10, mode="isolated", margin=3_000)
    assert mm(venue, alice, "HIGH") == Decimal("297.5") * WAD
    venue.set_risk_change_delay(DAY)
    receipt = venue.set_market_tiers("HIGH", [])
    assert Decimal(mm(venue, alice, "HIGH")) / WAD == Decimal("297.5"), "the tiers were cleared at once"
    assert receipt.events_named("MarketChangeScheduled") and not receipt.events_named("MarketTiersSet")
    venue.advance_time(DAY)
    venue.set_price("HIGH", 2975)
    assert venue.set_market_tiers("HIGH", []).events_named("MarketTiersSet")
    assert mm(venue, alice, "HIGH") == Decimal("446.25") * WAD


# ---------------------------------------------------------------- finding 3: tiers and margin
def _grown_short(venue, name, deposit, mode="cross", margin=0):
    """A 50x short of 25 TIER at 3,200 (80k, the 50x tier) whose notional grew to 200k at 8,000:
    maintenance 25% x 200k - 24,000 = 26,000, above N / 50 = 4,000 and 10% x N = 20,000."""
    t = trader(venue, name, deposit)
    t.open("TIER", size=-25, leverage=50, mode=mode, margin=margin)
    venue.set_price("TIER", 8_000)
    return t


def test_a_withdrawal_cannot_leave_a_tiered_cross_account_below_maintenance(venue):
    """Review: a withdrawal left a cross account at equity 20,970 against MM 26,000."""
    alice = _grown_short(venue, "alice", 200_000)
    equity, maintenance, initial, transfer = account_health(venue, alice)
    assert (equity, maintenance) == (79_960 * WAD, 26_000 * WAD)  # 200k - 40 fee - 120k loss
    with pytest.raises(errors.TransferRuleViolated) as refused:
        alice.withdraw(58_990)  # would leave 20,970
    assert refused.value.args == (20_970 * WAD, 26_000 * WAD)
    assert not venue.is_liquidatable(alice)
    # the exact boundary: equity down to maintenance, not one token unit more
    with pytest.raises(errors.TransferRuleViolated):
        alice.withdraw("53960.000001")
    alice.withdraw(53_960)
    assert account_health(venue, alice)[:2] == (26_000 * WAD, 26_000 * WAD)
    assert not venue.is_liquidatable(alice)


def test_remove_margin_cannot_leave_a_tiered_position_below_maintenance(venue):
    alice = _grown_short(venue, "alice", 150_000, mode="isolated", margin=150_000)
    assert position_health(venue, alice, "TIER") == (29_960 * WAD, 26_000 * WAD)
    with pytest.raises(errors.TransferRuleViolated) as refused:
        alice.remove_margin("TIER", 8_990)  # would leave 20,970, above 10% x N
    assert refused.value.args == (20_970 * WAD, 26_000 * WAD)
    with pytest.raises(errors.TransferRuleViolated):
        alice.remove_margin("TIER", "3960.000001")
    alice.remove_margin("TIER", 3_960)
    assert position_health(venue, alice, "TIER") == (26_000 * WAD, 26_000 * WAD)
    assert not venue.is_liquidatable(alice, "TIER")


def test_a_liquidatable_cross_account_cannot_open(venue):
    alice = _grown_short(venue, "alice", 141_010)  # equity 20,970 at 8,000
    assert venue.is_liquidatable(alice)
    with pytest.raises(errors.InsufficientFreeCollateral):
        alice.open("ETH", size="0.1", leverage=10, mode="cross")
    with pytest.raises(errors.TransferRuleViolated):  # nor fund an isolated one
        alice.open("ETH", size="0.1", leverage=10, mode="isolated", margin=100)


def test_add_margin_from_a_tiered_cross_account_stops_at_maintenance(venue):
    alice = trader(venue, "alice", 146_940)
    alice.open("TIER", size=-25, leverage=50, mode="cross")
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    venue.set_price("TIER", 8_000)
    assert account_health(venue, alice)[:2] == (26_500 * WAD, 26_000 * WAD)
    with pytest.raises(errors.TransferRuleViolated) as refused:
        alice.add_margin("ETH", "500.000001")
    assert refused.value.args == (25_999_999_999 * 10**12, 26_000 * WAD)
    alice.add_margin("ETH", 500)
    assert account_health(venue, alice)[:2] == (26_000 * WAD, 26_000 * WAD)


def test_update_leverage_counts_the_tiered_maintenance_of_the_other_cross_positions(venue):
    # TIER's initial margin is max(N / 50, 26,000) = 26,000; ETH's at 5x 600: 26,600 in all.
    # 146,641.5 - 41.5 of fees - 120,000 of loss = 26,600 exactly.
    for deposit, ok in (("146641.499999", False), ("146641.5", True)):
        with venue.snapshot():
            alice = trader(venue, "alice", Decimal(deposit))
            alice.open("TIER", size=-25, leverage=50, mode="cross")
            alice.open("ETH", size=1, leverage=10, mode="cross")
            venue.set_price("TIER", 8_000)
            if ok:
                alice.set_leverage("ETH", 5)
                assert account_health(venue, alice)[0] == account_health(venue, alice)[2] == 26_600 * WAD
            else:
                with pytest.raises(errors.InsufficientFreeCollateral) as refused:
                    alice.set_leverage("ETH", 5)
                assert refused.value.args[1] == 26_600 * WAD


def test_update_leverage_of_a_grown_isolated_position_at_the_boundary(venue):
    # at 8,000 the tier allows 2x: initial margin 100,000 = 220,040 - 40 - 120,000
    for margin, ok in (("220039.999999", False), ("220040", True)):
        with venue.snapshot():
            alice = _grown_short(venue, "alice", Decimal(margin), mode="isolated", margin=Decimal(margin))
            with pytest.raises(errors.InvalidLeverage):
                alice.set_leverage("TIER", 3)
            if ok:
                alice.set_leverage("TIER", 2)
                assert position_health(venue, alice, "TIER")[0] == 100_000 * WAD
            else:
                with pytest.raises(errors.MarginBelowInitial):
                    alice.set_leverage("TIER", 2)


# ---------------------------------------------------------------- finding 11: the open buffer
def test_an_open_at_the_smallest_accepted_margin_survives_the_next_second(venue):
    """Review: at 60x with a 1% fee the smallest margin accepted, 55.000001, left the position
    0.000001 above maintenance; one second of borrowing at 5% a year made it liquidatable and a
    keeper took the 25 USD left."""
    alice = trader(venue, "alice", 1_000)
    for margin in ("55.000001", "58.000001"):
        try:
            alice.open("L60", size=1, leverage=60, mode="isolated", margin=margin)
            break
        except errors.MarginBelowMaintenance:
            continue
    opened = venue.position(alice, "L60")
    venue.advance_time(1)
    venue.set_price("L60", 3000)
    assert not venue.is_liquidatable(alice, "L60"), (opened.margin, venue.position(alice, "L60"))
    assert opened.margin == Decimal("28.000001")


def _scheduled(receipt) -> bool:
    """Whether a market change was scheduled (True) or applied at once (False)."""
    scheduled = bool(receipt.events_named("MarketChangeScheduled"))
    applied = bool(receipt.events_named("MarketTiersSet") or receipt.events_named("MarketConfigured"))
    assert scheduled != applied, receipt
    return scheduled


def _rule(venue, market) -> MarginRule:
    """The market's margin rule as the chain stores it, for the reference model."""
    ch, mid = venue.clearinghouse, venue.market_id(market)
    raw = ch.market_config(mid)
    count = ch.market_tier(mid, 0)[3]
    tiers = [tuple(ch.market_tier(mid, i)[:3]) for i in range(count)]
    module = ch.market_modules(mid)[1] != "0x" + "0" * 40
    return MarginRule(raw[0], raw[4], tiers, module)


def _usd(wad: int) -> Decimal:
    return Decimal(wad) / WAD


#: (market, change, scheduled?): each change at its exact boundary, and one wei on the other
#: side. A change is a tier list for setMarketTiers or a dict of MarketConfig fields.
DELAY_CASES = [
    # mmf <-> tiers: equal maintenance (mmf 1% = 1 / (2 x 50)) applies at once ...
    ("ETH", [(0, 50)], False),
    # ... one wei of mmf below it, the tier charges more from the first dollar
    ("ETH", {"mmf": _usd(10**16 - 1)}, "then", [(0, 50)], True),
    ("ETH", {"mmf": _usd(10**16 + 1)}, "then", [(0, 50)], False),
    # clearing tiers: back to mmf, above (waits) or at (at once) the tier's 1%
    ("HIGH", [], True),
    ("HIGH", {"mmf": _usd(10**16)}, "then", [], False),
    ("HIGH", {"mmf": _usd(10**16 + 1)}, "then", [], True),
    # with tiers and the stock rule mmf charges nothing: raising it applies at once
    ("HIGH", {"mmf": Decimal("0.019")}, False),
    # tiers -> tiers: a bound one wei earlier waits, one wei later applies at once
    ("TIER", [(0, 50), (Decimal(100_000) - Decimal("1e-18"), 2)], True),
    ("TIER", [(0, 50), (Decimal(100_000) + Decimal("1e-18"), 2)], False),
    ("TIER", [(0, 50), (100_000, 2)], False),  # the same tiers
    # maintenance rises only past the last bound (1M): waits
    ("TIER", [(0, 50), (100_000, 2), (1_000_000, 1)], True),
    ("TIER", [(0, 50)], False),  # fewer tiers: less maintenance, more leverage
    # mmf and max leverage without tiers
    ("LOW", {"mmf": _usd(5 * 10**15 + 1)}, True),
    ("LOW", {"mmf": _usd(5 * 10**15 - 1)}, False),
    ("LOW", {"max_leverage": 49}, True),
    ("LOW", {"max_leverage": 51}, False),
    ("LOW", {"mmf": Decimal("0.005")}, False),  # unchanged
]


def _apply(venue, market, change):
    if isinstance(change, dict):
        return venue.change_market(market, **change)
    return venue.set_market_tiers(market, change)


@pytest.mark.parametrize("case", DELAY_CASES, ids=lambda c: f"{c[0]}-{c[1:-1]}")
def test_a_change_waits_iff_it_raises_maintenance_or_lowers_leverage(venue, case):
    market, *steps, expected = case
    if len(steps) == 3:  # a setup applied at once, then the change under test
        _apply(venue, market, steps[0])
        steps = steps[2:]
    change = steps[0]
    current = _rule(venue, market)
    venue.set_risk_change_delay(DAY)
    receipt = _apply(venue, market, change)
    assert _scheduled(receipt) is expected
    # the reference model takes the same decision from the same rules
    if isinstance(change, dict):
        config = venue.markets[market].__class__(**{**venue.markets[market].__dict__, **change})
        new = MarginRule(config.mmf_wad(), config.max_leverage, current.tiers, current.module)
    else:
        bounds, leverages = [int(Decimal(b) * WAD) for b, _ in change], [lev for _, lev in change]
        new = MarginRule(current.mmf, current.max_leverage, build_tiers(bounds, leverages),
                         current.module)
    assert raises_risk(current, new) is expected
    if not expected:
        assert _rule(venue, market).tiers == new.tiers and _rule(venue, market).mmf == new.mmf


def test_with_a_margin_module_a_higher_mmf_waits(venue):
    """A margin module may read mmf, so with one raising mmf counts as risk-increasing even on
    a market with tiers; tiers then only cap leverage."""
    admin, ch = venue.admin, venue.clearinghouse
    module = venue.chain.deploy(load_artifact("StockMargin"), sender=admin)
    ch.set_market_module(venue.market_id("HIGH"), 1, module.address,
                         sender=admin).raise_for_status()
    venue.set_risk_change_delay(DAY)
    assert _scheduled(venue.change_market("HIGH", mmf=Decimal("0.019")))
    assert not _scheduled(venue.change_market("HIGH", mmf=Decimal("0.014")))
    # clearing tiers only raises the leverage allowed: at once, whatever mmf is
    assert not _scheduled(venue.set_market_tiers("HIGH", []))
    assert raises_risk(MarginRule(1, 50, [], True), MarginRule(2, 50, [], True))
    assert not raises_risk(MarginRule(2, 50, build_tiers([0], [50]), True), MarginRule(2, 50, [], True))


def test_maintenance_only_past_the_last_bound_is_compared_by_slope():
    """The reference model's comparison on rules with no bound but 0: only the slope differs."""
    low, tier = MarginRule(5 * 10**15, 50), MarginRule(5 * 10**15, 50, build_tiers([0], [50]))
    assert raises_risk(low, tier) and not raises_risk(tier, low)
    assert tier.maintenance(29_600 * WAD) == 296 * WAD and low.maintenance(29_600 * WAD) == 148 * WAD


# ---------------------------------------------------------------- finding 11 and §5 at the boundary
def _fails_with(receipt, name: str, *types: str) -> None:
    failed = receipt.events_named("OrderFailed")
    assert len(failed) == 1 and not receipt.events_named("OrderExecuted"), receipt
    assert failed[0]["reason"][:4] == selector(f"{name}({','.join(types)})")


def test_isolated_open_needs_maintenance_plus_the_buffer(venue):
    """60x, 1% fee: MM 25.000000000000002 (mmf rounds up) + 10 bps of 3,000 = 28.000000000000002
    after the 30 fee, so 58.000001 is the least margin, and 58 is refused."""
    alice = trader(venue, "alice", 1_000)
    with pytest.raises(errors.MarginBelowMaintenance) as refused:
        alice.open("L60", size=1, leverage=60, mode="isolated", margin=58)
    assert refused.value.args == (28 * WAD, 28 * WAD + 2_000)
    alice.open("L60", size=1, leverage=60, mode="isolated", margin="58.000001")
    assert venue.raw_position(alice, "L60").margin == 28_000_001


def test_isolated_increase_needs_maintenance_plus_the_buffer(venue):
    """TIGHT (10x, mmf 9.99%): 2 at 3,000 keep 599.4 + 6 = 605.4 after fees of 1.5 each."""
    for extra, ok in (("298.399999", False), ("298.4", True)):
        with venue.snapshot():
            alice = trader(venue, "alice", 1_000)
            alice.open("TIGHT", size=1, leverage=10, mode="isolated", margin=310)
            if ok:
                alice.open("TIGHT", size=1, leverage=10, mode="isolated", margin=Decimal(extra))
                assert position_health(venue, alice, "TIGHT")[0] == Decimal("605.4") * WAD
            else:
                with pytest.raises(errors.MarginBelowMaintenance) as refused:
                    alice.open("TIGHT", size=1, leverage=10, mode="isolated", margin=Decimal(extra))
                assert refused.value.args == (605_399_999 * 10**12, Decimal("605.4") * WAD)


def test_isolated_open_at_the_buffer_in_a_market_where_it_binds(venue):
    """TIGHT: the initial margin (300) is below maintenance + buffer + fee (299.7 + 3 + 1.5)."""
    alice = trader(venue, "alice", 1_000)
    with pytest.raises(errors.MarginBelowMaintenance):
        alice.open("TIGHT", size=1, leverage=10, mode="isolated", margin="304.199999")
    alice.open("TIGHT", size=1, leverage=10, mode="isolated", margin="304.2")
    assert position_health(venue, alice, "TIGHT") == (Decimal("302.7") * WAD, Decimal("299.7") * WAD)


def test_cross_open_and_increase_need_the_accounts_maintenance_plus_the_buffer(venue):
    for deposit, ok in (("304.199999", False), ("304.2", True)):
        with venue.snapshot():
            alice = trader(venue, "alice", Decimal(deposit))
            if ok:
                alice.open("TIGHT", size=1, leverage=10, mode="cross")
                assert account_health(venue, alice)[:2] == (Decimal("302.7") * WAD, Decimal("299.7") * WAD)
            else:
                with pytest.raises(errors.MarginBelowMaintenance) as refused:
                    alice.open("TIGHT", size=1, leverage=10, mode="cross")
                assert refused.value.args == (302_699_999 * 10**12, Decimal("302.7") * WAD)
    # an increase: the account's maintenance (2 x 299.7) plus the buffer of the whole position (6)
    for deposit, ok in (("608.399999", False), ("608.4", True)):
        with venue.snapshot():
            alice = trader(venue, "alice", Decimal(deposit))
            alice.open("TIGHT", size=1, leverage=10, mode="cross")
            if ok:
                alice.open("TIGHT", size=1, leverage=10, mode="cross")
                assert account_health(venue, alice)[0] == Decimal("605.4") * WAD
            else:
                with pytest.raises(errors.MarginBelowMaintenance):
                    alice.open("TIGHT", size=1, leverage=10, mode="cross")


def test_cross_buffer_counts_the_maintenance_of_every_cross_position(venue):
    """TIGHT's maintenance (299.7) counts too, but only the traded TIGHTB position's buffer:
    299.7 + 299.7 + 3 = 602.4 after both fees (1.5 each); the initial margin is 600."""
    for deposit, ok in (("605.399999", False), ("605.4", True)):
        with venue.snapshot():
            alice = trader(venue, "alice", Decimal(deposit))
            alice.open("TIGHT", size=1, leverage=10, mode="cross")
            if ok:
                alice.open("TIGHTB", size=1, leverage=10, mode="cross")
                assert account_health(venue, alice)[:2] == (Decimal("602.4") * WAD, Decimal("599.4") * WAD)
            else:
                with pytest.raises(errors.MarginBelowMaintenance) as refused:
                    alice.open("TIGHTB", size=1, leverage=10, mode="cross")
                assert refused.value.args == (602_399_999 * 10**12, Decimal("602.4") * WAD)


def test_order_execution_keeps_maintenance_plus_the_buffer(venue):
    keeper = venue.keeper("k")
    for mode in ("isolated", "cross"):
        for collateral, ok in (("304.199999", False), ("304.2", True)):
            with venue.snapshot():
                alice = trader(venue, "alice", 0, wallet=1_000)
                order = alice.create_order("TIGHT", "market_increase", 1, leverage=10, mode=mode,
                                           collateral=Decimal(collateral))
                venue.advance_time(1)
                venue.set_price("TIGHT", 3000)
                receipt = keeper.execute_order(order.order_id)
                if ok:
                    assert receipt.events_named("OrderExecuted"), receipt
                    assert venue.position(alice, "TIGHT").size == 1
                else:
                    _fails_with(receipt, "MarginBelowMaintenance", "int256", "uint256")


def test_the_default_buffer_lasts_99_seconds_at_the_highest_rates(venue):
    """SPEC §5: at the highest rates a market may charge (funding 1e13 and borrowing 1e11 WAD
    per second, 1.01e-5 of the notional a second) 10 bps of buffer last 99 seconds, eight blocks
    of 12 s: an open at the smallest margin is not liquidatable after 99 s, and is after 100."""
    admin, ch = venue.admin, venue.clearinghouse
    module = venue.chain.deploy(load_artifact("MaxRates"), sender=admin)
    ch.set_market_module(venue.market_id("FAST"), 0, module.address,
                         sender=admin).raise_for_status()
    config = venue.markets["FAST"]
    assert config.encode(6)[1:4] == (10**13, 10**13, 10**11) and config.open_buffer_bps == 10
    bob = trader(venue, "bob", 10_000)
    bob.open("FAST", size=-1, leverage=5, mode="isolated", margin=1_000)  # receives the funding
    alice = trader(venue, "alice", 10_000)
    # 10 at 3,000 (10x, mmf 9.99%): MM 2,997 + buffer 30 + fee 15: 3,042 is the least margin
    with pytest.raises(errors.MarginBelowMaintenance):
        alice.open("FAST", size=10, leverage=10, mode="isolated", margin="3041.999999")
    opened = alice.open("FAST", size=10, leverage=10, mode="isolated", margin=3_042)
    assert venue.raw_position(alice, "FAST").margin == 3_027 * 10**6  # MM + buffer, exactly
    for elapsed, liquidatable in ((99, False), (100, True)):  # views run at the next block's time
        venue.advance_time(elapsed - (venue.chain.timestamp - opened.timestamp))
        assert venue.chain.timestamp - opened.timestamp == elapsed
        assert venue.is_liquidatable(alice, "FAST") is liquidatable, (elapsed, position_health(venue, alice, "FAST"))


def test_the_buffer_is_stored_and_read_back_and_bounded(venue):
    """``openBufferBps`` is the last field of MarketConfig, default 10, [1, 1000] (never 0)."""
    mid = venue.market_id("ETH")
    assert venue.clearinghouse.market_config(mid)[-1] == 10
    venue.change_market("ETH", open_buffer_bps=1_000)
    assert venue.clearinghouse.market_config(mid)[-1] == 1_000
    values = list(venue.markets["ETH"].encode(venue.decimals))
    values[-1] = 0
    refused = venue.clearinghouse.configure_market(mid, b"ETH".ljust(32, b"\0"), tuple(values),
                                                   sender=venue.admin)
    assert refused.error.error == "ParamOutOfBounds" and refused.error.args[0].rstrip(b"\0") == b"openBufferBps"


def test_preview_shows_what_new_tiers_would_liquidate(venue):
    """``preview_market_change`` applies ``tiers`` too: tiers [(0, 50)] on LOW (mmf 0.5%) double
    maintenance, 146.076 -> 292.152, against equity 200.4."""
    alice = trader(venue, "alice", 1_000)
    alice.open("LOW", size=10, leverage=50, mode="isolated", margin=600)  # 585.2 after the fee
    venue.set_price("LOW", "2921.52")
    assert position_health(venue, alice, "LOW") == (Decimal("200.4") * WAD, Decimal("146.076") * WAD)
    preview = venue.preview_market_change("LOW", tiers=[(0, 50)])
    assert preview.liquidatable == [(alice.address, "LOW")]
    assert preview.shortfall == Decimal("91.752")
    assert mm(venue, alice, "LOW") == Decimal("146.076") * WAD  # nothing changed
