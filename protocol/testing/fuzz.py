"""Stateful fuzzing of the venue: a hypothesis ``RuleBasedStateMachine`` over every action a
user, keeper, LP or admin can take, with SPEC §12 checked after every step.

Each run starts from the same launched venue (a chain snapshot is reverted in ``teardown``), so
sequences are independent and cheap. Refusals (custom errors) are normal outcomes; anything else
-- a broken invariant, a position liquidatable right after it opened, an isolated liquidation
that touches another position -- fails the run, and hypothesis shrinks it to the shortest
sequence, which :func:`run_campaign` prints as a runnable pytest function.

The economic properties (:mod:`protocol.testing.properties`) are checked too: a
:class:`~protocol.testing.properties.PropertyWatch` after every transaction, and rules for an
attacker's round trips and split-vs-whole comparisons (the block marked "economic properties").
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import time
import unittest
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, NoReturn, Optional, Union, cast

from hypothesis import HealthCheck, Phase, reporting, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.internal.compat import int_from_bytes
from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants
from hypothesis.internal.reflection import function_digest
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    invariant,
    precondition,
    rule,
)

from protocol import Venue
from protocol.build.digest import contracts_sha256
from protocol.chain import Receipt
from protocol.errors import Reverted
from protocol.margin.types import MarginMode
from protocol.testing.adversarial import (
    CLOSE_ALL,
    MODULES_CANT_FREEZE,
    AdversarialViolation,
    DelayWatch,
    check_adl,
    check_modules_cannot_freeze,
    check_no_free_option,
    check_roles,
    deploy_modules,
)
from protocol.testing.adversarial import MODULES as ADVERSARIAL_MODULES
from protocol.testing.agreement import ModelWatch
from protocol.testing.batch import install as install_view_batch
from protocol.testing.batch import prefetch_invariant_views
from protocol.testing.crash import Failure, write_bundle
from protocol.testing.invariants import InvariantViolation, assert_invariants
from protocol.testing.properties import (
    PropertyWatch,
    RoundTrip,
    check_path_independence,
    close_order,
    lp_cycle,
    push_same_prices,
    split_close,
    split_lp,
)
from protocol.venue.adl import ranked_candidates
from protocol.venue.bounds import ParameterOutOfBounds
from protocol.venue.client import Keeper, Trader
from protocol.venue.config import MarketConfig
from protocol.venue.rules import mirrors
from protocol.venue.views import PositionView

SYMBOLS = ("ETH", "BTC")
TRADERS, KEEPERS = 4, 2
STEPS_PER_RUN = 30
ATTACKERS = 2  # accounts of the designated attacker (economic properties)
ECONOMIC_ODDS = 3  # an economic-property rule acts one time in this many it is drawn
#: The close-order rule (two winners under a binding cap, either order; SPEC §8.1's B / R
#: exception for a position whose own profit exceeds the pending profit left out). False turns
#: it off.
CLOSE_ORDER_RULE = True
#: The campaign's markets: ETH with one maintenance fraction and GMX price impact scaled to the
#: fuzz world's trades (a 5 ETH trade against an even book holds 0.75% of its size as pending
#: impact, above the 0.2% cap a decrease realises at most; its close's own impact is 0.375%),
#: BTC with Hyperliquid tiers whose bounds single trades reach (1.5 to 15k USD), so positions
#: grow into lower-leverage tiers. ETH pays positive impact up to 0.1% of a trade: before the
#: venue held the negative impact above the cap (SPEC §5.1), this campaign found two accounts
#: collecting one's waived excess as the other's positive impact. Both slice a liquidation of
#: more than $5,000 (the default threshold, $1M, is above every position the fuzzer opens).
MARKETS = (MarketConfig(symbol="ETH", initial_price=Decimal(3000),
                        impact_factor_positive=Decimal("0.00000025"), impact_factor_negative=Decimal("0.0000005"),
                        max_negative_impact_bps=20, max_positive_impact_bps=10, max_liquidation_impact_bps=20,
                        partial_threshold_usd=Decimal(5_000)),
           MarketConfig(symbol="BTC", initial_price=Decimal(60000),
                        tiers=((Decimal(0), 50), (Decimal(2_000), 20), (Decimal(6_000), 10)),
                        partial_threshold_usd=Decimal(5_000)))
PRICE_LIMITS = {"ETH": (Decimal(300), Decimal(30_000)), "BTC": (Decimal(6_000), Decimal(600_000))}


@dataclass
class World:
    """The venue every run starts from, launched once per backend and process."""

    venue: Venue
    traders: list[Trader]
    keepers: list[Keeper]
    lp: Trader
    snapshot: Any = None
    steps: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    # Economic properties (protocol.testing.properties): the attacker's accounts and the
    # post-action checks, made when the world is.
    attackers: list[Trader] = field(default_factory=list)
    watch: Optional[PropertyWatch] = None
    #: The reference model replaying each step's transactions (``model agrees``).
    model_watch: Optional[ModelWatch] = None
    #: (chain, state_version) at the last invariant check that passed, and the checks skipped
    #: because the state had not changed since (``VenueMachine.spec_invariants``).
    checked_version: Any = None
    skipped_checks: int = 0


_WORLDS: dict[tuple[str, tuple[tuple[str, str], ...], Optional[str]], World] = {}
_MIRRORS: dict[tuple[tuple[str, str], ...], dict[str, object]] = {}


def _mirrors(choices: Mapping[str, str]) -> dict[str, object]:
    """The mirrors of ``choices``, made once per process."""
    key = tuple(sorted(choices.items()))
    if key not in _MIRRORS:
        _MIRRORS[key] = mirrors(choices)
    return _MIRRORS[key]


def world(backend: str, modules: Optional[Mapping[str, str]] = None,
          contracts: Optional[str] = None) -> World:
    """The venue on ``backend``, with rule ``modules`` (kind -> contract, from the project or
    from ``contracts``, a directory of the user's .sol files) if given."""
    key = (backend, tuple(sorted((modules or {}).items())), contracts)
    w = _WORLDS.get(key)
    if w is None:
        venue = Venue.launch(backend=backend, markets=MARKETS, insurance=50_000, modules=dict(modules or {}),
                             contracts=contracts)
        traders = []
        for i in range(TRADERS):
            t = venue.trader(f"fuzz{i}", usdc=1_000_000)
            t.deposit(20_000)
            traders.append(t)
        keepers = [venue.keeper(f"keeper{i}") for i in range(KEEPERS)]
        lp = venue.trader("fuzz-lp", usdc=5_000_000)
        lp.provide_liquidity(1_000_000)  # a stake to redeem from the first step (nothing open yet)
        w = _WORLDS[key] = World(venue, traders, keepers, lp)
        _economic_setup(w)
        install_view_batch(venue.chain)  # code at a fixed address: no transaction, no block
    return w


def _economic_setup(w: World) -> None:
    """The attacker's accounts, funded and deposited, and the post-action property checks
    (no action leaves anyone liquidatable, bad debt only with no position left)."""
    for i in range(ATTACKERS):
        a = w.venue.trader(f"attacker{i}", usdc=1_000_000)
        a.deposit(50_000)
        w.attackers.append(a)
    # Honest flow into ETH's impact pool (what a round trip could try to take): a 100 ETH open
    # and close realises the 0.2% cap of $300k. The venue's own rules may refuse it by name (no
    # flow then); refused by the core's check of a module's answer, or without a name, the
    # venue's pricing freezes an honest trader's round trip: the first property broken.
    whale = w.venue.trader("fuzz-whale", usdc=100_000)
    whale.deposit(100_000)
    actions: tuple[tuple[str, Callable[[], object]], ...] = (
        ("open", lambda: whale.open("ETH", 100, 10, "cross")), ("close", lambda: whale.close("ETH")))
    for step, action in actions:
        try:
            action()
        except Reverted as exc:
            if exc.error is None or exc.error in ("Panic", "ModuleResultOutOfBounds"):
                raise AdversarialViolation(MODULES_CANT_FREEZE, f"an honest 100 ETH round trip at "
                                           f"launch: its {step} fails", error=str(exc)) from None
            break
    w.watch = PropertyWatch(w.venue).install()
    w.model_watch = ModelWatch(w.venue).install()


def _boundary(holds: Callable[[int], bool], low: int, high: int) -> tuple[int, int]:
    """Bisection of a predicate true at ``low`` and false at ``high`` (monotone between):
    the adjacent (last true, first false)."""
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if holds(middle) else (low, middle)
    return low, high


class VenueMachine(RuleBasedStateMachine):
    """Every action on one venue. ``backend``, ``modules`` and ``contracts`` (the venue's rule
    modules, see :func:`world`) and ``mirrors`` (the Python mirrors invariants ask instead of
    those modules, :func:`protocol.venue.rules.mirror`) are class attributes (subclass to change
    them)."""

    backend = "revm"
    modules: Mapping[str, str] = {}
    contracts: Optional[str] = None
    mirrors: Mapping[str, str] = {}
    #: Per-run state of the adversarial rules (see :meth:`_adversary`), made on first use.
    _adversarial_state: dict[str, Any]

    def __init__(self) -> None:
        super().__init__()
        self.w = world(self.backend, self.modules, self.contracts)
        self.venue = self.w.venue
        self.checks = _mirrors(self.mirrors)
        self.token = self.venue.chain.take_snapshot()
        self.orders: list[int] = []

    def teardown(self) -> None:
        self.venue.chain.revert_to(self.token)

    # ------------------------------------------------------------------ helpers
    def _do(self, kind: str, action: Callable[[], Any]) -> Optional[Any]:
        """Run one action; a custom-error refusal is a normal outcome and is counted."""
        self.w.steps += 1
        try:
            result = action()
        except Reverted as exc:
            key = f"{kind}:{exc.error}"
            self.w.outcomes[key] = self.w.outcomes.get(key, 0) + 1
            return None
        self.w.outcomes[kind] = self.w.outcomes.get(kind, 0) + 1
        return result

    def _trader(self, i: int) -> Trader:
        return self.w.traders[i % TRADERS]

    # ------------------------------------------------------------------ accounts
    @initialize()
    def fresh_prices(self) -> None:
        self.venue.set_prices({"ETH": 3000, "BTC": 60000})

    @rule(t=st.integers(0, TRADERS - 1), usd=st.integers(1, 20_000))
    def deposit(self, t: int, usd: int) -> None:
        self._do("deposit", lambda: self._trader(t).deposit(usd))

    @rule(t=st.integers(0, TRADERS - 1), usd=st.integers(1, 20_000))
    def withdraw(self, t: int, usd: int) -> None:
        self._do("withdraw", lambda: self._trader(t).withdraw(usd))

    # ------------------------------------------------------------------ trading
    @rule(t=st.integers(0, TRADERS - 1), market=st.sampled_from(SYMBOLS),
          tenths=st.integers(-50, 50).filter(bool), leverage=st.integers(1, 60),
          mode=st.sampled_from(["isolated", "cross"]), cushion=st.integers(90, 300))
    def open(self, t: int, market: str, tenths: int, leverage: int, mode: str, cushion: int) -> None:
        v, trader = self.venue, self._trader(t)
        size = Decimal(tenths) / (10 if market == "ETH" else 200)
        margin = (abs(size) * v.price(market) / max(leverage, 1) * cushion / 100).quantize(Decimal("0.01"))
        done = self._do("open", lambda: trader.open(market, size, leverage, mode,
                                                    margin=margin if mode == "isolated" else 0))
        if done is not None:  # SPEC §12: after a successful open nothing is liquidatable
            if v.is_liquidatable(trader, market) if mode == "isolated" else v.is_liquidatable(trader):
                raise InvariantViolation("open not immediately liquidatable",
                                         f"{trader.name} {market} {mode} is liquidatable after opening")

    @rule(t=st.integers(0, TRADERS - 1), market=st.sampled_from(SYMBOLS),
          tenths=st.integers(-50, 50).filter(bool), leverage=st.integers(10, 50))
    def open_high_leverage(self, t: int, market: str, tenths: int, leverage: int) -> None:
        """Thin isolated positions: the ones price moves liquidate."""
        self.open(t, market, tenths, leverage, "isolated", 105)

    @rule(t=st.integers(0, TRADERS - 1), market=st.sampled_from(SYMBOLS),
          tenths=st.integers(-50, 50).filter(bool), act=st.integers(0, ECONOMIC_ODDS - 1))
    def open_at_the_minimum(self, t: int, market: str, tenths: int, act: int) -> None:
        """An attacker's boundary probe (SPEC §5's open buffer): the smallest margin the venue
        accepts for an isolated open at the market's max leverage, found to the token unit by
        bisection inside snapshots, then opened for real; the PropertyWatch checks it is above
        maintenance now and one block later."""
        if not self._economic(act):
            return
        v, trader = self.venue, self._trader(t)
        size = Decimal(tenths) / (10 if market == "ETH" else 200)
        leverage = v.clearinghouse.market_config(v.market_id(market))[4]

        def usd(units: int) -> Decimal:
            amount: Decimal = Decimal(units) / 10**v.decimals  # token units as USD
            return amount

        def accepted(units: int) -> bool:
            with v.chain.snapshot():
                return self._attempt(lambda: trader.open(market, size, leverage, "isolated",
                                                         margin=usd(units))) is not None

        high = int(abs(size) * v.price(market) * 10**v.decimals)  # 1x: surely enough
        if not accepted(high):
            return
        _, high = _boundary(lambda units: not accepted(units), 0, high)
        self._do("open_at_minimum", lambda: trader.open(market, size, leverage, "isolated",
                                                        margin=usd(high)))

    @rule(t=st.integers(0, TRADERS - 1), market=st.sampled_from([None, *SYMBOLS]),
          act=st.integers(0, ECONOMIC_ODDS - 1))
    def take_out_the_most(self, t: int, market: Optional[str], act: int) -> None:
        """An attacker's boundary probe (SPEC §5's transfer rule): the largest withdrawal from
        the cross balance (``market`` None) or margin removal from the trader's isolated
        position in ``market`` that the venue accepts, found to the token unit by bisection
        inside snapshots, then made for real; the PropertyWatch checks that what is left is
        above maintenance now and one block later."""
        if not self._economic(act):
            return
        self._take_out_most(self._trader(t), market)

    def _take_out_most(self, trader: Trader, market: Optional[str]) -> None:
        v = self.venue

        def usd(units: int) -> Decimal:
            amount: Decimal = Decimal(units) / 10**v.decimals  # token units as USD
            return amount

        take: Callable[[int], Receipt]
        if market is None:
            most = v.clearinghouse.cross_balance(trader.address)
            take = lambda units: trader.withdraw(usd(units))  # noqa: E731
        else:
            held = v.raw_position(trader, market)
            most = held.margin if held.size and held.mode == MarginMode.ISOLATED else 0
            take = lambda units: trader.remove_margin(market, usd(units))  # noqa: E731

        def accepted(units: int) -> bool:
            with v.chain.snapshot():
                return self._attempt(lambda: take(units)) is not None

        if most <= 0 or not accepted(1):
            return
        if not accepted(most):
            most, _ = _boundary(accepted, 1, most)
        self._do("take_out_most", lambda: take(most))

    @rule(t=st.integers(0, TRADERS - 1), times=st.integers(4, 6), bps=st.sampled_from([1, 5, 25]),
          act=st.integers(0, ECONOMIC_ODDS - 1))
    def act_at_the_tier_edge(self, t: int, times: int, bps: int, act: int) -> None:
        """An attacker's boundary probe (SPEC §4, §5), inside a snapshot: a small BTC cross short
        at the first tier's 50x, a rally of ``times`` that grows its notional into the 10x
        tier (its maintenance is then above notional / 50), the most the venue lets the
        account withdraw, and the price ``bps`` past the account's liquidation price; then a
        small cross open and a one-unit withdrawal, which must be refused (the PropertyWatch
        judges whatever goes through)."""
        if not self._economic(act):
            return
        v, trader = self.venue, self._trader(t)
        if v.raw_position(trader, "BTC").size:
            return
        with v.snapshot():
            if self._do("open", lambda: trader.open("BTC", Decimal("-0.03"), 50, "cross")) is None:
                return
            self._push("BTC", (times - 1) * 10_000)
            self._take_out_most(trader, None)
            if not self._price_to_edge(trader, "BTC", bps):
                return
            self._do("open_at_edge", lambda: trader.open("ETH", Decimal("0.01"), 10, "cross"))
            self._do("withdraw_at_edge", lambda: trader.withdraw(Decimal("0.000001")))

    @rule(t=st.integers(0, TRADERS - 1), start=st.integers(1, 6), grow=st.integers(1, 40),
          leverage=st.integers(20, 50), mode=st.sampled_from(["isolated", "cross"]))
    def grow_into_a_tier(self, t: int, start: int, grow: int, leverage: int, mode: str) -> None:
        """A small BTC position at a first-tier leverage, then increased at that leverage past
        tier bounds (SPEC §4: its maintenance is then the higher tier's, which can exceed
        notional / leverage)."""
        trader, price = self._trader(t), self.venue.price("BTC")
        for size in (Decimal(start) / 1_000, Decimal(grow) / 200):
            margin = (size * price / leverage * Decimal("1.05")).quantize(Decimal("0.01"))
            if self._do("open", lambda: trader.open("BTC", size, leverage, mode,
                                                    margin=margin if mode == "isolated" else 0)) is None:
                return

    @rule(t=st.integers(0, TRADERS - 1), market=st.sampled_from(SYMBOLS), pct=st.integers(1, 100))
    def decrease(self, t: int, market: str, pct: int) -> None:
        trader = self._trader(t)
        size = abs(self.venue.raw_position(trader, market).size) * pct // 100
        self._do("decrease", lambda: trader.decrease(market, Decimal(size) / 10**18 or Decimal("1e-18")))

    @rule(t=st.integers(0, TRADERS - 1), market=st.sampled_from(SYMBOLS))
    def close(self, t: int, market: str) -> None:
        self._do("close", lambda: self._trader(t).close(market))

    @rule(t=st.integers(0, TRADERS - 1), market=st.sampled_from(SYMBOLS), usd=st.integers(1, 2_000))
    def add_margin(self, t: int, market: str, usd: int) -> None:
        self._do("add_margin", lambda: self._trader(t).add_margin(market, usd))

    @rule(t=st.integers(0, TRADERS - 1), market=st.sampled_from(SYMBOLS), usd=st.integers(1, 2_000))
    def remove_margin(self, t: int, market: str, usd: int) -> None:
        self._do("remove_margin", lambda: self._trader(t).remove_margin(market, usd))

    # ------------------------------------------------------------------ orders
    @rule(t=st.integers(0, TRADERS - 1), market=st.sampled_from(SYMBOLS),
          kind=st.sampled_from(["market_increase", "limit_increase", "stop_loss", "take_profit",
                                "market_decrease"]),
          offset=st.integers(-500, 500), tenths=st.integers(1, 30))
    def create_order(self, t: int, market: str, kind: str, offset: int, tenths: int) -> None:
        v, trader = self.venue, self._trader(t)
        price = v.price(market)
        trigger = None if kind.startswith("market") else (price * (10_000 + offset) / 10_000).quantize(Decimal("0.01"))
        if kind.endswith("increase"):
            size = Decimal(tenths) / (10 if market == "ETH" else 200)
            margin = (size * price / 5 * Decimal("1.2")).quantize(Decimal("0.01"))
            action = lambda: trader.create_order(market, kind, size, leverage=5, collateral=margin,  # noqa: E731
                                                 trigger_price=trigger)
        else:
            action = lambda: trader.create_order(market, kind, side="long", trigger_price=trigger)  # noqa: E731
        placed = self._do("create_order", action)
        if placed is not None:
            self.orders.append(placed.order_id)

    @precondition(lambda self: self.orders)
    @rule(k=st.integers(0, KEEPERS - 1), pick=st.integers(0, 1_000))
    def execute_order(self, k: int, pick: int) -> None:
        order_id = self.orders[pick % len(self.orders)]
        self._do("execute_order", lambda: self.w.keepers[k].execute_order(order_id))

    @precondition(lambda self: self.orders)
    @rule(t=st.integers(0, TRADERS - 1), pick=st.integers(0, 1_000))
    def cancel_order(self, t: int, pick: int) -> None:
        order_id = self.orders[pick % len(self.orders)]
        self._do("cancel_order", lambda: self._trader(t).cancel_order(order_id))

    # ------------------------------------------------------------------ market
    @rule(market=st.sampled_from(SYMBOLS), bps=st.integers(-300, 300))
    def move_price(self, market: str, bps: int) -> None:
        self._push(market, bps)

    @rule(market=st.sampled_from(SYMBOLS), bps=st.sampled_from([-4000, -2500, -1200, 1200, 2500, 4000]))
    def gap(self, market: str, bps: int) -> None:
        self._push(market, bps)

    @rule(market=st.sampled_from(SYMBOLS), times=st.integers(2, 4))
    def rally(self, market: str, times: int) -> None:
        """A melt-up: the price times 2 to 4 in one update (a squeeze in a thin book), so that
        positions' notional crosses tier bounds by price alone, at the leverage they opened with."""
        self._push(market, (times - 1) * 10_000)

    @rule(stale=st.sampled_from([*SYMBOLS, None]), t=st.integers(0, TRADERS - 1),
          leverage=st.integers(20, 50), longs=st.booleans(),
          bps=st.sampled_from([300, 600, 900, 1200, 2500, 4000]), k=st.integers(0, KEEPERS - 1))
    def oracle_outage(self, stale: Optional[str], t: int, leverage: int, longs: bool, bps: int, k: int) -> None:
        """An oracle outage under a cross account: the trader holds cross positions in every
        market (opened at ``leverage`` where missing, each a quarter of what its balance allows), ``stale``'s feed stops past the oracle's
        max price age while the others are refreshed, the others gap ``bps`` against the
        account (the smaller gaps land short of its bankruptcy), and a keeper liquidates it (SPEC §6: a stale market's positions stay open and
        keep the account's debt; nothing is written off while they do). With no ``stale``
        market every market gaps and the account is liquidated across all of them, its penalty
        split between their fees (SPEC §7)."""
        v, trader = self.venue, self._trader(t)
        balance = Decimal(v.clearinghouse.cross_balance(trader.address)) / 10**v.decimals
        for market in SYMBOLS:  # each a quarter of what the balance allows at ``leverage``
            if v.raw_position(trader, market).mode != MarginMode.CROSS:
                # a tier may allow less at that size: then the same margin at 5x, which every
                # tier here allows
                for lev in (leverage, 5):
                    size = (balance * lev / 4 / v.price(market)).quantize(Decimal("0.001"))
                    if size and self._do("open", lambda: trader.open(market, size if longs else -size,
                                                                     lev, "cross")) is not None:
                        break
                else:
                    return
        self.w.steps += 1
        fresh = [m for m in SYMBOLS if m != stale]
        if stale is not None:
            v.advance_time(v.oracle.max_price_age(v.market_id(stale)) + 1)
            self._do("price", lambda: v.set_prices({m: v.price(m) for m in fresh}))
        for market in fresh:
            self._push(market, -bps if v.raw_position(trader, market).size > 0 else bps)
        self._liquidate(self.w.keepers[k], trader, None)

    @rule(t=st.integers(0, TRADERS - 1), market=st.sampled_from(SYMBOLS),
          bps=st.sampled_from([-25, -5, -1, 0, 1, 5, 25]))
    def price_to_the_edge(self, t: int, market: str, bps: int) -> None:
        """The price just around a position's liquidation price (as the client computes it from
        the stock rule), where rounding, tier bounds and margin rules decide."""
        self._price_to_edge(self._trader(t), market, bps)

    def _price_to_edge(self, trader: Trader, market: str, bps: int) -> bool:
        """``market``'s price ``bps`` past ``trader``'s liquidation price there; False if there
        is none to aim at or the price was refused."""
        try:
            view = self.venue.position(trader, market)
        except Reverted:  # a stale price: its views refuse (StalePrice), nothing to aim at
            return False
        if view is None or view.liquidation_price is None:
            return False
        low, high = PRICE_LIMITS[market]
        price = (view.liquidation_price * (10_000 + bps) / 10_000).quantize(Decimal("0.0001"))
        return self._do("price_edge", lambda: self.venue.set_price(market, min(max(price, low), high))) is not None

    def _push(self, market: str, bps: int) -> None:
        low, high = PRICE_LIMITS[market]
        price = (self.venue.price(market) * (10_000 + bps) / 10_000).quantize(Decimal("0.01"))
        price = min(max(price, low), high)
        self._do("price", lambda: self.venue.set_price(market, price))

    @rule(seconds=st.integers(1, 7_200))
    def time_jump(self, seconds: int) -> None:
        self.w.steps += 1
        self.venue.advance_time(seconds)

    @rule(k=st.integers(0, KEEPERS - 1), i=st.integers(0, 7), bps=st.sampled_from([1, 5, 25]))
    def liquidate_at_the_edge(self, k: int, i: int, bps: int) -> None:
        """One of the open positions, its price put just past its liquidation price and the
        position liquidated in the same step: above the partial threshold it is sliced, with the
        cooldown after (SPEC §7), which a price gap, landing far below maintenance, never
        reaches."""
        held = [(tr, m, p) for tr in self.w.traders for m in SYMBOLS
                for p in (self.venue.raw_position(tr, m),) if p.size != 0]
        if not held:
            self._do("liquidate_edge", self._refused)
            return
        trader, market, raw = held[i % len(held)]
        if self._price_to_edge(trader, market, -bps if raw.size > 0 else bps):
            self._liquidate(self.w.keepers[k], trader,
                            market if raw.mode == MarginMode.ISOLATED else None)

    @rule(cap_bps=st.sampled_from([1, 25, 500, 9_000]), close=st.booleans(), pieces=st.integers(1, 3),
          lift=st.booleans())
    def admin_profit_cap(self, cap_bps: int, close: bool, pieces: int, lift: bool) -> None:
        """The admin sets the traders' profit cap (SPEC §8.1) for the steps that follow: at 1 to
        500 bps of the pool it binds while traders are in profit (closes capped and the episode's
        hold kept, LP flows refused with ProfitCapBinds, the hold released when it ends); 9,000
        bps is GMX v2's default, where the world starts. With ``close`` the trader most in
        profit then closes, in ``pieces``: a capped close, whole or in parts. With ``lift`` the
        admin then restores 9,000 bps and the next position in profit closes, paid in full,
        which ends the episode the cut began (:meth:`_end_the_episode`)."""
        v = self.venue
        self._do("admin_profit_cap", lambda: v.set_pnl_factors(
            max_pnl_factor_traders=Decimal(cap_bps) / 10_000))
        if close:
            self._close_most_in_profit(pieces)
        if lift:
            self._end_the_episode()

    def _most_in_profit(self) -> Optional[tuple[Trader, str]]:
        """The open position with the largest profit at the oracle's prices, if one is in
        profit (a stale market's positions cannot close: left out)."""
        held = []
        for trader, market in self._positions():
            try:
                # a position the venue lists: its view exists
                held.append((cast(PositionView, self.venue.position(trader, market)).unrealized_pnl, trader, market))
            except Reverted:  # a stale price: its views refuse, it cannot close either
                continue
        if not held or max(held, key=lambda h: h[0])[0] <= 0:
            return None
        _, trader, market = max(held, key=lambda h: h[0])
        return trader, market

    def _close_most_in_profit(self, pieces: int) -> None:
        found = self._most_in_profit()
        if found is None:
            return
        trader, market = found
        size = abs(self.venue.raw_position(trader, market).size)
        for _ in range(pieces - 1):
            if size // pieces:
                self._do("decrease", lambda: trader.decrease(market, Decimal(size // pieces) / 10**18))
        self._do("close", lambda: trader.close(market))

    def _end_the_episode(self) -> None:
        """The cap back at 9,000 bps and the position most in profit closed. When it is paid in
        full, the episode the cap's cuts held back for ends, its hold back to 0 (SPEC §8.1): a
        hold left would cut every later close. Judged only where the close is far from the cap
        (twice its profit and the pending profit within the budget), so that the accrual of
        the close's own block cannot make it a capped one."""
        v = self.venue
        self._do("admin_profit_cap", lambda: v.set_pnl_factors(max_pnl_factor_traders=Decimal("0.9")))
        found = self._most_in_profit()
        if found is None:
            return
        trader, market = found
        pending, budget, held = v.clearinghouse.profit_budget()
        receipt = self._do("close_in_full", lambda: trader.close(market))
        if receipt is None:
            return
        realized = receipt.events_named("PositionDecreased")[0]["realizedPnl"]
        if realized <= 0 or 2 * max(pending, realized) > budget:
            return
        self._count("episode_ended" if held else "close_in_full:no episode")
        left = v.clearinghouse.profit_budget()[2]
        if left:
            raise InvariantViolation("profit cap", "a profit paid in full left the episode's hold",
                                     held_before=held, held_after=left, realized=realized)

    @rule(market=st.sampled_from(SYMBOLS))
    def update_funding(self, market: str) -> None:
        self._do("funding", lambda: self.w.keepers[0].update_funding(market))

    # ------------------------------------------------------------------ keepers
    @rule(k=st.integers(0, KEEPERS - 1), t=st.integers(0, TRADERS - 1),
          market=st.sampled_from([*SYMBOLS, None]))
    def liquidate(self, k: int, t: int, market: Optional[str]) -> None:
        self._liquidate(self.w.keepers[k], self._trader(t), market)

    @rule(k=st.integers(0, KEEPERS - 1), i=st.integers(0, 7), market=st.sampled_from(SYMBOLS),
          bps=st.sampled_from([-2500, 2500]))
    def liquidate_a_target(self, k: int, i: int, market: str, bps: int) -> None:
        """One of the targets the Reader reports (after a gap in ``market`` if there is none),
        so that liquidations happen, not only refusals."""
        targets, _ = self.venue.liquidatable()
        if not targets:
            self._push(market, bps)
            targets, _ = self.venue.liquidatable()
        if targets:
            address, target = targets[i % len(targets)]
            trader = next(tr for tr in self.w.traders if tr.address.lower() == address.lower())
            self._liquidate(self.w.keepers[k], trader, target)

    def _liquidate(self, keeper: Keeper, trader: Trader, market: Optional[str]) -> None:
        v, ch = self.venue, self.venue.clearinghouse
        others = [(a, m) for a in (tr.address for tr in self.w.traders) for m in range(len(SYMBOLS))
                  if not (a == trader.address and (market is None or m == v.market_id(market)))]
        before = {key: ch.position(*key) for key in others}
        balances = {tr.address: ch.cross_balance(tr.address) for tr in self.w.traders}
        done = self._do("liquidate", lambda: keeper.liquidate(trader, market))
        if done is None:
            return
        # Isolation: a liquidation changes no other position, and no cross balance but the
        # liquidated trader's (its remainder) and the keeper's (its reward).
        for key, position in before.items():
            if ch.position(key[0], key[1]) != position:
                raise InvariantViolation("isolation", f"liquidating {trader.name} {market} changed {key}")
        for tr in self.w.traders:
            if tr is not trader and ch.cross_balance(tr.address) != balances[tr.address]:
                raise InvariantViolation("isolation", f"liquidating {trader.name} changed {tr.name}'s balance")
        if market is not None and ch.cross_balance(trader.address) < balances[trader.address]:
            raise InvariantViolation("isolation", "an isolated liquidation took from the cross balance")

    @rule(k=st.integers(0, KEEPERS - 1))
    def liquidate_everything(self, k: int) -> None:
        targets, _ = self.venue.liquidatable()
        if targets:
            self._do("liquidate_batch", lambda: self.w.keepers[k].liquidate_batch(targets))

    # ------------------------------------------------------------------ LPs and admin
    # Direct ERC-4626 calls go through only while nothing is open (LpRequestRequired
    # otherwise); two-step requests run whenever a keeper executes them at a newer price.
    @rule(deposit=st.booleans(), usd=st.integers(1, 500_000))
    def lp_direct(self, deposit: bool, usd: int) -> None:
        if deposit:
            self._do("lp_deposit", lambda: self.w.lp.provide_liquidity(usd))
        else:
            self._do("lp_withdraw", lambda: self.w.lp.withdraw_liquidity(usd * 10))

    @rule(deposit=st.booleans(), usd=st.integers(1, 500_000), percent=st.integers(1, 100))
    def lp_request(self, deposit: bool, usd: int, percent: int) -> None:
        shares = self.venue.lp_shares(self.w.lp) * percent // 100
        if deposit or shares == 0:
            self._do("lp_request_deposit", lambda: self.w.lp.request_deposit(usd))
        else:
            self._do("lp_request_redeem", lambda: self.w.lp.request_redeem(shares))

    @rule(k=st.integers(0, KEEPERS - 1), fresh=st.booleans())
    def lp_execute(self, k: int, fresh: bool) -> None:
        """The keeper executes every pending LP request; with ``fresh`` it first brings a newer
        price (the same values), as a keeper of a pull oracle does: execution needs a price
        newer than the request."""
        if fresh:
            self._do("price", lambda: push_same_prices(self.venue))
        for request in self.venue.lp_requests():
            self._do("lp_execute", lambda: self.w.keepers[k].execute_lp_request(request.id))

    # Admin actions are drawn as often as any rule but act one time in five: a venue whose
    # parameters change every other block says little about trading.
    @rule(market=st.sampled_from(SYMBOLS), fee=st.integers(0, 100), liq_fee=st.integers(0, 500),
          leverage=st.integers(2, 100), act=st.integers(0, 4))
    def admin_configure(self, market: str, fee: int, liq_fee: int, leverage: int, act: int) -> None:
        if act:
            return
        v = self.venue
        config = replace(v.markets[market], taker_fee_bps=fee, liquidation_fee_bps=liq_fee,
                         max_leverage=leverage, tiers=())  # tiers are set apart (setMarketTiers)
        self._do("admin", lambda: v.clearinghouse.configure_market(
            v.market_id(market), config.symbol_bytes(), config.encode(v.decimals),
            sender=v.admin).raise_for_status())

    @rule(paused=st.booleans(), act=st.integers(0, 4))
    def admin_pause(self, paused: bool, act: int) -> None:
        if act:
            return
        v = self.venue
        self._do("admin",
                 lambda: v.clearinghouse.set_paused(paused, sender=v.admin).raise_for_status())

    # ================================================================== adversarial properties
    # Issue 24 §1's last four (protocol.testing.adversarial): roles and order, delays hold,
    # modules can't freeze the venue, no free option. Each rule raises AdversarialViolation
    # naming its property. Per-run state (modules deployed, scheduled changes) lives in
    # ``self._adversary()``; everything is undone by the run's snapshot.
    def _adversary(self) -> dict[str, Any]:
        state = getattr(self, "_adversarial_state", None)
        if state is None:
            state = self._adversarial_state = {"deployed": None, "delays": DelayWatch(), "changes": [],
                                               "adl_keeper": None}
        return state

    @rule(who=st.integers(0, TRADERS + KEEPERS), victim=st.integers(0, TRADERS - 1))
    def strangers_call_privileged(self, who: int, victim: int) -> None:
        """Roles and order: every privileged entry point refuses a trader, a keeper or the LP."""
        callers = [t.address for t in self.w.traders] + [k.address for k in self.w.keepers] + [self.w.lp.address]
        self.w.steps += 1
        check_roles(self.venue, [callers[who % len(callers)]], self._trader(victim).address)

    @rule(caller=st.sampled_from(["adl-keeper", "keeper", "owner", "other-trader"]),
          pick=st.integers(0, 1_000), whole=st.booleans(), market=st.sampled_from(SYMBOLS),
          bps=st.sampled_from([0, -4_000, -2_500, 2_500, 4_000]))
    def auto_deleverage(self, caller: str, pick: int, whole: bool, market: str, bps: int) -> None:
        """Roles and order: inside a snapshot, ``market`` moves ``bps`` and the ADL trigger is
        set just below the pnl factor; a caller ADLs one of the positions ADL could close. One
        that went through must have been a keeper's with the role, on a position the market's
        ADL rule allows: the highest-ranked under a ranked rule, a member of the round under a
        round rule (:func:`~protocol.testing.adversarial.check_adl`)."""
        v = self.venue
        self.w.steps += 1
        with v.snapshot():
            if bps:
                self._push(market, bps)
            factor = v.solvency().pnl_factor
            if factor is None or factor * 10_000 < 3:  # the trigger and the floor are whole bps
                return
            trigger = min(int(factor * 10_000) - 1, 10_000)
            v.clearinghouse.set_pnl_factors(0, trigger, 1, sender=v.admin).raise_for_status()
            ranking = ranked_candidates(v, list(SYMBOLS))
            if not ranking:
                return
            target = ranking[pick % len(ranking)]
            others = [t for t in self.w.traders if t.address.lower() != target.account.lower()]
            if caller == "adl-keeper":
                keeper = self.w.keepers[1]
                v.grant_role("ADL_KEEPER", keeper.address).raise_for_status()
                address = keeper.address
            else:
                address = {"keeper": self.w.keepers[0].address, "owner": target.account,
                           "other-trader": others[pick % len(others)].address}[caller]
            size = CLOSE_ALL if whole else abs(v.raw_position(target.account, target.market).size) // 2
            receipt = v.clearinghouse.auto_deleverage(target.account, v.market_id(target.market),
                                                      size, sender=address)
            key = f"adl:{cast(Reverted, receipt.error).error if not receipt.status else 'done'}"  # failed: set
            self.w.outcomes[key] = self.w.outcomes.get(key, 0) + 1
            check_adl(v, ranking, address, target.account, target.market, bool(receipt.status))

    @rule(market=st.sampled_from(SYMBOLS),
          change=st.sampled_from(["max_leverage", "mmf", "tiers", "one_tier", "clear_tiers", "delay"]),
          leverage=st.integers(2, 100), bound=st.integers(1_000, 200_000), delay=st.sampled_from([0, 600, 3_600]),
          mmf=st.sampled_from(["0.002", "0.005", "0.015"]))
    def admin_risk_change(self, market: str, change: str, leverage: int, bound: int, delay: int, mmf: str) -> None:
        """Delays hold: the admin changes a market's margin rule (or the delay); a change that
        raises risk under a delay must have been scheduled and have reached its readyAt."""
        v, adv = self.venue, self._adversary()
        ch, mid = v.clearinghouse, v.market_id(market)
        if adv["delays"].delay == 0 and change != "delay":
            adv["delays"].admin_call(
                v, mid, lambda: ch.set_risk_change_delay(3_600, sender=v.admin).raise_for_status())
        if change == "delay":
            send = lambda: ch.set_risk_change_delay(delay, sender=v.admin).raise_for_status()  # noqa: E731
        elif change in ("max_leverage", "mmf"):  # an explicit mmf: tiers <-> mmf may then raise maintenance

            try:  # MarketConfig refuses out-of-bounds values before any transaction
                untiered = replace(v.markets[market], tiers=())  # tiers are set apart (setMarketTiers)
                config = (replace(untiered, max_leverage=leverage) if change == "max_leverage" else
                          replace(untiered, max_leverage=ch.market_config(mid)[4],
                                  mmf=Decimal(mmf)))
                encoded_config = config.encode(v.decimals)
            except ParameterOutOfBounds:
                self._do("admin_risk_change", self._refused)
                return
            send = lambda: ch.configure_market(  # noqa: E731
                mid, config.symbol_bytes(), encoded_config, sender=v.admin).raise_for_status()
        else:
            top = ch.market_config(mid)[4]
            encoded = {"clear_tiers": ([], []), "one_tier": ([0], [top]),
                       "tiers": ([0, bound * 10**18], [top, max(1, min(top, leverage))])}[change]
            send = lambda: ch.set_market_tiers(mid, *encoded, sender=v.admin).raise_for_status()  # noqa: E731
        adv["changes"].append((mid, send))
        self._do("admin_risk_change", lambda: adv["delays"].admin_call(v, mid, send) or self._refused())

    @precondition(lambda self: bool(getattr(self, "_adversarial_state", {}).get("changes")))
    @rule(pick=st.integers(0, 1_000))
    def repeat_admin_change(self, pick: int) -> None:
        """Delays hold: the admin sends an earlier change again (after time has passed, it may
        be due). (Named so that hypothesis, which orders rules by argument count and name, does
        not put a rule with a precondition first: that stops it deleting steps when shrinking.)"""
        adv = self._adversary()
        mid, send = adv["changes"][pick % len(adv["changes"])]
        self._do("repeat_admin_change", lambda: adv["delays"].admin_call(self.venue, mid, send) or self._refused())

    @staticmethod
    def _refused() -> NoReturn:
        raise Reverted("refused")

    @rule(module=st.sampled_from(sorted(ADVERSARIAL_MODULES)),
          market=st.sampled_from(SYMBOLS), seconds=st.sampled_from([1, 600, 86_400]),
          move_bps=st.sampled_from([0, -2_500, 2_500]), small_slices=st.booleans(), k=st.integers(0, KEEPERS - 1))
    def hostile_module(self, module: str, market: str, seconds: int, move_bps: int, small_slices: bool, k: int) -> None:
        """Modules can't freeze the venue: inside a snapshot the admin installs an adversarial
        module; the pool's value, the module swap, liquidation batches (and, for valid answers,
        closes and liquidations) still work."""
        adv = self._adversary()
        if adv["deployed"] is None:
            adv["deployed"] = deploy_modules(self.venue)
        self.w.steps += 1
        done = check_modules_cannot_freeze(self.venue, adv["deployed"], module, market, self.w.traders,
                                           self.w.keepers[k], seconds=seconds, move_bps=move_bps,
                                           small_slices=small_slices)
        self.w.outcomes["hostile_module"] = self.w.outcomes.get("hostile_module", 0) + 1
        self.w.outcomes["hostile_module:liquidations"] = (self.w.outcomes.get("hostile_module:liquidations", 0)
                                                          + done["liquidations"])

    @rule(t=st.integers(0, TRADERS - 1), market=st.sampled_from(SYMBOLS), mode=st.sampled_from(["isolated", "cross"]),
          action=st.sampled_from(["withdraw", "set_leverage", "remove_margin", "add_margin", "close",
                                  "cancel", "second_order", "open_other"]),
          tenths=st.integers(1, 30), leverage=st.integers(1, 20), k=st.integers(0, KEEPERS - 1))
    def owner_acts_while_order_pending(self, t: int, market: str, mode: str, action: str, tenths: int, leverage: int, k: int) -> None:
        """No free option: the trader's market order is pending (placed now if none); the
        keeper's execution at the next price is compared with and without one action of the
        owner: an order that executes without it may not fail or be cancelled with it."""
        v, trader = self.venue, self._trader(t)
        ch = v.clearinghouse
        order_id = v.pending_market_order(trader)
        if order_id is None:
            size = Decimal(tenths) / (10 if market == "ETH" else 200)
            collateral = (size * v.price(market) / 5 * Decimal("1.2")).quantize(Decimal("0.01"))
            placed = self._do("create_order", lambda: trader.create_order(
                market, "market_increase", size, leverage=5, mode=mode, collateral=collateral))
            if placed is None:
                return
            order_id = placed.order_id
            self.orders.append(order_id)
        market = SYMBOLS[ch.order_lock(trader.address)[1]]
        other = SYMBOLS[1 - SYMBOLS.index(market)]
        v.advance_time(1)
        self._do("price", lambda: v.set_prices({m: v.price(m) for m in SYMBOLS}))
        actions = {
            "withdraw": lambda: ch.withdraw(trader.address,
                                            max(ch.cross_balance(trader.address), 1),
                                            sender=trader.address).raise_for_status(),
            "set_leverage": lambda: trader.set_leverage(market, leverage),
            "remove_margin": lambda: trader.remove_margin(market, Decimal(tenths) * 10),
            "add_margin": lambda: trader.add_margin(market, Decimal(tenths) * 10),
            "close": lambda: trader.close(market),
            "cancel": lambda: trader.cancel_order(order_id),
            "second_order": lambda: trader.create_order(other, "market_increase", Decimal("0.005"), leverage=5,
                                                        collateral=100),
            "open_other": lambda: trader.open(other, Decimal("0.005"), 5, "cross"),
        }
        keeper = self.w.keepers[k]
        self.w.steps += 1
        alone, after = check_no_free_option(
            v, order_id, actions[action], lambda: v.order_book.execute_order(order_id,
                                                                             sender=keeper.address),
            description=f"the owner's {action}")
        key = f"free_option:{alone}->{after}"
        self.w.outcomes[key] = self.w.outcomes.get(key, 0) + 1
    # ================================================================== end of adversarial properties

    # ------------------------------------------------------------------ the invariants
    @invariant()
    def spec_invariants(self) -> None:
        # The check is a function of the chain's state alone: when nothing changed since the
        # last one passed (a rule that sent nothing), it would pass again. Only on backends
        # nothing else writes to (``caches_views``), where ``state_version`` sees every change.
        chain = self.venue.chain
        version = (chain, chain.state_version)
        if chain.caches_views and version == self.w.checked_version:
            self.w.skipped_checks += 1
            return
        prefetch_invariant_views(self.venue)  # the same views, read in three calls (revm)
        state = assert_invariants(self.venue, mirrors=self.checks)
        if self.w.model_watch is not None:
            self.w.model_watch.check(state)
        self.w.checked_version = version

    # ================================================================== economic properties
    # Issue 24 §1 (docs/PROPERTIES.md, "Economic properties"); the logic is in
    # protocol.testing.properties. After every transaction the world's PropertyWatch checks
    # that no trader action left what it touched liquidatable (now and one block later) and
    # that no debt was written off while its position is open. The rules below add the
    # attacker's round trips (no free lunch) and split-vs-whole comparisons (path
    # independence). Each acts one time in ``ECONOMIC_ODDS`` it is drawn, as admin actions do.
    def _economic(self, act: int) -> bool:
        """Whether an economic rule acts this time (``act`` 0); a step if it does."""
        if act:
            return False
        self.w.steps += 1
        return True

    def _count(self, key: str) -> None:
        self.w.outcomes[key] = self.w.outcomes.get(key, 0) + 1

    @rule(t=st.integers(0, TRADERS - 1), market=st.sampled_from(SYMBOLS), leverage=st.integers(1, 60))
    def update_leverage(self, t: int, market: str, leverage: int) -> None:
        """A position's leverage changed (one of the open ones, if any)."""
        held = self._positions()
        trader, market = held[(t * len(SYMBOLS) + SYMBOLS.index(market)) % len(held)] if held \
            else (self._trader(t), market)
        self._do("update_leverage", lambda: trader.set_leverage(market, leverage))

    @rule(market=st.sampled_from(SYMBOLS), tenths=st.integers(-50, 50).filter(bool),
          other=st.integers(-50, 50), leverage=st.integers(1, 50),
          mode=st.sampled_from(["isolated", "cross"]), pieces=st.integers(1, 4),
          act=st.integers(0, ECONOMIC_ODDS - 1))
    def attacker_trade_round_trip(self, market: str, tenths: int, other: int, leverage: int, mode: str, pieces: int, act: int) -> None:
        """No free lunch: the attacker opens (a second account of its trading against it),
        closes in ``pieces`` at the same prices in the same block; it may not come out ahead."""
        if not self._economic(act):
            return
        v, (a, b) = self.venue, self.w.attackers[:2]
        unit = Decimal(10 if market == "ETH" else 200)
        size, size_b = Decimal(tenths) / unit, Decimal(other) / unit
        with v.chain.block(), RoundTrip(v, [a, b]) as trip:
            for who, amount in ((a, size), (b, size_b)):
                if amount:
                    margin = (abs(amount) * v.price(market) / leverage * Decimal("1.5")).quantize(Decimal("0.01"))
                    self._attempt(lambda: who.open(market, amount, leverage, mode,
                                                   margin=margin if mode == "isolated" else 0))
            held = abs(v.raw_position(a, market).size)
            for _ in range(pieces - 1):
                if held // pieces:
                    self._attempt(lambda: a.decrease(market, Decimal(held // pieces) / 10**18))
        self._count("attack_trade" if trip.checked else "attack_trade:not flat")

    @rule(market=st.sampled_from(SYMBOLS), tenths=st.integers(1, 30), execute=st.booleans(),
          k=st.integers(0, KEEPERS - 1), act=st.integers(0, ECONOMIC_ODDS - 1))
    def attacker_order_game(self, market: str, tenths: int, execute: bool, k: int, act: int) -> None:
        """No free lunch through orders: a limit order placed and cancelled, or a market order
        executed at an unchanged price and closed, gains the attacker nothing."""
        if not self._economic(act):
            return
        v, a = self.venue, self.w.attackers[0]
        size = Decimal(tenths) / (10 if market == "ETH" else 200)
        collateral = (size * v.price(market) / 5 * Decimal("1.2")).quantize(Decimal("0.01"))
        with RoundTrip(v, [a]) as trip:
            if execute:
                placed = self._attempt(lambda: a.create_order(market, "market_increase", size, leverage=5,
                                                              collateral=collateral))
                if placed is not None:
                    push_same_prices(v)
                    order_id = placed.order_id
                    self._attempt(lambda: self.w.keepers[k].execute_order(order_id))
            else:
                trigger = (v.price(market) * Decimal("0.9")).quantize(Decimal("0.01"))
                placed = self._attempt(lambda: a.create_order(market, "limit_increase", size, leverage=5,
                                                              collateral=collateral, trigger_price=trigger))
                if placed is not None:
                    self._attempt(lambda: a.cancel_order(placed.order_id))
        self._count("attack_order" if trip.checked else "attack_order:not flat")

    @rule(usd=st.integers(1, 200_000), k=st.integers(0, KEEPERS - 1),
          cap_bps=st.integers(0, 3), act=st.integers(0, ECONOMIC_ODDS - 1))
    def attacker_lp_cycle(self, usd: int, k: int, cap_bps: int, act: int) -> None:
        """No free lunch through the pool: deposit then redeem every share (directly while
        nothing is open, else by requests executed at unchanged prices); the attacker may gain
        only what its shares earned while held (the pool's accrual between the executions).
        With ``cap_bps`` the traders' profit cap is first cut to that many basis points of the
        pool (inside a snapshot), so that it binds whenever a trader is in profit."""
        if not self._economic(act):
            return
        v, a = self.venue, self.w.attackers[1]
        with self._cap_cut(cap_bps), RoundTrip(v, [a]) as trip:
            trip.allowance = lp_cycle(v, a, self.w.keepers[k], v.tokens(usd))
        self._count("attack_lp" if trip.checked else "attack_lp:not flat")

    @contextlib.contextmanager
    def _cap_cut(self, cap_bps: int) -> Iterator[None]:
        """Inside a snapshot, the traders' profit cap cut to ``cap_bps`` of the pool (0: as is)."""
        if not cap_bps:
            yield
            return
        with self.venue.snapshot():
            self.venue.set_pnl_factors(max_pnl_factor_traders=Decimal(cap_bps) / 10_000)
            yield

    @rule(t=st.integers(0, TRADERS - 1), market=st.sampled_from(SYMBOLS), n=st.integers(2, 5),
          what=st.sampled_from(["close", "decrease", "deposit", "redeem"]),
          percent=st.integers(1, 99), k=st.integers(0, KEEPERS - 1), cap_bps=st.integers(0, 3),
          act=st.integers(0, ECONOMIC_ODDS - 1))
    def split_vs_whole(self, t: int, market: str, n: int, what: str, percent: int, k: int, cap_bps: int, act: int) -> None:
        """Path independence: in the same state, n pieces pay within dust of one (with
        ``cap_bps``, under a profit cap cut so that it binds: :meth:`_cap_cut`)."""
        if not self._economic(act):
            return
        with self._cap_cut(cap_bps):
            self._split_vs_whole(t, market, n, what, percent, k)

    def _split_vs_whole(self, t: int, market: str, n: int, what: str, percent: int, k: int) -> None:
        v = self.venue
        if what in ("close", "decrease"):
            held = self._positions()
            if not held:
                return
            trader, market = held[(t * len(SYMBOLS) + SYMBOLS.index(market)) % len(held)]
            fraction = None if what == "close" else Decimal(percent) / 100
            compared = split_close(v, trader, market, n, fraction=fraction)
        elif what == "deposit":
            compared = split_lp(v, self.w.lp, self.w.keepers[k], v.tokens(percent * 1_000), n, deposit=True)
        else:
            shares = v.lp_shares(self.w.lp) * percent // 10_000
            compared = split_lp(v, self.w.lp, self.w.keepers[k], shares, n, deposit=False)
        if compared is not None:
            self._count(f"split_{what}")
            check_path_independence(compared)

    @rule(m1=st.sampled_from(SYMBOLS), m2=st.sampled_from(SYMBOLS), long1=st.booleans(),
          long2=st.booleans(), tenths1=st.integers(1, 50), tenths2=st.integers(1, 50),
          modes=st.sampled_from([("isolated", "isolated"), ("isolated", "cross"), ("cross", "cross")]),
          bps=st.integers(300, 3_000), cap_bps=st.integers(0, 2), act=st.integers(0, ECONOMIC_ODDS - 1))
    def close_order_under_the_cap(self, m1: str, m2: str, long1: bool, long2: bool, tenths1: int, tenths2: int, modes: tuple[str, str], bps: int, cap_bps: int, act: int) -> None:
        """Path independence: two accounts' profitable closes are paid the same whichever goes
        first. Inside a snapshot the attacker's two accounts open, prices move their way and the
        traders' cap is cut to ``cap_bps`` of the pool (0: the cap off) so that it binds."""
        if not CLOSE_ORDER_RULE or not self._economic(act):
            return
        v, (a, b) = self.venue, self.w.attackers[:2]
        long2 = long1 if m2 == m1 else long2
        with v.snapshot():
            for who, market, tenths, is_long, mode in ((a, m1, tenths1, long1, modes[0]),
                                                       (b, m2, tenths2, long2, modes[1])):
                size = Decimal(tenths if is_long else -tenths) / (10 if market == "ETH" else 200)
                margin = (abs(size) * v.price(market) / 5).quantize(Decimal("0.01"))
                if self._attempt(lambda: who.open(market, size, 5, mode,
                                                  margin=margin if mode == "isolated" else 0)) is None:
                    return
            for market, is_long in {m1: long1, m2: long2}.items():
                self._push(market, bps if is_long else -bps)
            v.set_pnl_factors(max_pnl_factor_traders=Decimal(cap_bps) / 10_000)
            capped = v.solvency().capped
            compared = close_order(v, a, b, m1, m2)
            if compared is not None:
                self._count("close_order_capped" if capped else "close_order")
                for c in compared:
                    check_path_independence(c, dust_per_piece=1)

    def _positions(self) -> list[tuple[Any, str]]:
        """(trader, market) of every open position of the traders."""
        return [(tr, m) for tr in self.w.traders for m in SYMBOLS
                if self.venue.raw_position(tr, m).size]

    def _attempt(self, action: Callable[[], Any]) -> Optional[Any]:
        try:
            return action()
        except Reverted:
            return None


@dataclass
class CampaignResult:
    steps: int
    runs: int
    seconds: float
    outcomes: dict[str, int]
    failure: Optional[str] = None  # a runnable pytest function reproducing the failure
    error: Optional[Exception] = None  # the failure, as the shrunk sequence raised it
    steps_taken: tuple[str, ...] = ()  # the shrunk sequence: hypothesis' lines, ``state.rule(...)``
    machine: Optional[type[VenueMachine]] = None  # the machine run, with its backend, modules and contracts
    seed: Optional[int] = None

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0


@contextlib.contextmanager
def _no_local_constants() -> Iterator[None]:
    """Hypothesis mixes into its draws constants it finds in whatever local modules the process
    has imported so far, so the same seed would run a different campaign after other tests:
    a campaign draws from hypothesis' own constants only (hypothesis is pinned; this reaches
    into its provider module)."""
    original = providers._get_local_constants
    providers._get_local_constants = lambda: Constants()
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        providers.CONSTANTS_CACHE.cache.clear()


def run_campaign(runs: int, *, backend: str = "revm", steps_per_run: int = STEPS_PER_RUN,
                 seed: Optional[int] = None, machine: type[VenueMachine] = VenueMachine,
                 modules: Optional[Mapping[str, str]] = None,
                 contracts: Union[str, Path, None] = None,
                 mirrors: Optional[Mapping[str, str]] = None,
                 database: Union[str, Path, None] = None, replay: bool = False) -> CampaignResult:
    """Run ``runs`` sequences of up to ``steps_per_run`` steps; on a failure return the shrunk
    sequence as a pytest function instead of raising (:func:`write_fuzz_bundle` makes a crash
    bundle of it). ``modules`` and ``contracts`` give the venue the user's rule modules,
    ``mirrors`` their Python mirrors (kind -> ``"stock"`` or ``"package.module:Class"``).

    ``database`` is a directory (hypothesis' example database, ``.perpsim/fuzz-db`` from the
    CLI): a failure is saved there, and every later campaign of the same machine, backend and
    modules replays it first. ``replay`` runs only what is saved (no new sequences), so a
    passing replay means the saved failures are fixed; it ran nothing when the result has 0
    steps."""
    launch: dict[str, Any] = {"backend": backend,
              "modules": dict(machine.modules if modules is None else modules),
              "contracts": machine.contracts if contracts is None else str(Path(contracts).resolve()),
              "mirrors": dict(machine.mirrors if mirrors is None else mirrors)}
    # The class name keys the example database (hypothesis digests a class it has no source
    # for by its name), so it names everything the campaign's venue is made of.
    venue = {**launch, "contracts": contracts_sha256(launch["contracts"])}  # content, not path
    venue_key = hashlib.sha256(repr(sorted(venue.items())).encode()).hexdigest()[:12]
    machine_cls = type(f"{machine.__name__}On{backend.capitalize()}_{venue_key}", (machine,), launch)
    w = world(backend, launch["modules"], launch["contracts"])
    w.steps, w.outcomes = 0, {}
    report = io.StringIO()
    # No explain phase: after shrinking, it re-runs the failure varying each argument to say
    # which ones matter, which tripled a broken-module campaign's time (231 s -> 68 s without)
    # and adds nothing to the steps a bundle replays.
    phases = ((Phase.explicit, Phase.reuse, Phase.shrink) if replay
              else (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink))
    config = settings(max_examples=runs, stateful_step_count=steps_per_run, deadline=None,
                      database=None if database is None else DirectoryBasedExampleDatabase(str(database)),
                      derandomize=seed is None and database is None, phases=phases,
                      suppress_health_check=list(HealthCheck), print_blob=False)
    started = time.perf_counter()
    failure: Optional[str] = None
    error: Optional[Exception] = None
    steps: tuple[str, ...] = ()

    def write(text: object) -> None:
        report.write(f"{text}\n")

    with reporting.with_reporter(write), _no_local_constants():
        try:
            # Hypothesis' test, with the attributes it sets on it (``hypothesis``, the seed's).
            test: Any = get_state_machine_test(machine_cls, settings=config)
            chosen = seed
            if seed is None and database is not None:
                # derandomize turns the database off: seed as it seeds, for the same campaign
                chosen = int_from_bytes(function_digest(test.hypothesis.inner_test))
            if chosen is not None:
                # What ``hypothesis.seed`` sets, on the test hypothesis runs (or the seed is
                # ignored), without the database=None that ``seed`` also sets.
                test._hypothesis_internal_use_seed = chosen
            test()
        except unittest.SkipTest:  # a replay with nothing saved ran nothing
            if not replay:
                raise
        except Exception as exc:  # the shrunk failure: turn it into a test
            error = _shortest(exc)
            notes = "\n".join(getattr(error, "__notes__", []))  # where hypothesis puts the steps
            text = notes if error is not exc else report.getvalue() + "\n" + notes
            steps = falsifying_steps(text)
            failure = reproduction(text, error, machine, backend)
    return CampaignResult(w.steps, runs, time.perf_counter() - started, dict(w.outcomes), failure,
                          error, steps, machine_cls, seed)


def _shortest(exc: Exception) -> Exception:
    """The failure to report: hypothesis raises a group when it found several distinct ones,
    each carrying its own steps in its notes; the one with the fewest steps is reported."""
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    # A group raised as an Exception holds Exceptions.
    return cast(Exception, min(exc.exceptions,
                               key=lambda e: len(falsifying_steps("\n".join(getattr(e, "__notes__", []))))))


def falsifying_steps(report: str) -> tuple[str, ...]:
    """The calls of hypothesis' falsifying example after the machine is made (rules, and the
    invariant checks between them), ``state.teardown()`` left out."""
    lines = [line.strip() for line in report.splitlines()
             if line.startswith("state") or line.startswith("    state")]
    return tuple(line for line in lines
                 if not line.startswith("state =") and not line.startswith("state.teardown("))


def reproduction(report: str, exc: Exception, machine: type[VenueMachine], backend: str) -> str:
    """Hypothesis' falsifying steps (rules and the invariant checks between them) as a pytest
    function one can paste and run."""
    module = machine.__module__
    text = [f"# {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            f"from {module} import {machine.__name__}", "",
            "",
            "def test_fuzz_reproduction():",
            f"    {machine.__name__}.backend = {backend!r}",
            f"    state = {machine.__name__}()",
            "    try:"]
    # hypothesis lists the invariant checks too; the teardown runs even when a step fails, so
    # the venue the process shares with later campaigns is left as it was
    text += [f"        {line}" for line in falsifying_steps(report)] or ["        pass"]
    text += ["    finally:", "        state.teardown()"]
    return "\n".join(text) + "\n"


def write_fuzz_bundle(result: CampaignResult, directory: Union[str, Path]) -> Path:
    """Write the crash bundle of a failed campaign into ``directory``: ``crash.json`` (backend,
    seed, modules, the steps, the error) and ``test_replay.py``, which makes the same machine
    call the shrunk sequence's rules in order and asserts the same failure (it passes while the
    bug is there, fails once it is fixed). Returns the folder."""
    if result.error is None or result.machine is None:
        raise ValueError("the campaign did not fail: no crash bundle to write")
    machine, failure = result.machine, Failure.of(result.error)
    base = machine.__mro__[1]
    record = {"kind": "fuzz", "machine": f"{base.__module__}:{base.__qualname__}",
              "backend": machine.backend, "modules": dict(machine.modules),
              "contracts": machine.contracts, "mirrors": dict(machine.mirrors), "seed": result.seed,
              "derandomized": result.seed is None, "steps": list(result.steps_taken)}
    import_line, catch = failure.catchable()
    steps = "\n".join(f"        {line}" for line in result.steps_taken) or "        pass"
    asserts = "\n".join(f"    {line}" for line in failure.assertions("failure.value"))
    replay = f'''"""Replays a perpsim fuzz failure: the shrunk sequence hypothesis found ({machine.backend},
seed {result.seed if result.seed is not None else "derandomized"}) ends with
{failure.one_line()[:200]}

This test PASSES while the failure still happens (same exception, message and invariant) and
FAILS once it is fixed. Run it with: pytest test_replay.py
"""

import pytest
{import_line}
from {base.__module__} import {base.__qualname__}


class Machine({base.__qualname__}):
    backend = {machine.backend!r}
    modules = {dict(machine.modules)!r}
    contracts = {machine.contracts!r}
    mirrors = {dict(machine.mirrors)!r}


def replay_steps():
    state = Machine()
    try:
{steps}
    finally:
        state.teardown()


def test_replay_fails_the_same_way():
    with pytest.raises({catch}) as failure:
        replay_steps()
{asserts}
'''
    return write_bundle(Path(directory), result.error, record, replay)
