"""Economic properties an attacker would test (issue 24 §1, the adversarial four), checked
against a live venue from outside, as a keeper, a stranger, the admin or an order's owner sees
it. Each raises :class:`AdversarialViolation` carrying the property's name:

- ``roles and order`` (SPEC §8.1, §11): privileged entry points refuse everyone else
  (:func:`check_roles`); an ADL that went through was authorised and closed what the market's
  ADL rule allows: a highest-ranked position under a ranked rule, a member of the round under a
  round rule (:func:`check_adl`).
- ``delays hold`` (SPEC §2): a risk-increasing market change never takes effect before its
  ``readyAt`` (:class:`DelayWatch`).
- ``modules can't freeze the venue`` (SPEC §2.1): with any module installed, closes,
  liquidations, the pool's value and the admin's module swap work or fail with a named error
  (:func:`check_modules_cannot_freeze`).
- ``no free option`` (SPEC §10): while a market order is pending, no action of its owner turns
  its execution into a full refund (:func:`check_no_free_option`).

The fuzzer (:class:`protocol.testing.fuzz.VenueMachine`) drives them; each function can also be
called from a test on any venue.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional, Sequence

from protocol.constants import WAD, ZERO_ADDRESS
from protocol.errors import Reverted
from protocol.margin.deleveraging import ADL_RANKED, ADL_ROUND
from protocol.testing.invariants import InvariantViolation
from protocol.venue.adl import adl_flags, adl_round

if TYPE_CHECKING:
    from protocol.chain import Contract, Receipt
    from protocol.venue.adl import AdlCandidate
    from protocol.venue.client import Keeper, Trader, Venue

ROLES_AND_ORDER = "roles and order"
DELAYS_HOLD = "delays hold"
MODULES_CANT_FREEZE = "modules can't freeze the venue"
NO_FREE_OPTION = "no free option"
PROPERTIES = (ROLES_AND_ORDER, DELAYS_HOLD, MODULES_CANT_FREEZE, NO_FREE_OPTION)

CLOSE_ALL = 2**256 - 1
CROSS_ACCOUNT = 2**256 - 1  # a liquidation target naming the cross account
ISOLATED = 1  # MarginMode.Isolated
ROLE_ERRORS = ("Unauthorized", "AccessControlUnauthorizedAccount")


class AdversarialViolation(InvariantViolation):
    """An adversarial economic property does not hold; ``name`` says which (one of
    :data:`PROPERTIES`), ``details`` the numbers."""

    def __init__(self, name: str, message: str, **details: Any) -> None:
        super().__init__(name, message, **details)
        numbers = ", ".join(f"{k}={v}" for k, v in details.items())
        self.args = (f"property '{name}' broken: {message}" + (f" ({numbers})" if numbers else ""),)


def _error(action: Callable[[], Any]) -> Optional[Reverted]:
    """Run ``action``; the revert it raised, or None if it went through."""
    try:
        action()
    except Reverted as exc:
        return exc
    return None


def _unnamed(exc: Optional[Reverted]) -> bool:
    """A failure that names nothing: no revert data, or a Solidity panic."""
    return exc is not None and (exc.error is None or exc.error == "Panic")


# ====================================================================== roles and order
def privileged_calls(venue: Venue, victim: str) -> list[tuple[str, Contract, str, tuple[Any, ...]]]:
    """(description, contract, function, args) of the entry points only a role may call:
    the admin's, the executors' and the ADL keepers'. ``victim`` is an account they name."""
    ch = venue.clearinghouse
    config = venue.markets[next(iter(venue.markets))]
    lock = 1 | (venue.chain.timestamp + 60) << 64
    return [
        ("configureMarket (admin)", ch, "configureMarket",
         (0, config.symbol_bytes(), config.encode(venue.decimals))),
        ("setMarketTiers (admin)", ch, "setMarketTiers", (0, [], [])),
        ("setMarketModule (admin)", ch, "setMarketModule", (0, 0, ZERO_ADDRESS)),
        ("setRiskChangeDelay (admin)", ch, "setRiskChangeDelay", (0,)),
        ("setPnlFactors (admin)", ch, "setPnlFactors", (0, 10_000, 0)),
        ("setPaused (admin)", ch, "setPaused", (True,)),
        ("setInstantTrading (admin)", ch, "setInstantTrading", (True,)),
        ("setPool (admin)", ch, "setPool", (victim,)),
        ("grantRole (admin)", ch, "grantRole", (bytes(32), victim)),
        ("setOrderLock (executor)", ch, "setOrderLock", (victim, lock)),
        ("autoDeleverage (ADL keeper)", ch, "autoDeleverage", (victim, 0, CLOSE_ALL)),
    ]


def _roles_of(venue: Venue, caller: str) -> set[str]:
    """The roles of :func:`privileged_calls` that ``caller`` holds."""
    ch = venue.clearinghouse
    roles = {"admin": bytes(32), "executor": ch.executor_role(), "ADL keeper": ch.adl_keeper_role()}
    return {name for name, role in roles.items() if ch.has_role(role, caller)}


def check_roles(venue: Venue, callers: Iterable[str], victim: str) -> int:
    """Every privileged entry point (:func:`privileged_calls`), simulated from each of
    ``callers`` that lacks its role, is refused for the role (``Unauthorized`` or
    ``AccessControlUnauthorizedAccount``), not for some later reason. Returns the number of
    calls checked."""
    checked = 0
    for caller in callers:
        held = _roles_of(venue, caller)
        for description, contract, function, args in privileged_calls(venue, victim):
            if description.split("(")[1].rstrip(")") in held:
                continue
            exc = _error(lambda: contract.call(function, *args, sender=caller))
            checked += 1
            if exc is None or exc.error not in ROLE_ERRORS:
                raise AdversarialViolation(
                    ROLES_AND_ORDER, f"{description} is not refused to {caller} for the role",
                    outcome="went through" if exc is None else str(exc))
    return checked


def check_adl(venue: Venue, ranking: Sequence[AdlCandidate], caller: str, account: str, market: str, went_through: bool) -> None:
    """An ``autoDeleverage(account, market)`` by ``caller`` that went through was authorised
    (``ADL_KEEPER_ROLE``, not the owner nor its operator) and closed what the market's ADL rule
    (``IAdlModule.rule``, SPEC §8.1) allows. ``ranking`` is ``venue.ranked_candidates`` of every
    market, read just before. Whatever the rule, the position was one ADL could close (in profit,
    on a side in profit, valued). Under a ranked rule it ranked at least as high as every
    candidate of the ranked markets (equal scores in either order). Under a round rule it is a
    member of the round in progress (or the one its cut just ended), cut by it."""
    if not went_through:
        return
    ch = venue.clearinghouse
    if not ch.has_role(ch.adl_keeper_role(), caller) or caller.lower() == account.lower() \
            or ch.is_operator(account, caller):
        raise AdversarialViolation(ROLES_AND_ORDER, f"{caller} auto-deleveraged {account} {market} without the role")
    mine = [c.raw_score for c in ranking if c.account.lower() == account.lower() and c.market == market]
    if not mine:
        raise AdversarialViolation(ROLES_AND_ORDER, f"ADL closed {account} {market}, not a position ADL "
                                   "could close (in profit, on a side in profit, valued)")
    flags = {m: adl_flags(venue, m) for m in {c.market for c in ranking} | {market}}
    if flags[market] & ADL_RANKED:
        ranked = [c for c in ranking if flags[c.market] & ADL_RANKED]
        best = max(c.raw_score for c in ranked)
        if mine[0] < best:
            top = next(c for c in ranked if c.raw_score == best)
            raise AdversarialViolation(
                ROLES_AND_ORDER, f"ADL closed {account} {market} while a higher-ranked position stayed open",
                closed_score=mine[0], highest=best, highest_position=(top.account, top.market))
    if flags[market] & ADL_ROUND:
        member_of, _, cut, _ = ch.adl_round_entry(account, venue.market_id(market))
        current = adl_round(venue).id
        if member_of != current or not cut:
            raise AdversarialViolation(ROLES_AND_ORDER, f"ADL closed {account} {market}, not cut by the "
                                       "round in progress", round=current, entry_round=member_of, cut=cut)


# ====================================================================== delays hold
@dataclass(frozen=True)
class MarginRuleView:
    """A market's margin rule as the chain stores it: mmf (WAD), max leverage, tiers
    (lower bound WAD USD, max leverage, deduction), as ``marketTier`` reads them, and whether a
    margin module charges maintenance instead of the stock rule."""

    mmf: int
    max_leverage: int
    tiers: tuple[tuple[int, int, int], ...] = ()
    module: bool = False

    @classmethod
    def read(cls, venue: Venue, market: int) -> "MarginRuleView":
        ch = venue.clearinghouse
        config = ch.market_config(market)
        count = ch.market_tier(market, 0)[3]
        tiers = tuple(ch.market_tier(market, i)[:3] for i in range(count))
        module = int(ch.market_modules(market)[1], 16) != 0
        return cls(config[0], config[4], tiers, module)

    def _tier(self, notional: int) -> tuple[int, int, int]:
        chosen = self.tiers[0]
        for tier in self.tiers:
            if tier[0] <= notional:
                chosen = tier
        return chosen

    def maintenance(self, notional: int) -> int:
        """Maintenance charged at ``notional`` (WAD USD), rounded up as the venue rounds."""
        if not self.tiers:
            return -(-notional * self.mmf // WAD)
        _, leverage, deduction = self._tier(notional)
        fraction = -(-WAD // (2 * leverage))
        return -(-notional * fraction // WAD) - deduction

    def leverage(self, notional: int) -> int:
        """Leverage allowed at ``notional``."""
        if not self.tiers:
            return self.max_leverage
        return min(self.max_leverage, self._tier(notional)[1])

    def riskier_than(self, before: "MarginRuleView") -> Optional[int]:
        """A notional at which this rule charges more maintenance or allows less leverage than
        ``before`` (SPEC §2's comparison, sampled at 0, both rules' bounds and far past them),
        or None. With a margin module maintenance is the module's: only leverage counts, and a
        higher mmf (which the module may read; reported at notional 0)."""
        if self.module and self.mmf > before.mmf:
            return 0
        points = {0, 10**24, 10**27, 10**29}
        for rule in (self, before):
            for bound, _, _ in rule.tiers:  # (lower bound, leverage, deduction)
                points.update({bound, max(bound - 1, 0), bound + 1})
        for n in sorted(points):
            if self.leverage(n) < before.leverage(n) or (
                    not self.module and self.maintenance(n) > before.maintenance(n)):
                return n
        return None


@dataclass
class DelayWatch:
    """Watches the admin's market changes: wrap each admin call in :meth:`admin_call`. A change
    that applies and raises risk (:meth:`MarginRuleView.riskier_than`) under a risk-change delay
    must have been scheduled (``MarketChangeScheduled``) by an earlier call and have reached its
    ``readyAt``."""

    scheduled: dict[int, list[int]] = field(default_factory=dict)  # market -> readyAt of each
    #: The risk-change delay in force, as the admin's calls set it (``RiskChangeDelaySet``;
    #: the venue has no getter): give the venue's if it is not 0 when the watch starts.
    delay: int = 0

    def admin_call(self, venue: Venue, market: int, send: Callable[[], Any]) -> Optional[Any]:
        """Run ``send`` (an admin transaction changing ``market`` or the delay; a revert is
        returned as None) and check the property. Returns the receipt."""
        before = MarginRuleView.read(venue, market)
        delay = self.delay
        try:
            receipt = send()
        except Reverted:
            return None
        for event in receipt.events_named("MarketChangeScheduled"):
            self.scheduled.setdefault(event["market"], []).append(event["readyAt"])
        for event in receipt.events_named("RiskChangeDelaySet"):
            self.delay = event["delay"]
        after = MarginRuleView.read(venue, market)
        if after == before or delay == 0:
            return receipt
        where = after.riskier_than(before)
        if where is None:
            return receipt
        now = venue.chain.timestamp
        ready = [t for t in self.scheduled.get(market, []) if t <= now]
        if not ready:
            raise AdversarialViolation(
                DELAYS_HOLD, f"a risk-increasing change of market {market} took effect before readyAt",
                at_notional_wad=where, before=before, after=after, delay=delay, now=now,
                scheduled=self.scheduled.get(market, []))
        self.scheduled[market].remove(min(ready))
        return receipt


# ====================================================================== modules can't freeze
#: Adversarial modules the fuzzer installs: name -> (kind, contract, failing, setup). ``failing``
#: modules answer what the venue must refuse (or revert, or burn all gas); the others answer
#: extreme but valid values. ``setup`` is (function, args) sent to the module once installed.
MODULES: dict[str, tuple[str, str, bool, Optional[tuple[str, tuple[int, ...]]]]] = {
    "hyperliquid-rates": ("rates", "HyperliquidRates", False, None),
    "max-rates": ("rates", "MaxRates", False, None),
    "rates-at-bounds": ("rates", "ProgrammableRates", False, ("setAnswer", (-10**13, 10**11))),
    "rates-out-of-bounds": ("rates", "ProgrammableRates", True, ("setAnswer", (10**13 + 1, 0))),
    "rates-revert": ("rates", "ProgrammableRates", True, ("setMode", (1,))),
    "rates-divide-by-zero": ("rates", "ProgrammableRates", True, ("setMode", (2,))),
    "rates-assert": ("rates", "ProgrammableRates", True, ("setMode", (3,))),
    "rates-short-answer": ("rates", "ProgrammableRates", True, ("setMode", (4,))),
    "take-all-liquidation": ("liquidation", "TakeAllLiquidation", False, None),
    "generous-liquidation": ("liquidation", "GenerousLiquidation", False, None),
    "greedy-liquidation": ("liquidation", "GreedyLiquidation", True, None),
    "reverting-liquidation": ("liquidation", "RevertingLiquidation", True, ("setMode", (1,))),
    "out-of-gas-liquidation": ("liquidation", "RevertingLiquidation", True, ("setMode", (2,))),
    "zero-pricing": ("pricing", "ZeroPricing", True, None),
    "gmx-adl": ("adl", "GmxAdl", False, None),
    "adl-out-of-bounds": ("adl", "ProgrammableAdl", True, ("setAnswer", (1, 0, False))),
    "adl-revert": ("adl", "ProgrammableAdl", True, ("setAnswer", (0, 0, True))),
}
KINDS = {"rates": 0, "margin": 1, "liquidation": 2, "pricing": 3, "adl": 4}


def deploy_modules(venue: Venue) -> dict[str, Any]:
    """One deployment of each contract :data:`MODULES` names (contract name -> contract)."""
    names = sorted({contract for _, contract, _, _ in MODULES.values()})
    return {name: venue.chain.deploy(name, sender=venue.admin) for name in names}


def check_modules_cannot_freeze(venue: Venue, deployed: Mapping[str, Any], module: str, market: str,
                                traders: Sequence[Trader], keeper: Keeper, *, seconds: int = 3_600,
                                move_bps: int = 0, small_slices: bool = False) -> dict[str, Any]:
    """Inside a snapshot (nothing stays): the admin installs ``module`` (a :data:`MODULES` key)
    as ``market``'s rule, ``seconds`` pass, prices are pushed (``market``'s moved by
    ``move_bps``) and, with ``small_slices``, partial liquidation starts at 100 USD. Then:

    - the pool's value (``totalAssets``) does not revert;
    - the admin can swap the module back to the stock rule (simulated);
    - a liquidation batch of every position of ``traders`` does not revert;
    - with a module whose answers are valid, no close and no liquidation of a liquidatable
      position fails with a panic, without data or with ``ModuleResultOutOfBounds``.

    Returns what was checked (counts)."""
    kind, contract, failing, setup = MODULES[module]
    ch, mid = venue.clearinghouse, venue.market_id(market)
    done = {"closes": 0, "liquidations": 0, "batch": 0}
    with venue.snapshot():
        if small_slices:

            config = replace(venue.markets[market], partial_threshold_usd=Decimal(100))
            ch.configure_market(mid, config.symbol_bytes(), config.encode(venue.decimals),
                                sender=venue.admin).raise_for_status()
        address = deployed[contract].address
        if setup:
            deployed[contract].transact(venue.admin, setup[0], *setup[1]).raise_for_status()
        swap_in = ch.set_market_module(mid, KINDS[kind], address, sender=venue.admin)
        if not swap_in.status:
            raise AdversarialViolation(MODULES_CANT_FREEZE, f"the admin cannot install {module} on {market}",
                                       error=str(swap_in.error))
        venue.advance_time(seconds)
        prices = {m: venue.price(m) for m in venue.markets}
        prices[market] = (prices[market] * (10_000 + move_bps) / 10_000).quantize(Decimal("0.01"))
        venue.set_prices(prices)

        exc = _error(lambda: venue.pool.total_assets())
        if exc is not None:
            raise AdversarialViolation(MODULES_CANT_FREEZE, f"totalAssets reverts with {module} on {market}",
                                       error=str(exc))
        exc = _error(lambda: ch.simulate.set_market_module(mid, KINDS[kind], ZERO_ADDRESS,
                                                           sender=venue.admin))
        if exc is not None:
            raise AdversarialViolation(MODULES_CANT_FREEZE, f"the admin cannot replace {module} on {market}",
                                       error=str(exc))
        targets = []
        for t in traders:
            size, _, _, mode, *_ = ch.position(t.address, mid)
            if size:
                targets.append((t.address, mid if mode == ISOLATED else CROSS_ACCOUNT))
        if targets:
            exc = _error(lambda: ch.simulate.liquidate_batch(targets, sender=keeper.address))
            done["batch"] = len(targets)
            if exc is not None:
                raise AdversarialViolation(MODULES_CANT_FREEZE, f"a liquidation batch reverts with {module} on {market}",
                                           error=str(exc), targets=len(targets))
        if failing:
            return done
        for account, target in targets:
            exc = _error(
                lambda: ch.simulate.decrease_position(account, mid, CLOSE_ALL, sender=account))
            done["closes"] += 1
            if _unnamed(exc) or (exc is not None and exc.error == "ModuleResultOutOfBounds"):
                raise AdversarialViolation(MODULES_CANT_FREEZE, f"a close fails with {module} on {market}",
                                           account=account, error=str(exc))
            isolated = target == mid
            view = ("isLiquidatable", account, mid) if isolated else ("isAccountLiquidatable", account)
            if _error(lambda: ch.call(*view)) is not None or not ch.call(*view):
                continue
            function, args = (("liquidatePosition", (account, mid)) if isolated
                              else ("liquidateAccount", (account,)))
            exc = _error(lambda: ch.call(function, *args, sender=keeper.address))
            done["liquidations"] += 1
            if exc is not None and exc.error not in ("LiquidationCooldown", "StalePrice"):
                raise AdversarialViolation(MODULES_CANT_FREEZE,
                                           f"a liquidatable position cannot be liquidated with {module} on {market}",
                                           account=account, error=str(exc))
    return done


# ====================================================================== no free option
def _fate(receipt: Receipt) -> str:
    """An order execution's outcome: executed, failed (refunded) or the revert."""
    if not receipt.status:
        return f"reverted {receipt.error}"
    names = [e.name for e in receipt.events]
    for name in ("OrderExecuted", "OrderFailed", "OrderCancelled"):
        if name in names:
            return name
    return "nothing"


def check_no_free_option(venue: Venue, order_id: int, owner_action: Callable[[], Any], execute: Callable[[], Any],
                         description: str = "an owner action") -> tuple[str, str]:
    """Metamorphic check of SPEC §10: the keeper's execution of the pending market order
    ``order_id`` (``execute``, at a price newer than the order) is run once as is (inside a
    snapshot) and once after ``owner_action``; if it executes without the action, it must not
    fail (a full refund) nor be cancelled after it. Returns (fate without, fate with)."""
    with venue.snapshot():
        alone = _fate(execute())
    try:
        action = owner_action()
    except Reverted:
        action = None
    cancelled = action is not None and any(e.name == "OrderCancelled" and e["id"] == order_id
                                           for e in getattr(action, "events", []))
    after = "OrderCancelled" if cancelled else _fate(execute())
    if alone == "OrderExecuted" and after in ("OrderFailed", "OrderCancelled"):
        raise AdversarialViolation(NO_FREE_OPTION,
                                   f"{description} turned pending market order {order_id} into a full refund",
                                   without_action=alone, with_action=after)
    return alone, after
