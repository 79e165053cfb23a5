"""Carry out a :class:`~protocol.deploy.plan.DeploymentPlan` on a chain."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, cast

import protocol.bindings  # noqa: F401  (every handle a chain makes gets its typed class)
from protocol.bindings import Clearinghouse, LiquidityPool, MockUSDC, OrderBook, PriceOracle, Reader
from protocol.chain import Chain, Contract
from protocol.chain.abi import load_artifact
from protocol.deploy.plan import Call, DeploymentPlan, MarketSpec, Ref, Role, module_kind


@dataclass(frozen=True)
class Deployment:
    """A deployed venue: its contracts by plan name, its admin, markets and rule modules."""

    admin: str
    contracts: Mapping[str, Contract]
    markets: tuple[MarketSpec, ...]
    decimals: int
    modules: Mapping[str, str]  # kind -> module address
    #: Where its contracts came from: a user's compiled ``contracts=`` directory (None: the
    #: project's artifacts), for the modules deployed later.
    artifacts: Optional[Path] = None

    if TYPE_CHECKING:
        # What every venue plan deploys, as the typed classes a chain's handles get
        # (protocol.bindings); served by __getattr__ like any other plan name.
        @property
        def usdc(self) -> MockUSDC: ...
        @property
        def oracle(self) -> PriceOracle: ...
        @property
        def clearinghouse(self) -> Clearinghouse: ...
        @property
        def pool(self) -> LiquidityPool: ...
        @property
        def order_book(self) -> OrderBook: ...
        @property
        def reader(self) -> Reader: ...

    def __getattr__(self, name: str) -> Contract:
        try:
            return self.contracts[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def feeds(self) -> dict[str, Contract]:
        return {name.removeprefix("feed:"): c for name, c in self.contracts.items()
                if name.startswith("feed:")}


def _resolve(value: Any, addresses: Mapping[str, str]) -> Any:
    if isinstance(value, Ref):
        return addresses[value.name]
    if isinstance(value, Role):
        return value.id
    return value


def deploy(chain: Chain, plan: DeploymentPlan, admin: str | None = None) -> Deployment:
    """Deploy every step of ``plan`` from ``admin`` (a new account when None), send its setup
    calls, configure its markets with a Chainlink feed each, and set their rule modules."""
    admin = admin or chain.new_account()
    addresses: dict[str, str] = {"admin": admin}
    contracts: dict[str, Contract] = {}
    for step in plan.steps:
        artifact = load_artifact(step.artifact, plan.artifacts)
        libraries = {name: addresses[name] for name in artifact.libraries if name in addresses}
        contract = chain.deploy(artifact, *(_resolve(a, addresses) for a in step.args), sender=admin,
                                libraries=libraries)
        contracts[step.name] = contract
        addresses[step.name] = contract.address
    for call in plan.calls:
        _send(contracts, call, addresses, admin)
    # The plan's handles, of their bound classes (protocol.bindings).
    decimals = cast(MockUSDC, contracts["usdc"]).decimals()
    ch, oracle = cast(Clearinghouse, contracts["clearinghouse"]), contracts["oracle"]
    for market_id, config in enumerate(plan.markets):
        ch.configure_market(market_id, config.symbol_bytes(), config.encode(decimals),
                            sender=admin).raise_for_status()
        if config.tiers:
            ch.set_market_tiers(market_id, *config.tiers_encoded(), sender=admin).raise_for_status()
        contracts[f"feed:{config.symbol}"] = chain.deploy(
            load_artifact("ChainlinkFeed", plan.artifacts), oracle.address, market_id,
            f"{config.symbol} / USD", sender=admin)
        for kind, step_name in plan.modules.items():
            ch.set_market_module(market_id, module_kind(kind), addresses[step_name],
                                 sender=admin).raise_for_status()
        for own in (m for m in plan.market_modules if m.market == market_id):
            for call in own.setup:
                _send(contracts, call, addresses, admin)
            ch.set_market_module(market_id, module_kind(own.kind), addresses[own.step],
                                 sender=admin).raise_for_status()
    modules = {kind: addresses[step] for kind, step in plan.modules.items()}
    return Deployment(admin, contracts, plan.markets, decimals, modules, plan.artifacts)


def _send(contracts: Mapping[str, Contract], call: Call, addresses: Mapping[str, str],
          admin: str) -> None:
    args = [_resolve(a, addresses) for a in call.args]
    contracts[call.contract].transact(admin, call.function, *args).raise_for_status()
