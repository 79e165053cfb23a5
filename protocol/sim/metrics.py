"""Per-block metrics of a run, read from the block's receipts and a handful of batch views,
and the run summary computed from them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Iterable, Sequence

from protocol.agents import Agent
from protocol.chain import Receipt
from protocol.constants import SECONDS_PER_HOUR, WAD
from protocol.keepers import KeeperBot
from protocol.keepers.index import BookIndex, IndexMismatch, chain_equities
from protocol.margin.human import cross_liquidation_price
from protocol.margin.math import BORROW_INDEX_UNIT
from protocol.margin.types import MarginMode
from protocol.sim.result import LiquidationMark, PositionSample, Row
from protocol.venue import Venue
from protocol.venue.client import CROSS_ACCOUNT
from protocol.venue.units import from_wad

WIPED_OUT = Decimal("0.01")  # an account with under 1% of its starting capital left


#: The book is also sampled in any block in which a market's oracle price moved more than this
#: fraction from the block before, so a crash between two ``positions_every`` samples is seen
#: block by block in ``positions.csv`` and the liquidation heatmap (a 35% crash over 30 blocks
#: moves about 1.4% a block; a one-minute block of 80% annual volatility about 0.1%).
RESAMPLE_MOVE = Decimal("0.005")


@dataclass
class OpenPosition:
    """The recorder's own book of one open position, kept from the venue's events."""

    size: Decimal  # signed, base units
    entry_notional: Decimal  # USD at fill prices, scaled down pro rata on decreases
    mode: str
    leverage: int | None
    first_liquidatable: int | None = None

    @property
    def entry_price(self) -> Decimal | None:
        return (self.entry_notional / abs(self.size)).quantize(Decimal("0.000001")) if self.size else None


@dataclass
class EquitySample:
    by_agent: dict[str, Decimal] = field(default_factory=dict)  # agent name -> USD


class MetricsRecorder:
    """Builds one :data:`Row` per block; see :class:`~protocol.sim.result.RunResult`."""

    def __init__(self, venue: Venue, agents: Sequence[Agent], keepers: Sequence[KeeperBot],
                 cohorts: Sequence[str], cohort_of: dict[str, str], equity_every: int,
                 positions_every: int = 60, resample_move: Decimal = RESAMPLE_MOVE,
                 spot_check_every: int = 0):
        self.venue = venue
        self.agents = list(agents)
        self.keepers = list(keepers)
        self.cohorts = list(cohorts)
        self.cohort_of = cohort_of
        self.equity_every = equity_every
        self.positions_every = positions_every
        self.resample_move = resample_move
        self.spot_check_every = spot_check_every  # blocks between equity spot checks; 0: none
        self.spot_checks = 0
        self._previous: dict[str, Decimal] = {}  # market -> oracle price in the block before
        self.symbols = list(venue.markets)
        self.market_ids = {s: venue.market_id(s) for s in self.symbols}
        self.one_share = 10 ** venue.pool.decimals()
        self.cum_bad_debt = Decimal(0)
        self.capital = {a.name: Decimal(a.capital) for a in self.agents}
        self.equity = EquitySample()
        self.liquidations: list[LiquidationMark] = []
        self.events: list[Row] = []
        self.tx_count = 0
        self._contract_names = {c.address.lower(): name for name, c in (
            ("Clearinghouse", venue.clearinghouse), ("PriceOracle", venue.oracle),
            ("OrderBook", venue.order_book), ("LiquidityPool", venue.pool),
            ("MockUSDC", venue.usdc))}
        self._modes: dict[tuple[str, str], str] = {}  # (account, market) -> mode of last increase
        self.solvency = SolvencyTally()
        self.owner = {a.address.lower(): a for a in self.agents}
        self.keeper_names = {k.address.lower(): k.name for k in self.keepers
                             if getattr(k, "address", None)}
        self.eth_prices = {k.address.lower(): Decimal(k.eth_price_usd) for k in self.keepers
                           if getattr(k, "address", None)}
        self.book: dict[tuple[str, str], OpenPosition] = {}  # (account, market) -> position
        self.positions: list[PositionSample] = []
        self._indices: dict[str, tuple[int, int, int]] = {}  # market -> (time, long funding, borrow)
        # market -> (longs by liquidation price ascending, shorts descending): nearest last
        self._watch: dict[str, tuple[list, list]] = {}
        self._rates: dict[str, tuple[Decimal, Decimal]] = {s: (Decimal(0), Decimal(0))
                                                           for s in self.symbols}

    # ------------------------------------------------------------------ one block
    def record(self, block: int, timestamp: int, prices: dict[str, Decimal],
               receipts: Iterable[Receipt], exogenous: dict[str, Decimal],
               forced_volume: Decimal = Decimal(0), impact_cost: Decimal = Decimal(0),
               forced_impact_cost: Decimal = Decimal(0)) -> Row:
        """One block: ``prices`` the external market's (moved by the venue's flow),
        ``exogenous`` its path before that flow; ``price.SYM`` is what the oracle holds on chain
        at the end of the block (lagging the market when its oracle does). Also the block's
        forced (liquidation and ADL) volume hedged in the market, the impact cost of all its
        hedged flow and of the forced flow alone (USD)."""
        v = self.venue
        row: Row = {"block": block, "timestamp": timestamp}
        oracle = {s: v.price(s) for s in self.symbols}
        for s in self.symbols:
            row[f"price.{s}"] = oracle[s]
        for s in self.symbols:
            row[f"market.{s}"] = prices[s]
            row[f"exogenous.{s}"] = exogenous[s]
        for s in self.symbols:
            state = v.clearinghouse.market_state(self.market_ids[s])
            row[f"long_oi.{s}"] = _usd(from_wad(state[0]) * oracle[s])
            row[f"short_oi.{s}"] = _usd(from_wad(state[1]) * oracle[s])
        row["pool_value"] = v.pool_value()
        for s in self.symbols:
            long_oi, short_oi = row[f"long_oi.{s}"], row[f"short_oi.{s}"]
            row[f"skew.{s}"] = long_oi - short_oi
            row[f"utilisation.{s}"] = ((long_oi + short_oi) / row["pool_value"]).quantize(
                Decimal("0.000001")) if row["pool_value"] > 0 else None
        row["lp_share_price"] = v.usd(v.pool.convert_to_assets(self.one_share))
        row["insurance_fund"] = v.insurance_fund()
        factor = v.solvency().pnl_factor
        row["pnl_factor"] = factor
        if factor is not None and factor > self.solvency.peak_pnl_factor:
            self.solvency.peak_pnl_factor = factor

        self._mark_liquidatable(block, oracle)  # before this block's liquidations are read
        liquidations = 0
        notional = bad_debt = funding = fees = Decimal(0)
        transactions = 0
        for receipt in receipts:
            transactions += 1
            self.tx_count += 1
            self.solvency.count(v, receipt)
            liquidated = sum(1 for e in receipt.events if e.name == "PositionLiquidated")
            for event in receipt.events:
                self._log(block, event)
                name = event.name
                if name == "PositionIncreased":
                    self._modes[(event["account"].lower(), self._symbol(event["market"]))] = (
                        "isolated" if event["mode"] == MarginMode.ISOLATED else "cross")
                    self._increase(event)
                elif name in ("PositionDecreased", "AutoDeleveraged"):
                    self._decrease(event["account"], event["market"], event["sizeDelta"])
                elif name == "FundingUpdated":
                    self._rate(event, timestamp, oracle)
                if name in ("PositionIncreased", "PositionDecreased"):
                    fees += v.usd(event["fee"])
                    if event["fundingPaid"] > 0:
                        funding += v.usd(event["fundingPaid"])
                elif name == "PositionLiquidated":
                    liquidations += 1
                    market = self._symbol(event["market"])
                    price = from_wad(event["price"])
                    size = from_wad(event["sizeClosed"])
                    notional += abs(size) * price
                    debt = v.usd(event["badDebt"])
                    key = (event["account"].lower(), market)
                    held = self.book.get(key)
                    owner = self.owner.get(key[0])
                    latency = (block - held.first_liquidatable
                               if held and held.first_liquidatable is not None else None)
                    self.liquidations.append(LiquidationMark(
                        block, market, price, self._modes.get(key, "isolated"),
                        event["account"], -size, debt,
                        side="long" if size < 0 else "short", notional=_usd(abs(size) * price),
                        keeper=self.keeper_names.get(event["keeper"].lower(), event["keeper"]),
                        penalty=v.usd(event["penalty"]), reward=v.usd(event["keeperReward"]),
                        leverage=held.leverage if held else None,
                        entry_price=held.entry_price if held else None,
                        cohort=self.cohort_of.get(owner.name, "") if owner else "",
                        latency=latency, gas=self._gas_usd(receipt, liquidated, event["keeper"])))
                    self._decrease(event["account"], event["market"], event["sizeClosed"])
                elif name == "AccountLiquidated":
                    self._charge_account(event)
                elif name == "BadDebt":
                    bad_debt += v.usd(event["amount"])
        self.cum_bad_debt += bad_debt
        row.update(liquidations=liquidations, liquidated_notional=_usd(notional), bad_debt=bad_debt,
                   cum_bad_debt=self.cum_bad_debt, funding_paid=funding, fees_paid=fees,
                   liquidation_volume=_usd(forced_volume), impact_cost=_usd(impact_cost),
                   liquidation_impact_cost=_usd(forced_impact_cost))
        for s in self.symbols:
            row[f"funding_rate.{s}"], row[f"borrow_rate.{s}"] = self._rates[s]
        for bot in self.keepers:
            row[f"keeper_profit.{bot.name}"] = _usd(bot.ledger.net_profit_usd(bot.eth_price_usd))
        moved = self._moved(oracle)
        self._previous = dict(oracle)
        if block % self.positions_every == 0 or not self.equity.by_agent or moved:
            self.sample_positions(block, oracle)
        if block % self.equity_every == 0 or not self.equity.by_agent:
            self.equity = self.sample_equity(block)
            self._cohorts = {**self.cohort_equity(), "wiped_out": self.wiped_out()}
        row.update(self._cohorts)  # the last sample's, until the next
        row["transactions"] = transactions
        return row

    def _moved(self, oracle: dict[str, Decimal]) -> bool:
        """Whether a market's oracle price moved more than ``resample_move`` (a fraction) from
        the block before."""
        for s, before in self._previous.items():
            if before > 0 and abs(oracle[s] - before) > before * self.resample_move:
                return True
        return False

    # ------------------------------------------------------------------ equity
    def sample_equity(self, block: int = 0) -> EquitySample:
        """Every agent's equity (wallet + cross account + isolated positions + LP shares + what
        the order book holds for it: order collateral, LP deposits and redemptions waiting), as
        ``Reader.equities`` gives it, computed by the event index from what each agent holds
        (:meth:`~protocol.keepers.index.BookIndex.equities`). In the first sample at or after
        each multiple of ``spot_check_every`` blocks the chain's ``Reader.equities`` is read too
        and must agree to the wei (``IndexMismatch`` otherwise)."""
        addresses = [a.address for a in self.agents]
        values = BookIndex.of(self.venue).equities(addresses)
        every = self.spot_check_every
        if every and block % every < self.equity_every:
            self.spot_checks += 1
            chain = chain_equities(self.venue, addresses)
            if chain != values:
                agent, mine, theirs = next((a.name, x, y) for a, x, y in zip(self.agents, values, chain)
                                           if x != y)
                raise IndexMismatch(f"equity of {agent} at block {block}: index {mine}, "
                                    f"chain {theirs} (WAD USD)")
        return EquitySample({a.name: _usd(from_wad(wad)) for a, wad in zip(self.agents, values)})

    def cohort_equity(self) -> Row:
        totals = {f"equity.{c}": Decimal(0) for c in self.cohorts}
        totals["equity.isolated"] = Decimal(0)
        totals["equity.cross"] = Decimal(0)
        for agent in self.agents:
            equity = self.equity.by_agent.get(agent.name, Decimal(0))
            totals[f"equity.{self.cohort_of[agent.name]}"] += equity
            mode = getattr(agent, "mode", None)
            if mode in ("isolated", "cross"):
                totals[f"equity.{mode}"] += equity
        return totals

    def wiped_out(self) -> int:
        return sum(1 for a in self.agents if a.kind != "lp"
                   and self.equity.by_agent.get(a.name, Decimal(0)) < self.capital[a.name] * WIPED_OUT)

    # ------------------------------------------------------------------ the book
    def _increase(self, event: Any) -> None:
        market = self._symbol(event["market"])
        key = (event["account"].lower(), market)
        delta, price = from_wad(event["sizeDelta"]), from_wad(event["price"])
        held = self.book.get(key)
        if held is None:
            owner = self.owner.get(key[0])
            holding = owner.holdings.get(market) if owner is not None else None
            held = self.book[key] = OpenPosition(
                Decimal(0), Decimal(0), self._modes[key],
                holding.leverage if holding is not None else None)
        held.size += delta
        held.entry_notional += abs(delta) * price

    def _decrease(self, account: str, market_id: int, size_delta: int) -> None:
        key = (account.lower(), self._symbol(market_id))
        held = self.book.get(key)
        if held is None:
            return
        after = held.size + from_wad(size_delta)
        if after == 0 or (after > 0) != (held.size > 0):
            del self.book[key]
            return
        held.entry_notional = held.entry_notional * abs(after) / abs(held.size)
        held.size = after

    def _gas_usd(self, receipt: Receipt, liquidations: int, keeper: str) -> Decimal | None:
        """The keeper's gas for this liquidation: its transaction's, shared equally among the
        liquidations it made, at the keeper's ETH price (None for a keeper not of this run)."""
        eth_price = self.eth_prices.get(keeper.lower())
        if eth_price is None:
            return None
        wei = Decimal(receipt.gas_used * receipt.gas_price) / liquidations
        return _usd(wei * eth_price / 10**18)

    def _charge_account(self, event: Any) -> None:
        """Put a cross account's one penalty and reward on its first line of this liquidation."""
        account, penalty, reward = event["account"], event["penalty"], event["keeperReward"]
        for i in range(len(self.liquidations) - event["positions"], len(self.liquidations)):
            if i >= 0 and self.liquidations[i].account == account:
                self.liquidations[i] = replace(self.liquidations[i], penalty=self.venue.usd(penalty),
                                               reward=self.venue.usd(reward))
                return

    def _rate(self, event: Any, timestamp: int, oracle: dict[str, Decimal]) -> None:
        """Funding (paid by longs, negative when shorts pay) and borrow rates in % per hour,
        from the growth of the market's indices since its previous update."""
        market = self._symbol(event["market"])
        now = (timestamp, event["longIndex"], event["borrowIndex"])
        before = self._indices.get(market)
        self._indices[market] = now
        if before is None or now[0] <= before[0]:
            return
        per_hour = Decimal(SECONDS_PER_HOUR) / (now[0] - before[0]) * 100
        funding = Decimal(now[1] - before[1]) / WAD / oracle[market]  # fraction of price
        borrow = Decimal(now[2] - before[2]) * BORROW_INDEX_UNIT / WAD  # fraction of entry
        self._rates[market] = ((funding * per_hour).quantize(Decimal("1e-9")),
                               (borrow * per_hour).quantize(Decimal("1e-9")))

    def _mark_liquidatable(self, block: int, oracle: dict[str, Decimal]) -> None:
        """Flag positions whose sampled liquidation price the oracle has crossed. The watch
        lists are sorted nearest-first, so a block costs only the positions it flags."""
        for market, (longs, shorts) in self._watch.items():
            price = oracle[market]
            while longs and price <= longs[-1][0]:
                self._flag(longs.pop()[1], block)
            while shorts and price >= shorts[-1][0]:
                self._flag(shorts.pop()[1], block)

    def _flag(self, key: tuple[str, str], block: int) -> None:
        held = self.book.get(key)
        if held is not None and held.first_liquidatable is None:
            held.first_liquidatable = block

    def sample_positions(self, block: int, oracle: dict[str, Decimal]) -> None:
        """Every open position's health (isolated positions and cross accounts, as
        ``Reader.health`` gives it, from the event index: :meth:`BookIndex.health`) and its
        estimated liquidation price."""
        v = self.venue
        isolated = [k for k, p in self.book.items() if p.mode == "isolated"]
        cross = sorted({a for (a, _), p in self.book.items() if p.mode == "cross"})
        targets = [(a, v.market_id(m)) for a, m in isolated] + [(a, CROSS_ACCOUNT) for a in cross]
        asked = [(a, m) for a, m in isolated] + [(a, None) for a in cross]
        health: dict[tuple[str, Any], tuple[Decimal, Decimal, bool]] = {
            target: (from_wad(e), from_wad(mm), flagged)
            for target, (e, mm, flagged) in zip(targets, BookIndex.of(v).health(asked))}
        cross_notional: dict[str, Decimal] = {}
        for (account, market), held in self.book.items():
            if held.mode == "cross":
                cross_notional[account] = cross_notional.get(account, Decimal(0)) + abs(
                    held.size) * oracle[market]
        watch: dict[str, tuple[list, list]] = {m: ([], []) for m in self.symbols}
        for (account, market), held in sorted(self.book.items()):
            price = oracle[market]
            notional = abs(held.size) * price
            if held.mode == "isolated":
                target, total = (account, v.market_id(market)), notional
            else:
                target, total = (account, CROSS_ACCOUNT), cross_notional[account]
            equity, maintenance, flagged = health.get(target, (Decimal(0), Decimal(0), False))
            liq = None
            if 0 < maintenance < total:  # read (not stale, not missing); its mm-to-notional ratio
                liq = cross_liquidation_price(1 if held.size > 0 else -1, price, held.size,
                                              equity, maintenance, maintenance / total)
                liq = _usd(liq) if liq > 0 else None
            if flagged and held.first_liquidatable is None:
                held.first_liquidatable = block
            distance = None
            if liq is not None:
                distance = ((price - liq) / price if held.size > 0 else (liq - price) / price
                            ).quantize(Decimal("0.000001"))
            if liq is not None and held.first_liquidatable is None:
                watch[market][0 if held.size > 0 else 1].append((liq, (account, market)))
            self.positions.append(PositionSample(
                block, account, market, held.mode, "long" if held.size > 0 else "short",
                held.size, _usd(notional), price, liq, distance))
        for longs, shorts in watch.values():
            longs.sort(key=lambda item: item[0])
            shorts.sort(key=lambda item: item[0], reverse=True)
        self._watch = watch

    # ------------------------------------------------------------------ events
    def _symbol(self, market_id: int) -> str:
        return self.symbols[market_id]

    def _log(self, block: int, event: Any) -> None:
        self.events.append({"block": block, "tx": self.tx_count, "contract":
                            self._contract_names.get(event.address.lower(), event.address),
                            "event": event.name, "args": dict(event.args)})


@dataclass
class SolvencyTally:
    """Who got paid: profitable closes paid in full or with a haircut (``ProfitCapped``), the
    profit paid, the haircuts, auto-deleveraged positions, and the highest pnl factor seen."""

    paid_in_full: int = 0
    capped: int = 0
    profit_paid: Decimal = Decimal(0)
    haircut: Decimal = Decimal(0)
    haircut_fractions: list = field(default_factory=list)
    adl: int = 0
    adl_notional: Decimal = Decimal(0)
    peak_pnl_factor: Decimal = Decimal(0)

    def count(self, venue: Venue, receipt: Receipt) -> None:
        capped = set()
        for event in receipt.events:
            if event.name == "ProfitCapped":
                full, paid = event["full"], event["paid"]
                capped.add((event["account"].lower(), event["market"]))
                self.haircut += venue.usd(full - paid)
                self.haircut_fractions.append(Decimal(full - paid) / full)
            elif event.name in ("PositionDecreased", "AutoDeleveraged") and event["realizedPnl"] > 0:
                self.profit_paid += venue.usd(event["realizedPnl"])
                if (event["account"].lower(), event["market"]) in capped:
                    self.capped += 1
                else:
                    self.paid_in_full += 1
                if event.name == "AutoDeleveraged":
                    self.adl += 1
                    self.adl_notional += abs(from_wad(event["sizeDelta"])) * from_wad(event["price"])

    def summary(self, agents: Sequence[Agent]) -> dict[str, Any]:
        fractions = self.haircut_fractions
        return {
            "paid_in_full": self.paid_in_full, "capped": self.capped,
            "refused_insolvent": sum(a.activity.refused.get("PoolInsolvent", 0) for a in agents),
            "profit_paid": _usd(self.profit_paid), "haircut": _usd(self.haircut),
            "mean_haircut_pct": (sum(fractions) / len(fractions) * 100).quantize(Decimal("0.01"))
            if fractions else Decimal(0),
            "adl": self.adl, "adl_notional": _usd(self.adl_notional),
            "peak_pnl_factor": self.peak_pnl_factor.quantize(Decimal("0.0001")),
        }


def _usd(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.000001"))


def max_drawdown(values: Sequence[Decimal]) -> Decimal:
    """Largest peak-to-trough fall, as a fraction of the peak (0 if it never falls)."""
    peak, worst = None, Decimal(0)
    for x in values:
        if peak is None or x > peak:
            peak = x
        elif peak > 0:
            worst = max(worst, (peak - x) / peak)
    return worst.quantize(Decimal("0.000001"))


def market_drawdowns(exogenous: Sequence[Decimal], reported: Sequence[Decimal]) -> dict[str, Any]:
    """A market's largest fall on the external path and as the oracle reported it (moved by the
    venue's own flow), and their ratio, ``amplification`` (1 when the flow moved nothing; None
    when only the reported price fell)."""
    exo, moved = max_drawdown(exogenous), max_drawdown(reported)
    if exo == 0:
        amplification = Decimal(1) if moved == 0 else None
    else:
        amplification = (moved / exo).quantize(Decimal("0.0001"))
    return {"exogenous_max_drawdown": exo, "max_drawdown": moved, "amplification": amplification}


def summarize(rows: Sequence[Row], recorder: MetricsRecorder, agents: Sequence[Agent],
              keepers: Sequence[KeeperBot]) -> dict[str, Any]:
    """Run totals: liquidations, bad debt, insurance fund and pool, keepers, cohorts."""
    first, last = rows[0], rows[-1]
    cohorts: dict[str, dict[str, Any]] = {}
    for cohort in recorder.cohorts:
        members = [a for a in agents if recorder.cohort_of[a.name] == cohort]
        series = [r[f"equity.{cohort}"] for r in rows]
        start = sum((recorder.capital[a.name] for a in members), Decimal(0))
        end = series[-1]
        wiped = sum(1 for a in members if a.kind != "lp" and recorder.equity.by_agent.get(
            a.name, Decimal(0)) < recorder.capital[a.name] * WIPED_OUT)
        losses = sum((max(Decimal(0), recorder.capital[a.name] - recorder.equity.by_agent.get(
            a.name, Decimal(0))) for a in members), Decimal(0))
        cohorts[cohort] = {
            "agents": len(members), "start_equity": _usd(start), "end_equity": end,
            "return": ((end - start) / start).quantize(Decimal("0.000001")) if start else Decimal(0),
            "max_drawdown": max_drawdown(series), "wiped_out": wiped,
            "survivors": len(members) - wiped, "realised_losses": _usd(losses),
            "liquidated": sum(a.activity.liquidated for a in members),
            "transactions": sum(a.activity.sent for a in members),
            "refused": sum(sum(a.activity.refused.values()) for a in members),
        }
    liquidation_blocks = [m.block for m in recorder.liquidations]
    return {
        "blocks": len(rows) - 1,
        "transactions": sum(r["transactions"] for r in rows),
        "liquidations": len(recorder.liquidations),
        "liquidations_isolated": sum(1 for m in recorder.liquidations if m.mode == "isolated"),
        "liquidations_cross": sum(1 for m in recorder.liquidations if m.mode == "cross"),
        "liquidations_long": sum(1 for m in recorder.liquidations if m.side == "long"),
        "liquidations_short": sum(1 for m in recorder.liquidations if m.side == "short"),
        "first_liquidation_block": min(liquidation_blocks) if liquidation_blocks else None,
        "liquidated_notional": _usd(sum((r["liquidated_notional"] for r in rows), Decimal(0))),
        "bad_debt": last["cum_bad_debt"],
        "fees_paid": sum((r["fees_paid"] for r in rows), Decimal(0)),
        "funding_paid": sum((r["funding_paid"] for r in rows), Decimal(0)),
        "insurance_fund": {"start": first["insurance_fund"], "end": last["insurance_fund"],
                           "min": min(r["insurance_fund"] for r in rows),
                           "max_drawdown": max_drawdown([r["insurance_fund"] for r in rows])},
        "pool": {"start_value": first["pool_value"], "end_value": last["pool_value"],
                 "start_share_price": first["lp_share_price"],
                 "end_share_price": last["lp_share_price"],
                 "lp_return": ((last["lp_share_price"] - first["lp_share_price"])
                               / first["lp_share_price"]).quantize(Decimal("0.000001")),
                 "max_drawdown": max_drawdown([r["lp_share_price"] for r in rows])},
        "keepers": {bot.name: {"net_profit_usd": _usd(bot.ledger.net_profit_usd(bot.eth_price_usd)),
                               "rewards_usd": bot.ledger.rewards_usd, "gas_wei": bot.ledger.gas_wei,
                               "fees_wei": bot.ledger.fees_wei, "eth_price_usd": bot.eth_price_usd,
                               "wins": bot.ledger.wins,
                               "losses": bot.ledger.losses} for bot in keepers},
        "cohorts": cohorts,
        "markets": {s: market_drawdowns([r[f"exogenous.{s}"] for r in rows],
                                        [r[f"market.{s}"] for r in rows]) for s in recorder.symbols},
        "liquidation_volume": _usd(sum((r["liquidation_volume"] for r in rows), Decimal(0))),
        "impact_cost": _usd(sum((r["impact_cost"] for r in rows), Decimal(0))),
        "liquidation_impact_cost": _usd(sum((r["liquidation_impact_cost"] for r in rows), Decimal(0))),
        "solvency": recorder.solvency.summary(agents),
        "wiped_out": last["wiped_out"],
        "traders": sum(1 for a in agents if a.kind != "lp"),
        "survivors": sum(1 for a in agents if a.kind != "lp") - last["wiped_out"],
    }
