"""The simulation loop: discrete blocks of ``block_time`` seconds.

Each block: the price source gives this block's exogenous prices -> the external market moves
them by the venue's past flow (``[liquidity]``, with feedback) -> the oracle publishes per its
model (``[oracle]``; every block by default) -> the trader and LP agents due in the block act,
in a seeded random order (agents are scheduled, :mod:`protocol.sim.schedule`: each says when it
next wants to act and which prices wake it; a keeper's action on its positions wakes it for the
next block) -> transactions of bots outside the engine land (``perpsim serve``) -> keeper bots act,
their transactions ordered by gas bid (on pull oracles, attaching the price they choose) -> the
block's flow is hedged in the external market -> metrics are recorded. All transactions of a
block share its timestamp.
The same scenario, seed and backend give identical results; pyevm, revm and a node (rpc) give
identical numbers, keepers' gas included.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any, Callable, Optional, cast

from protocol.agents import Agent, Context
from protocol.chain import Chain, Receipt
from protocol.errors import Reverted
from protocol.keepers import BlockBuilder, KeeperBot, LiquidationKeeper
from protocol.keepers.index import BookIndex
from protocol.plugins import RunView, agent_type, keeper_class
from protocol.prices import derive_seed
from protocol.prices.liquidity import ExternalMarket
from protocol.prices.oracle import OracleFeed
from protocol.sim.external import ExternalBots
from protocol.sim.hedging import block_flow
from protocol.sim.metrics import BookParams, EquityParams, Metrics
from protocol.sim.provenance import Provenance
from protocol.sim.result import CarriesCrash, CrashPoint, RunResult, StudyResult
from protocol.sim.scenario import Scenario, VenueSpec
from protocol.sim.schedule import AgentSchedule
from protocol.testing.invariants import assert_invariants
from protocol.venue import Venue
from protocol.venue.rules import mirrors

Progress = Callable[[int, int], None]  # (blocks done, total)


class Simulation:
    """One run of a scenario. ``backend``, ``seed`` and ``mode`` override the scenario's.

    ``check_invariants=N`` checks SPEC §12 (:func:`~protocol.testing.invariants.assert_invariants`)
    after every Nth block; 0 never does. A broken one raises ``InvariantViolation``.
    ``chain`` runs it on a chain of yours (left open) instead of a fresh one of the backend
    (closed when the run ends); ``external_bots`` add transactions from outside each block."""

    def __init__(self, scenario: Scenario, *, backend: Optional[str] = None,
                 seed: Optional[int] = None, mode: Optional[str] = None, check_invariants: int = 0,
                 chain: Optional[Chain] = None, external_bots: Optional[ExternalBots] = None):
        if check_invariants < 0:
            raise ValueError("check_invariants: must be 0 (never) or a number of blocks, "
                             f"got {check_invariants}")
        self.scenario = scenario.with_(
            backend=backend or scenario.backend,
            seed=scenario.seed if seed is None else seed,
            mode=mode if mode is not None else scenario.mode)
        self.check_invariants = check_invariants
        self.block = 0  # the block being simulated (0: launching the venue and its agents)
        self.chain = chain
        self.external_bots = external_bots

    def run(self, progress: Optional[Progress] = None) -> RunResult:
        """Run every block. An exception that escapes (a broken invariant included) propagates
        unchanged, carrying ``.perpsim_crash``, a :class:`~protocol.sim.result.CrashPoint` with
        the block it happened in."""
        self.block = 0
        try:
            return self._run(progress)
        except Exception as exc:
            cast(CarriesCrash, exc).perpsim_crash = CrashPoint(self.block)
            raise

    def _run(self, progress: Optional[Progress]) -> RunResult:
        sc = self.scenario
        started = time.perf_counter()
        checks = mirrors(sc.venue.mirrors)  # a bad choice is refused before anything runs
        venue = Venue.launch(backend=sc.backend, markets=sc.markets, chain=self.chain,
                             **sc.venue.launch_keywords())
        if sc.venue.pnl_factors() != VenueSpec().pnl_factors():
            venue.set_pnl_factors(**sc.venue.pnl_factors())
        for symbol, model in sc.oracles.items():  # the on-chain deviation guards, SPEC §9
            if model.max_deviation_bps:
                venue.oracle.set_max_deviation(venue.market_id(symbol), model.max_deviation_bps,
                                               sender=venue.admin).raise_for_status()
        path = sc.prices.path(sc.blocks, sc.block_time, derive_seed(sc.seed, 0))
        agents, cohort_of = self._agents(venue)
        keepers = self._keepers(venue)
        builder = BlockBuilder(venue, keepers)
        cohorts = tuple(dict.fromkeys(p.cohort for p in sc.agents))
        metrics = Metrics(RunView(venue, agents, keepers, cohorts, cohort_of),
                          {"equity": EquityParams(sc.equity_every, sc.spot_check_every),
                           "book": BookParams(sc.positions_every)}, sc.metrics)
        by_address = {a.address.lower(): a for a in agents}
        schedule = AgentSchedule(agents)
        order_rng = random.Random(f"{sc.seed}:order")
        chain = venue.chain

        external = ExternalMarket(sc.liquidity, sc.feedback, path.at(0))
        feed = OracleFeed(sc.oracles, path.at(0), chain.timestamp)
        self._pull_keepers(venue, keepers, feed)
        symbols = list(venue.markets)
        gas = sc.gas.market() if sc.gas is not None else None
        rows = [metrics.record(0, chain.timestamp, path.at(0), [], path.at(0),
                               base_fee=gas.fee(1) if gas is not None else None)]
        if self.external_bots:
            self.external_bots.start(venue)

        def path_at(block: int) -> dict[str, Decimal]:  # informed agents' look at the path
            return path.at(min(max(block, 0), sc.blocks))

        for block in range(1, sc.blocks + 1):
            self.block = block
            exogenous = path.at(block)
            prices = external.quote(exogenous, block)  # the external market, moved by past flow
            pushed = feed.observe(block, chain.timestamp, prices)  # what its oracle publishes now
            with chain.block() as receipts:  # the oracle push and the agents' transactions
                if pushed:
                    feed.refused(_push_prices(venue, pushed))
                ctx = Context(block, prices, venue, external, path_at)  # traders watch the market itself
                due = schedule.due(block, prices)
                for agent in order_rng.sample(due, len(due)):
                    agent.act(ctx)
                    schedule.acted(agent, block)
                outside = self.external_bots.land(block) if self.external_bots else []
            fee = None
            if gas is not None:  # keepers bid their tip above the network's base fee
                fee = gas.fee(block)
                for bot in keepers:
                    bot.base_fee = fee
            landed = builder.step()  # keepers' transactions, in a block of their own
            receipts += [ld.receipt for ld in landed.landed]
            if gas is not None:  # how full this block was moves the next one's fee
                gas.record(block, sum(r.gas_used for r in receipts))
            for agent in _dispatch(outside + [ld.receipt for ld in landed.landed], by_address, venue):
                schedule.wake(agent, block + 1)
            flow = block_flow(receipts, symbols)
            costs = external.absorb(flow.net)  # hedged now; the oracle shows it next block
            forced_costs = {s: external.cost_of(s, f) for s, f in flow.forced.items()}
            rows.append(metrics.record(block, chain.timestamp - 1, prices, receipts, exogenous,
                                       flow.forced_volume, sum(costs.values(), Decimal(0)),
                                       sum(forced_costs.values(), Decimal(0)), fee))
            chain.advance_time(sc.block_time - 1)
            if self.check_invariants and block % self.check_invariants == 0:
                assert_invariants(venue, mirrors=checks)
            if sc.verify_index and block % sc.verify_index == 0:
                BookIndex.of(venue).verify()
            if progress:
                progress(block, sc.blocks)
        result = RunResult(
            scenario=sc.name, seed=sc.seed, backend=sc.backend, mode=sc.mode,
            block_time=sc.block_time, markets=tuple(venue.markets), cohorts=cohorts,
            keepers=tuple(k.name for k in keepers), rows=rows, events=metrics.events,
            liquidations=metrics.liquidations, positions=metrics.positions,
            spot_check_every=sc.spot_check_every)
        result.summary = metrics.summary()
        result.provenance = Provenance.of(sc)
        result.wall_seconds = time.perf_counter() - started
        if self.chain is None:
            chain.close()  # the node it started, if any
        return result

    # ------------------------------------------------------------------ population
    def _agents(self, venue: Venue) -> tuple[list[Agent], dict[str, str]]:
        sc = self.scenario
        agents: list[Agent] = []
        cohort_of: dict[str, str] = {}
        for population in sc.agents:
            kind = agent_type(population.type)
            values = {**kind.defaults, **population.params}
            if sc.mode is not None and "mode" in kind.params.__dataclass_fields__:
                values["mode"] = sc.mode
            params = kind.params(**values)
            for i in range(population.count):
                name = f"{population.cohort}-{i}"
                trader = venue.trader(name)
                agent = kind.cls(name, trader, random.Random(f"{sc.seed}:{name}"), params)
                venue.mint(trader, agent.capital)
                agents.append(agent)
                cohort_of[name] = population.cohort
        return agents, cohort_of

    def _keepers(self, venue: Venue) -> list[KeeperBot]:
        return [keeper_class(k.type)(venue, k.name, k.strategy) if k.params is None
                else keeper_class(k.type)(venue, k.name, k.strategy, k.params)
                for k in self.scenario.keepers]

    @staticmethod
    def _pull_keepers(venue: Venue, keepers: list[KeeperBot], feed: OracleFeed) -> None:
        """On pull-oracle markets liquidation keepers attach prices: give them the updater role
        and the window of published prices they may choose from."""
        pull = feed.pull_symbols
        if not pull:
            return
        oracle, chain = venue.oracle, venue.chain
        role = oracle.updater_role()
        ids = {s: venue.market_id(s) for s in pull}
        ages = {s: oracle.max_price_age(ids[s]) for s in pull}

        def window() -> dict[str, list[tuple[int, Decimal]]]:
            return {s: feed.window(s, oracle.latest(ids[s])[1], chain.timestamp, ages[s])
                    for s in pull}

        for bot in keepers:
            if isinstance(bot, LiquidationKeeper):
                oracle.grant_role(role, bot.address, sender=venue.admin).raise_for_status()
                bot.price_window = window


def _push_prices(venue: Venue, prices: dict[str, Decimal]) -> list[str]:
    """Push the block's prices in one update. A market whose update the oracle's deviation
    guard refuses (``PriceDeviation``, ``[oracle.SYM] max_deviation_bps``) keeps its stored
    price and the others are pushed again without it; the refused update's receipt stays in
    the block, where metrics see it. Returns the markets refused."""
    symbols = list(venue.markets)
    pending = dict(prices)
    refused: list[str] = []
    while pending:
        try:
            venue.set_prices(pending)
            break
        except Reverted as exc:
            if exc.error != "PriceDeviation":
                raise
            refused.append(symbols[exc.args[0]])
            pending.pop(refused[-1])
    return refused


def _dispatch(receipts: list[Receipt], by_address: dict[str, Agent], venue: Venue) -> list[Agent]:
    """Tell agents what keepers did to them: liquidations, auto-deleveraging, and orders that
    closed positions. Returns the agents told, to be woken."""
    symbols = list(venue.markets)
    told: list[Agent] = []
    for receipt in receipts:
        for event in receipt.events:
            if event.name not in ("PositionLiquidated", "PositionDecreased", "AutoDeleveraged"):
                continue
            agent = by_address.get(event["account"].lower())
            if agent is None:
                continue
            told.append(agent)
            market = symbols[event["market"]]
            if event.name == "PositionLiquidated":
                agent.on_liquidated_size(market, abs(event["sizeClosed"]) / Decimal(10**18))
            elif event.name == "AutoDeleveraged":
                agent.on_deleveraged(market, Decimal(venue.raw_position(agent.trader, market).size)
                                     / Decimal(10**18))
            elif venue.raw_position(agent.trader, market).size == 0:
                agent.on_position_closed(market)
    return told


def run_study(scenario: Scenario, *, backend: Optional[str] = None, seed: Optional[int] = None,
              progress: Optional[Progress] = None, check_invariants: int = 0) -> StudyResult:
    """Run the scenario once per variant of its study and compare: per margin mode of
    ``study_modes`` (default isolated and cross) with every trader forced into it, or for the
    ``solvency`` study without the profit cap and ADL keepers, then as configured, for the
    ``adl`` study once per shipped ADL module (:data:`ADL_MODULES`), or for the ``feedback`` study with the oracle reporting the external market's exogenous path, then its
    price as the venue's flow moved it. A failure's ``.perpsim_crash`` names its variant."""
    variants, compared = study_variants(scenario)
    runs = {}
    for name, variant in variants.items():
        try:
            run = Simulation(variant, backend=backend, seed=seed,
                             check_invariants=check_invariants).run(progress)
            # its scenario.toml: the study's (a variant may be more than TOML keys can say)
            run.provenance = Provenance.of(scenario.with_(seed=run.seed, backend=run.backend),
                                           variant=name)
            runs[name] = run
        except Exception as exc:
            cast(CarriesCrash, exc).perpsim_crash = replace(getattr(exc, "perpsim_crash", CrashPoint(0)),
                                                            variant=name)
            raise
    comparison = {metric: {name: read(run) for name, run in runs.items()}
                  for metric, read in compared.items()}
    return StudyResult(scenario.name, runs, comparison)


def study_variants(scenario: Scenario) -> tuple[dict[str, Scenario],
                                                dict[str, Callable[[RunResult], object]]]:
    """The runs a study compares (variant name -> scenario), and the metrics it compares."""
    if scenario.study == "solvency":
        variants = {"no cap, no ADL": scenario.with_(
                        venue=replace(scenario.venue, max_pnl_factor_traders=Decimal(0)),
                        keepers=tuple(k for k in scenario.keepers if k.type != "adl")),
                    "cap + ADL": scenario}
        compared = SOLVENCY_COMPARED
    elif scenario.study == "adl":
        variants = {label: scenario.with_(venue=replace(
                        scenario.venue, modules={**scenario.venue.modules, "adl": module}))
                    for label, module in ADL_MODULES.items()}
        compared = ADL_COMPARED
    elif scenario.study == "feedback":
        variants = {"without feedback": scenario.with_(feedback=False),
                    "with feedback": scenario.with_(feedback=True)}
        compared = FEEDBACK_COMPARED
    else:
        variants = {mode: scenario.with_(mode=mode)
                    for mode in scenario.study_modes or ("isolated", "cross")}
        compared = COMPARED
    return variants, compared


def _trader_cohorts(run: RunResult) -> list[dict[str, Any]]:
    return [c for name, c in run.summary["cohorts"].items() if name != "lp"]


COMPARED: dict[str, Callable[[RunResult], object]] = {
    "liquidations": lambda r: r.summary["liquidations"],
    "first liquidation (block)": lambda r: r.summary["first_liquidation_block"],
    "median liquidation (block)": lambda r: (sorted(m.block for m in r.liquidations)[len(r.liquidations) // 2]
                                             if r.liquidations else None),
    "liquidated notional $": lambda r: r.summary["liquidated_notional"],
    "realised losses $": lambda r: sum((c["realised_losses"] for c in _trader_cohorts(r)), Decimal(0)),
    "accounts wiped out": lambda r: r.summary["wiped_out"],
    "survivors": lambda r: r.summary["survivors"],
    "trader equity at end $": lambda r: sum((c["end_equity"] for c in _trader_cohorts(r)), Decimal(0)),
    "bad debt $": lambda r: r.summary["bad_debt"],
}


def _solvency(run: RunResult) -> dict[str, Any]:
    solvency: dict[str, Any] = run.summary["solvency"]
    return solvency


SOLVENCY_COMPARED: dict[str, Callable[[RunResult], object]] = {
    "profitable closes paid in full": lambda r: _solvency(r)["paid_in_full"],
    "profitable closes paid with a haircut": lambda r: _solvency(r)["capped"],
    "closes refused (PoolInsolvent)": lambda r: _solvency(r)["refused_insolvent"],
    "profit paid to winners $": lambda r: _solvency(r)["profit_paid"],
    "haircut $": lambda r: _solvency(r)["haircut"],
    "mean haircut per capped close %": lambda r: _solvency(r)["mean_haircut_pct"],
    "positions auto-deleveraged": lambda r: _solvency(r)["adl"],
    "auto-deleveraged notional $": lambda r: _solvency(r)["adl_notional"],
    "peak pnl factor": lambda r: _solvency(r)["peak_pnl_factor"],
    "LP return %": lambda r: r.summary["pool"]["lp_return"] * 100,
    "pool value at end $": lambda r: r.summary["pool"]["end_value"],
    "bad debt $": lambda r: r.summary["bad_debt"],
}


#: The ``adl`` study's variants: the shipped ADL modules, by the rule each applies.
ADL_MODULES = {"queue by score": "StockAdl", "pro-rata haircut": "ProRataAdl",
               "keeper's choice (GMX)": "GmxAdl"}


def _adl(run: RunResult) -> dict[str, Any]:
    adl: dict[str, Any] = run.summary["adl"]
    return adl


ADL_COMPARED: dict[str, Callable[[RunResult], object]] = {
    "positions auto-deleveraged": lambda r: _adl(r)["closes"],
    "auto-deleveraged notional $": lambda r: _adl(r)["notional"],
    "overshoot past the trigger $": lambda r: _adl(r)["overshoot"],
    "overshoot % of ADL notional": lambda r: _adl(r)["overshoot_pct"],
    "winners (at the start, or cut later)": lambda r: _adl(r)["winners"],
    "winners cut": lambda r: _adl(r)["cut"],
    "mean haircut %": lambda r: _adl(r)["haircut_mean_pct"],
    "median haircut %": lambda r: _adl(r)["haircut_median_pct"],
    "largest haircut %": lambda r: _adl(r)["haircut_max_pct"],
    "Gini of haircuts": lambda r: _adl(r)["gini"],
    "peak pnl factor": lambda r: _solvency(r)["peak_pnl_factor"],
    "profit paid to winners $": lambda r: _solvency(r)["profit_paid"],
    "LP return %": lambda r: r.summary["pool"]["lp_return"] * 100,
    "bad debt $": lambda r: r.summary["bad_debt"],
}


def _worst_market(run: RunResult) -> dict[str, Any]:
    """The market whose reported price fell furthest."""
    return max(run.summary["markets"].values(), key=lambda m: m["max_drawdown"])


FEEDBACK_COMPARED: dict[str, Callable[[RunResult], object]] = {
    "exogenous max drawdown %": lambda r: _worst_market(r)["exogenous_max_drawdown"] * 100,
    "max drawdown (as reported) %": lambda r: _worst_market(r)["max_drawdown"] * 100,
    "amplification": lambda r: _worst_market(r)["amplification"],
    "liquidations": lambda r: r.summary["liquidations"],
    "liquidated notional $": lambda r: r.summary["liquidated_notional"],
    "forced volume hedged $": lambda r: r.summary["liquidation_volume"],
    "impact cost of liquidations $": lambda r: r.summary["liquidation_impact_cost"],
    "impact cost, all flow $": lambda r: r.summary["impact_cost"],
    "bad debt $": lambda r: r.summary["bad_debt"],
    "LP return %": lambda r: r.summary["pool"]["lp_return"] * 100,
}
