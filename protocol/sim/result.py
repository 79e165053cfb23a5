"""What a run produces: per-block metrics rows, decoded contract events and a summary.

Values are exact (``int``, ``Decimal``, ``str``) so that the same scenario, seed and backend give
byte-identical files; floats appear only in charts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional

Row = dict[str, Any]


@dataclass(frozen=True)
class LiquidationMark:
    """One liquidated position, for price-chart markers."""

    block: int
    market: str
    price: Decimal
    mode: str  # "isolated" | "cross"
    account: str
    size: Decimal  # base units closed (signed as the position)
    bad_debt: Decimal


@dataclass
class RunResult:
    """One simulation run.

    ``rows``: one dict per block with the same keys in the same order. Keys: ``block``,
    ``timestamp``, ``price.<SYM>``, ``long_oi.<SYM>`` and ``short_oi.<SYM>`` (USD notional),
    ``pool_value``, ``lp_share_price``, ``insurance_fund``, ``liquidations``,
    ``liquidated_notional``, ``bad_debt``, ``cum_bad_debt``, ``funding_paid``, ``fees_paid``,
    ``keeper_profit.<name>`` (cumulative, USD, net of gas), ``equity.<cohort>`` (sum of the
    cohort's equity, USD, sampled every ``equity_every`` blocks and carried forward),
    ``equity.isolated`` / ``equity.cross`` (traders by the margin mode they trade in),
    ``wiped_out`` (accounts with under 1% of their starting capital left), ``transactions``.
    ``events``: one dict per decoded contract event: ``block``, ``tx`` (index in the run),
    ``contract``, ``event``, ``args`` (dict of exact values).
    ``summary``: run totals (see :func:`protocol.sim.metrics.summarize`).
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
    wall_seconds: float = 0.0  # not part of the reproducible outputs

    def column(self, key: str) -> list[Any]:
        return [row[key] for row in self.rows]


@dataclass
class StudyResult:
    """The same scenario run once per margin mode (the isolated-vs-cross study)."""

    scenario: str
    runs: dict[str, RunResult]  # mode -> run
    comparison: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> mode -> value
