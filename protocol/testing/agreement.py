"""The property ``model agrees``: the reference model (:mod:`protocol.margin.model`), run beside
the chain, predicts what each trader and keeper transaction does.

:class:`ModelWatch` keeps the model loaded at one check of the chain's state
(:func:`~protocol.testing.invariants.load_state`, which every invariant check does) and the
Clearinghouse transactions sent until the next check. At the next check it replays them on that
model, each at its own block's timestamp. Each must go through or be refused as it was on chain,
with the same custom error, and the model's state must then equal the chain's: positions,
balances, market states and memory, the pool's, insurance and funding buckets, impact pools and
held impact, the profit cap's hold, order locks and the ADL round.

What the model does not follow makes an interval incomparable, and it is skipped, not judged: a
transaction to another contract (an oracle push, the order book, the pool), an admin or ADL
call, a call on another's behalf (an operator's or the order book's), a refusal the model cannot
know of (the token's balance and allowance checks, reentrancy, access control), a transaction
inside a snapshot, and a rewind. The fuzzer checks it after every step
(:class:`protocol.testing.fuzz.VenueMachine`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from protocol.chain.codec import decoder
from protocol.margin.model import Model, ModelRevert
from protocol.testing.invariants import InvariantViolation

if TYPE_CHECKING:
    from protocol.chain import Receipt
    from protocol.chain.abi import Function
    from protocol.testing.invariants import ChainState
    from protocol.venue.client import Venue

MODEL_AGREES = "model agrees"

#: Clearinghouse functions the model mirrors: name -> (the argument that names the account, or
#: None for a keeper's call on others; the model's call from (model, sender, arguments)).
_Replay = Callable[[Model, str, tuple[Any, ...]], Any]
MIRRORED: dict[str, tuple[Optional[int], _Replay]] = {
    "deposit": (None, lambda m, s, a: m.deposit(a[0], a[1])),
    "withdraw": (0, lambda m, s, a: m.withdraw(a[0], a[1])),
    "increasePosition": (0, lambda m, s, a: m.increase(a[0], a[1], a[2], a[3], a[4], a[5])),
    "decreasePosition": (0, lambda m, s, a: m.decrease(a[0], a[1], a[2])),
    "addMargin": (0, lambda m, s, a: m.add_margin(a[0], a[1], a[2])),
    "removeMargin": (0, lambda m, s, a: m.remove_margin(a[0], a[1], a[2])),
    "updateLeverage": (0, lambda m, s, a: m.update_leverage(a[0], a[1], a[2])),
    "updateFunding": (None, lambda m, s, a: m.update_funding(a[0])),
    "liquidatePosition": (None, lambda m, s, a: m.liquidate_position(s, a[0], a[1])),
    "liquidateAccount": (None, lambda m, s, a: m.liquidate_account(s, a[0])),
    "liquidateBatch": (None, lambda m, s, a: m.liquidate_batch(s, [(t[0], t[1]) for t in a[0]])),
}
#: Refusals from outside the rules the model mirrors: the collateral token's own checks,
#: reentrancy and access control.
OUTSIDE_THE_MODEL = frozenset((
    "ERC20InsufficientBalance", "ERC20InsufficientAllowance", "SafeERC20FailedOperation",
    "ReentrancyGuardReentrantCall", "AccessControlUnauthorizedAccount", "Panic", "Error"))
#: The model's fields compared with the chain's after a replay.
COMPARED = ("states", "memory", "cross_balance", "cross_markets", "positions", "impact_pool",
            "held_impact", "last_partial_liquidation", "pool_assets", "open_entry",
            "insurance_fund", "funding_reserve", "profit_held", "order_locks", "adl_round_id",
            "adl_round_fraction", "adl_round_remaining", "adl_round_entry")


def _state_of(model: Model) -> dict[str, Any]:
    """The compared fields, with the entries that hold nothing left out (a dictionary may keep
    an account whose balance went back to 0)."""
    out = {}
    for name in COMPARED:
        value = getattr(model, name)
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if v}
        out[name] = value
    return out


@dataclass
class ModelWatch:
    """Replays a venue's Clearinghouse transactions on the reference model between two checks
    (:meth:`check`) and raises :class:`~protocol.testing.invariants.InvariantViolation` named
    :data:`MODEL_AGREES` where the two differ. ``compared`` counts the intervals judged,
    ``skipped`` those that were not (see the module docstring), ``replayed`` the transactions."""

    venue: Venue
    compared: int = 0
    skipped: int = 0
    replayed: int = 0
    _base: Optional[Model] = field(default=None, repr=False)
    _at: Any = field(default=None, repr=False)  # (rewinds, snapshot path) of the base
    _sent: list[tuple[Function, Receipt]] = field(default_factory=list, repr=False)
    _comparable: bool = field(default=True, repr=False)
    _stop: Optional[Callable[[], None]] = field(default=None, repr=False)

    def install(self) -> "ModelWatch":
        if self._stop is None:
            self._stop = self.venue.chain.listen(self._on_receipt)
        return self

    def uninstall(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None

    def _where(self) -> tuple[int, tuple[int, ...]]:
        chain = self.venue.chain
        return chain.rewinds, chain.snapshot_path

    def _on_receipt(self, receipt: Receipt) -> None:
        if self._base is None or not self._comparable:
            return
        if self._where() != self._at:
            return  # inside a snapshot: undone when it ends (a rewind is seen at the check)
        ch = self.venue.clearinghouse
        if receipt.to is None or receipt.to.lower() != ch.address.lower() or len(receipt.data) < 4:
            self._comparable = False
            return
        fn = ch.abi.by_selector.get(receipt.data[:4])
        if fn is None or fn.name not in MIRRORED:
            self._comparable = False
            return
        self._sent.append((fn, receipt))  # decoded only if the interval is judged

    def check(self, state: ChainState) -> None:
        """Judge the interval since the last check against ``state`` (the chain's now, as
        :func:`~protocol.testing.invariants.load_state` read it), then start the next one
        from it."""
        try:
            if self._base is not None and (self._sent or not self._comparable):
                judged = self._comparable and self._where() == self._at and self._judge(state.model)
                if judged:
                    self.compared += 1
                else:
                    self.skipped += 1
        finally:
            self._base = state.model  # copied when replayed on: the caller leaves it as it is
            self._at = self._where()
            self._sent = []
            self._comparable = True

    def _judge(self, chain_model: Model) -> bool:
        """Replay and compare; False when a refusal from outside the model leaves it unjudged."""
        assert self._base is not None
        model = _copy(self._base)
        for fn, receipt in self._sent:
            name, args = fn.name, decoder(fn.inputs)(receipt.data[4:])
            owner, replay = MIRRORED[name]
            if owner is not None and str(args[owner]).lower() != receipt.sender.lower():
                return False  # on another's behalf (an operator)
            model.now = receipt.timestamp
            lowered = tuple(a.lower() if isinstance(a, str) else a for a in args)
            try:
                replay(model, receipt.sender.lower(), lowered)
                predicted: Optional[str] = None
            except ModelRevert as exc:
                predicted = exc.name
            got = receipt.error.error if receipt.error is not None else None
            if got in OUTSIDE_THE_MODEL:
                if predicted is None:  # the chain refused for a reason the model has no part of
                    return False
                continue
            self.replayed += 1
            if got != predicted:
                raise InvariantViolation(
                    MODEL_AGREES, f"{name}{args} by {receipt.sender}: the chain "
                    f"{'went through' if got is None else 'refused ' + str(got)}, the model "
                    f"{'goes through' if predicted is None else 'refuses ' + predicted}")
        mine, theirs = _state_of(model), _state_of(chain_model)
        for key in COMPARED:
            if mine[key] != theirs[key]:
                raise InvariantViolation(
                    MODEL_AGREES, f"after {[fn.name for fn, _ in self._sent]}: the model's {key} != "
                    "the chain's", model=_difference(mine[key], theirs[key], 0),
                    chain=_difference(mine[key], theirs[key], 1))
        return True


def _copy(model: Model) -> Model:
    """A copy to replay on; the markets' rules are shared (they hold no state, and those asked
    through the chain hold the chain)."""
    return copy.deepcopy(model, {id(model.rules): model.rules})


def _difference(a: Any, b: Any, side: int) -> Any:
    """The entries of two dictionaries (or lists) that differ, as one side has them."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = [k for k in {**a, **b} if a.get(k) != b.get(k)]
        return {k: (a, b)[side].get(k) for k in keys}
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return {i: (a, b)[side][i] for i in range(len(a)) if a[i] != b[i]}
    return (a, b)[side]
