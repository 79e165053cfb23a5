"""Stateful fuzzing: the default campaign in CI, and a broken invariant comes back shrunk as a
runnable pytest function."""

from __future__ import annotations

import pytest
from hypothesis.stateful import invariant

from protocol.errors import Reverted
from protocol.testing import InvariantViolation
from protocol.testing.fuzz import VenueMachine, run_campaign


def test_default_campaign_breaks_no_invariant(request):
    runs = 2_000 if request.config.getoption("--slow") else 200
    result = run_campaign(runs, backend="revm", steps_per_run=30)
    assert result.failure is None, result.failure
    assert result.steps >= runs * 10  # sequences ran, not just started
    # The campaign must reach the interesting parts of the venue, not only its refusals.
    for action in ("open", "decrease", "price", "create_order", "lp_deposit", "withdraw",
                   "lp_request_deposit", "lp_request_redeem", "lp_execute"):
        assert result.outcomes.get(action, 0) > 0, sorted(result.outcomes.items())
    assert any(k.startswith("liquidate") and ":" not in k for k in result.outcomes), result.outcomes
    # The economic properties' rules compared something (protocol.testing.properties).
    for action in ("attack_trade", "attack_order", "attack_lp", "split_deposit"):
        assert result.outcomes.get(action, 0) > 0, sorted(result.outcomes.items())


class NoOpenShortsMachine(VenueMachine):
    """A deliberately false 'invariant' the fuzzer must find: nobody is ever short ETH."""

    @invariant()
    def nobody_short_eth(self):
        for trader in self.w.traders:
            if self.venue.raw_position(trader, "ETH").size < 0:
                raise InvariantViolation("nobody short", f"{trader.name} is short ETH")


def test_a_failure_is_shrunk_into_a_runnable_pytest_function():
    result = run_campaign(300, backend="revm", machine=NoOpenShortsMachine)
    assert result.failure is not None
    text = result.failure
    assert "def test_fuzz_reproduction():" in text and "state.teardown()" in text
    # Shrunk: opening one short is enough, so the reproduction is a handful of lines ending in
    # a rule that opens one (oracle_outage opens the cross positions it needs). (Hypothesis usually gets it to the open alone; run after other suites it has
    # been seen to stop with a few harmless admin steps left before it.)
    checks = ("nobody_short_eth", "spec_invariants", "teardown", "fresh_prices")
    steps = [line for line in text.splitlines() if line.strip().startswith("state.")
             and not any(name in line for name in checks)]
    assert 1 <= len(steps) <= 5, text
    assert steps[-1].strip().startswith(("state.open(", "state.open_high_leverage(", "state.open_at_the_minimum(",
                                         "state.grow_into_a_tier(", "state.oracle_outage(")), text
    namespace: dict = {"NoOpenShortsMachine": NoOpenShortsMachine}
    exec(text.replace("from tests.test_fuzz import NoOpenShortsMachine", "")
         .replace("from test_fuzz import NoOpenShortsMachine", ""), namespace)
    try:
        namespace["test_fuzz_reproduction"]()
    except InvariantViolation as exc:
        assert exc.name == "nobody short"
    else:
        raise AssertionError("the printed reproduction does not reproduce the failure")


def test_fuzz_without_hypothesis_names_the_extra(monkeypatch):
    """A base install has no hypothesis: the command says what to install, in one line."""
    import sys

    from click.testing import CliRunner

    from protocol.cli import main as cli

    monkeypatch.setitem(sys.modules, "hypothesis", None)  # import hypothesis -> ModuleNotFoundError
    monkeypatch.delitem(sys.modules, "protocol.testing.fuzz", raising=False)
    monkeypatch.delitem(sys.modules, "protocol.testing.campaigns", raising=False)
    monkeypatch.delitem(sys.modules, "protocol.cli.fuzz", raising=False)  # loaded on first use
    result = CliRunner().invoke(cli, ["fuzz", "--steps", "1"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: perpsim fuzz needs hypothesis: pip install 'perpsim[fuzz]'"]


def test_the_outage_rule_liquidates_around_a_stale_market_and_keeps_the_debt():
    """``oracle_outage``: cross positions in ETH and BTC, BTC's feed stops, ETH gaps 40% against
    the account and a keeper liquidates it: ETH closes, BTC stays open and the debt stays on
    the account (SPEC §6), which the bad-debt property watches."""
    state = VenueMachine()
    try:
        state.fresh_prices()
        before = state.w.outcomes.get("liquidate", 0)  # the world's counts are the process's
        state.oracle_outage(stale="BTC", t=0, leverage=50, longs=True, bps=4000, k=0)
        v, trader = state.venue, state.w.traders[0]
        assert state.w.outcomes.get("liquidate") == before + 1
        assert v.clearinghouse.cross_markets(trader.address) == 1 << v.market_id("BTC")
        assert v.clearinghouse.cross_balance(trader.address) < 0
        assert state.w.watch.checked > 0
    finally:
        state.teardown()


def test_take_out_the_most_withdraws_to_the_unit_the_venue_allows():
    """``take_out_the_most``: after it, one token unit more is refused, and what is left is
    above maintenance (the PropertyWatch checked the withdrawal)."""
    state = VenueMachine()
    try:
        state.fresh_prices()
        v, trader = state.venue, state.w.traders[0]
        trader.open("BTC", "0.03", 50, "cross")
        state.rally(market="BTC", times=4)  # the position's notional now in BTC's 10x tier
        checked, before = state.w.watch.checked, state.w.outcomes.get("take_out_most", 0)
        state.take_out_the_most(t=0, market=None, act=0)
        assert state.w.outcomes.get("take_out_most") == before + 1
        assert state.w.watch.checked > checked  # the bisection's attempts and the withdrawal
        with v.snapshot():
            with pytest.raises(Reverted):
                trader.withdraw("0.000001")
        assert not v.is_liquidatable(trader)
    finally:
        state.teardown()


def test_at_the_tier_edge_an_open_and_a_withdrawal_are_refused():
    """``act_at_the_tier_edge``: the short's notional grown by price into BTC's 10x tier, the
    account drained to what the venue allows and the price just past its liquidation price:
    equity is then below maintenance but above notional / 50, and a cross open and a one-unit
    withdrawal are refused; everything is undone afterwards (a snapshot)."""
    state = VenueMachine()
    try:
        state.fresh_prices()
        v, trader = state.venue, state.w.traders[0]
        balance = v.clearinghouse.cross_balance(trader.address)
        seen: dict = {}
        original = state._do

        def health_then_do(kind, action):
            if kind == "open_at_edge":
                seen["health"] = v.clearinghouse.account_health(trader.address)
                seen["initial_at_50x"] = abs(v.raw_position(trader, "BTC").size) * v.oracle.latest(v.market_id("BTC"))[0] // 10**18 // 50
            return original(kind, action)

        state._do = health_then_do
        before = dict(state.w.outcomes)
        state.act_at_the_tier_edge(t=0, times=4, bps=5, act=0)
        added = {k: n - before.get(k, 0) for k, n in state.w.outcomes.items() if n != before.get(k, 0)}
        assert added["open_at_edge:InsufficientFreeCollateral"] == 1
        assert added["withdraw_at_edge:TransferRuleViolated"] == 1
        equity, maintenance = seen["health"][:2]
        assert seen["initial_at_50x"] < equity < maintenance  # the window the rule aims at
        assert not v.raw_position(trader, "BTC").size
        assert v.clearinghouse.cross_balance(trader.address) == balance
    finally:
        state.teardown()


@pytest.mark.parametrize("module, outcome", [("StockAdl", "adl:AdlNotHighestRanked"),
                                             ("GmxAdl", "adl:done"), ("ProRataAdl", "adl:done")])
def test_the_adl_rule_judges_a_close_by_the_markets_adl_module(module, outcome):
    """``auto_deleverage`` on a world whose ADL rule is a module: the ADL keeper closes the
    lower-ranked of two winners. The stock rule refuses it by name; GMX's rule (the keeper's
    choice) and the pro-rata round (every winner cut) let it go, and "roles and order" holds:
    it is judged by the market's rule, not by the stock rank."""
    machine = type("AdlMachine", (VenueMachine,), {"modules": {"adl": module}})
    state = machine()
    try:
        state.fresh_prices()
        first, second = state.w.traders[:2]
        first.open("ETH", 5, 10, "cross")
        second.open("ETH", 1, 2, "cross")
        before = state.w.outcomes.get(outcome, 0)
        state.auto_deleverage(caller="adl-keeper", pick=1, whole=True, market="ETH", bps=4_000)
        assert state.w.outcomes.get(outcome, 0) == before + 1, state.w.outcomes
    finally:
        state.teardown()


def test_a_profit_paid_in_full_ends_the_profit_cap_episode():
    """``admin_profit_cap`` with ``lift``: under a 1 bp cap the winner most in profit closes,
    capped (the episode's hold kept); the admin restores 9,000 bps and the other winner closes,
    paid in full, which ends the episode: the hold is back to 0 (SPEC §8.1)."""
    state = VenueMachine()
    try:
        state.fresh_prices()
        v = state.venue
        first, second = state.w.traders[:2]
        first.open("ETH", 5, 10, "cross")
        second.open("ETH", 1, 5, "cross")
        state.move_price(market="ETH", bps=2_500)  # 3,750 and 750 of profit; 1 bp of the pool ~1,100
        before = state.w.outcomes.get("episode_ended", 0)
        held = {}
        original = state._end_the_episode

        def seen_then_end():
            held["before"] = v.clearinghouse.profit_budget()[2]
            original()
        state._end_the_episode = seen_then_end
        state.admin_profit_cap(cap_bps=1, close=True, pieces=1, lift=True)
        assert held["before"] > 0  # the capped close held back part of the budget
        assert v.raw_position(first, "ETH").size == 0 and v.raw_position(second, "ETH").size == 0
        assert state.w.outcomes.get("episode_ended", 0) == before + 1, state.w.outcomes
        assert v.clearinghouse.profit_budget()[2] == 0
    finally:
        state.teardown()
