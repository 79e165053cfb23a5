"""Every agent's equity, sampled, summed by cohort and by margin mode."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from protocol.keepers.index import BookIndex, IndexMismatch, chain_equities
from protocol.plugins import Aggregate, BlockView, Metric, RunView
from protocol.sim.metrics.common import USD_DECIMALS, WIPED_OUT, max_drawdown, usd
from protocol.sim.result import Row

#: Micro-dollars per dollar: :func:`usd` rounds every USD figure to one.
MICROS: int = 10**USD_DECIMALS
_WAD_PER_MICRO: int = 10**18 // MICROS


def _micros(wad: int) -> int:
    """WAD USD in micro-dollars, rounded half to even: ``usd(from_wad(wad))`` in integers."""
    micros, rest = divmod(wad, _WAD_PER_MICRO)
    if 2 * rest > _WAD_PER_MICRO or (2 * rest == _WAD_PER_MICRO and micros % 2):
        micros += 1
    return micros


def _usd(micros: int) -> Decimal:
    return Decimal(micros).scaleb(-USD_DECIMALS)


@dataclass(frozen=True)
class EquityParams:
    """``every``: blocks between samples (``equity_every``); ``spot_check_every``: blocks between
    checks of the index against the chain's ``Reader.equities`` (0: none)."""

    every: int = 10
    spot_check_every: int = 0


class Equity(Metric):
    """Columns ``equity.COHORT``, ``equity.isolated``, ``equity.cross`` (the sums over agents,
    USD) and ``wiped_out`` (traders under 1% of their capital), as of the last sample; an
    agent's equity includes what it holds on the external market (its
    :meth:`~protocol.agents.Agent.outside_value` at the external market's price); the
    summary's ``cohorts`` (per cohort: start and end equity, return, drawdown, wiped out,
    losses, liquidations, transactions), ``wiped_out``, ``traders`` and ``survivors``."""

    Params = EquityParams
    namespaced = False
    figures = {"wiped_out_share": lambda s: str(
        (Decimal(s["wiped_out"]) / s["traders"]).quantize(Decimal("0.000001"))
        if s["traders"] else Decimal(0))}
    aggregates = (Aggregate("wiped_out_share_mean", "traders wiped out, mean", "fraction",
                            "wiped_out_share", "mean", "lower", rank=30),)

    def begin(self, run: RunView) -> None:
        self.venue = run.venue
        self.agents = list(run.agents)
        self.cohorts = list(run.cohorts)
        self.cohort_of = run.cohort_of
        self.capital = {a.name: Decimal(a.capital) for a in self.agents}
        #: Wiped out below this many micro-dollars (exact: capital x WIPED_OUT x 10^6).
        self.floor = {a.name: self.capital[a.name] * WIPED_OUT * MICROS for a in self.agents
                      if a.kind != "lp"}
        #: The last sample: agent name -> equity in micro-dollars, the unit every USD figure
        #: of a run is rounded to (:func:`usd`); summed as integers, shown as Decimals.
        self.micros: dict[str, int] = {}
        self.columns: Row = {}
        self.series: dict[str, list[Decimal]] = {c: [] for c in self.cohorts}
        self.spot_checks = 0

    @property
    def by_agent(self) -> dict[str, Decimal]:
        """The last sample: agent name -> equity, USD."""
        return {name: _usd(m) for name, m in self.micros.items()}

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        if view.block % self.params.every == 0 or not self.micros:
            self.micros = self.sample_micros(view.block)
            for agent in self.agents:  # what it holds on the external market (an arb's hedge)
                if agent.outside_units or agent.outside_cash:
                    self.micros[agent.name] += int(usd(agent.outside_value(view.prices)).scaleb(USD_DECIMALS))
            self.columns = {**self._totals(), "wiped_out": self._wiped_out(self.agents)}
        for cohort in self.cohorts:
            self.series[cohort].append(self.columns[f"equity.{cohort}"])
        return self.columns  # the last sample's, until the next

    def sample(self, block: int) -> dict[str, Decimal]:
        """Every agent's equity, USD to the micro-dollar (:meth:`sample_micros`)."""
        return {name: _usd(m) for name, m in self.sample_micros(block).items()}

    def sample_micros(self, block: int) -> dict[str, int]:
        """Every agent's equity (wallet + cross account + isolated positions + LP shares + what
        the order book holds for it: order collateral, LP deposits and redemptions waiting), as
        ``Reader.equities`` gives it, computed by the event index from what each agent holds
        (:meth:`~protocol.keepers.index.BookIndex.equities`), in micro-dollars rounded as
        :func:`usd` rounds. In the first sample at or after each multiple of
        ``spot_check_every`` blocks the chain's ``Reader.equities`` is read too and must agree
        to the wei (``IndexMismatch`` otherwise)."""
        addresses = [a.address for a in self.agents]
        values = BookIndex.of(self.venue).equities(addresses)
        every = self.params.spot_check_every
        if every and block % every < self.params.every:
            self.spot_checks += 1
            chain = chain_equities(self.venue, addresses)
            if chain != values:
                agent, mine, theirs = next((a.name, x, y) for a, x, y in zip(self.agents, values, chain)
                                           if x != y)
                raise IndexMismatch(f"equity of {agent} at block {block}: index {mine}, "
                                    f"chain {theirs} (WAD USD)")
        return {a.name: _micros(wad) for a, wad in zip(self.agents, values)}

    def _totals(self) -> Row:
        sums = {f"equity.{c}": 0 for c in self.cohorts}
        sums["equity.isolated"] = sums["equity.cross"] = 0
        summed: set[str] = set()  # a sum of nothing stays Decimal(0), as before it was summed
        for agent in self.agents:
            equity = self.micros.get(agent.name, 0)
            column = f"equity.{self.cohort_of[agent.name]}"
            sums[column] += equity
            summed.add(column)
            mode = getattr(agent, "mode", None)
            if mode in ("isolated", "cross"):
                sums[f"equity.{mode}"] += equity
                summed.add(f"equity.{mode}")
        return {c: _usd(total) if c in summed else Decimal(0) for c, total in sums.items()}

    def _wiped_out(self, agents: Any) -> int:
        floor, micros = self.floor, self.micros
        return sum(1 for a in agents if a.kind != "lp" and micros.get(a.name, 0) < floor[a.name])

    def summary(self) -> dict[str, Any]:
        cohorts: dict[str, dict[str, Any]] = {}
        for cohort in self.cohorts:
            members = [a for a in self.agents if self.cohort_of[a.name] == cohort]
            series = self.series[cohort]
            start = sum((self.capital[a.name] for a in members), Decimal(0))
            end = series[-1]
            wiped = self._wiped_out(members)
            by_agent = self.by_agent
            losses = sum((max(Decimal(0), self.capital[a.name] - by_agent.get(
                a.name, Decimal(0))) for a in members), Decimal(0))
            cohorts[cohort] = {
                "agents": len(members), "start_equity": usd(start), "end_equity": end,
                "return": ((end - start) / start).quantize(Decimal("0.000001")) if start else Decimal(0),
                "max_drawdown": max_drawdown(series), "wiped_out": wiped,
                "survivors": len(members) - wiped, "realised_losses": usd(losses),
                "liquidated": sum(a.activity.liquidated for a in members),
                "transactions": sum(a.activity.sent for a in members),
                "refused": sum(sum(a.activity.refused.values()) for a in members),
            }
        traders = sum(1 for a in self.agents if a.kind != "lp")
        wiped_out = self.columns["wiped_out"]
        return {"cohorts": cohorts, "wiped_out": wiped_out, "traders": traders,
                "survivors": traders - wiped_out}
