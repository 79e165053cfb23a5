"""Price impact on chain, GMX v2.2's rule in the ``ImpactPricing`` module (docs/SPEC.md §5.1):
an increase holds its impact as the position's pending impact in index tokens and is priced at
size USD / (size tokens +- impact tokens); a decrease realises the proportional pending impact
with its own; health counts it. Each clamp and cap is tested where it binds, with the amounts
recomputed here from the rule (GMX's formula, prb-math's pow through the port that
``tests/contracts/test_prbmath.py`` holds to the chain), never read back from the contract.

Most tests use exponent 1, so that every amount is round: with factors 0.001 (positive) and
0.002 (negative), a 100 ETH long at $3,000 on a balanced book holds -0.002 x $300,000 = -$600 of
pending impact, -0.2 ETH. The first tests use GMX's usual exponent 2 (factors 1e-9 and 2e-9 per
USD). No fees, funding or borrowing. Every test runs on both in-process EVMs (``backend``).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from venue_fixtures import ZERO_FEES, funded

from protocol import MarketConfig, Venue, errors
from protocol.constants import WAD
from protocol.margin import prbmath
from protocol.testing.properties import holdings

D = Decimal
FLOAT = 10**30
PRICE = 3000
ETH = MarketConfig(symbol="ETH", max_leverage=50, initial_price=D(PRICE), **ZERO_FEES,
                   impact_factor_positive=D("0.000000001"), impact_factor_negative=D("0.000000002"),
                   max_positive_impact_bps=10_000, max_negative_impact_bps=10_000,
                   max_liquidation_impact_bps=10_000)
LINEAR = replace(ETH, impact_factor_positive=D("0.001"), impact_factor_negative=D("0.002"),
                 impact_exponent_positive=D(1), impact_exponent_negative=D(1))
BTC = MarketConfig(symbol="BTC", max_leverage=20, initial_price=D(60000), **ZERO_FEES)


def F(usd: Decimal, factor: Decimal, exponent: Decimal = D(2)) -> int:
    """GMX's applyImpactFactor: factor x usd^exponent, 30-decimal USD (PricingUtils; the pow is
    prb-math's on the 18-decimal value, 0 below $1)."""
    x = int(usd * FLOAT)
    if x < FLOAT:
        return 0
    e = int(exponent * WAD)
    power = x if e == WAD else prbmath.pow(x // 10**12, e) * 10**12
    return power * int(factor * FLOAT) // FLOAT


def tokens(usd30: int, price: int = PRICE, up: bool = False) -> int:
    """GMX: usd / price per wei (30-decimal USD per ETH-wei is price x 1e12), in ETH-wei."""
    per_wei = price * 10**12
    return -(-usd30 // per_wei) if up else usd30 // per_wei


def launch(backend, eth=ETH):
    return Venue.launch(backend=backend, markets=[eth, BTC], pool_liquidity=10_000_000)


@pytest.fixture(scope="module")
def base(backend):
    return launch(backend)


@pytest.fixture(scope="module")
def linear(backend):
    return launch(backend, LINEAR)


def impact_event(receipt):
    (event,) = receipt.events_named("PriceImpact")
    return event


def balance(venue, trader) -> Decimal:
    return venue.account(trader).cross_balance


def test_an_increase_holds_its_impact_in_tokens_priced_as_gmx_prices_it(venue):
    alice = funded(venue, "alice", 200_000, 200_000)
    # Widening 0 -> $300k: F_negative(300k) = 2e-9 x 300,000^2 = $180 (prb-math: a hair less).
    impact = -F(D(300_000), D("0.000000002"))
    pending = -tokens(-impact, up=True)  # negative impact: rounded up in size
    # execution price: $300,000 / (100 ETH - 0.06 ETH), GMX's 30-decimal price per wei, in WAD
    execution = 300_000 * FLOAT // (100 * WAD + pending) * 10**6
    assert venue.quote_fill("ETH", 100) == D(execution) / WAD  # what a keeper reads, before
    opened = alice.open("ETH", 100, 10, "cross")
    e = impact_event(opened)
    assert (e["oraclePrice"], e["fillPrice"], e["pendingDelta"], e["poolDelta"], e["realized"]) == \
        (3000 * WAD, execution, pending, 0, 0)
    assert e["impactUsd"] == impact // 10**12 and pending == -60_000_000_000_000_000
    assert opened.events_named("PositionIncreased")[0]["price"] == execution
    position = venue.position(alice, "ETH")
    assert position.entry_price == 3000  # at the oracle price: the impact is held apart
    assert venue.raw_position(alice, "ETH").pending_impact == pending
    assert venue.impact_pool("ETH") == 0  # nothing realised yet
    # Stock markets pay nothing and log nothing.
    assert not alice.open("BTC", 1, 10, "cross").events_named("PriceImpact")
    assert venue.impact_pool("BTC") == 0


def test_a_decrease_realises_its_share_of_pending_impact_with_its_own(venue):
    alice = funded(venue, "alice", 200_000, 200_000)
    alice.open("ETH", 100, 10, "cross")
    pending = venue.raw_position(alice, "ETH").pending_impact
    before = balance(venue, alice)
    # Closing 50 narrows $300k -> $150k: +F_positive(300k) - F_positive(150k) = $67.5 (about).
    own = F(D(300_000), D("0.000000001")) - F(D(150_000), D("0.000000001"))
    share = -(pending * 150_000 // 300_000)  # half, rounded up in size: ceil(|pending| / 2)
    total = -share * 3000 * 10**12 + own  # -$90 + $67.5: -$22.5, paid
    paid = -(total // 10**24)  # in 6-decimal USDC, rounded up
    receipt = alice.decrease("ETH", 50)
    e = impact_event(receipt)
    adjustment = 300_000 * FLOAT * own // (100 * WAD) // (150_000 * FLOAT)  # GMX's, per wei
    execution = 3000 * WAD + adjustment * 10**6
    assert (e["fillPrice"], e["impactUsd"], e["pendingDelta"], e["realized"]) == \
        (execution, own // 10**12, share, -paid)
    assert receipt.events_named("PositionDecreased")[0]["price"] == execution
    assert balance(venue, alice) - before == -D(paid) / 10**6
    assert venue.raw_position(alice, "ETH").pending_impact == pending + share
    pool = paid * 10**24 // (3000 * 10**12)  # the tokens paid, in ETH-wei, rounded down
    assert venue.impact_pool_tokens("ETH") == D(pool) / WAD == D(e["poolDelta"]) / WAD
    assert venue.impact_pool("ETH") == D(pool) * 3000 / WAD


def test_a_crossover_gets_both_parts(venue):
    alice, bob = funded(venue, "alice", 200_000, 200_000), funded(venue, "bob", 400_000, 400_000)
    alice.open("ETH", 100, 10, "cross")  # long $300k
    # -150 crosses +$300k to -$150k: +F_pos(300k) - F_neg(150k) = 90 - 45 = +$45, held.
    impact = F(D(300_000), D("0.000000001")) - F(D(150_000), D("0.000000002"))
    e = impact_event(bob.open("ETH", -150, 10, "cross"))
    assert e["pendingDelta"] == tokens(impact) > 0  # positive: rounded down; held with no pool
    execution = 450_000 * FLOAT // (150 * WAD - tokens(impact)) * 10**6  # a short sells higher
    assert e["fillPrice"] == execution > 3000 * WAD
    # bob closes: -$150k back across to +$300k: F_pos(150k) - F_neg(300k), with his +$45.
    own = F(D(150_000), D("0.000000001")) - F(D(300_000), D("0.000000002"))
    total = tokens(impact) * 3000 * 10**12 + own
    assert impact_event(bob.close("ETH"))["realized"] == total // 10**24  # paid, rounded up


@pytest.mark.parametrize("positive, expected", [
    (D("0.002"), D("0.002")),  # equal: nothing to clamp
    (D("0.002000000000000000000000000001"), D("0.002")),  # one unit above: clamped
    (D("0.008"), D("0.002")),  # 4x: still the negative factor
    (D("0.0019"), D("0.0019")),  # below: its own
])
def test_the_positive_factor_is_clamped_to_the_negative_one(backend, positive, expected):
    venue = launch(backend, replace(LINEAR, impact_factor_positive=positive))
    alice, bob = funded(venue, "alice", 200_000, 200_000), funded(venue, "bob", 200_000, 200_000)
    alice.open("ETH", 100, 10, "cross")
    # bob's short narrows $300k to 0: positive impact factor x $300,000, at most 0.002 x 300k.
    e = impact_event(bob.open("ETH", -100, 10, "cross"))
    assert e["pendingDelta"] == tokens(int(expected * 300_000 * FLOAT))


@pytest.mark.parametrize("positive, expected", [
    (D("2.2"), D("2.2")),  # equal: nothing to clamp
    (D("2.200000000000000001"), D("2.2")),  # one unit (1e-18) above: clamped
    (D(3), D("2.2")),
    (D(2), D(2)),  # below: its own
])
def test_the_positive_exponent_is_clamped_to_the_negative_one(backend, positive, expected):
    """Negative exponent 2.2 (GMX's mainnet kind): a positive exponent above it is lowered to it."""
    venue = launch(backend, replace(ETH, impact_exponent_positive=positive,
                                    impact_exponent_negative=D("2.2")))
    alice, bob = funded(venue, "alice", 200_000, 200_000), funded(venue, "bob", 200_000, 200_000)
    alice.open("ETH", 100, 10, "cross")
    e = impact_event(bob.open("ETH", -100, 10, "cross"))  # narrows $300k to 0
    assert e["pendingDelta"] == tokens(F(D(300_000), D("0.000000001"), expected))


@pytest.mark.parametrize("max_positive, max_negative, expected", [
    (10_000, 10_000, 300),  # no cap binds: 0.001 x $300k
    (10, 10_000, 300),  # 0.10% of $300k = $300: at the cap exactly
    (9, 10_000, 270),  # 0.09%: binds
    (10, 9, 270),  # the positive cap is at most the negative cap
])
def test_positive_impact_is_capped_per_trade(backend, max_positive, max_negative, expected):
    venue = launch(backend, replace(LINEAR, max_positive_impact_bps=max_positive,
                                    max_negative_impact_bps=max_negative))
    alice, bob = funded(venue, "alice", 200_000, 200_000), funded(venue, "bob", 200_000, 200_000)
    alice.open("ETH", 100, 10, "cross")
    e = impact_event(bob.open("ETH", -100, 10, "cross"))
    assert e["pendingDelta"] == expected * WAD // 3000
    assert e["impactUsd"] == expected * WAD


@pytest.mark.parametrize("max_negative, paid, to_pool", [(10_000, 300, 300), (10, 300, 300), (9, 330, 270)])
def test_a_decreases_negative_total_is_capped_for_the_pool_and_the_excess_held(backend, max_negative, paid, to_pool):
    """alice holds -$600 (0.2 ETH); closing narrows $300k to 0, +$300 capped at the positive
    cap, at most the negative one ($270 at 9 bps): the total, -$300 (-$330), is capped at
    max_negative of $300k for the pool. She pays it all; what the cap keeps from the pool is
    held for her, and the admin releases it into her cross balance."""
    venue = launch(backend, replace(LINEAR, max_negative_impact_bps=max_negative,
                                    max_positive_impact_bps=10_000))
    alice = funded(venue, "alice", 200_000, 200_000)
    alice.open("ETH", 100, 10, "cross")
    before = balance(venue, alice)
    receipt = alice.close("ETH")
    e = impact_event(receipt)
    assert e["realized"] == -paid * 10**6
    assert balance(venue, alice) - before == -paid
    assert venue.impact_pool("ETH") == to_pool  # what the pool was paid, in ETH at the price
    assert venue.impact_pool_tokens("ETH") == D(to_pool) / 3000
    assert venue.held_impact(alice) == paid - to_pool
    held = [ev for ev in receipt.events if ev.name == "ImpactHeld"]
    assert [(ev["account"].lower(), ev["amount"]) for ev in held] == (
        [(alice.address.lower(), (paid - to_pool) * 10**6)] if paid > to_pool else [])
    if paid > to_pool:
        venue.release_held_impact(alice)
        assert venue.held_impact(alice) == 0
        assert balance(venue, alice) - before == -to_pool


def test_positive_impact_is_capped_by_the_impact_pool(linear):
    with linear.snapshot():
        venue = linear
        alice, bob, carol = (funded(venue, n, 400_000, 400_000) for n in ("alice", "bob", "carol"))
        alice.open("ETH", 50, 10, "cross")  # pending -$300
        alice.decrease("ETH", 25)  # own +$75 (narrowing 150k -> 75k), her share -$150: pays $75
        assert venue.impact_pool("ETH") == 75
        bob.open("ETH", -25, 10, "cross")  # narrows $75k to 0: +$75 held
        carol.open("ETH", -50, 10, "cross")  # widens 0 -> $150k short: -$300 held
        # bob closes: narrows $150k short to $75k short, +$75 own, +$75 held: $150 > the pool
        e = impact_event(bob.close("ETH"))
        assert (e["realized"], e["poolDelta"]) == (75 * 10**6, -25 * WAD // 1000)
        assert venue.impact_pool("ETH") == 0


def test_health_counts_pending_impact_capped_and_an_open_covers_it(backend):
    """Health counts closing the whole position now (+$300, positive capped per trade) plus
    its pending impact (-$600): -$300, at most max_liquidation of its entry notional."""
    for cap, counted in ((10_000, 300), (10, 300), (9, 270)):
        venue = launch(backend, replace(LINEAR, max_liquidation_impact_bps=cap))
        alice = funded(venue, "alice", 10_000, 10_000)
        # 100 ETH at 50x needs $6,000; the counted impact comes out of the equity too.
        with pytest.raises(errors.MarginBelowInitial):
            alice.open("ETH", 100, 50, "isolated", margin=D(6_000 + counted) - D("0.000001"))
        alice.open("ETH", 100, 50, "isolated", margin=6_000 + counted)
        position = venue.position(alice, "ETH")
        assert position.impact_health == -counted
        assert position.equity == 6_000
        assert not venue.is_liquidatable(alice, "ETH")


def test_a_liquidation_check_sees_the_impact_and_a_liquidation_realises_it(backend):
    venue = launch(backend, LINEAR)
    alice = funded(venue, "alice", 10_000, 10_000)
    alice.open("ETH", 100, 50, "isolated", margin=6_300)
    # equity = 6,300 + 100 (p - 3000) + 300 - 0.2 p (pending at p), MM = 100 p / 100:
    # below MM when 98.8 p < 293,400, p < 2,969.6356 (stock rule: below 2,966.67)
    venue.set_price("ETH", D("2969.64"))
    assert not venue.is_liquidatable(alice, "ETH")
    venue.set_price("ETH", D("2969.63"))
    assert venue.is_liquidatable(alice, "ETH")
    receipt = venue.keeper("k").liquidate(alice, "ETH")
    e = impact_event(receipt)
    # the liquidation is a decrease: -0.2 ETH at 2,969.63 and its own +$300 (entry-value OI)
    total = -int(D("0.2") * D("2969.63") * FLOAT) + 300 * FLOAT
    assert e["realized"] == total // 10**24 and e["pendingDelta"] == 2 * WAD // 10


def test_an_order_checks_its_acceptable_price_against_the_execution_price(venue):
    alice = funded(venue, "alice", 200_000, 0)
    keeper = venue.keeper("k")
    execution = venue.quote_fill("ETH", 100)
    order = alice.create_order("ETH", "market_increase", 100, leverage=10, collateral=40_000,
                               acceptable_price=execution - D(10) ** -18)
    venue.advance_time(1)
    venue.set_price("ETH", 3_000)
    with pytest.raises(errors.AcceptablePriceExceeded) as info:  # the oracle alone would pass
        keeper.execute_order(order.order_id)
    assert info.value.args[1:] == (execution * WAD, execution * WAD - 1)
    venue.advance_time(venue.order_book.market_order_timeout() + 1)
    alice.cancel_order(order.order_id)
    order = alice.create_order("ETH", "market_increase", 100, leverage=10, collateral=40_000,
                               acceptable_price=execution)
    venue.advance_time(1)
    venue.set_price("ETH", 3_000)
    keeper.execute_order(order.order_id)
    # A decrease order is checked against the decrease's execution price (quoteDecrease).
    closing = venue.quote_close(alice, "ETH")
    assert closing > 3000  # closing the long narrows the book: positive impact, sells higher
    order = alice.create_order("ETH", "market_decrease", acceptable_price=closing + D(10) ** -18)
    venue.advance_time(1)
    venue.set_price("ETH", 3_000)
    with pytest.raises(errors.AcceptablePriceExceeded):
        keeper.execute_order(order.order_id)


def test_impact_larger_than_the_order_is_refused(backend):
    venue = launch(backend, replace(ETH, impact_factor_negative=D("0.0001")))
    alice = funded(venue, "alice", 10_000_000, 10_000_000)
    # F_negative($1.5M) = 1e-4 x 1.5M^2 = $225M: more tokens than the 500 ETH bought.
    with pytest.raises(errors.PriceImpactLargerThanOrderSize):
        alice.open("ETH", 500, 10, "cross")
    with pytest.raises(errors.PriceImpactLargerThanOrderSize):
        venue.quote_fill("ETH", 500)


def test_the_imbalance_is_entry_value_by_default_and_size_times_price_as_an_option(backend):
    for in_tokens in (False, True):
        venue = launch(backend, replace(LINEAR, impact_open_interest_in_tokens=in_tokens))
        alice, bob = funded(venue, "alice", 400_000, 400_000), funded(venue, "bob", 400_000, 400_000)
        alice.open("ETH", 100, 10, "cross")  # entry $300k
        venue.set_price("ETH", 4_000)  # now worth $400k
        e = impact_event(bob.open("ETH", -50, 10, "cross"))
        # bob's short: entry-value balance 300k -> 100k (GMX's default, his $200k at entry);
        # size x price 400k -> 200k: 0.001 x 200k = $200 either way, in ETH at $4,000
        assert e["pendingDelta"] == 200 * WAD // 4000
        e = impact_event(bob.open("ETH", -100, 10, "cross"))  # crosses
        long_oi, short_oi = (400_000, 200_000) if in_tokens else (300_000, 200_000)
        impact = D("0.001") * (long_oi - short_oi) - D("0.002") * (short_oi + 400_000 - long_oi)
        assert e["impactUsd"] == int(impact * WAD)


def test_nine_decimal_index_tokens_hold_whole_token_units(backend):
    venue = launch(backend, replace(ETH, impact_index_decimals=9))
    alice = funded(venue, "alice", 200_000, 200_000)
    e = impact_event(alice.open("ETH", 100, 10, "cross"))
    units = -(-F(D(300_000), D("0.000000002")) * 10**9 // (3000 * FLOAT))  # 9-decimal units, up
    assert e["pendingDelta"] == -units * 10**9  # WAD base units, whole 1e-9 ETH
    assert e["pendingDelta"] % 10**9 == 0


def test_bad_impact_configs_are_refused(venue):
    for kwargs in ({"impact_exponent_positive": D("0.999999999999999999")},
                   {"impact_exponent_negative": D("3.000000000000000001")},
                   {"max_negative_impact_bps": 10_001}, {"max_liquidation_impact_bps": -1},
                   {"max_positive_impact_bps": 10_001}, {"impact_index_decimals": 19},
                   {"impact_factor_negative": D("-1")}, {"impact_factor_positive": D("1e-31")},
                   {"impact_exponent_positive": D("2.0000000000000000001")}):
        with pytest.raises(ValueError):
            replace(ETH, **kwargs)
    module, admin = venue.deployment.impact, venue.admin
    good = ETH.impact_encoded()
    # each exponent's bounds from both sides, then the rest; each refusal names the field and
    # carries the refused value (a mutant reporting exponentPositive's value survived)
    for index, value, field in ((2, WAD - 1, "exponentPositive"), (2, 3 * WAD + 1, "exponentPositive"),
                                (3, WAD - 1, "exponentNegative"), (3, 3 * WAD + 1, "exponentNegative"),
                                (4, 10_001, "maxPositiveImpactBps"), (5, 10_001, "maxNegativeImpactBps"),
                                (6, 10_001, "maxLiquidationImpactBps"), (7, 19, "indexDecimals")):
        bad = list(good)
        bad[index] = value
        with pytest.raises(errors.ImpactConfigOutOfBounds) as info:
            module.transact(admin, "setImpactConfig", 0, tuple(bad)).raise_for_status()
        assert info.value.args[0].rstrip(b"\0").decode() == field
        assert info.value.args[1] == value  # the refused value, not another field's
    for index in (2, 3):  # exactly at the limits: accepted
        for value in (WAD, 3 * WAD):
            edge = list(good)
            edge[index] = value
            module.transact(admin, "setImpactConfig", 0, tuple(edge)).raise_for_status()
    stranger = venue.trader("eve")
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        module.transact(stranger.address, "setImpactConfig", 0, good).raise_for_status()
    with pytest.raises(ValueError, match="ImpactPricing"):
        Venue.launch(backend="revm", markets=[ETH], modules={"pricing": "OraclePricing"})


def test_pending_impact_shares_the_slot_health_reads_once():
    """A position's pending impact sits in its second slot beside the funding and borrow
    snapshots (``Markets.pending`` reads all three), so stock markets pay no storage read for
    health asking whether a position holds impact, and a cross position never writes its third
    slot."""
    from protocol.chain.abi import load_artifact

    types = load_artifact("Clearinghouse").raw["storageLayout"]["types"]
    (position,) = [t for name, t in types.items() if name.startswith("t_struct(Position)")]
    layout = {m["label"]: (int(m["slot"]), m["offset"]) for m in position["members"]}
    assert (layout["fundingIndex"], layout["borrowIndex"], layout["pendingImpact"]) == \
        ((1, 0), (1, 14), (1, 22))  # bits 0, 112 and 176 of the word
    assert layout["margin"] == (2, 0)  # a cross position never touches its third slot


def test_the_negative_impact_the_cap_keeps_from_the_pool_cannot_be_collected_by_a_second_account(backend):
    """The defect `perpsim fuzz` found in stop 33 (SPEC §5.1). Against 3 ETH of shorts at
    24,000, account a shorts 0.5 and b longs 1.2; a closes (its crossing impact capped at 0.2%
    for the pool) and b closes (its positive impact capped at 0.1% of $28,800: $28.80 from the
    pool). With the excess waived, the pair ended +$4.80 with no fee paid. Now a pays the whole
    impact and the cap's excess is held for it: the pair ends down, and only the admin's
    release hands the held part back."""
    from protocol.testing.fuzz import MARKETS
    from protocol.testing.properties import RoundTrip

    venue = Venue.launch(backend=backend, markets=[replace(MARKETS[0], max_positive_impact_bps=10, **ZERO_FEES)],
                         pool_liquidity=1_000_000)
    whale = funded(venue, "whale", 100_000, 100_000)  # fills the impact pool
    whale.open("ETH", 100, 10, "cross")
    whale.close("ETH")
    funded(venue, "honest", 50_000, 50_000).open("ETH", -3, 5, "cross")
    venue.set_price("ETH", 24_000)
    a, b = funded(venue, "a", 100_000, 100_000), funded(venue, "b", 100_000, 100_000)
    with RoundTrip(venue, [a, b]) as trip, venue.chain.block():
        a.open("ETH", D("-0.5"), 1, "isolated", margin=12_500)
        b.open("ETH", D("1.2"), 1, "isolated", margin=29_500)
        a.close("ETH")
        b.close("ETH")
    assert trip.checked and trip.fees == 0
    # a's close: -$345.60 in all (its share of the pending impact and its crossing), $24 of it
    # (0.2% of $12,000) to the pool, $321.60 held; b's close: +$28.80 from the pool.
    assert trip.end.tokens - trip.start.tokens == (-345_600_000 + 28_800_000)
    assert (venue.held_impact(a), venue.held_impact(b)) == (D("321.6"), 0)
    venue.release_held_impact(a, D("321.6"))  # the admin's decision, not one the pair can force
    assert venue.held_impact(a) == 0
    assert holdings(venue, [a, b]).tokens - trip.start.tokens == 4_800_000


def test_held_impact_pays_the_accounts_bad_debt_first(backend):
    """SPEC §5.1, §6. alice's 100 ETH long ($30,500 of isolated margin) holds -0.2 ETH of
    pending impact. At 2,695.30 her close loses $30,470 and realises -$539.06 of pending impact
    plus +$300 of its own, capped at 5 bps of $300k: +$150, so -$389.06 in all; the pool's cap is
    -$150 and $239.06 is held. Her margin is $359.06 short: the held $239.06 pays first, and only
    $120 is bad debt, paid by the pool (this venue has no insurance fund)."""
    from protocol.testing import assert_invariants

    venue = launch(backend, replace(LINEAR, max_negative_impact_bps=5, max_positive_impact_bps=10_000))
    alice = funded(venue, "alice", 40_000, 40_000)
    alice.open("ETH", 100, 10, "isolated", margin=30_500)
    venue.set_price("ETH", D("2695.3"))
    receipt = alice.close("ETH")
    events = {ev.name: ev for ev in receipt.events if ev.name in ("PriceImpact", "ImpactHeld", "BadDebt")}
    assert events["PriceImpact"]["realized"] == -389_060_000
    assert events["ImpactHeld"]["amount"] == 239_060_000
    bad = events["BadDebt"]
    assert (bad["amount"], bad["fromInsurance"], bad["fromPool"]) == (120_000_000, 0, 120_000_000)
    assert venue.held_impact(alice) == 0
    assert events["PriceImpact"]["poolDelta"] == 150 * 10**36 // (2_695_300 * 10**15)  # $150 in ETH, down
    assert_invariants(venue)


def test_only_the_admin_releases_held_impact_and_never_more_than_is_held(backend):
    venue = launch(backend, replace(LINEAR, max_negative_impact_bps=9, max_positive_impact_bps=10_000))
    alice = funded(venue, "alice", 200_000, 200_000)
    alice.open("ETH", 100, 10, "cross")
    alice.close("ETH")
    assert venue.held_impact(alice) == 60
    ch = venue.clearinghouse
    refused = ch.release_held_impact(alice.address, 1, sender=alice.address)
    assert refused.error.error == "AccessControlUnauthorizedAccount"
    with pytest.raises(errors.ReleaseExceedsHeld) as info:
        venue.release_held_impact(alice, D("60.000001"))
    assert info.value.args == (alice.address.lower(), 60_000_000, 60_000_001)
    receipt = venue.release_held_impact(alice, 10)
    assert [(ev.name, ev["amount"]) for ev in receipt.events] == [("HeldImpactReleased", 10_000_000)]
    assert venue.held_impact(alice) == 50


def test_a_pricing_modules_held_part_is_bounded_by_the_payment(backend):
    """`held` is part of what the trader pays: 0 on an increase, at most the payment on a
    decrease (`ModuleResultOutOfBounds`); the held part passes through the pool to the account."""
    from protocol.margin.types import ModuleKind
    from protocol.testing import assert_invariants

    venue = launch(backend, ETH)
    ch, admin = venue.clearinghouse, venue.admin
    module = venue.chain.deploy("HoldingPricing", sender=admin)
    ch.set_market_module(0, ModuleKind.PRICING, module.address, sender=admin).raise_for_status()
    alice = funded(venue, "alice", 10_000, 10_000)
    module.transact(admin, "set", 1, 0, 0).raise_for_status()
    with pytest.raises(errors.ModuleResultOutOfBounds) as info:
        alice.open("ETH", 1, 5, "cross")
    assert info.value.args == (ModuleKind.PRICING, 1)
    module.transact(admin, "set", 0, 5_000_000, 5_000_001).raise_for_status()
    alice.open("ETH", 1, 5, "cross")
    with pytest.raises(errors.ModuleResultOutOfBounds) as info:
        alice.close("ETH")
    assert info.value.args == (ModuleKind.PRICING, 5_000_001)
    module.transact(admin, "set", 0, 5_000_000, 5_000_000).raise_for_status()
    assets = ch.pool_assets()
    alice.close("ETH")
    assert venue.held_impact(alice) == 5
    assert ch.pool_assets() == assets  # the whole payment held: the pool keeps none of it
    assert_invariants(venue)
