"""What the generated bindings (:mod:`protocol.build.bindings`) stand on: a typed contract
handle over :class:`protocol.chain.Contract`, and :func:`bind`, which gives a handle its
contract's typed class."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar, Mapping, Optional, Sequence, TypeVar, cast

from protocol.chain import Contract, Receipt, hooks
from protocol.chain.abi import ContractABI, Event

__all__ = ["BoundContract", "Event", "Receipt", "bind", "register"]

C = TypeVar("C", bound="BoundContract")


class BoundContract(Contract):
    """A contract handle with a typed method per function (generated subclasses); the untyped
    ``call("name")`` and ``transact(sender, "name")`` stay for what no binding covers."""

    #: The artifact the class was generated from.
    ARTIFACT: ClassVar[str] = ""
    #: The classes of the contract's events.
    EVENTS: ClassVar[tuple[type, ...]] = ()
    #: The signatures of its functions (what a contract needs to be bound as this class).
    FUNCTIONS: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def of(cls: type[C], contract: Contract) -> C:
        """``contract`` as this class (the same chain, address and ABI)."""
        bound = cls(contract.chain, contract.address, contract.abi, contract.name)
        receipt = getattr(contract, "deploy_receipt", None)
        if receipt is not None:
            bound.deploy_receipt = receipt
        return bound

    #: Transactions run as ``eth_call`` (see :attr:`simulate`); set on a twin only.
    _simulating: bool = False

    @property
    def simulate(self: C) -> C:
        """This handle with its transactions run as ``eth_call`` runs them: ``ch.simulate.
        liquidate_batch(targets, sender=keeper)`` returns the function's return value, or raises
        the revert as its :class:`~protocol.errors.Reverted` subclass, and changes nothing."""
        twin = type(self).of(self)
        twin._simulating = True
        return twin

    def _view(self, signature: str, args: Sequence[Any], sender: Optional[str]) -> Any:
        return self.chain.call(self, signature, args, sender=sender)

    def _send(self, sender: str, signature: str, args: Sequence[Any], value: int,
              gas: Optional[int], gas_price: int) -> Receipt:
        if self._simulating:
            # What eth_call answers: the function's value, where the typed methods say Receipt.
            return cast(Receipt, self.chain.call(self, signature, args, sender=sender))
        return self.chain.transact(sender, self, signature, args, value=value, gas=gas,
                                   gas_price=gas_price)


_CLASSES: dict[str, type[BoundContract]] = {}


def register(bindings: Mapping[str, type[BoundContract]]) -> None:
    """Make :func:`bind` know these classes (artifact name -> class), and have every chain give
    its new handles their class (``Chain.deploy``, ``Chain.at``)."""
    _CLASSES.update(bindings)
    _fitting.cache_clear()
    hooks.BIND = bind


def bind(contract: Contract) -> Contract:
    """``contract`` as its artifact's typed class; a contract whose artifact has none (a
    user's module, another collateral token) as the largest bound class whose every function it
    has (a user's rates module as ``StockRates`` or ``IRatesModule``, an ERC-20 with ``mint``
    as ``MockUSDC``); as it is when there is none."""
    if isinstance(contract, BoundContract):
        return contract
    cls = _CLASSES.get(contract.name)
    if cls is None:
        cls = _fitting(contract.abi)
    return contract if cls is None else cls.of(contract)


@lru_cache(maxsize=None)
def _fitting(abi: ContractABI) -> Optional[type[BoundContract]]:
    """The largest bound class whose every function ``abi`` has (an artifact's ABI is loaded
    once, so this is worked out once per artifact, not per handle)."""
    functions = {fn.signature for fn in abi.functions.values()}
    fitting = [c for c in _CLASSES.values() if c.FUNCTIONS and c.FUNCTIONS <= functions]
    return max(fitting, key=lambda c: (len(c.FUNCTIONS), c.ARTIFACT)) if fitting else None
