"""A scenario: everything one simulation run needs, as validated, immutable values.

Scenarios are usually written as TOML (see :mod:`protocol.sim.loader`); this module is the typed
form the engine runs.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any, Mapping, Optional

from protocol.keepers import Strategy
from protocol.margin.bounds import BY_FIELD, bound
from protocol.plugins import KEEPERS, PluginError, keeper_class, short_name
from protocol.prices import PriceSource
from protocol.prices.gas import GasModel
from protocol.prices.liquidity import Liquidity
from protocol.prices.oracle import OracleModel
from protocol.venue import MarketConfig, Venue, presets

KEEPER_TYPES = tuple(KEEPERS)  # the built-in keepers; plug-ins add their own
MODES = ("isolated", "cross")
#: Studies a scenario may ask for besides ``study_modes``: ``solvency`` runs it without the
#: profit cap and ADL keepers (the pool pays whoever closes first) and as configured;
#: ``feedback`` runs it with the oracle reporting the exogenous path (no feedback) and as
#: configured (the external market's moved price); ``adl`` runs it once per shipped ADL module
#: on the same seed and path.
STUDIES = ("solvency", "feedback", "adl")
#: Scenario fields that are top-level keys of its TOML, which ``with_`` keeps ``raw`` true to.
TOML_KEYS = ("name", "description", "seed", "blocks", "block_time", "backend", "equity_every",
             "positions_every", "mode", "study_modes", "study", "verify_index", "spot_check_every")

#: ``Venue.launch``'s keywords: where the venue's defaults are declared.
_LAUNCH = inspect.signature(Venue.launch).parameters
#: The profit cap and the ADL thresholds (``[venue]`` keys and launch keywords both).
PNL_FACTORS = ("max_pnl_factor_traders", "max_pnl_factor_adl", "min_pnl_factor_after_adl")


@dataclass(frozen=True)
class VenueSpec:
    """How the venue is launched: the keywords of :meth:`~protocol.venue.Venue.launch`, whose
    defaults are these (read from its signature, so that a scenario and a venue launched in a
    test start from the same venue)."""

    pool_liquidity: Decimal = Decimal(_LAUNCH["pool_liquidity"].default)
    insurance: Decimal = Decimal(_LAUNCH["insurance"].default)
    instant_trading: bool = _LAUNCH["instant_trading"].default
    max_price_age: int = _LAUNCH["max_price_age"].default
    market_order_timeout: int = _LAUNCH["market_order_timeout"].default
    min_execution_fee: int = _LAUNCH["min_execution_fee"].default  # wei
    #: Rule modules by kind (rates, margin, liquidation, pricing): contract names, compiled from
    #: the project or from ``contracts`` (a directory of the user's .sol files).
    modules: Mapping[str, str] = field(default_factory=dict)
    contracts: Optional[str] = None
    #: Python mirrors of those modules by kind (``"stock"`` or ``"package.module:Class"``,
    #: :func:`protocol.venue.rules.mirror`): invariant checks ask them instead of the chain.
    mirrors: Mapping[str, str] = field(default_factory=dict)
    #: The profit cap and auto-deleveraging thresholds, fractions of the pool's assets (the
    #: contract's defaults, GMX v2's). A cap of 0 turns it off.
    max_pnl_factor_traders: Decimal = Decimal("0.9")
    max_pnl_factor_adl: Decimal = Decimal("0.85")
    min_pnl_factor_after_adl: Decimal = Decimal("0.77")
    #: The venue preset (:mod:`protocol.venue.presets`) the scenario's markets and pnl factors
    #: were configured from: the loader applies it (a key the scenario states outranks it);
    #: here it is the record of it.
    preset: Optional[str] = None

    def pnl_factors(self) -> dict[str, Decimal]:
        return {"max_pnl_factor_traders": self.max_pnl_factor_traders,
                "max_pnl_factor_adl": self.max_pnl_factor_adl,
                "min_pnl_factor_after_adl": self.min_pnl_factor_after_adl}

    def __post_init__(self) -> None:
        if self.preset is not None:
            presets.preset(self.preset)  # UnknownPreset, naming the presets
        for name in self.launch_keywords():
            value = getattr(self, name)
            if name in BY_FIELD:  # the contracts' bound, from the one bounds table
                bound(name).check(value)
            elif isinstance(value, (int, Decimal)) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"{name}: must be >= 0, got {value}")

    def launch_keywords(self) -> dict[str, Any]:
        """The keywords this venue is launched with (:meth:`~protocol.venue.Venue.launch`):
        every field that is one of its keywords, but the pnl factors, which the engine sets
        after the launch and only when they differ from the contract's defaults."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name in _LAUNCH and f.name not in PNL_FACTORS}


@dataclass(frozen=True)
class Population:
    """``count`` agents of one type (a key of ``protocol.agents.AGENT_TYPES`` or a plug-in,
    :mod:`protocol.plugins`); ``params`` override the type's defaults (field names of its
    params dataclass)."""

    type: str
    count: int
    params: Mapping[str, Any] = field(default_factory=dict)
    label: Optional[str] = None  # cohort name; defaults to the type

    @property
    def cohort(self) -> str:
        return self.label or short_name(self.type)


@dataclass(frozen=True)
class KeeperSpec:
    """One keeper bot: ``type`` is liquidation, order, funding or adl, or a plug-in
    (:mod:`protocol.plugins`) with its ``params`` (an instance of its ``Params``)."""

    type: str
    name: str
    strategy: Strategy = Strategy()
    params: Any = None


@dataclass(frozen=True)
class MetricSpec:
    """One plug-in metric (:class:`protocol.plugins.Metric`): its ``type``, the ``name`` its
    columns and summary entry carry, and its ``params``."""

    type: str
    name: str
    params: Any = None


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
    equity_every: int = 10  # blocks between cohort-equity samples (from the event index)
    #: blocks between samples of the open book (liquidation prices for the heatmap and the
    #: distance chart: one Reader ``health`` call per 400 positions, so rarer than equity)
    positions_every: int = 60
    mode: Optional[str] = None
    #: blocks between checks of the keepers' event index against a full chain scan
    #: (:meth:`~protocol.keepers.index.BookIndex.verify`; 0: never)
    verify_index: int = 0
    #: blocks between spot checks of the cohort equities the event index computes against the
    #: chain's ``Reader.equities`` (0: none; recorded in ``run.json``)
    spot_check_every: int = 240
    study_modes: tuple[str, ...] = ()
    study: Optional[str] = None  # one of STUDIES
    source: Optional[str] = None  # file it was loaded from
    #: Depth of the external market per symbol (``protocol.prices.liquidity``): the venue's flow
    #: is hedged there; with ``feedback`` the oracle reports the moved price.
    liquidity: Mapping[str, Liquidity] = field(default_factory=dict)
    feedback: bool = True
    #: How each market's oracle reports (``protocol.prices.oracle``); left out: every block.
    oracles: Mapping[str, OracleModel] = field(default_factory=dict)
    #: The network's base fee over the run (``protocol.prices.gas``); None: no base fee, each
    #: keeper pays its own bid.
    gas: Optional[GasModel] = None
    #: Plug-in metrics recorded each block besides the built-in ones.
    metrics: tuple[MetricSpec, ...] = ()
    #: The scenario's TOML table as loaded, after its overrides, with file paths made absolute:
    #: what a run writes as ``scenario.toml``. ``None`` when built in Python, or changed by
    #: ``with_`` past what top-level keys and ``liquidity.feedback`` can say.
    raw: Optional[Mapping[str, Any]] = field(default=None, compare=False, repr=False)
    #: The dotted-key overrides set on the file when it was loaded (``--set``, a sweep's point).
    overrides: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.blocks < 1:
            raise ValueError(f"blocks: must be at least 1, got {self.blocks}")
        if self.block_time < 1:
            raise ValueError(f"block_time: must be at least 1 second, got {self.block_time}")
        if self.mode not in (None, *MODES):
            raise ValueError(f"mode: must be one of {MODES}, got {self.mode!r}")
        symbols = {m.symbol for m in self.markets}
        unknown = sorted(set(self.liquidity) - symbols)
        if unknown:
            raise ValueError(f"liquidity: no market {unknown[0]!r}")
        unknown = sorted(set(self.oracles) - symbols)
        if unknown:
            raise ValueError(f"oracle: no market {unknown[0]!r}")
        for model in self.oracles.values():
            if any(end > self.blocks for _, end in model.outages):
                raise ValueError(f"oracle: an outage ends after the last block ({self.blocks})")
        if self.study == "feedback" and not self.liquidity:
            raise ValueError("study: the feedback study needs a [liquidity.<SYMBOL>] table")
        missing = symbols - set(self.prices.symbols)
        if missing:
            raise ValueError(f"prices: no price source for market(s) {sorted(missing)}")
        if self.study not in (None, *STUDIES):
            raise ValueError(f"study: must be one of {STUDIES}, got {self.study!r}")
        if self.study and self.study_modes:
            raise ValueError("study: a scenario runs one study: study or study_modes, not both")
        for k in self.keepers:
            try:
                keeper_class(k.type)
            except PluginError as exc:
                raise ValueError(f"keepers: {exc}") from None
        if any(p.type == "lp" for p in self.agents) and not any(k.type == "order" for k in self.keepers):
            raise ValueError('keepers: lp agents deposit and redeem through two-step requests that an '
                             'order keeper executes; add a keeper with type = "order"')

    def with_(self, **changes: Any) -> "Scenario":
        """A copy with ``changes``; ``raw`` follows changes to top-level keys and ``feedback``,
        and is dropped (``None``) on any other change, which a TOML file would not reproduce."""
        if "raw" not in changes and self.raw is not None:
            changes["raw"] = _raw_with(self, self.raw, changes)
        return replace(self, **changes)


def _raw_with(scenario: Scenario, raw: Mapping[str, Any], changes: Mapping[str, Any]
              ) -> Optional[dict[str, Any]]:
    out = copy.deepcopy(dict(raw))
    for key, value in changes.items():
        if key in ("source", "overrides") or value == getattr(scenario, key):
            continue
        if key == "feedback":
            liquidity = out.setdefault("liquidity", {})
            if not isinstance(liquidity, dict):
                return None
            liquidity["feedback"] = value
        elif key not in TOML_KEYS:
            return None
        elif value is None or value == ():
            out.pop(key, None)
        else:
            out[key] = list(value) if isinstance(value, tuple) else value
    return out
