"""A venue's rules through every historical crisis: ``perpsim stress``.

The venue scenario supplies the rules, its ``[venue]`` table and its ``[markets.SYM]`` tables
(``preset``: a venue preset over them, as ``perpsim run --preset`` puts it). Each crisis (a built-in scenario named
``crisis-*``) supplies the rest: the price paths, the external market's depth, how its oracle
reports, the population, the keepers and the number of blocks; each market starts at the
crisis's initial price. Every crisis runs for each seed, through the sweep's engines and run
store (so a stopped stress test resumes), and the runs are reduced to one row per crisis: the
numbers a risk committee reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from protocol.errors import PerpsimError
from protocol.pages.units import usd
from protocol.sim.loader import builtin_scenarios, load_scenario
from protocol.sim.metrics.limits import describe
from protocol.sim.overrides import PRESET_KEY
from protocol.sweep.aggregate import P95, mean, min_seeds, percentile
from protocol.sweep.engines import Engine
from protocol.sweep.interrupt import DEFAULT_GRACE, Stop, SweepInterrupted
from protocol.sweep.run import RunRecord, RunSpec
from protocol.sweep.store import RunStore
from protocol.sweep.sweep import scenario_hash, store_runs

#: Built-in scenarios with this prefix are the crisis library (docs/CRISES.md).
CRISIS_PREFIX = "crisis-"
#: The venue scenario's tables a stress test carries into every crisis.
VENUE_TABLES = ("venue", "markets")


class StressError(PerpsimError, ValueError):
    """A stress test that cannot be set up: an unknown crisis, or a venue scenario without a
    market a crisis trades. The message is one line."""


def crisis_names() -> list[str]:
    """The built-in crises, by name."""
    return [name for name in builtin_scenarios() if name.startswith(CRISIS_PREFIX)]


def parse_crises(text: str) -> list[str]:
    """``"all"`` or ``"NAME,NAME"`` (with or without the ``crisis-`` prefix) -> crisis names."""
    known = crisis_names()
    if text.strip() == "all":
        if not known:
            raise StressError("no built-in crisis scenarios (crisis-*)")
        return known
    out: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            raise StressError(f"--crises {text!r}: an empty name")
        name = piece if piece.startswith(CRISIS_PREFIX) else CRISIS_PREFIX + piece
        if name not in known:
            raise StressError(f"unknown crisis {piece!r}; the crises: {', '.join(known) or 'none'}")
        if name not in out:
            out.append(name)
    return out


@dataclass(frozen=True)
class StressRun:
    """One crisis and seed: the spec the engine runs and the crisis it belongs to."""

    crisis: str
    spec: RunSpec


@dataclass
class StressPlan:
    """Every (crisis, seed) run, and what the composition left out of the venue scenario
    (``notes``: a market no crisis trades)."""

    venue_scenario: str
    preset: Optional[str]
    crises: list[str]
    seeds: list[int]
    runs: list[StressRun]
    notes: list[str] = field(default_factory=list)


def plan_stress(venue_scenario: str, crises: Sequence[str], seeds: Sequence[int], *,
                preset: Optional[str] = None, backend: Optional[str] = None,
                overrides: Optional[dict[str, Any]] = None) -> StressPlan:
    """The runs of a stress test. ``overrides`` (``--set``) apply to every crisis after the
    venue's tables. Each composed scenario is loaded once here, so a bad combination fails
    before anything runs (a :class:`~protocol.sim.loader.ScenarioError` naming the key)."""
    venue = load_scenario(venue_scenario, {PRESET_KEY: preset} if preset else None)
    raw = venue.raw or {}
    tables = {key: raw.get(key, {}) for key in VENUE_TABLES}
    markets: dict[str, Any] = tables["markets"]
    plan = StressPlan(venue_scenario, preset, list(crises), list(seeds), [])
    used: set[str] = set()
    for crisis in crises:
        scenario = load_scenario(crisis)
        composed: dict[str, Any] = {}
        for config in scenario.markets:
            if config.symbol not in markets:
                raise StressError(f"{venue_scenario} has no market {config.symbol}, which "
                                  f"{crisis} trades; add [markets.{config.symbol}]")
            table = dict(markets[config.symbol])
            if config.initial_price is not None:  # the crisis's path starts there
                table["initial_price"] = _toml_number(config.initial_price)
            composed[config.symbol] = table
            used.add(config.symbol)
        fixed = {"venue": tables["venue"], "markets": composed, **(overrides or {})}
        load_scenario(crisis, fixed)  # raises ScenarioError at the key
        digest = scenario_hash(crisis)
        for seed in seeds:
            spec = RunSpec(crisis, digest, (), seed, backend, tuple(sorted(fixed.items())))
            plan.runs.append(StressRun(crisis, spec))
    for symbol in sorted(set(markets) - used):
        plan.notes.append(f"market {symbol} of {venue_scenario} is traded in no crisis run")
    return plan


def _toml_number(value: Decimal) -> int | float:
    """An exact price as the number a TOML file would give (the loader reads numbers as TOML
    does); a price that a float does not carry exactly is refused rather than rounded."""
    if value == value.to_integral_value():
        return int(value)
    number = float(value)
    if Decimal(repr(number)) != value:
        raise StressError(f"initial price {value} is not exact as a TOML number")
    return number


@dataclass
class CrisisRow:
    """One crisis over its seeds. Money in USD, drawdowns and returns as fractions; ``None``
    where no seed finished. ``var95_bad_debt`` is ``None`` below the seeds a 95% interval of a
    95th percentile needs (``var95_note`` says so), as in a sweep; ``bad_debt_worst`` is the
    worst seed's. ``worst_block`` is the block (and loss) in which the venue's backstop lost most
    (the LP share price on the shares held, and the insurance fund), in the seed where that
    loss was largest; ``bound`` the limit that
    bound first in the seed with the most bad debt (ties: the lowest LP return)."""

    crisis: str
    description: str
    runs: int
    failed: int
    bad_debt_mean: Optional[Decimal] = None
    var95_bad_debt: Optional[Decimal] = None
    var95_note: str = ""
    bad_debt_worst: Optional[Decimal] = None
    insurance_drawdown_mean: Optional[Decimal] = None
    insurance_drawdown_worst: Optional[Decimal] = None
    adl_volume_mean: Optional[Decimal] = None
    liquidated_notional_mean: Optional[Decimal] = None
    lp_return_mean: Optional[Decimal] = None
    keeper_profit_mean: Optional[Decimal] = None
    worst_block: Optional[int] = None
    worst_block_loss: Optional[Decimal] = None
    worst_block_seed: Optional[int] = None
    bound: str = ""
    bound_seed: Optional[int] = None
    bad_debt: list[Decimal] = field(default_factory=list)  # per finished seed, in seed order
    lp_return: list[Decimal] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """The ``stress.csv`` line."""
        return {"crisis": self.crisis, "runs": self.runs, "failed": self.failed,
                "bad_debt_mean": self.bad_debt_mean, "var95_bad_debt": self.var95_bad_debt,
                "var95_bad_debt.note": self.var95_note, "bad_debt_worst": self.bad_debt_worst,
                "insurance_max_drawdown_mean": self.insurance_drawdown_mean,
                "insurance_max_drawdown_worst": self.insurance_drawdown_worst,
                "adl_volume_mean": self.adl_volume_mean,
                "liquidated_notional_mean": self.liquidated_notional_mean,
                "lp_return_mean": self.lp_return_mean, "keeper_profit_mean": self.keeper_profit_mean,
                "worst_block": self.worst_block, "worst_block_loss": self.worst_block_loss,
                "worst_block_seed": self.worst_block_seed, "bound": self.bound,
                "bound_seed": self.bound_seed}


def crisis_row(crisis: str, records: Sequence[RunRecord]) -> CrisisRow:
    """Reduce one crisis's runs (any order) to its row."""
    records = sorted(records, key=lambda r: r.seed)
    ok = [r for r in records if r.status == "ok"]
    row = CrisisRow(crisis, builtin_scenarios().get(crisis, ""), len(ok), len(records) - len(ok),
                    errors=[f"seed {r.seed}: {r.error}" for r in records if r.status != "ok"])
    if not ok:
        return row

    def figure(name: str) -> list[Decimal]:
        return [Decimal(r.metrics[name]) for r in ok]

    row.seeds = [r.seed for r in ok]
    row.bad_debt, row.lp_return = figure("bad_debt"), figure("lp_return")
    row.bad_debt_mean, row.bad_debt_worst = mean(row.bad_debt), max(row.bad_debt)
    need = min_seeds(P95)
    if len(ok) >= need:
        row.var95_bad_debt = percentile(row.bad_debt, P95)
    else:
        row.var95_note = (f"n too small for VaR95: {len(ok)} seed{'s' if len(ok) != 1 else ''}, "
                          f"a 95% interval needs at least {need}")
    drawdowns = figure("insurance_max_drawdown")
    row.insurance_drawdown_mean, row.insurance_drawdown_worst = mean(drawdowns), max(drawdowns)
    row.adl_volume_mean = mean(figure("adl_notional"))
    row.liquidated_notional_mean = mean(figure("liquidated_notional"))
    row.lp_return_mean = mean(row.lp_return)
    row.keeper_profit_mean = mean([sum((Decimal(v) for v in r.metrics["keeper_profit"].values()),
                                       Decimal(0)) for r in ok])
    falls = [(Decimal(r.metrics["worst_block"]["loss"]), -r.seed, r) for r in ok
             if r.metrics["worst_block"] is not None]
    if falls:
        loss, _, worst = max(falls, key=lambda item: item[:2])
        row.worst_block, row.worst_block_loss = worst.metrics["worst_block"]["block"], loss
        row.worst_block_seed = worst.seed
    hurt = max(ok, key=lambda r: (Decimal(r.metrics["bad_debt"]), -Decimal(r.metrics["lp_return"]),
                                  -r.seed))
    row.bound = describe(hurt.metrics["limits"], hurt.metrics["refused"])
    row.bound_seed = hurt.seed
    return row


@dataclass
class StressResult:
    """A finished stress test: one row per crisis, in the order asked."""

    plan: StressPlan
    rows: list[CrisisRow]
    skipped: int = 0  # runs found in the store, not run again
    wall_seconds: float = 0.0

    def hurt_most(self) -> Optional[CrisisRow]:
        """The crisis with the most bad debt on average (ties: the lowest mean LP return)."""
        finished = [r for r in self.rows if r.runs]
        if not finished:
            return None
        return max(finished, key=lambda r: (r.bad_debt_mean, -(r.lp_return_mean or 0)))

    def verdict(self) -> str:
        """One line: the crisis that hurt most and the limit that bound in it."""
        worst = self.hurt_most()
        if worst is None:
            return "no crisis run finished"
        return (f"hurt most: {worst.crisis}, bad debt {usd(worst.bad_debt_mean)} on average "
                f"(worst seed {usd(worst.bad_debt_worst)}); {worst.bound} "
                f"(seed {worst.bound_seed})")


def run_stress(plan: StressPlan, engine: Engine, out: Path, *,
               progress: Optional[Callable[[RunRecord, int, int], None]] = None,
               grace: float = DEFAULT_GRACE,
               on_stop: Optional[Callable[[int, int], None]] = None) -> StressResult:
    """Run what the store in ``out`` lacks, then reduce every crisis's runs. Ctrl-C, SIGINT or
    SIGTERM stop it as they stop a sweep (:class:`~protocol.sweep.interrupt.SweepInterrupted`,
    the finished runs stored; the same call again runs only the missing ones)."""
    started = time.perf_counter()
    store = RunStore(out)
    todo = [r.spec for r in plan.runs if not store.done(r.spec.key)]
    stop = Stop(grace, on_stop)
    store_runs(engine, todo, store, stop, progress=progress)
    if stop.requested:
        raise SweepInterrupted(stop.signum, sum(store.done(r.spec.key) for r in plan.runs),
                               len(plan.runs), out)
    rows = [crisis_row(crisis, [store.records[r.spec.key] for r in plan.runs
                                if r.crisis == crisis and r.spec.key in store.records])
            for crisis in plan.crises]
    return StressResult(plan, rows, skipped=len(plan.runs) - len(todo),
                        wall_seconds=time.perf_counter() - started)
