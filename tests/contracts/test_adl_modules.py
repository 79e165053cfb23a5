"""Issue 29 §3: auto-deleveraging as a module kind (``IAdlModule``, SPEC §2.1 and §8.1). Three
modules: the stock queue by Hyperliquid score (``StockAdl``), the pro-rata haircut across all
winners (``ProRataAdl``) and GMX v2's keeper-chosen rule (``GmxAdl``); each on both EVMs, the
reference model (``protocol.margin.deleveraging``) agreeing with the chain on the same sequence.

The venue: a 1M pool, zero fees and rates, three winners: alice 100 ETH long (isolated), bob
50 ETH long (cross), carol 5 BTC long (cross); ETH 3,000 -> 7,000 and BTC 60,000 -> 114,000
make 400k + 200k + 270k = 870k of pending profit, a pnl factor of 0.87 (trigger 0.85, floor
0.77, the cap 0.9 not binding)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from venue_fixtures import ZERO_FEES, ceil_div, funded, provide_liquidity

from protocol import MarketConfig, Venue, errors
from protocol.constants import MAX_UINT, WAD
from protocol.keepers import AdlKeeper, BlockBuilder
from protocol.margin.deleveraging import AdlInput, AdlRoundInput, GmxAdl, ProRataAdl, StockAdl
from protocol.testing import assert_invariants
from protocol.testing.invariants import load_state
from protocol.venue.adl import max_adl_size

CLOSE_ALL = MAX_UINT
FLOOR = 77 * WAD // 100
MARKETS = [MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000), **ZERO_FEES),
           MarketConfig(symbol="BTC", max_leverage=20, initial_price=Decimal(60000), **ZERO_FEES)]


def launch(backend, adl=None):
    return Venue.launch(backend=backend, markets=MARKETS, pool_liquidity=1_000_000,
                        modules={"adl": adl} if adl else None)


@pytest.fixture(scope="module")
def pro(backend):
    return launch(backend, "ProRataAdl")


@pytest.fixture(scope="module")
def gmx(backend):
    return launch(backend, "GmxAdl")


@pytest.fixture(scope="module")
def stock_pair(backend):
    return launch(backend), launch(backend, "StockAdl")


def winners(venue):
    alice = funded(venue, "alice", 100_000, deposit=100_000)
    bob = funded(venue, "bob", 100_000, deposit=100_000)
    carol = funded(venue, "carol", 100_000, deposit=100_000)
    alice.open("ETH", size=100, leverage=10, mode="isolated", margin=30_000)
    bob.open("ETH", size=50, leverage=10, mode="cross")
    carol.open("BTC", size=5, leverage=10, mode="cross")
    venue.set_prices({"ETH": 7_000, "BTC": 114_000})
    return alice, bob, carol


def send(venue, keeper, trader, market, size=CLOSE_ALL):
    """``autoDeleverage`` from ``keeper``; the receipt (a revert raised as its custom error)."""
    return venue.clearinghouse.auto_deleverage(trader.address, venue.market_id(market), size,
                                               sender=keeper.address).raise_for_status()


def factor(venue):
    return venue.clearinghouse.solvency()[1]


# ====================================================================== the kind itself
def test_the_adl_kind_is_chosen_per_market_and_checked_by_erc165(pro):
    with pro.snapshot():
        assert pro.market_modules("ETH")["adl"] is not None
        pro.set_market_module("BTC", "adl", "GmxAdl")
        assert pro.market_modules("BTC")["adl"] != pro.market_modules("ETH")["adl"]
        margin = pro.set_market_module("BTC", "margin", "StockMargin")
        with pytest.raises(errors.ModuleInterfaceMissing) as info:  # on chain, by ERC-165
            pro.set_market_module("BTC", "adl", margin.address)
        assert info.value.args[0] == 4  # ModuleKind.Adl
        pro.set_market_module("BTC", "adl", None)
        assert pro.market_modules("BTC")["adl"] is None


# ====================================================================== stock, explicit
def test_the_stock_module_set_explicitly_gives_what_no_module_gives(stock_pair):
    results = []
    for venue in stock_pair:
        with venue.snapshot():
            alice, bob, carol = winners(venue)
            keeper = venue.keeper("adl", adl=True)
            seen = []
            for trader, market, size in ((bob, "ETH", CLOSE_ALL), (carol, "BTC", WAD),
                                         (alice, "ETH", 10 * WAD), (alice, "ETH", CLOSE_ALL),
                                         (carol, "BTC", CLOSE_ALL)):
                receipt = venue.clearinghouse.auto_deleverage(
                    trader.address, venue.market_id(market), size, sender=keeper.address)
                if receipt.error is not None:
                    seen.append((receipt.error.error, receipt.error.args[1:]))
                else:
                    e = receipt.events_named("AutoDeleveraged")[0]
                    seen.append((e["sizeDelta"], e["realizedPnl"], e["score"], e["factorBefore"],
                                 e["factorAfter"]))
            results.append(seen)
    assert results[0] == results[1]
    # alice ranks first (she is the most leveraged on her profit), bob and carol wait for her.
    assert results[0][0][0] == "AdlNotHighestRanked" and results[0][1][0] == "AdlNotHighestRanked"
    assert results[0][2][0] == -10 * WAD


# ====================================================================== pro rata
def expected_fraction(venue, members=3):
    profit, budget, _ = venue.clearinghouse.profit_budget()
    return ProRataAdl().round_fraction(AdlRoundInput(
        profit, venue.clearinghouse.pool_assets() * 10**12, budget, profit, members, FLOOR, 10**12))


def test_pro_rata_cuts_every_winner_by_one_fraction_in_any_order_and_lands_at_the_floor(pro):
    with pro.snapshot():
        venue = pro
        alice, bob, carol = winners(venue)
        keeper = venue.keeper("adl", adl=True)
        model = load_state(venue, mirrors={"adl": ProRataAdl()}).model
        model.adl_keepers = {keeper.address.lower()}
        f = expected_fraction(venue)
        # f = (P - T (A + n scale)) / (W (1 - T)) with P = W = 870k, A = 1M, T = 0.77
        exact = (870_000 * WAD - 77 * (1_000_000 * WAD + 3 * 10**12) // 100) * WAD // (870_000 * WAD * 23 // 100)
        assert f == exact and 0.499 < f / WAD < 0.5
        before = factor(venue)
        # carol first (the lowest ranked: no rank under this rule); CLOSE_ALL takes her cut.
        receipt = send(venue, keeper, carol, "BTC")
        started = receipt.events_named("AdlRoundStarted")[0]
        assert (started["round"], started["fraction"], started["members"]) == (1, f, 3)
        assert started["pendingProfit"] == started["winnersProfit"] == 870_000 * WAD
        cut = receipt.events_named("AutoDeleveraged")[0]
        assert -cut["sizeDelta"] == ceil_div(5 * WAD * f, WAD)
        mirrored = model.auto_deleverage(carol.address.lower(), 1, CLOSE_ALL, keeper.address.lower())
        assert (mirrored["closed"], mirrored["before"], mirrored["after"], mirrored["pnl"]) == \
            (-cut["sizeDelta"], before, cut["factorAfter"], cut["realizedPnl"])
        assert venue.clearinghouse.adl_round()[:3] == (1, f, 2)
        # The keeper's view: each member's entitlement, exactly what the chain then closes.
        for trader, market, size in ((bob, 0, 50 * WAD), (alice, 0, 100 * WAD)):
            entry = venue.clearinghouse.adl_round_entry(trader.address, market)
            assert entry == (1, size, False, ceil_div(size * f, WAD))
            assert model.adl_entitlement(trader.address.lower(), market) == entry[3]
        assert cut["factorAfter"] < 85 * WAD // 100  # below the trigger: the round goes on
        for trader, size in ((bob, 50 * WAD), (alice, 100 * WAD)):
            receipt = send(venue, keeper, trader, "ETH", ceil_div(size * f, WAD))  # the exact size
            e = receipt.events_named("AutoDeleveraged")[0]
            mirrored = model.auto_deleverage(trader.address.lower(), 0, CLOSE_ALL, keeper.address.lower())
            assert (mirrored["closed"], mirrored["after"], mirrored["pnl"]) == \
                (-e["sizeDelta"], e["factorAfter"], e["realizedPnl"])
        assert receipt.events_named("AdlRoundEnded")[0]["uncut"] == 0
        after = factor(venue)
        # At the floor, not below, within the margin of n = 3 token units of pool assets.
        assert FLOOR <= after and after - FLOOR <= 3 * 10**12 * WAD // (venue.clearinghouse.pool_assets() * 10**12)
        assert venue.clearinghouse.adl_round()[2] == 0 and model.adl_round_remaining == 0
        state = load_state(venue, mirrors={"adl": ProRataAdl()}).model
        assert state.positions == model.positions and state.pool_assets == model.pool_assets
        with pytest.raises(errors.AdlNotRequired):  # the round is over and 0.77 < 0.85
            send(venue, keeper, alice, "ETH", WAD)
        assert_invariants(venue)


def test_a_position_at_exactly_no_profit_is_not_a_member_of_the_round(pro):
    """SPEC §8.1: a round's members are the positions in profit. Dave's long, opened at the
    round's price with no fees, has a pnl of exactly 0: not a member and not counted in n, though
    his side is in profit."""
    with pro.snapshot():
        venue = pro
        alice, bob, carol = winners(venue)
        provide_liquidity(venue, funded(venue, "lp", 500_000, deposit=0), 500_000)  # room to open
        venue.set_pnl_factors(max_pnl_factor_adl=Decimal("0.5"), min_pnl_factor_after_adl=Decimal("0.4"))
        dave = funded(venue, "dave", 100_000, deposit=100_000)
        dave.open("ETH", size=1, leverage=10, mode="cross")
        assert venue.position(dave, "ETH").unrealized_pnl == 0
        receipt = send(venue, venue.keeper("adl", adl=True), carol, "BTC")
        assert receipt.events_named("AdlRoundStarted")[0]["members"] == 3
        assert venue.clearinghouse.adl_round_entry(dave.address, 0) == (0, 0, False, 0)
        assert venue.clearinghouse.adl_round_entry(bob.address, 0)[:3] == (1, 50 * WAD, False)


def round_begun(venue):
    """The three winners, an ADL keeper and the round's fraction, the round begun by carol's cut."""
    alice, bob, carol = winners(venue)
    keeper = venue.keeper("adl", adl=True)
    f = expected_fraction(venue)
    send(venue, keeper, carol, "BTC")
    return alice, bob, carol, keeper, f


def test_pro_rata_refuses_a_second_cut_a_split_and_a_position_opened_in_the_round(pro):
    with pro.snapshot():
        venue = pro
        alice, bob, carol, keeper, f = round_begun(venue)
        with pytest.raises(errors.AdlAlreadyCut) as info:  # a winner is not cut twice
            send(venue, keeper, carol, "BTC")
        assert info.value.args[2] == 1
        entitled = ceil_div(50 * WAD * f, WAD)
        for wrong in (entitled - 1, entitled + 1, entitled // 2):  # exactly the cut, no split
            with pytest.raises(errors.AdlSizeNotAllowed) as info:
                send(venue, keeper, bob, "ETH", wrong)
            assert info.value.args == (wrong, entitled)
        provide_liquidity(venue, funded(venue, "lp", 500_000, deposit=0), 500_000)  # room to open
        dave = funded(venue, "dave", 100_000, deposit=100_000)
        dave.open("ETH", size=1, leverage=10, mode="cross")
        venue.set_price("ETH", 7_100)  # dave in profit, not a member
        with pytest.raises(errors.AdlNotInRound):
            send(venue, keeper, dave, "ETH")
        with pytest.raises(errors.Unauthorized):  # a keeper on its own position
            venue.grant_role("ADL_KEEPER", bob.address)
            venue.clearinghouse.auto_deleverage(bob.address, 0, CLOSE_ALL, sender=bob.address) \
                .raise_for_status()
        assert venue.clearinghouse.adl_round()[2] == 2


def test_the_owner_racing_the_keeper_has_its_own_close_counted_toward_its_cut(pro):
    with pro.snapshot():
        venue = pro
        alice, bob, carol, keeper, f = round_begun(venue)
        cut = ceil_div(100 * WAD * f, WAD)
        alice.decrease("ETH", 20)  # the owner closes 20 first: 20 of her cut are done
        entry = venue.clearinghouse.adl_round_entry(alice.address, 0)
        assert entry[3] == cut - 20 * WAD
        assert ProRataAdl().close_limit(AdlInput(0, 80 * WAD, 100 * WAD, f)) == (cut - 20 * WAD, True)
        receipt = send(venue, keeper, alice, "ETH")
        assert -receipt.events_named("AutoDeleveraged")[0]["sizeDelta"] == cut - 20 * WAD
        bob.decrease("ETH", 40)  # more than his cut (about 25): nothing left to take
        assert venue.clearinghouse.adl_round_entry(bob.address, 0)[3] == 0
        with pytest.raises(errors.AdlSizeNotAllowed) as info:
            send(venue, keeper, bob, "ETH")
        assert info.value.args == (CLOSE_ALL, 0)
        # The round cannot end by itself now; an ADL keeper ends it once the factor is at or
        # below the trigger.
        assert factor(venue) <= 85 * WAD // 100
        receipt = venue.clearinghouse.end_adl_round(sender=keeper.address).raise_for_status()
        assert receipt.events_named("AdlRoundEnded")[0]["uncut"] == 1
        with pytest.raises(errors.AdlNoRound):
            venue.clearinghouse.end_adl_round(sender=keeper.address).raise_for_status()


def test_a_round_is_ended_early_only_below_the_trigger_by_a_keeper_or_by_the_admin(pro):
    with pro.snapshot():
        venue = pro
        alice, bob, carol = winners(venue)
        small = funded(venue, "small", 10_000, deposit=10_000)
        venue.set_prices({"ETH": 3_000, "BTC": 60_000})
        small.open("ETH", size=1, leverage=10, mode="cross")
        venue.set_prices({"ETH": 7_000, "BTC": 114_000})
        keeper = venue.keeper("adl", adl=True)
        send(venue, keeper, small, "ETH")  # a small cut: the factor stays above the trigger
        now = factor(venue)
        assert now > 85 * WAD // 100
        with pytest.raises(errors.AdlRoundStillNeeded) as info:
            venue.clearinghouse.end_adl_round(sender=keeper.address).raise_for_status()
        assert info.value.args == (now, 85 * WAD // 100)
        with pytest.raises(errors.Unauthorized):
            venue.clearinghouse.end_adl_round(sender=alice.address).raise_for_status()
        venue.clearinghouse.end_adl_round(sender=venue.admin).raise_for_status()
        # A new round begins at the next close, from the state now.
        receipt = send(venue, keeper, alice, "ETH")
        assert receipt.events_named("AdlRoundStarted")[0]["round"] == 2


# ====================================================================== GMX v2
def test_gmx_lets_the_keeper_choose_with_only_the_venue_checks(gmx, stock_pair):
    with gmx.snapshot():
        venue = gmx
        alice, bob, carol = winners(venue)
        keeper = venue.keeper("adl", adl=True)
        model = load_state(venue, mirrors={"adl": GmxAdl()}).model
        model.adl_keepers = {keeper.address.lower()}
        # carol ranks below alice: the stock rule refuses her first, GMX's does not.
        receipt = send(venue, keeper, carol, "BTC", WAD)
        e = receipt.events_named("AutoDeleveraged")[0]
        mirrored = model.auto_deleverage(carol.address.lower(), 1, WAD, keeper.address.lower())
        assert (mirrored["closed"], mirrored["after"], mirrored["pnl"]) == (WAD, e["factorAfter"], e["realizedPnl"])
        # The floor stands, at its boundary: all of alice would overshoot; the most the floor
        # allows (to 1 ppm) goes, a little more does not.
        with pytest.raises(errors.AdlOvershoot):
            send(venue, keeper, alice, "ETH")
        most = max_adl_size(venue, keeper.address, alice.address, "ETH")
        with venue.snapshot(), pytest.raises(errors.AdlOvershoot):
            send(venue, keeper, alice, "ETH", most + 100 * WAD // 10**6)
        e = send(venue, keeper, alice, "ETH", most).events_named("AutoDeleveraged")[0]
        assert FLOOR <= e["factorAfter"] < FLOOR + WAD // 10**4
        mirrored = model.auto_deleverage(alice.address.lower(), 0, most, keeper.address.lower())
        assert mirrored["after"] == e["factorAfter"]
    stock = stock_pair[1]
    with stock.snapshot():
        alice, bob, carol = winners(stock)
        with pytest.raises(errors.AdlNotHighestRanked):
            send(stock, stock.keeper("adl", adl=True), carol, "BTC", WAD)


def test_a_market_with_gmx_rules_is_left_out_of_the_stock_markets_ranking(stock_pair):
    venue = stock_pair[0]
    with venue.snapshot():
        alice, bob, carol = winners(venue)
        keeper = venue.keeper("adl", adl=True)
        with pytest.raises(errors.AdlNotHighestRanked):
            send(venue, keeper, carol, "BTC", WAD)  # alice's ETH ranks above
        venue.set_market_module("ETH", "adl", "GmxAdl")
        send(venue, keeper, carol, "BTC", WAD)  # ETH is not ranked now: carol is the top of BTC
        model = load_state(venue).model  # asks ETH's module through the chain
        assert model.rules_of(0).adl.rule(0) == 0 and model.rules_of(1).adl.rule(1) == 1


# ====================================================================== the keeper
@pytest.mark.parametrize("module", ["StockAdl", "ProRataAdl", "GmxAdl"])
def test_the_adl_keeper_closes_what_each_module_allows(backend, module):
    venue = launch(backend, module)
    alice, bob, carol = winners(venue)
    bot = AdlKeeper(venue, "deleverager")
    builder = BlockBuilder(venue, [bot])
    builder.run(6)
    closes = [ld.receipt.events_named("AutoDeleveraged")[0] for ld in builder.receipts(bot)
              if ld.receipt.events_named("AutoDeleveraged")]
    assert all(ld.receipt.error is None for ld in builder.receipts(bot))
    after = factor(venue)
    assert FLOOR <= after <= 85 * WAD // 100
    if module == "ProRataAdl":
        f = closes[0]["factorBefore"] and venue.clearinghouse.adl_round()[1]
        assert len(closes) == 3 and venue.clearinghouse.adl_round()[2] == 0
        sizes = {c["account"].lower(): -c["sizeDelta"] for c in closes}
        assert sizes == {alice.address.lower(): ceil_div(100 * WAD * f, WAD),
                         bob.address.lower(): ceil_div(50 * WAD * f, WAD),
                         carol.address.lower(): ceil_div(5 * WAD * f, WAD)}
        assert after - FLOOR <= 3 * 10**12 * WAD // (venue.clearinghouse.pool_assets() * 10**12)
    elif module == "GmxAdl":
        # The largest pnl-to-size factor first: ETH's +133% before BTC's +90% (alice and bob tie;
        # alice, registered first, goes first).
        assert closes[0]["account"].lower() == alice.address.lower()
    else:
        assert closes[0]["account"].lower() == alice.address.lower()  # the highest-ranked
    assert_invariants(venue)


def test_the_mirrors_agree_on_what_the_modules_answer():
    stock, gmx, pro = StockAdl(), GmxAdl(), ProRataAdl()
    p = AdlInput(0, 7 * WAD, 10 * WAD, WAD // 3)
    assert stock.close_limit(p) == gmx.close_limit(p) == (7 * WAD, False)
    assert (stock.rule(0), gmx.rule(0), pro.rule(0)) == (1, 0, 2)
    assert pro.close_limit(p) == (ceil_div(10 * WAD * (WAD // 3), WAD) - 3 * WAD, True)
    # The fraction under a binding cap: q = B / P of each payout, so f = (P - T A') / (W - T W q).
    r = AdlRoundInput(950 * WAD, 1_000 * WAD, 900 * WAD, 950 * WAD, 1, FLOOR, 10**12)
    kept = ceil_div(FLOOR * (1_000 * WAD + 10**12), WAD)
    assert pro.round_fraction(r) == (950 * WAD - kept) * WAD // (950 * WAD - 900 * WAD * FLOOR // WAD)


# ====================================================================== a misbehaving module
@pytest.mark.parametrize(("answer", "expected"), [
    ((1, 0, False), ("ModuleResultOutOfBounds", (4, 100 * WAD + 1))),  # one wei above the position
    ((0, WAD + 1, False), ("ModuleResultOutOfBounds", (4, WAD + 1))),  # a round cutting over 100%
    ((0, 0, True), ("AdlRuleBroken", (0,))),  # the module's own error, passed through
])
def test_a_module_answer_the_venue_cannot_apply_is_refused_by_name(gmx, answer, expected):
    """ProgrammableAdl (contracts/testing): a close limit above the position or a round
    fraction above 1e18 is refused with ModuleResultOutOfBounds(Adl, value) and a reverting rule
    reverts the close with its own error; nothing is closed."""
    with gmx.snapshot():
        alice, _, _ = winners(gmx)
        module = gmx.set_market_module("ETH", "adl", "ProgrammableAdl")
        module.transact(gmx.admin, "setAnswer", *answer).raise_for_status()
        keeper = gmx.keeper("adl", adl=True)
        before = gmx.raw_position(alice, "ETH")
        receipt = gmx.clearinghouse.auto_deleverage(alice.address, gmx.market_id("ETH"), CLOSE_ALL,
                                                    sender=keeper.address)
        assert (receipt.error.error, tuple(receipt.error.args)) == expected
        assert gmx.raw_position(alice, "ETH") == before
        module.transact(gmx.admin, "setAnswer", 0, 0, False).raise_for_status()
        send(gmx, keeper, alice, "ETH", 10 * WAD)  # the same module answering in bounds closes
        assert abs(gmx.raw_position(alice, "ETH").size) == 90 * WAD
