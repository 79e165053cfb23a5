"""The search for the best attack on a venue: ``perpsim attack``.

A scenario holds one attacker population (:mod:`protocol.agents.attackers`: ``manipulator``,
``self_liquidator``, ``margin_puller``). The search runs it over a grid: the budgets asked for
times the attacker's own search axes (:attr:`~protocol.agents.attackers.Attacker.search`, or
``--vary``), each for N seeds, through the sweep's engine and run store (so a stopped search
resumes). A grid rather than an optimiser (optuna's TPE, say): the axes are few and coarse
(three to twelve points a budget), a run of an attack scenario takes a fraction of a second,
so the whole grid costs less than a TPE's warm-up would, every point is reported (the table
shows where profit turns), and the result does not depend on a sampler's seed.

Each run carries :class:`AttackLedger`, a metric that follows the attacker block by block (its
venue position and equity, its external inventory, its profit) and counts what the venue's
defences did to it: oracle updates the deviation guard refused (``PriceDeviation``), opens
refused at an open-interest cap, profit haircut by the profit cap (``ProfitCapped``), price
impact it paid. The runs are reduced to one row per grid point and the best point per budget;
the rules that bound in the largest attack tried are the ones that stopped a larger one.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from protocol.agents.attackers import Attacker
from protocol.errors import PerpsimError
from protocol.pages.units import usd
from protocol.plugins import BlockView, Metric, PluginError, RunView, agent_type
from protocol.sim.engine import Simulation
from protocol.sim.loader import load_scenario
from protocol.sim.result import RunResult
from protocol.sweep.engines import LocalEngine
from protocol.sweep.grid import Axis, parse_axes
from protocol.sweep.interrupt import DEFAULT_GRACE, Stop, SweepInterrupted
from protocol.sweep.run import RunRecord, RunSpec, execute, run_metrics
from protocol.sweep.store import RunStore
from protocol.sweep.sweep import plan, store_runs
from protocol.values import jsonable
from protocol.venue.units import from_wad

#: The ledger's ``[[metrics]]`` entry, added to every run of a search.
LEDGER = {"type": "protocol.sweep.attack:AttackLedger", "name": "attack"}
#: The defences the search names, in the order it names them.
RULES = ("oracle deviation guard", "OI cap", "profit cap", "price impact")


class AttackError(PerpsimError, ValueError):
    """A search that cannot be set up: no attacker in the scenario, a bad budget list or axis.
    The message is one line."""


# ---------------------------------------------------------------------------------------------
# the ledger


class AttackLedger(Metric):
    """Follows the scenario's first attacker. Columns ``attack.position`` (its signed size in
    its market), ``attack.notional`` (at the oracle), ``attack.equity`` (its venue accounts),
    ``attack.outside_units`` and ``attack.outside_value`` (its external book at the market
    price), ``attack.profit`` and ``attack.pushes_refused`` (oracle updates refused this block);
    the summary: the attacker's ``profit`` at the end and its ``peak``, ``capital``, what the
    defences did (``pushes_refused``, ``oi_refused``, ``haircut``, ``impact_paid``), its
    ``refused`` transactions by error, ``liquidations``, the ``bad_debt`` its accounts left, its
    ``actions``, and the venue's loss over the run: ``lp_loss`` (the LP share price's fall on
    the shares held at the end), ``insurance_loss`` and ``venue_loss``, their sum."""

    def begin(self, run: RunView) -> None:
        self.venue = run.venue
        self.attacker: Optional[Attacker] = next(
            (a for a in run.agents if isinstance(a, Attacker)), None)
        self.oracle = run.venue.oracle.address.lower()
        self.symbols = list(run.venue.markets)
        self.pushes_refused = 0
        self.haircut = self.impact_paid = self.bad_debt = Decimal(0)
        self.liquidations = 0
        self.peak: tuple[Decimal, int] = (Decimal(0), 0)
        self.first: Optional[tuple[Decimal, Decimal]] = None  # share price, insurance fund
        self.last: tuple[Decimal, Decimal, Decimal] = (Decimal(0),) * 3
        self.profit = Decimal(0)

    def _market(self) -> str:
        assert self.attacker is not None
        return self.attacker.market or self.attacker.params.market or self.symbols[0]

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        refused = 0
        mine = set() if self.attacker is None else {t.address.lower() for t in self.attacker.accounts}
        for receipt in view.receipts:
            error = receipt.error
            if error is not None and error.error == "PriceDeviation" and \
                    (receipt.to or "").lower() == self.oracle:
                refused += 1
            if not mine:
                continue
            for event in receipt.events:
                if "account" not in event.args or event["account"].lower() not in mine:
                    continue
                if event.name == "ProfitCapped":
                    self.haircut += self.venue.usd(event["full"] - event["paid"])
                elif event.name == "PriceImpact" and event["realized"] < 0:
                    self.impact_paid += self.venue.usd(-event["realized"])
                elif event.name == "PositionLiquidated":
                    self.liquidations += 1
                elif event.name == "BadDebt":
                    self.bad_debt += self.venue.usd(event["amount"])
        self.pushes_refused += refused
        row = view.row
        share, fund, pool = row["lp_share_price"], row["insurance_fund"], row["pool_value"]
        if self.first is None:
            self.first = (share, fund)
        self.last = (share, fund, pool)
        if self.attacker is None:
            return {"pushes_refused": refused}
        a, market = self.attacker, self._market()
        oracle = view.oracle[market]
        size = from_wad(self.venue.raw_position(a.trader, market).size)
        equity = a.venue_value(self.venue)
        outside = a.outside_value(view.prices)
        self.profit = a.wallet(self.venue) + equity + outside - a.capital
        if self.profit > self.peak[0]:
            self.peak = (self.profit, view.block)
        return {"position": size, "notional": size * oracle, "equity": equity,
                "outside_units": a.outside_units.get(market, Decimal(0)),
                "outside_value": outside, "profit": self.profit, "pushes_refused": refused}

    def summary(self) -> dict[str, Any]:
        first = self.first or (Decimal(0), Decimal(0))
        share, fund, pool = self.last
        shares = pool / share if share > 0 else Decimal(0)
        lp_loss = ((first[0] - share) * shares).quantize(Decimal("0.01"))
        insurance_loss = (first[1] - fund).quantize(Decimal("0.01"))
        out: dict[str, Any] = {"lp_loss": lp_loss, "insurance_loss": insurance_loss,
                               "venue_loss": lp_loss + insurance_loss,
                               "pushes_refused": self.pushes_refused}
        a = self.attacker
        if a is None:
            return out
        refused = {str(k or "unnamed revert"): v for k, v in sorted(
            a.activity.refused.items(), key=lambda kv: str(kv[0]))}
        return {**out, "agent": a.name, "kind": a.kind, "market": self._market(),
                "capital": a.capital, "profit": self.profit.quantize(Decimal("0.01")),
                "peak": self.peak[0].quantize(Decimal("0.01")), "peak_block": self.peak[1],
                "haircut": self.haircut.quantize(Decimal("0.01")),
                "impact_paid": self.impact_paid.quantize(Decimal("0.01")),
                "oi_refused": refused.get("OpenInterestCap", 0), "refused": refused,
                "liquidations": self.liquidations,
                "bad_debt": self.bad_debt.quantize(Decimal("0.01")),
                "actions": [[b, w] for b, w in a.actions]}


def stopped_by(attack: Mapping[str, Any]) -> list[str]:
    """The defences that bound on the attacker in one run's ledger summary, in :data:`RULES`'
    order, each with what it did."""
    found = []
    if int(attack.get("pushes_refused", 0)):
        n = int(attack["pushes_refused"])
        found.append(f"oracle deviation guard ({n} update{'s' if n != 1 else ''} refused)")
    if int(attack.get("oi_refused", 0)):
        n = int(attack["oi_refused"])
        found.append(f"OI cap ({n} open{'s' if n != 1 else ''} refused)")
    if Decimal(str(attack.get("haircut", 0))) > 0:
        found.append(f"profit cap ({usd(attack['haircut'], cents=False)} haircut)")
    if Decimal(str(attack.get("impact_paid", 0))) > 0:
        found.append(f"price impact ({usd(attack['impact_paid'], cents=False)} paid)")
    return found


# ---------------------------------------------------------------------------------------------
# planning and running


def parse_budgets(text: str) -> list[float]:
    """``"1e6,5e6,2e7"`` -> budgets in USD (each > 0)."""
    out: list[float] = []
    for piece in (p.strip() for p in text.split(",")):
        try:
            value = float(piece.replace("_", ""))
        except ValueError:
            raise AttackError(f"--budget {text!r}: {piece!r} is not a number of USD") from None
        if not value > 0 or value != value or value == float("inf"):
            raise AttackError(f"--budget {text!r}: each budget must be > 0 USD, got {piece}")
        if value not in out:
            out.append(value)
    return out


def parse_vary(settings: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """``["pump_blocks=1,5"]`` -> {parameter: values}."""
    try:
        return {axis.key: axis.values for axis in parse_axes(settings, "--vary")}
    except ValueError as exc:
        raise AttackError(str(exc)) from None


@dataclass
class AttackPlan:
    """The grid and its runs: ``index`` is the attacker's population in the scenario's
    ``[[agents]]``; ``axes`` the budget axis first, then the attacker's."""

    scenario: str
    agent: str
    index: int
    budgets: list[float]
    axes: list[Axis]
    seeds: list[int]
    specs: list[RunSpec]
    fixed: dict[str, Any] = field(default_factory=dict)

    def short(self, key: str) -> str:
        """``agents[3].pump_blocks`` -> ``pump_blocks``."""
        prefix = f"agents[{self.index}]."
        return key[len(prefix):] if key.startswith(prefix) else key


def attacker_class(agent: str) -> type[Attacker]:
    try:
        cls = agent_type(agent).cls
    except PluginError as exc:
        raise AttackError(str(exc)) from None
    if not issubclass(cls, Attacker):
        raise AttackError(f"--agent {agent}: not an attacker (an Attacker subclass); the "
                          f"attackers: manipulator, self_liquidator, margin_puller")
    return cls


def plan_attack(scenario: str, agent: str, budgets: Sequence[float], seeds: Sequence[int], *,
                backend: Optional[str] = None, overrides: Optional[dict[str, Any]] = None,
                vary: Optional[Mapping[str, tuple[Any, ...]]] = None) -> AttackPlan:
    """The runs of a search: every budget x the attacker's search axes (``vary`` replaces
    them), each seed. Each point is loaded once here, so a bad value fails before anything
    runs (a :class:`~protocol.sim.loader.ScenarioError` naming the key)."""
    cls = attacker_class(agent)
    fixed = dict(overrides or {})
    loaded = load_scenario(scenario, fixed)
    raw_agents = list((loaded.raw or {}).get("agents", []))
    found = [i for i, a in enumerate(raw_agents) if isinstance(a, dict) and a.get("type") == agent]
    if not found:
        raise AttackError(f"{scenario} has no {agent} agent: add [[agents]] with "
                          f'type = "{agent}" and count = 1')
    index = found[0]
    names = {f.name for f in dataclasses.fields(cls.Params)}
    axes_values = dict(cls.search if vary is None else vary)
    for key in axes_values:
        if key not in names or key == "budget":
            raise AttackError(f"--vary {key}: not a parameter of {agent} to vary; its "
                              f"parameters: {', '.join(sorted(names - {'budget'}))}")
    metrics = list((loaded.raw or {}).get("metrics", []))
    if LEDGER not in metrics:
        fixed["metrics"] = [*metrics, LEDGER]
    axes = [Axis(f"agents[{index}].budget", tuple(budgets))]
    axes += [Axis(f"agents[{index}].{k}", tuple(v)) for k, v in axes_values.items()]
    _, specs = plan(scenario, axes, list(seeds), backend, fixed)
    return AttackPlan(scenario, agent, index, list(budgets), axes, list(seeds), specs, fixed)


def execute_attack(spec: RunSpec) -> RunRecord:
    """One run of a search: :func:`~protocol.sweep.run.execute` keeping the ledger's summary as
    the record's ``attack`` figure besides the sweep's. Never raises: a failure is recorded."""
    return execute(spec, attack_figures)


def attack_figures(result: RunResult) -> dict[str, Any]:
    """A run's sweep figures and its attack ledger's summary (exact)."""
    return {**run_metrics(result), "attack": jsonable(result.summary["metrics"]["attack"])}


@dataclass
class AttackPoint:
    """One grid point over its seeds: means of the attacker's profit and the venue's loss; the
    defences that bound (in any seed), the seed with the best profit."""

    params: dict[str, Any]
    budget: float
    runs: int
    failed: int
    profit: Optional[Decimal] = None
    profit_min: Optional[Decimal] = None
    peak: Optional[Decimal] = None
    venue_loss: Optional[Decimal] = None
    lp_loss: Optional[Decimal] = None
    insurance_loss: Optional[Decimal] = None
    bad_debt: Optional[Decimal] = None
    stopped: list[str] = field(default_factory=list)
    best_seed: Optional[int] = None
    errors: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """The ``attack.csv`` line."""
        return {"budget": self.budget, **self.params, "runs": self.runs, "failed": self.failed,
                "profit_mean": self.profit, "profit_worst_seed": self.profit_min,
                "peak_profit_mean": self.peak, "venue_loss_mean": self.venue_loss,
                "lp_loss_mean": self.lp_loss, "insurance_loss_mean": self.insurance_loss,
                "bad_debt_mean": self.bad_debt, "stopped_by": "; ".join(self.stopped),
                "best_seed": self.best_seed}


def _mean(values: list[Decimal]) -> Decimal:
    return (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.01"))


def reduce_point(params: dict[str, Any], budget: float, records: Sequence[RunRecord]) -> AttackPoint:
    ok = [r for r in sorted(records, key=lambda r: r.seed) if r.status == "ok"]
    point = AttackPoint(params, budget, len(ok), len(records) - len(ok),
                        errors=[f"seed {r.seed}: {r.error}" for r in records if r.status != "ok"])
    if not ok:
        return point

    def figure(name: str) -> list[Decimal]:
        return [Decimal(str(r.metrics["attack"].get(name, 0))) for r in ok]

    profits = figure("profit")
    point.profit, point.profit_min = _mean(profits), min(profits)
    point.peak = _mean(figure("peak"))
    point.venue_loss, point.lp_loss = _mean(figure("venue_loss")), _mean(figure("lp_loss"))
    point.insurance_loss = _mean(figure("insurance_loss"))
    point.bad_debt = _mean([Decimal(str(r.metrics["bad_debt"])) for r in ok])
    for r in ok:
        for rule in stopped_by(r.metrics["attack"]):
            name = rule.split(" (")[0]
            if not any(s.startswith(name) for s in point.stopped):
                point.stopped.append(rule)
    point.stopped.sort(key=lambda s: [s.startswith(r) for r in RULES].index(True))
    point.best_seed = max(ok, key=lambda r: (Decimal(str(r.metrics["attack"]["profit"])), -r.seed)).seed
    return point


@dataclass
class AttackResult:
    """A finished search: every grid point, the best per budget, the best overall."""

    plan: AttackPlan
    points: list[AttackPoint]
    skipped: int = 0
    wall_seconds: float = 0.0

    def by_budget(self) -> list[AttackPoint]:
        """The most profitable point of each budget (ties: the first in the grid)."""
        out = []
        for budget in self.plan.budgets:
            done = [p for p in self.points if p.budget == budget and p.profit is not None]
            if done:
                out.append(max(done, key=lambda p: (p.profit, -self.points.index(p))))
        return out

    def best(self) -> Optional[AttackPoint]:
        rows = self.by_budget()
        return max(rows, key=lambda p: (p.profit, -p.budget)) if rows else None

    def limit(self) -> str:
        """What stopped a larger attack: the defences that bound in the best attack of the
        largest budget; with none, whether profit still grew with the budget."""
        rows = self.by_budget()
        if not rows:
            return "no run finished"
        largest, best = rows[-1], self.best()
        if largest.stopped:
            return "; ".join(largest.stopped)
        if best is largest:
            return "nothing: profit grows with the budget up to the largest tried"
        return ("no defence bound: profit fell at larger budgets (the external market's depth "
                "made the pump cost more than it paid)")

    def verdict(self) -> str:
        best = self.best()
        if best is None:
            return "no attack run finished"
        params = ", ".join(f"{k}={v}" for k, v in best.params.items())
        gain = "profit" if best.profit is not None and best.profit > 0 else "best result"
        return (f"best attack: budget {usd(best.budget, cents=False)} ({params}): {gain} "
                f"{usd(best.profit, cents=False)}; the venue lost "
                f"{usd(best.venue_loss, cents=False)} (LPs {usd(best.lp_loss, cents=False)}, "
                f"insurance {usd(best.insurance_loss, cents=False)}), bad debt "
                f"{usd(best.bad_debt, cents=False)}. Stopped a larger attack: {self.limit()}")


def run_attack(plan_: AttackPlan, out: Path, *, workers: Optional[int] = None,
               progress: Optional[Callable[[RunRecord, int, int], None]] = None,
               grace: float = DEFAULT_GRACE) -> AttackResult:
    """Run what the store in ``out`` lacks, then reduce each grid point. Ctrl-C, SIGINT or
    SIGTERM stop it as they stop a sweep (:class:`SweepInterrupted`, the finished runs stored)."""
    started = time.perf_counter()
    store = RunStore(out)
    todo = [s for s in plan_.specs if not store.done(s.key)]
    stop = Stop(grace)
    store_runs(LocalEngine(workers, task=execute_attack), todo, store, stop, progress=progress)
    if stop.requested:
        raise SweepInterrupted(stop.signum, sum(store.done(s.key) for s in plan_.specs),
                               len(plan_.specs), out)
    groups: dict[tuple[tuple[str, Any], ...], list[RunRecord]] = {}
    for spec in plan_.specs:
        record = store.records.get(spec.key)
        groups.setdefault(spec.params, [])
        if record is not None:
            groups[spec.params].append(record)
    points = []
    budget_key = plan_.axes[0].key
    order = [a.key for a in plan_.axes[1:]]
    for params, records in groups.items():
        values = dict(params)
        shown = {plan_.short(k): values[k] for k in order}
        points.append(reduce_point(shown, float(values[budget_key]), records))
    return AttackResult(plan_, points, skipped=len(plan_.specs) - len(todo),
                        wall_seconds=time.perf_counter() - started)


def replay(plan_: AttackPlan, point: AttackPoint) -> RunResult:
    """The run of ``point`` at its best seed again, in this process, for its timeline."""
    keys = {plan_.short(a.key): a.key for a in plan_.axes}
    values = {keys["budget"]: point.budget, **{keys[k]: v for k, v in point.params.items()}}
    spec = next(s for s in plan_.specs if dict(s.params) == values and s.seed == point.best_seed)
    scenario = load_scenario(spec.scenario, {**dict(spec.fixed), **dict(spec.params)})
    return Simulation(scenario, backend=spec.backend, seed=spec.seed).run()
