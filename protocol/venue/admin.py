"""The admin's one-liners on a venue: configure a market, pause trading, grant and revoke roles.

Each sends one transaction from the venue's admin (or from ``sender=``, to check that the
contracts refuse anyone else) and raises the contract's refusal as the
:class:`~protocol.errors.Reverted` subclass of its custom error name, e.g.
``AccessControlUnauthorizedAccount``. Mixed into :class:`~protocol.venue.Venue`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union, cast

from eth_utils.address import to_checksum_address

from protocol.bindings import Clearinghouse
from protocol.chain import Chain, Contract, Receipt
from protocol.constants import ZERO_ADDRESS
from protocol.deploy.plan import module_kind
from protocol.margin.types import MODULE_INTERFACES
from protocol.venue.config import MarketConfig
from protocol.venue.modules import ModuleError, module_artifact

if TYPE_CHECKING:
    from protocol.deploy.deployer import Deployment
    from protocol.venue.client import Actor

ADMIN_ROLE = "DEFAULT_ADMIN_ROLE"  # OpenZeppelin AccessControl's admin role (id 0x00...00)
Account = Union["Actor", str]


def _address(account: Account) -> str:
    return account if isinstance(account, str) else account.address


class AdminActions:
    """Admin helpers of :class:`~protocol.venue.Venue` (see the module doc)."""

    admin: str
    chain: Chain
    clearinghouse: Clearinghouse
    deployment: "Deployment"
    decimals: int
    markets: dict[str, MarketConfig]

    if TYPE_CHECKING:
        def market_id(self, market: str) -> int:
            """A market's id by symbol (:meth:`protocol.venue.Venue.market_id`)."""
            ...

    def _origin(self, sender: Optional[Account]) -> str:
        """Who sends an admin call: the admin, unless a test sends it as someone else."""
        return self.admin if sender is None else _address(sender)

    def _admin_send(self, contract: Contract, function: str, *args: Any, sender: Optional[Account]
                    ) -> Receipt:
        return contract.transact(self._origin(sender), function, *args).raise_for_status()

    # ------------------------------------------------------------------ markets
    def configure_market(self, market: Union[str, MarketConfig], config: Optional[MarketConfig] = None,
                         *, sender: Optional[Account] = None, **changes: Any) -> Receipt:
        """Send ``configureMarket`` for an existing market: ``configure_market("ETH",
        max_leverage=20)`` changes fields of its current :class:`MarketConfig`;
        ``configure_market(MarketConfig(symbol="ETH", ...))`` (or ``("ETH", config)``) replaces it.
        Out-of-bounds values are refused by the contract (``ParamOutOfBounds``). A risk-increasing
        change under a risk-change delay is scheduled, not applied (``MarketChangeScheduled``);
        ``venue.markets`` follows what applied."""
        if isinstance(market, MarketConfig):
            config, market = market, market.symbol
        market_id = self.market_id(market)  # KeyError naming the markets
        new = replace(config or self.markets[market], **changes)
        receipt = self.clearinghouse.configure_market(
            market_id, new.symbol_bytes(), new.encode(self.decimals),
            sender=self._origin(sender)).raise_for_status()
        if receipt.events_named("MarketConfigured"):
            self.markets[market] = new
        return receipt

    # ------------------------------------------------------------------ rule modules
    def set_market_module(self, market: str, kind: str, module: Union[str, Contract, None],
                          *args: Any, setup: Sequence[tuple[str, Sequence[Any]]] = (),
                          sender: Optional[Account] = None) -> Optional[Contract]:
        """Give ``market`` its own ``kind`` rule (``rates``, ``margin``, ``liquidation`` or
        ``pricing``); the other markets keep theirs. ``module`` is a module already deployed (a
        Contract or its ``0x`` address), the name of a contract to deploy now with constructor
        ``args`` (the project's, or one compiled from the venue's ``contracts=`` directory), or
        None for the stock rule. ``setup`` lists ``(function, args)`` calls the admin sends to
        the module before the market uses it, for a module with per-market parameters:
        ``set_market_module("ETH", "pricing", "ImpactPricing", venue.clearinghouse.address,
        venue.admin, setup=[("setImpactConfig", (0, config.impact_encoded()))])``. The swap
        accrues the market's funding and borrowing under the old rates rule first. Refused: an
        unknown kind, contract or constructor arity (:class:`~protocol.venue.modules.ModuleError`),
        a contract without the kind's interface (``ModuleInterfaceMissing``), anyone but the
        admin. Returns the module (None for the stock rule)."""
        market_id = self.market_id(market)  # KeyError naming the markets
        if kind not in MODULE_INTERFACES:
            raise ModuleError(f"unknown module kind {kind!r}; kinds: {', '.join(MODULE_INTERFACES)}")
        if isinstance(module, str) and not module.startswith("0x"):
            artifact = module_artifact(kind, module, self.deployment.artifacts)
            wanted = artifact.abi.constructor_inputs
            if len(args) != len(wanted):
                raise ModuleError(f"{module}'s constructor takes ({', '.join(wanted)}): "
                                  f"{len(args)} argument{'s' * (len(args) != 1)} given")
            libraries = {name: self.deployment.contracts[name].address
                         for name in artifact.libraries if name in self.deployment.contracts}
            module = self.chain.deploy(artifact, *args, sender=self.admin, libraries=libraries)
        elif args:
            raise ModuleError("constructor arguments are for a module deployed by name; "
                              f"{module!r} is deployed already")
        elif isinstance(module, str):
            module = self.chain.at(MODULE_INTERFACES[kind], module)
        for function, call_args in setup:
            if module is None:
                raise ModuleError("setup calls need a module; the stock rule has no parameters")
            self._admin_send(module, function, *call_args, sender=sender)
        address = ZERO_ADDRESS if module is None else module.address
        self.clearinghouse.set_market_module(market_id, module_kind(kind), address,
                                             sender=self._origin(sender)).raise_for_status()
        return module

    def market_modules(self, market: str) -> dict[str, Optional[str]]:
        """The rule modules ``market`` names on chain, by kind (``rates``, ``margin``,
        ``liquidation``, ``pricing``): an address, or None where the stock rule applies."""
        addresses = self.clearinghouse.market_modules(self.market_id(market))
        return {kind: to_checksum_address(address) if int(address, 16) else None
                for kind, address in zip(MODULE_INTERFACES, addresses)}

    # ------------------------------------------------------------------ pausing
    def pause(self, *, sender: Optional[Account] = None) -> Receipt:
        """Pause opening and increasing positions (``TradingPaused``); closing, adding margin
        and liquidation go on."""
        return self.clearinghouse.set_paused(True, sender=self._origin(sender)).raise_for_status()

    def unpause(self, *, sender: Optional[Account] = None) -> Receipt:
        """Resume opening and increasing positions."""
        return self.clearinghouse.set_paused(False, sender=self._origin(sender)).raise_for_status()

    @property
    def paused(self) -> bool:
        """Whether opening and increasing are paused."""
        return self.clearinghouse.paused()

    # ------------------------------------------------------------------ roles
    def roles(self) -> dict[str, list[str]]:
        """Every role the venue's contracts define, with the contracts (by deployment name)
        that define it: ``{"EXECUTOR_ROLE": ["clearinghouse"], "UPDATER_ROLE": ["oracle"],
        "DEFAULT_ADMIN_ROLE": [...]}``."""
        found: dict[str, list[str]] = {}
        for name, contract in self._access_controlled().items():
            for fn in contract.abi.functions.values():
                if fn.name.endswith("_ROLE") and not fn.inputs and fn.outputs == ("bytes32",):
                    holders = found.setdefault(fn.name, [])
                    if name not in holders:
                        holders.append(name)
        return found

    def grant_role(self, role: Union[str, bytes], account: Account, *,
                   contract: Union[str, Contract, None] = None,
                   sender: Optional[Account] = None) -> Receipt:
        """Grant ``role`` to ``account``: a name (``"EXECUTOR"``, ``"UPDATER_ROLE"``, ``"ADMIN"``
        for ``DEFAULT_ADMIN_ROLE``) resolved to the contract that defines it, or a role id with
        ``contract=`` (a deployment name such as ``"oracle"``, or a Contract)."""
        target, role_id = self._role(role, contract)
        return self._admin_send(target, "grantRole", role_id, _address(account), sender=sender)

    def revoke_role(self, role: Union[str, bytes], account: Account, *,
                    contract: Union[str, Contract, None] = None,
                    sender: Optional[Account] = None) -> Receipt:
        """Revoke ``role`` from ``account`` (names as in :meth:`grant_role`)."""
        target, role_id = self._role(role, contract)
        return self._admin_send(target, "revokeRole", role_id, _address(account), sender=sender)

    def has_role(self, role: Union[str, bytes], account: Account, *,
                 contract: Union[str, Contract, None] = None) -> bool:
        """Whether ``account`` holds ``role`` (names as in :meth:`grant_role`)."""
        target, role_id = self._role(role, contract)
        return cast(bool, target.call("hasRole", role_id, _address(account)))

    def _access_controlled(self) -> dict[str, Contract]:
        return {name: c for name, c in self.deployment.contracts.items()
                if "hasRole" in c.abi.functions}

    def _role(self, role: Union[str, bytes], contract: Union[str, Contract, None]
              ) -> tuple[Contract, bytes]:
        controlled = self._access_controlled()
        if isinstance(contract, str):
            if contract not in controlled:
                raise ValueError(f"no access-controlled contract {contract!r}; contracts: "
                                 f"{', '.join(controlled)}")
            contract = controlled[contract]
        if isinstance(role, bytes):
            if contract is None:
                raise ValueError("a role id needs contract= (e.g. contract='clearinghouse')")
            return contract, role
        name = role.upper()
        name = ADMIN_ROLE if name in ("ADMIN", "DEFAULT_ADMIN", ADMIN_ROLE) else \
            name if name.endswith("_ROLE") else f"{name}_ROLE"
        defined = self.roles()
        if name not in defined:
            known = "; ".join(f"{r} ({', '.join(c)})" for r, c in defined.items())
            raise ValueError(f"no contract of this venue defines {name}; roles: {known}")
        if contract is None:
            if len(defined[name]) > 1:
                raise ValueError(f"{name} is defined by {', '.join(defined[name])}: pass "
                                 f"contract=")
            contract = controlled[defined[name][0]]
        elif name not in contract.abi.functions:
            raise ValueError(f"{contract.name} does not define {name}")
        return contract, contract.call(name)
