"""A venue's deployment as data: which contracts, with which constructor arguments and linked
libraries, which setup transactions (roles, wiring, markets, rule modules). Nothing here talks to
a chain: :func:`protocol.deploy.deploy` carries a plan out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Protocol, Sequence

from eth_utils.crypto import keccak

from protocol.margin.bounds import bound
from protocol.margin.types import MODULE_INTERFACES, ModuleKind


class MarketSpec(Protocol):
    """What deploying a market reads of its configuration
    (:class:`protocol.venue.config.MarketSpec` is one)."""

    @property
    def symbol(self) -> str: ...

    @property
    def tiers(self) -> Sequence[tuple[Any, int]]: ...

    @property
    def has_impact(self) -> bool: ...

    def symbol_bytes(self) -> bytes: ...

    def encode(self, decimals: int) -> tuple[Any, ...]: ...

    def tiers_encoded(self) -> tuple[list[int], list[int]]: ...

    def impact_encoded(self) -> tuple[Any, ...]: ...

#: The plan step of the ``ImpactPricing`` module, deployed when a market has price impact.
IMPACT_STEP = "impact"
#: The venue's external libraries, deployed before the contracts that link them (RatesLogic,
#: ImpactLogic and AdlLogic first: the others link them).
LIBRARIES = ("RatesLogic", "ImpactLogic", "AdlLogic", "AdminLogic", "ClearinghouseViews", "CollateralLogic", "LiquidationLogic",
             "TradeLogic")


@dataclass(frozen=True)
class Ref:
    """The address of a contract the plan deploys, by its name in the plan."""

    name: str


@dataclass(frozen=True)
class Role:
    """An AccessControl role id: ``keccak256(name)``."""

    name: str

    @property
    def id(self) -> bytes:
        return keccak(text=self.name)


@dataclass(frozen=True)
class Step:
    """Deploy ``artifact`` as ``name`` with constructor ``args`` (:class:`Ref` resolved), linking
    the libraries the artifact calls to the plan's contracts of the same names."""

    name: str
    artifact: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Call:
    """A setup transaction the admin sends: ``contract.function(*args)``."""

    contract: str
    function: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class MarketModule:
    """One market's own rule module: the plan's step ``step`` as the market's ``kind`` rule, after
    the admin's ``setup`` calls (its per-market parameters) have reached it. A module with
    parameters, such as ``ImpactPricing``, is one of these, not a special case of the deployer."""

    market: int
    kind: str
    step: str
    setup: tuple[Call, ...] = ()


@dataclass(frozen=True)
class DeploymentPlan:
    """Everything a venue deployment does, in order: ``steps``, then ``calls``, then each market
    configured (with its Chainlink feed) and given the plan's ``modules`` (kind -> step name)."""

    steps: tuple[Step, ...]
    calls: tuple[Call, ...]
    markets: tuple[MarketSpec, ...]
    modules: Mapping[str, str] = field(default_factory=dict)
    #: Modules of one market each, set after the venue-wide ``modules``.
    market_modules: tuple[MarketModule, ...] = ()
    #: Where the artifacts live (None: the project's own); a plan with users' contracts points
    #: at the cache that holds them beside the project's.
    artifacts: Optional[Path] = None

    def names(self) -> list[str]:
        return [s.name for s in self.steps]


def venue_plan(markets: Sequence[MarketSpec], *, max_price_age: int = 3600,
               close_grace_period: int = 3600, instant_trading: bool = True,
               collateral: str = "MockUSDC", min_execution_fee: int = 0,
               market_order_timeout: int = 300, modules: Mapping[str, str] | None = None,
               artifacts: Optional[Path] = None) -> DeploymentPlan:
    """The standard venue: collateral token, oracle, clearinghouse (with its libraries), pool,
    order book and reader; ``modules`` maps a module kind (``rates``, ``margin``,
    ``liquidation``, ``pricing``) to the contract to deploy as every market's rule of that kind
    (the stock rule applies to the kinds left out). Settings outside the contracts' bounds raise
    :class:`~protocol.venue.bounds.ParameterOutOfBounds` before anything is deployed."""
    for name, value in (("max_price_age", max_price_age), ("close_grace_period", close_grace_period),
                        ("market_order_timeout", market_order_timeout)):
        bound(name).check(value)
    modules = dict(modules or {})
    unknown = sorted(set(modules) - set(MODULE_INTERFACES))
    if unknown:
        raise ValueError(f"unknown module kind {unknown[0]!r}; kinds: {', '.join(MODULE_INTERFACES)}")
    steps = [Step("usdc", collateral),
             Step("oracle", "PriceOracle", (Ref("admin"), max_price_age)),
             *(Step(name, name) for name in LIBRARIES),
             Step("clearinghouse", "Clearinghouse", (Ref("usdc"), Ref("oracle"), Ref("admin"))),
             Step("pool", "LiquidityPool", (Ref("usdc"), Ref("clearinghouse"))),
             Step("order_book", "OrderBook", (Ref("clearinghouse"), Ref("admin"), min_execution_fee,
                                              market_order_timeout)),
             Step("reader", "Reader")]
    steps += [Step(f"module:{kind}", artifact) for kind, artifact in modules.items()]
    if any(m.has_impact for m in markets):
        if "pricing" in modules:
            raise ValueError("markets with price impact use the ImpactPricing module; "
                             f"a pricing module ({modules['pricing']}) is already chosen")
        steps.append(Step(IMPACT_STEP, "ImpactPricing", (Ref("clearinghouse"), Ref("admin"))))
    calls = [Call("oracle", "grantRole", (Role("UPDATER_ROLE"), Ref("admin")))]
    if close_grace_period:
        calls.append(Call("oracle", "setCloseGracePeriod", (close_grace_period,)))
    calls += [Call("clearinghouse", "setPool", (Ref("pool"),)),
              Call("clearinghouse", "grantRole", (Role("EXECUTOR_ROLE"), Ref("order_book")))]
    if not instant_trading:
        calls.append(Call("clearinghouse", "setInstantTrading", (False,)))
    impact = tuple(MarketModule(i, "pricing", IMPACT_STEP,
                                (Call(IMPACT_STEP, "setImpactConfig", (i, m.impact_encoded())),))
                   for i, m in enumerate(markets) if m.has_impact)
    return DeploymentPlan(tuple(steps), tuple(calls), tuple(markets),
                          {kind: f"module:{kind}" for kind in modules}, impact, artifacts)


def module_kind(kind: str) -> ModuleKind:
    """The ``ModuleKind`` of a kind's name (``"rates"`` ...)."""
    return ModuleKind[kind.upper()]
