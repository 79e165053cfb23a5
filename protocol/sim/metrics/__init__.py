"""A run's metrics: the built-in ones and the scenario's ``[[metrics]]`` plug-ins, all
:class:`~protocol.plugins.Metric`\\ s, recorded block by block into rows and a summary.

The built-ins (:data:`BUILTIN`, in the order their columns appear) write the row's columns and
the summary's top level; plug-ins write ``name.key`` columns and ``summary["metrics"][name]``.
A new built-in metric is a module here and a line in :data:`BUILTIN`; the figures and
aggregates it declares (:attr:`~protocol.plugins.Metric.figures`,
:attr:`~protocol.plugins.Metric.aggregates`) are what sweeps keep and report of it.
"""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Optional, Sequence, cast

from protocol.chain import Receipt
from protocol.plugins import Aggregate, BlockView, Metric, MetricCollision, RunView, metric_class
from protocol.sim.metrics.adl import AdlFairness, gini
from protocol.sim.metrics.book import RESAMPLE_MOVE, Book, BookParams, OpenPosition
from protocol.sim.metrics.common import WIPED_OUT, market_drawdowns, max_drawdown, usd
from protocol.sim.metrics.equity import Equity, EquityParams
from protocol.sim.metrics.events import EventLog, Transactions
from protocol.sim.metrics.flows import Flows
from protocol.sim.metrics.gas import BaseFee
from protocol.sim.metrics.keepers import KeeperProfit
from protocol.sim.metrics.limits import Limits
from protocol.sim.metrics.market import MarketState
from protocol.sim.metrics.rates import Rates
from protocol.sim.metrics.solvency import Solvency
from protocol.sim.result import LiquidationMark, PositionSample, Row
from protocol.sim.scenario import MetricSpec

__all__ = ["AGGREGATES", "AdlFairness", "BUILTIN", "BaseFee", "RESAMPLE_MOVE", "WIPED_OUT", "Book", "BookParams", "Equity",
           "EquityParams", "EventLog", "Flows", "KeeperProfit", "Limits", "MarketState", "Metrics",
           "OpenPosition", "Rates", "Solvency", "Transactions", "market_drawdowns",
           "gini", "max_drawdown", "run_figures", "usd"]

#: The built-in metrics by name, in the order their columns appear in a row.
BUILTIN: dict[str, type[Metric]] = {
    "market": MarketState, "flows": Flows, "rates": Rates, "keepers": KeeperProfit, "gas": BaseFee,
    "solvency": Solvency, "adl": AdlFairness, "limits": Limits, "book": Book, "equity": Equity, "events": EventLog,
    "transactions": Transactions}


def _aggregates() -> tuple[Aggregate, ...]:
    declared = [a for cls in BUILTIN.values() for a in cls.aggregates]
    return tuple(sorted(declared, key=lambda a: a.rank))  # stable: ties keep the metrics' order


#: What a sweep reports over each grid point's seeds, by rank.
AGGREGATES = _aggregates()


def run_figures(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The per-run figures the built-in metrics declare, read from a run's summary."""
    return {name: read(summary) for cls in BUILTIN.values() for name, read in cls.figures.items()}


class Metrics:
    """One run's metrics: :meth:`record` makes each block's row, :meth:`summary` the totals.

    ``params`` gives a built-in its parameters by name (``book``, ``equity``); ``plugins`` are
    the scenario's ``[[metrics]]``."""

    def __init__(self, run: RunView, params: Mapping[str, Any] | None = None,
                 plugins: Sequence[MetricSpec] = ()):
        params = params or {}
        self.venue = run.venue
        self.symbols = list(run.venue.markets)
        self.builtin = {name: cls(name, params.get(name)) for name, cls in BUILTIN.items()}
        self.plugins = [metric_class(s.type)(s.name, s.params) for s in plugins]
        self.all: list[Metric] = [*self.builtin.values(), *self.plugins]
        for metric in self.all:
            metric.begin(run)
        self.columns: list[str] | None = None  # the first row's, checked once

    @property
    def liquidations(self) -> list[LiquidationMark]:
        return cast(Book, self.builtin["book"]).liquidations

    @property
    def positions(self) -> list[PositionSample]:
        return cast(Book, self.builtin["book"]).positions

    @property
    def events(self) -> list[Row]:
        return cast(EventLog, self.builtin["events"]).events

    @property
    def spot_checks(self) -> int:
        return cast(Equity, self.builtin["equity"]).spot_checks

    def record(self, block: int, timestamp: int, prices: Mapping[str, Decimal],
               receipts: Iterable[Receipt], exogenous: Mapping[str, Decimal],
               forced_volume: Decimal = Decimal(0), impact_cost: Decimal = Decimal(0),
               forced_impact_cost: Decimal = Decimal(0), base_fee: Optional[int] = None) -> Row:
        """One block's row: ``prices`` the external market's (moved by the venue's flow),
        ``exogenous`` its path before that flow; the block's forced (liquidation and ADL) volume
        hedged in the market, the impact cost of all its hedged flow and of the forced flow
        alone (USD); the network's base fee (wei, None without a gas model). ``price.SYM`` is
        what the oracle holds on chain at the end of the block (lagging the market when its
        oracle does)."""
        row: Row = {"block": block, "timestamp": timestamp}
        view = BlockView(block, timestamp, prices, tuple(receipts), self.venue,
                         MappingProxyType(row), {s: self.venue.price(s) for s in self.symbols},
                         exogenous, forced_volume, impact_cost, forced_impact_cost, base_fee)
        first = self.columns is None
        owners: dict[str, str] = {}
        for metric in self.all:
            out = metric.observe(view)
            if metric.namespaced:
                out = {f"{metric.name}.{key}": value for key, value in out.items()}
            if first:
                for key in out:
                    if key in row:
                        raise MetricCollision(f"metric {metric.name!r} writes column {key!r}, "
                                              f"which metric {owners.get(key, 'run')!r} wrote")
                    owners[key] = metric.name
            row.update(out)
        if first:
            self.columns = list(row)
        return row

    def summary(self) -> dict[str, Any]:
        """The built-ins' totals at the top level; namespaced metrics' (plug-ins') under
        ``metrics``, when there are any."""
        out: dict[str, Any] = {}
        owners: dict[str, str] = {}
        namespaced: dict[str, Any] = {}
        for metric in self.all:
            if metric.namespaced:
                namespaced[metric.name] = metric.summary()
                continue
            for key, value in (metric.summary() or {}).items():
                if key in out:
                    raise MetricCollision(f"metric {metric.name!r} writes summary key {key!r}, "
                                          f"which metric {owners[key]!r} wrote")
                out[key], owners[key] = value, metric.name
        if namespaced:
            out["metrics"] = namespaced
        return out
