"""A scenario: everything one simulation run needs, as validated, immutable values.

Scenarios are usually written as TOML (see :mod:`protocol.sim.loader`); this module is the typed
form the engine runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Mapping, Optional

from protocol.keepers import Strategy
from protocol.prices import PriceSource
from protocol.venue import MarketConfig

KEEPER_TYPES = ("liquidation", "order", "funding")
MODES = ("isolated", "cross")


@dataclass(frozen=True)
class VenueSpec:
    """How the venue is launched."""

    pool_liquidity: Decimal = Decimal(10_000_000)
    insurance: Decimal = Decimal(100_000)
    instant_trading: bool = True
    max_price_age: int = 3600
    market_order_timeout: int = 300
    min_execution_fee: int = 0  # wei
    #: Rule modules by kind (rates, margin, liquidation, pricing): contract names, compiled from
    #: the project or from ``contracts`` (a directory of the user's .sol files).
    modules: Mapping[str, str] = field(default_factory=dict)
    contracts: Optional[str] = None


@dataclass(frozen=True)
class Population:
    """``count`` agents of one type (a key of ``protocol.agents.AGENT_TYPES``); ``params``
    override the type's defaults (field names of its params dataclass)."""

    type: str
    count: int
    params: Mapping[str, Any] = field(default_factory=dict)
    label: Optional[str] = None  # cohort name; defaults to the type

    @property
    def cohort(self) -> str:
        return self.label or self.type


@dataclass(frozen=True)
class KeeperSpec:
    """One keeper bot: ``type`` is liquidation, order or funding."""

    type: str
    name: str
    strategy: Strategy = Strategy()


@dataclass(frozen=True)
class Scenario:
    """One simulation: markets, price source, agents and keepers over ``blocks`` blocks of
    ``block_time`` seconds. ``mode`` forces every trader's margin mode (the isolated-vs-cross
    study runs the same scenario once per mode in ``study_modes``)."""

    name: str
    markets: tuple[MarketConfig, ...]
    prices: PriceSource
    agents: tuple[Population, ...]
    keepers: tuple[KeeperSpec, ...] = (KeeperSpec("liquidation", "keeper"),)
    blocks: int = 1440
    block_time: int = 60
    seed: int = 1
    backend: str = "revm"
    venue: VenueSpec = VenueSpec()
    description: str = ""
    equity_every: int = 10  # blocks between cohort-equity samples (one Reader call each)
    mode: Optional[str] = None
    study_modes: tuple[str, ...] = ()
    source: Optional[str] = None  # file it was loaded from

    def __post_init__(self) -> None:
        if self.blocks < 1:
            raise ValueError(f"blocks: must be at least 1, got {self.blocks}")
        if self.block_time < 1:
            raise ValueError(f"block_time: must be at least 1 second, got {self.block_time}")
        if self.mode not in (None, *MODES):
            raise ValueError(f"mode: must be one of {MODES}, got {self.mode!r}")
        symbols = {m.symbol for m in self.markets}
        missing = symbols - set(self.prices.symbols)
        if missing:
            raise ValueError(f"prices: no price source for market(s) {sorted(missing)}")
        for k in self.keepers:
            if k.type not in KEEPER_TYPES:
                raise ValueError(f"keepers: type must be one of {KEEPER_TYPES}, got {k.type!r}")

    def with_(self, **changes: Any) -> "Scenario":
        return replace(self, **changes)
