"""The adversarial economic properties (issue 24 §1, protocol.testing.adversarial): each holds on
the real venue and raises AdversarialViolation, naming itself, when fed a violating situation.
On both in-process EVMs (``backend``)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from venue_fixtures import funded

from protocol import MarketConfig, Venue
from protocol.constants import WAD
from protocol.testing import adversarial, fuzz
from protocol.testing.adversarial import (
    CLOSE_ALL,
    DELAYS_HOLD,
    MODULES_CANT_FREEZE,
    NO_FREE_OPTION,
    ROLES_AND_ORDER,
    AdversarialViolation,
    DelayWatch,
    MarginRuleView,
    check_adl,
    check_modules_cannot_freeze,
    check_no_free_option,
    check_roles,
    deploy_modules,
)
from protocol.testing.invariants import InvariantViolation
from protocol.venue.adl import ranked_candidates


# ====================================================================== roles and order
def test_every_privileged_entry_point_refuses_strangers(venue):
    alice, keeper = funded(venue, "alice"), venue.keeper("k")
    assert check_roles(venue, [alice.address, keeper.address], alice.address) == 22


def test_an_entry_point_open_to_a_stranger_is_a_violation(venue, monkeypatch):
    """``updateFunding`` is public: listed as privileged, the check reports it went through."""
    alice = funded(venue, "alice")
    listed = adversarial.privileged_calls
    monkeypatch.setattr(adversarial, "privileged_calls", lambda v, victim: [
        *listed(v, victim), ("updateFunding (admin)", v.clearinghouse, "updateFunding", (0,))])
    with pytest.raises(AdversarialViolation) as caught:
        check_roles(venue, [alice.address], alice.address)
    assert caught.value.name == ROLES_AND_ORDER and "updateFunding" in str(caught.value)
    assert isinstance(caught.value, InvariantViolation)


def two_winners(venue):
    """Alice long 5 ETH at 10x, bob long 1 ETH at 2x (a lower score), ETH up 40%: ADL due."""
    alice, bob = funded(venue, "alice", 20_000, 5_000), funded(venue, "bob", 20_000, 5_000)
    alice.open("ETH", size=5, leverage=10, mode="isolated", margin=1_500)
    bob.open("ETH", size=1, leverage=2, mode="isolated", margin=1_500)
    venue.set_price("ETH", 4_200)
    factor = venue.solvency().pnl_factor
    venue.clearinghouse.set_pnl_factors(0, int(factor * 10_000) - 1, 1,
                                        sender=venue.admin).raise_for_status()
    return alice, bob


def test_adl_by_a_keeper_in_rank_order_holds(venue):
    alice, bob = two_winners(venue)
    ranking = ranked_candidates(venue, ["ETH", "BTC"])
    assert [c.account for c in ranking] == [alice.address, bob.address]
    keeper = venue.keeper("adl", adl=True)
    receipt = venue.clearinghouse.auto_deleverage(alice.address, 0, WAD, sender=keeper.address)
    assert receipt.status
    check_adl(venue, ranking, keeper.address, alice.address, "ETH", True)
    refused = venue.clearinghouse.auto_deleverage(bob.address, 0, WAD, sender=keeper.address)
    assert refused.error.error == "AdlNotHighestRanked"


def test_adl_out_of_rank_or_by_a_stranger_is_a_violation(venue):
    """What the venue refuses, reported as if it had gone through: the check names both."""
    alice, bob = two_winners(venue)
    ranking = ranked_candidates(venue, ["ETH", "BTC"])
    keeper, stranger = venue.keeper("adl", adl=True), venue.keeper("stranger")
    with pytest.raises(AdversarialViolation, match="higher-ranked position stayed open") as caught:
        check_adl(venue, ranking, keeper.address, bob.address, "ETH", True)
    assert caught.value.name == ROLES_AND_ORDER
    assert caught.value.details["highest_position"] == (alice.address, "ETH")
    with pytest.raises(AdversarialViolation, match="without the role"):
        check_adl(venue, ranking, stranger.address, alice.address, "ETH", True)
    with pytest.raises(AdversarialViolation, match="without the role"):  # the owner itself
        venue.grant_role("ADL_KEEPER", alice.address).raise_for_status()
        check_adl(venue, ranking, alice.address, alice.address, "ETH", True)


@pytest.fixture(scope="module")
def adl_venues(backend):
    """The venue under each ADL rule of its own (``IAdlModule``): GMX v2's keeper-chosen close
    and the pro-rata round."""
    from venue_fixtures import launch

    return {module: launch(backend, modules={"adl": module}) for module in ("GmxAdl", "ProRataAdl")}


@pytest.mark.parametrize("module", ["GmxAdl", "ProRataAdl"])
def test_adl_under_a_rule_without_rank_is_judged_by_that_rule(adl_venues, module):
    """Bob ranks below alice. GMX's rule lets the keeper choose him, and the pro-rata rule
    cuts every winner of its round, him included: the close goes through and the check holds.
    The role and the target in profit are still checked."""
    venue = adl_venues[module]
    with venue.snapshot():
        alice, bob = two_winners(venue)
        ranking = ranked_candidates(venue, ["ETH", "BTC"])
        assert [c.account for c in ranking] == [alice.address, bob.address]
        keeper = venue.keeper("adl", adl=True)
        receipt = venue.clearinghouse.auto_deleverage(bob.address, 0, CLOSE_ALL, sender=keeper.address)
        assert receipt.status, receipt.error
        check_adl(venue, ranking, keeper.address, bob.address, "ETH", True)
        with pytest.raises(AdversarialViolation, match="without the role"):
            check_adl(venue, ranking, venue.keeper("stranger").address, bob.address, "ETH", True)
        carol = funded(venue, "carol", 20_000, 5_000)  # a loser: not a position ADL could close
        carol.open("ETH", size=-1, leverage=2, mode="isolated", margin=2_500)
        with pytest.raises(AdversarialViolation, match="not a position ADL could close"):
            check_adl(venue, ranked_candidates(venue, ["ETH", "BTC"]), keeper.address,
                      carol.address, "ETH", True)


def test_a_round_close_of_a_position_outside_the_round_is_a_violation(adl_venues):
    """Under the pro-rata rule a close that went through must have cut a member of the round in
    progress, once: here alice, who is a member, reported closed while the round has not cut
    her."""
    venue = adl_venues["ProRataAdl"]
    with venue.snapshot():
        alice, bob = two_winners(venue)
        ranking = ranked_candidates(venue, ["ETH", "BTC"])
        keeper = venue.keeper("adl", adl=True)
        assert venue.clearinghouse.auto_deleverage(bob.address, 0, CLOSE_ALL, sender=keeper.address).status
        with pytest.raises(AdversarialViolation, match="not cut by the round"):
            check_adl(venue, ranking, keeper.address, alice.address, "ETH", True)


# ====================================================================== delays hold
def test_the_margin_rule_comparison_is_exact():
    mmf_rule = MarginRuleView(mmf=WAD // 200, max_leverage=50)  # 0.5%
    tiers = MarginRuleView(mmf=WAD // 200, max_leverage=50, tiers=((0, 50, 0),))  # 1% (1/(2x50))
    assert tiers.maintenance(10**24) == 10**22 and mmf_rule.maintenance(10**24) == 5 * 10**21
    assert tiers.riskier_than(mmf_rule) == 10**24  # 1 WAD of notional: 1 wei either way
    assert mmf_rule.riskier_than(tiers) is None
    lower = MarginRuleView(mmf=WAD // 200, max_leverage=20)
    assert lower.riskier_than(mmf_rule) == 0  # less leverage allowed from the first notional


def change_leverage(venue, leverage):
    from dataclasses import replace

    config = replace(venue.markets["ETH"], max_leverage=leverage)
    return lambda: venue.clearinghouse.configure_market(0, config.symbol_bytes(),
                                                        config.encode(venue.decimals),
                                                        sender=venue.admin).raise_for_status()


def test_a_risk_increasing_change_waits_for_ready_at(venue):
    watch = DelayWatch()
    watch.admin_call(venue, 0, lambda: venue.set_risk_change_delay(3_600))
    assert watch.delay == 3_600
    lower = change_leverage(venue, 10)
    scheduled = watch.admin_call(venue, 0, lower)
    assert scheduled.events_named("MarketChangeScheduled") and MarginRuleView.read(venue, 0).max_leverage == 50
    assert watch.admin_call(venue, 0, lower) is None  # MarketChangeNotReady
    venue.advance_time(3_600)
    applied = watch.admin_call(venue, 0, lower)
    assert applied.events_named("MarketConfigured") and MarginRuleView.read(venue, 0).max_leverage == 10
    assert watch.admin_call(venue, 0, change_leverage(venue, 50)).events_named("MarketConfigured")  # at once


def test_a_risk_increasing_change_applied_at_once_under_a_delay_is_a_violation(venue):
    """The watch believes a delay of an hour is in force; the venue has none, so the change
    applies at once: what a venue ignoring its delay does."""
    watch = DelayWatch(delay=3_600)
    with pytest.raises(AdversarialViolation, match="took effect before readyAt") as caught:
        watch.admin_call(venue, 0, change_leverage(venue, 10))
    assert caught.value.name == DELAYS_HOLD and caught.value.details["at_notional_wad"] == 0


# ====================================================================== modules can't freeze
@pytest.fixture()
def one_sided(venue):
    """Two longs in ETH, no short (funding toward an empty side), the cross one thin."""
    alice, bob = funded(venue, "alice", 20_000, 5_000), funded(venue, "bob", 20_000, 800)
    alice.open("ETH", size=2, leverage=10, mode="isolated", margin=700)
    bob.open("ETH", size=2, leverage=10, mode="cross")
    return [alice, bob], venue.keeper("k"), deploy_modules(venue)


@pytest.mark.parametrize("module", ["hyperliquid-rates", "rates-revert", "take-all-liquidation",
                                    "out-of-gas-liquidation"])
def test_no_module_freezes_the_venue(venue, one_sided, module):
    traders, keeper, deployed = one_sided
    done = check_modules_cannot_freeze(venue, deployed, module, "ETH", traders, keeper, seconds=3_600,
                                       move_bps=-1_300, small_slices=True)
    assert done["batch"] == 2
    if module in ("hyperliquid-rates", "take-all-liquidation"):  # valid answers: closes, liquidations
        assert done["closes"] == 2 and done["liquidations"] >= 1, done


def test_a_liquidation_a_module_blocks_is_a_violation(venue, one_sided, monkeypatch):
    """GreedyLiquidation answers a penalty above what is left, which the venue refuses
    (ModuleResultOutOfBounds); declared a module of valid answers, the check reports it."""
    traders, keeper, deployed = one_sided
    monkeypatch.setitem(adversarial.MODULES, "greedy-as-valid", ("liquidation", "GreedyLiquidation", False, None))
    with pytest.raises(AdversarialViolation, match="cannot be liquidated") as caught:
        check_modules_cannot_freeze(venue, deployed, "greedy-as-valid", "ETH", traders, keeper,
                                    move_bps=-1_300)
    assert caught.value.name == MODULES_CANT_FREEZE and "ModuleResultOutOfBounds" in str(caught.value)


# ====================================================================== no free option
def pending_cross_order(venue):
    alice, keeper = funded(venue, "alice", 2_000, 1_000), venue.keeper("k")
    order = alice.create_order("ETH", "market_increase", 1, leverage=10, mode="cross")
    venue.advance_time(1)
    venue.set_prices({"ETH": 3_000, "BTC": 60_000})
    return alice, order.order_id, lambda: venue.order_book.execute_order(order.order_id,
                                                                         sender=keeper.address)


def test_the_owners_withdrawal_cannot_refund_a_pending_order(venue):
    alice, order_id, execute = pending_cross_order(venue)
    def withdraw():
        return venue.clearinghouse.withdraw(alice.address, venue.tokens(1_000),
                                            sender=alice.address).raise_for_status()
    assert check_no_free_option(venue, order_id, withdraw, execute) == ("OrderExecuted", "OrderExecuted")
    assert venue.position(alice, "ETH").size == 1


def test_an_action_that_fails_the_order_is_a_violation(venue):
    """Pausing trading fails the execution with a full refund: fed as the owner's action, the
    check reports the free option."""
    alice, order_id, execute = pending_cross_order(venue)
    pause = lambda: venue.clearinghouse.set_paused(True, sender=venue.admin).raise_for_status()  # noqa: E731
    with pytest.raises(AdversarialViolation, match="full refund") as caught:
        check_no_free_option(venue, order_id, pause, execute, description="a pause")
    assert caught.value.name == NO_FREE_OPTION
    assert caught.value.details == {"without_action": "OrderExecuted", "with_action": "OrderFailed"}


# ====================================================================== in the fuzzer
def test_the_fuzzer_runs_the_adversarial_rules():
    from protocol.testing.fuzz import run_campaign

    result = run_campaign(15, backend="revm", seed=3)
    assert result.failure is None, result.failure
    ran = {key.split(":")[0] for key in result.outcomes}
    assert {"hostile_module", "free_option", "admin_risk_change"} <= ran, sorted(ran)


@pytest.mark.parametrize("modules, frozen", [({"pricing": "ZeroPricing"}, True), ({}, False)])
def test_a_pricing_module_that_refuses_an_honest_round_trip_breaks_the_property_at_launch(
        backend, modules, frozen):
    """The fuzz world's launch pre-fills the impact pool with an honest 100 ETH round trip: a
    venue whose pricing module makes the core refuse it (ModuleResultOutOfBounds) breaks
    "modules can't freeze the venue" before the first step; the stock venue launches."""
    venue = Venue.launch(backend=backend, markets=[MarketConfig(symbol="ETH", initial_price=Decimal(3000))],
                         modules=modules)
    world = fuzz.World(venue, [], [], None)
    if not frozen:
        fuzz._economic_setup(world)  # the round trip went through: the world is made
        assert len(world.attackers) == fuzz.ATTACKERS and world.watch is not None
        return
    with pytest.raises(AdversarialViolation, match="an honest 100 ETH round trip at launch: its open fails"):
        fuzz._economic_setup(world)
