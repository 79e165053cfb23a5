"""Plug-ins: agents, keepers, price models and metrics from the user's own code.

A scenario names one by its built-in name, by the name an installed package registers under
an entry point group, or as ``"module:attribute"``, tried in that order::

    [[keepers]]
    type = "mypkg.bots:SniperKeeper"     # or "sniper", registered under perpsim.keepers

==========  =======================  ====================================  ===================
kind        entry point group        scenario key                          base class
==========  =======================  ====================================  ===================
agents      ``perpsim.agents``       ``[[agents]] type``                   :class:`Agent`
keepers     ``perpsim.keepers``      ``[[keepers]] type``                  :class:`Keeper`
prices      ``perpsim.prices``       ``[prices.<SYMBOL>] model``           :class:`PriceModel`
metrics     ``perpsim.metrics``      ``[[metrics]] type``                  :class:`Metric`
==========  =======================  ====================================  ===================

Each plug-in class declares its parameters as a dataclass ``Params`` (default: none); the
scenario table's other keys are checked against its fields (types from the annotations, rules
in its ``__post_init__`` raising ``ValueError("field: message")``) and the engine passes the
instance to the constructor.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from decimal import Decimal
from importlib.metadata import entry_points
from typing import Any, Callable, ClassVar, Iterable, Mapping, Optional, Sequence

from protocol.agents import AGENT_TYPES, AgentType, Context
from protocol.agents.base import Agent, NoParams
from protocol.chain import Receipt
from protocol.errors import PerpsimError
from protocol.keepers import (
    AdlKeeper,
    FundingKeeper,
    Intent,
    KeeperBot,
    LiquidationKeeper,
    OrderKeeper,
    Strategy,
)
from protocol.prices import (
    GBM,
    BrownianBridge,
    CsvReplay,
    Heston,
    HistoryReplay,
    MertonJumpDiffusion,
    PricePath,
    RegimeSwitchingVol,
)
from protocol.prices.path import log_walk
from protocol.venue import Venue

GROUPS = {"agents": "perpsim.agents", "keepers": "perpsim.keepers", "prices": "perpsim.prices",
          "metrics": "perpsim.metrics"}
KINDS = {"agents": "agent type", "keepers": "keeper type", "prices": "price model",
         "metrics": "metric"}

KEEPERS: dict[str, type[KeeperBot]] = {"liquidation": LiquidationKeeper, "order": OrderKeeper,
                                       "funding": FundingKeeper, "adl": AdlKeeper}
#: Built-in price models by their ``model`` name (``constant`` is a GBM without moves; ``csv``
#: replays a file of prices, ``history`` one of candles).
PRICE_MODELS: dict[str, type] = {"gbm": GBM, "merton": MertonJumpDiffusion,
                                 "regime": RegimeSwitchingVol, "heston": Heston,
                                 "bridge": BrownianBridge, "csv": CsvReplay,
                                 "history": HistoryReplay, "constant": GBM}


class PluginError(PerpsimError, LookupError):
    """A plug-in name that does not resolve; the message says what was tried."""


# ---------------------------------------------------------------------------------------------
# base classes


class Keeper(KeeperBot):
    """Base for plug-in keepers: subclass, declare ``Params``, implement ``scan(block)`` (the
    targets actionable now) and ``intents(block, targets)`` (one :class:`Intent` per
    transaction, made with ``self.intent(contract, "function", *args)``); refine
    ``did_work(receipt)`` to count wins. Built as ``cls(venue, name, strategy, params)``; the
    scenario's strategy keys (``poll_interval``, ``latency``, ``gas_price_gwei`` ...) set
    ``self.strategy``."""

    Params: ClassVar[type] = NoParams

    def __init__(self, venue: Venue, name: str, strategy: Strategy = Strategy(),
                 params: Any = None):
        super().__init__(venue, name, strategy)
        self.params = self.Params() if params is None else params


class PriceModel:
    """Base for plug-in price models of one symbol: subclass, declare ``Params`` and implement
    :meth:`path`. Built as ``cls(symbol, start, params)``, ``start`` the table's ``start`` or
    the market's ``initial_price``."""

    Params: ClassVar[type] = NoParams

    def __init__(self, symbol: str, start: Decimal, params: Any = None):
        self.symbol = symbol
        self.start = Decimal(start)
        self.params = self.Params() if params is None else params

    @property
    def symbols(self) -> tuple[str, ...]:
        return (self.symbol,)

    def path(self, blocks: int, block_time: float, seed: int) -> PricePath:
        """``blocks + 1`` prices, the same for the same arguments; :meth:`walk` builds one
        from log-price increments."""
        raise NotImplementedError

    def walk(self, block_time: float, increments: Iterable[float]) -> PricePath:
        """The path of ``start`` moved by ``increments`` of the log price, one per block."""
        return PricePath(self.symbols, block_time, {self.symbol: log_walk(self.start, increments)})

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.symbol!r}, {self.start}, {self.params!r})"


@dataclass(frozen=True)
class RunView:
    """What a metric sees of the whole run, given once to :meth:`Metric.begin`: the venue, the
    agents and keepers (in the engine's order), the scenario's cohorts in order and each agent's
    cohort by name."""

    venue: Venue
    agents: Sequence[Agent] = ()
    keepers: Sequence[KeeperBot] = ()
    cohorts: Sequence[str] = ()
    cohort_of: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class BlockView:
    """What a metric sees of one block: the venue after it, its receipts (agents' and
    keepers'), the external market's prices (moved by the venue's flow) and ``exogenous``, their
    path before that flow; ``oracle``, the prices the venue's oracle holds at the end of the
    block; the block's forced (liquidation and ADL) volume hedged in the external market, the
    impact cost of all its hedged flow and of the forced flow alone (USD); ``base_fee``, the
    network's base fee in wei when the scenario has a ``[gas]`` model (else None); and ``row``,
    the columns the metrics before this one wrote for this block (read-only)."""

    block: int
    timestamp: int
    prices: Mapping[str, Decimal]
    receipts: Sequence[Receipt]
    venue: Venue
    row: Mapping[str, Any]
    oracle: Mapping[str, Decimal] = dataclasses.field(default_factory=dict)
    exogenous: Mapping[str, Decimal] = dataclasses.field(default_factory=dict)
    forced_volume: Decimal = Decimal(0)
    impact_cost: Decimal = Decimal(0)
    forced_impact_cost: Decimal = Decimal(0)
    base_fee: Optional[int] = None


@dataclass(frozen=True)
class Aggregate:
    """What a sweep makes of one of a metric's per-run figures over a grid point's seeds:
    ``name`` (the aggregate's attribute and ``aggregates.csv`` column), ``label`` (as a reader
    sees it), ``unit`` (``"usd"``, or ``"fraction"`` shown as %), ``figure`` (the per-run figure
    it reduces, one of the metric's :attr:`Metric.figures`), ``reduce`` (``"mean"``, ``"max"``, or
    the tail quantile ``"p95"``/``"p5"``, whose interval is an order statistic's), ``better``
    (``"lower"`` or ``"higher"``), for a quantile ``short``, its name in "n too small for
    VaR95", and ``rank``, its place in the sweep's tables and pages (lowest first; ties in the
    metrics' order)."""

    name: str
    label: str
    unit: str
    figure: str
    reduce: str
    better: str
    short: str = ""
    rank: int = 100


class Metric:
    """Base for metrics, the built-in ones (:mod:`protocol.sim.metrics`) and plug-ins: subclass,
    declare ``Params``, implement :meth:`observe` and :meth:`summary`. Built as
    ``cls(name, params)``; ``name`` is the ``[[metrics]]`` entry's ``name`` (default: the type's
    name). Each block's row gets ``"{name}.{key}"`` columns from :meth:`observe` (the same keys
    every block, block 0 included); the run summary gets ``summary()`` under
    ``summary["metrics"][name]``. A metric with ``namespaced = False`` (the built-ins) writes
    its keys as the columns themselves and its summary, a mapping, into the summary's top level;
    a column or summary key written twice is an error (:class:`MetricCollision`). Values should
    be exact (``int``, ``Decimal``, ``str``) so runs stay byte-identical."""

    Params: ClassVar[type] = NoParams
    namespaced: ClassVar[bool] = True
    #: The per-run figures a sweep keeps of this metric (``RunRecord.metrics``): name -> how
    #: to read it from the run's summary, as a string (exact) or an int.
    figures: ClassVar[Mapping[str, Callable[[Mapping[str, Any]], Any]]] = {}
    #: What a sweep reports of those figures over each grid point's seeds (the built-ins' are
    #: the sweep's statistics).
    aggregates: ClassVar[tuple[Aggregate, ...]] = ()

    def __init__(self, name: str, params: Any = None):
        self.name = name
        self.params = self.Params() if params is None else params

    def begin(self, run: RunView) -> None:
        """Called once after the venue is launched and the agents and keepers are made, before
        block 0 is recorded; the default calls :meth:`start` with the venue."""
        self.start(run.venue)

    def start(self, venue: Venue) -> None:
        """Called by :meth:`begin`; override it when the venue is all a metric needs."""

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        raise NotImplementedError

    def summary(self) -> Any:
        return None


class MetricCollision(PerpsimError, ValueError):
    """Two metrics wrote the same column or summary key; the message names both."""


BASES: dict[str, type] = {"agents": Agent, "keepers": KeeperBot, "prices": PriceModel,
                          "metrics": Metric}


# ---------------------------------------------------------------------------------------------
# lookup


def _builtins(kind: str) -> Mapping[str, Any]:
    builtins: dict[str, Mapping[str, Any]] = {"agents": AGENT_TYPES, "keepers": KEEPERS,
                                              "prices": PRICE_MODELS, "metrics": {}}
    return builtins[kind]


def find(kind: str, name: str) -> Any:
    """The plug-in ``name`` of ``kind`` (agents, keepers, prices, metrics): a built-in, else an
    entry point of ``perpsim.<kind>``, else ``"module:attribute"`` imported. Raises
    :class:`PluginError` naming what was tried."""
    builtins = _builtins(kind)
    if name in builtins:
        return builtins[name]
    group = GROUPS[kind]
    registered = entry_points(group=group)
    for ep in registered:
        if ep.name == name:
            try:
                found = ep.load()
            except Exception as exc:
                raise PluginError(f"entry point {name!r} of {group} ({ep.value}) failed to "
                                  f"load: {type(exc).__name__}: {exc}") from None
            return _checked(kind, name, found)
    if ":" in name:
        module, _, attribute = name.partition(":")
        try:
            found = importlib.import_module(module)
        except Exception as exc:
            raise PluginError(f"cannot import module {module!r} of {name!r}: "
                              f"{type(exc).__name__}: {exc}") from None
        for part in attribute.split("."):
            found = getattr(found, part, None)
            if found is None:
                raise PluginError(f"module {module!r} has no attribute {attribute!r}")
        return _checked(kind, name, found)
    names = ", ".join(sorted(ep.name for ep in registered)) or "none installed"
    raise PluginError(f"unknown {KINDS[kind]} {name!r}: not one of the built-ins "
                      f"({', '.join(builtins) or 'none'}), not an entry point of {group} "
                      f"({names}), and not a \"module:attribute\"")


def _checked(kind: str, name: str, found: Any) -> Any:
    base = BASES[kind]
    if not (isinstance(found, type) and issubclass(found, base)):
        raise PluginError(f"{name!r} is {found!r}, not a subclass of {base.__module__}."
                          f"{base.__qualname__}")
    params = getattr(found, "Params", NoParams)
    if not dataclasses.is_dataclass(params):
        raise PluginError(f"{name!r}: its Params must be a dataclass, got {params!r}")
    return found


def agent_type(name: str) -> AgentType:
    """The agent type ``name`` resolves to (a plug-in as ``AgentType(cls, cls.Params, {})``)."""
    found = find("agents", name)
    return found if isinstance(found, AgentType) else AgentType.of(found)


def keeper_class(name: str) -> type[KeeperBot]:
    found: type[KeeperBot] = find("keepers", name)  # checked a KeeperBot subclass
    return found


def metric_class(name: str) -> type[Metric]:
    found: type[Metric] = find("metrics", name)  # checked a Metric subclass
    return found


def is_builtin(kind: str, name: str) -> bool:
    return name in _builtins(kind)


def short_name(name: str) -> str:
    """``"mypkg.bots:SniperKeeper"`` -> ``"SniperKeeper"``; other names as they are."""
    return name.rpartition(":")[2].rpartition(".")[2] if ":" in name else name


__all__ = ["Aggregate", "Agent", "BlockView", "Context", "GROUPS", "Intent", "Keeper", "Metric",
           "MetricCollision", "NoParams", "PluginError", "PriceModel", "PricePath", "RunView",
           "Strategy", "agent_type", "find",
           "is_builtin", "keeper_class", "metric_class", "short_name"]
