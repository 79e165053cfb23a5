"""What a run produces: per-block metrics rows, decoded contract events and a summary.

Values are exact (``int``, ``Decimal``, ``str``) so that the same scenario, seed and backend give
byte-identical files; floats appear only in charts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Optional, Protocol

from protocol.sim.provenance import Provenance
from protocol.values import stringify

if TYPE_CHECKING:
    import pandas

Row = dict[str, Any]


@dataclass(frozen=True)
class CrashPoint:
    """Where a simulation failed: the block (0: while launching the venue and its agents) and,
    in a study, the variant that was running. Failures carry it as ``exc.perpsim_crash``."""

    block: int
    variant: Optional[str] = None


class CarriesCrash(Protocol):
    """An exception that escaped a run, as the run leaves it: with where it failed."""

    perpsim_crash: CrashPoint


@dataclass(frozen=True)
class LiquidationMark:
    """One liquidated position (or slice of one): ``liquidations.csv`` has one line per mark.

    ``penalty`` and ``reward`` (USD) are the event's; a cross account pays one penalty and one
    keeper reward for all its positions (``AccountLiquidated``), written on the account's first
    line of that liquidation. ``entry_price`` is the position's average fill (entry notional over
    size, tracked from its events); ``leverage`` the leverage its owner opened it at (``None``
    when no agent of the run opened it); ``gas`` the keeper's gas for it in USD (its
    transaction's, shared by the liquidations the transaction made). ``latency`` is blocks from *first liquidatable* to
    liquidated: the first block at which the oracle price had crossed the position's
    liquidation price as last sampled (see :class:`PositionSample`), or a sample found it below
    maintenance; ``None`` when no sample had seen the position liquidatable before it went."""

    block: int
    market: str
    price: Decimal
    mode: str  # "isolated" | "cross"
    account: str
    size: Decimal  # base units closed (signed as the position)
    bad_debt: Decimal
    side: str = ""  # "long" | "short"
    notional: Decimal = Decimal(0)  # |size| x price, USD
    keeper: str = ""  # keeper name (its address if not one of the run's keepers)
    penalty: Decimal = Decimal(0)
    reward: Decimal = Decimal(0)
    leverage: Optional[int] = None
    entry_price: Optional[Decimal] = None
    cohort: str = ""
    latency: Optional[int] = None
    gas: Optional[Decimal] = None  # USD: the keeper's transaction gas, shared by its liquidations

    @property
    def keeper_pnl(self) -> Optional[Decimal]:
        """What this liquidation earned its keeper: reward less gas (USD)."""
        return None if self.gas is None else self.reward - self.gas


@dataclass(frozen=True)
class PositionSample:
    """One open position at a sampled block (every ``positions_every`` blocks, and every block
    in which a market's oracle price moved more than 0.5% from the block before; one Reader
    ``health`` call per chunk of positions).

    ``liquidation_price`` is an estimate (:func:`protocol.margin.human.cross_liquidation_price`):
    the price at which the position's equity (a cross account's: the whole account's) would meet
    maintenance if only this market's price moved, maintenance moving with this position's
    notional at the account's own maintenance-to-notional ratio;
    ``distance`` is how far the price can move against the position before that, as a fraction
    of the current price (negative: already past it). ``None`` when there is no such price."""

    block: int
    account: str
    market: str
    mode: str
    side: str
    size: Decimal
    notional: Decimal
    price: Decimal
    liquidation_price: Optional[Decimal]
    distance: Optional[Decimal]


#: A run's tables (:meth:`RunResult.records`), written as ``timeseries``, ``liquidations``,
#: ``positions`` and ``events`` files.
TABLES = ("rows", "liquidations", "positions", "events")
EVENT_COLUMNS = ("block", "tx", "contract", "event", "args")
LIQUIDATION_COLUMNS = tuple(f.name for f in fields(LiquidationMark))
POSITION_COLUMNS = tuple(f.name for f in fields(PositionSample))


def event_args_json(args: dict[str, Any]) -> str:
    """Event arguments as compact JSON with sorted keys and every value ``str()``'d."""
    return json.dumps(stringify(args or {}), sort_keys=True, separators=(",", ":"))


@dataclass
class RunResult:
    """One simulation run.

    ``rows``: one dict per block with the same keys in the same order. Keys: ``block``,
    ``timestamp``, ``price.<SYM>``, ``long_oi.<SYM>`` and ``short_oi.<SYM>`` (USD notional),
    ``pool_value``, ``lp_share_price``, ``insurance_fund``, ``liquidations``,
    ``liquidated_notional``, ``bad_debt``, ``cum_bad_debt``, ``funding_paid``, ``fees_paid``,
    ``keeper_profit.<name>`` (cumulative, USD, net of gas), ``equity.<cohort>`` (sum of the
    cohort's equity, USD, sampled every ``equity_every`` blocks and carried forward; an agent's
    holdings on the external market count at its price: ``Agent.outside_value``),
    ``equity.isolated`` / ``equity.cross`` (traders by the margin mode they trade in),
    ``wiped_out`` (accounts with under 1% of their starting capital left), ``transactions``;
    per market also ``skew.<SYM>`` (long minus short open interest, USD),
    ``utilisation.<SYM>`` (open interest over pool value), ``funding_rate.<SYM>`` (% of price per
    hour paid by longs, negative when shorts pay) and ``borrow_rate.<SYM>`` (% of entry notional
    per hour), the last two from the growth of the market's indices between its two latest
    ``FundingUpdated`` events.
    ``events``: one dict per decoded contract event: ``block``, ``tx`` (index in the run),
    ``contract``, ``event``, ``args`` (dict of exact values).
    ``summary``: run totals (see :meth:`protocol.sim.metrics.Metrics.summary`).
    ``positions``: the open book sampled every ``positions_every`` blocks and in every block in
    which a price moved more than 0.5% (:class:`PositionSample`).
    """

    scenario: str
    seed: int
    backend: str
    mode: Optional[str]
    block_time: int
    markets: tuple[str, ...]
    cohorts: tuple[str, ...]
    keepers: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    liquidations: list[LiquidationMark] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    positions: list[PositionSample] = field(default_factory=list)
    #: blocks between the spot checks of the index's equities against the chain (0: none;
    #: ``Scenario.spot_check_every``)
    spot_check_every: int = 0
    wall_seconds: float = 0.0  # not part of the reproducible outputs
    #: What the run ran besides seed and backend: overrides, modules, version, commit, and the
    #: scenario as run (``run.json``, ``scenario.toml``).
    provenance: Provenance = field(default_factory=Provenance)

    def column(self, key: str) -> list[Any]:
        return [row[key] for row in self.rows]

    def records(self, table: str = "rows") -> tuple[list[str], list[list[Any]]]:
        """One of the run's :data:`TABLES` as (header, records) of exact values, as its file
        holds them: ``"rows"`` (one line per block, as ``timeseries.csv``), ``"liquidations"``,
        ``"positions"`` (the sampled book) or ``"events"`` (arguments as JSON text)."""
        if table == "rows":
            header = list(self.rows[0]) if self.rows else []
            return header, [[row[k] for k in header] for row in self.rows]
        if table == "liquidations":
            return list(LIQUIDATION_COLUMNS), [[getattr(m, c) for c in LIQUIDATION_COLUMNS]
                                               for m in self.liquidations]
        if table == "positions":
            return list(POSITION_COLUMNS), [[getattr(p, c) for c in POSITION_COLUMNS]
                                            for p in self.positions]
        if table == "events":
            return list(EVENT_COLUMNS), [[e.get("block"), e.get("tx"), e.get("contract"),
                                          e.get("event"), event_args_json(e.get("args") or {})]
                                         for e in self.events]
        raise ValueError(f"table: must be one of {', '.join(TABLES)}, got {table!r}")

    def frame(self, table: str = "rows") -> "pandas.DataFrame":
        """One of the run's tables (:meth:`records`) as a :class:`pandas.DataFrame`, for
        notebooks. Numbers become floats here (the files keep exact values)."""
        # Function-level: pandas is imported only when a frame is asked for, not by every run.
        from protocol.sim.frames import frame

        return frame(*self.records(table))


@dataclass
class StudyResult:
    """The same scenario run once per margin mode (the isolated-vs-cross study)."""

    scenario: str
    runs: dict[str, RunResult]  # mode -> run
    comparison: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> mode -> value
