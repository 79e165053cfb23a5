"""The open book, kept from the venue's events: position samples with liquidation prices, and
one mark per liquidation with what the position was."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Mapping

from protocol.chain import Receipt
from protocol.keepers.index import BookIndex
from protocol.margin.human import cross_liquidation_price
from protocol.margin.types import MarginMode
from protocol.plugins import BlockView, Metric, RunView
from protocol.sim.metrics.common import usd
from protocol.sim.result import LiquidationMark, PositionSample
from protocol.venue.client import CROSS_ACCOUNT
from protocol.venue.units import from_wad

#: The book is also sampled in any block in which a market's oracle price moved more than this
#: fraction from the block before, so a crash between two ``positions_every`` samples is seen
#: block by block in ``positions.csv`` and the liquidation heatmap (a 35% crash over 30 blocks
#: moves about 1.4% a block; a one-minute block of 80% annual volatility about 0.1%).
RESAMPLE_MOVE = Decimal("0.005")

#: Positions by their sampled liquidation price, nearest last: (price, (account, market)).
Watch = list[tuple[Decimal, tuple[str, str]]]


@dataclass
class OpenPosition:
    """The metric's own record of one open position, kept from the venue's events."""

    size: Decimal  # signed, base units
    entry_notional: Decimal  # USD at fill prices, scaled down pro rata on decreases
    mode: str
    leverage: int | None
    first_liquidatable: int | None = None

    @property
    def entry_price(self) -> Decimal | None:
        return (self.entry_notional / abs(self.size)).quantize(Decimal("0.000001")) if self.size else None


@dataclass(frozen=True)
class BookParams:
    """``every``: blocks between samples of the book (``positions_every``); ``resample_move``:
    a move of a market's oracle price, as a fraction, that samples it in between."""

    every: int = 60
    resample_move: Decimal = RESAMPLE_MOVE


class Book(Metric):
    """No columns; ``positions`` (:class:`PositionSample` per open position and sampled block)
    and ``liquidations`` (:class:`LiquidationMark` per liquidated position or slice); the
    summary's liquidation counts (all, isolated, cross, long, short) and the first
    liquidation's block."""

    Params = BookParams
    namespaced = False
    figures = {"liquidations": lambda s: s["liquidations"]}

    def begin(self, run: RunView) -> None:
        venue = self.venue = run.venue
        self.symbols = list(venue.markets)
        self.cohort_of = run.cohort_of
        self.owner = {a.address.lower(): a for a in run.agents}
        self.keeper_names = {k.address.lower(): k.name for k in run.keepers
                             if getattr(k, "address", None)}
        self.eth_prices = {k.address.lower(): Decimal(k.eth_price_usd) for k in run.keepers
                           if getattr(k, "address", None)}
        self.book: dict[tuple[str, str], OpenPosition] = {}  # (account, market) -> position
        self.modes: dict[tuple[str, str], str] = {}  # (account, market) -> mode of last increase
        self.liquidations: list[LiquidationMark] = []
        self.positions: list[PositionSample] = []
        self.previous: dict[str, Decimal] = {}  # market -> oracle price in the block before
        # market -> (longs by liquidation price ascending, shorts descending): nearest last
        self.watch: dict[str, tuple[Watch, Watch]] = {}

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        oracle = view.oracle
        self._mark_liquidatable(view.block, oracle)  # before this block's liquidations are read
        for receipt in view.receipts:
            self._apply(view.block, receipt)
        moved = self._moved(oracle)
        self.previous = dict(oracle)
        if view.block % self.params.every == 0 or view.block == 0 or moved:
            self.sample(view.block, oracle)
        return {}

    def summary(self) -> dict[str, Any]:
        marks = self.liquidations
        blocks = [m.block for m in marks]
        return {
            "liquidations": len(marks),
            "liquidations_isolated": sum(1 for m in marks if m.mode == "isolated"),
            "liquidations_cross": sum(1 for m in marks if m.mode == "cross"),
            "liquidations_long": sum(1 for m in marks if m.side == "long"),
            "liquidations_short": sum(1 for m in marks if m.side == "short"),
            "first_liquidation_block": min(blocks) if blocks else None,
        }

    # ------------------------------------------------------------------ events
    def _apply(self, block: int, receipt: Receipt) -> None:
        liquidated = sum(1 for e in receipt.events if e.name == "PositionLiquidated")
        for event in receipt.events:
            name = event.name
            if name == "PositionIncreased":
                self.modes[(event["account"].lower(), self.symbols[event["market"]])] = (
                    "isolated" if event["mode"] == MarginMode.ISOLATED else "cross")
                self._increase(event)
            elif name in ("PositionDecreased", "AutoDeleveraged"):
                self._decrease(event["account"], event["market"], event["sizeDelta"])
            elif name == "PositionLiquidated":
                self._liquidated(block, receipt, liquidated, event)
                self._decrease(event["account"], event["market"], event["sizeClosed"])
            elif name == "AccountLiquidated":
                self._charge_account(event)

    def _liquidated(self, block: int, receipt: Receipt, liquidated: int, event: Any) -> None:
        v = self.venue
        market = self.symbols[event["market"]]
        price, size = from_wad(event["price"]), from_wad(event["sizeClosed"])
        key = (event["account"].lower(), market)
        held = self.book.get(key)
        owner = self.owner.get(key[0])
        latency = (block - held.first_liquidatable
                   if held and held.first_liquidatable is not None else None)
        self.liquidations.append(LiquidationMark(
            block, market, price, self.modes.get(key, "isolated"), event["account"], -size,
            v.usd(event["badDebt"]), side="long" if size < 0 else "short",
            notional=usd(abs(size) * price),
            keeper=self.keeper_names.get(event["keeper"].lower(), event["keeper"]),
            penalty=v.usd(event["penalty"]), reward=v.usd(event["keeperReward"]),
            leverage=held.leverage if held else None,
            entry_price=held.entry_price if held else None,
            cohort=self.cohort_of.get(owner.name, "") if owner else "",
            latency=latency, gas=self._gas_usd(receipt, liquidated, event["keeper"])))

    def _increase(self, event: Any) -> None:
        market = self.symbols[event["market"]]
        key = (event["account"].lower(), market)
        delta, price = from_wad(event["sizeDelta"]), from_wad(event["price"])
        held = self.book.get(key)
        if held is None:
            owner = self.owner.get(key[0])
            holding = owner.holdings.get(market) if owner is not None else None
            held = self.book[key] = OpenPosition(
                Decimal(0), Decimal(0), self.modes[key],
                holding.leverage if holding is not None else None)
        held.size += delta
        held.entry_notional += abs(delta) * price

    def _decrease(self, account: str, market_id: int, size_delta: int) -> None:
        key = (account.lower(), self.symbols[market_id])
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
        return usd(wei * eth_price / 10**18)

    def _charge_account(self, event: Any) -> None:
        """Put a cross account's one penalty and reward on its first line of this liquidation."""
        account, penalty, reward = event["account"], event["penalty"], event["keeperReward"]
        for i in range(len(self.liquidations) - event["positions"], len(self.liquidations)):
            if i >= 0 and self.liquidations[i].account == account:
                self.liquidations[i] = replace(self.liquidations[i], penalty=self.venue.usd(penalty),
                                               reward=self.venue.usd(reward))
                return

    # ------------------------------------------------------------------ samples
    def _moved(self, oracle: Mapping[str, Decimal]) -> bool:
        """Whether a market's oracle price moved more than ``resample_move`` (a fraction) from
        the block before."""
        for s, before in self.previous.items():
            if before > 0 and abs(oracle[s] - before) > before * self.params.resample_move:
                return True
        return False

    def _mark_liquidatable(self, block: int, oracle: Mapping[str, Decimal]) -> None:
        """Flag positions whose sampled liquidation price the oracle has crossed. The watch
        lists are sorted nearest-first, so a block costs only the positions it flags."""
        for market, (longs, shorts) in self.watch.items():
            price = oracle[market]
            while longs and price <= longs[-1][0]:
                self._flag(longs.pop()[1], block)
            while shorts and price >= shorts[-1][0]:
                self._flag(shorts.pop()[1], block)

    def _flag(self, key: tuple[str, str], block: int) -> None:
        held = self.book.get(key)
        if held is not None and held.first_liquidatable is None:
            held.first_liquidatable = block

    def sample(self, block: int, oracle: Mapping[str, Decimal]) -> None:
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
        watch: dict[str, tuple[Watch, Watch]] = {m: ([], []) for m in self.symbols}
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
                liq = usd(liq) if liq > 0 else None
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
                held.size, usd(notional), price, liq, distance))
        for longs, shorts in watch.values():
            longs.sort(key=lambda item: item[0])
            shorts.sort(key=lambda item: item[0], reverse=True)
        self.watch = watch
