"""Participants with intent to harm: the attacks that made a venue's worst days (issue 29).

* :class:`Manipulator` (``manipulator``; Mango, Oct 2022; GMX v1 AVAX, Sep 2022): opens a
  position on the venue, then trades the thin external market the oracle reads to move the
  oracle its way, realises on the venue at the moved price (closing, or taking profit out and
  leaving the rest as Mango did), and unwinds its external inventory.
* :class:`SelfLiquidator` (``self_liquidator``; JELLY on Hyperliquid, Mar 2025): opens a large
  position with an offsetting one on a second account it controls, pulls margin to the edge,
  then pushes the external price against the first so that it is liquidated into the pool and
  insurance fund at a price the external market cannot absorb, and takes the second's profit.
* :class:`MarginPuller` (``margin_puller``; the Hyperliquid ETH whale, Mar 2025): a large cross
  position that withdraws its free collateral when its unrealised profit peaks, leaving the
  venue to absorb the liquidation that follows.

Each is an ordinary agent (a ``Params`` dataclass, checked; scheduled by the blocks of its plan)
that also keeps a ledger of what it did (:attr:`Attacker.actions`) and says what it made
(:meth:`Attacker.profit`): its wallets, what its venue accounts are worth, and its external
market book at the price, less the capital it started with. ``perpsim attack``
(:mod:`protocol.sweep.attack`) searches their parameters.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Mapping, Optional

from protocol.agents.base import Agent, Context, quantize_size, usd
from protocol.margin.types import MarginMode
from protocol.venue import Trader, Venue
from protocol.venue.units import from_wad

DIRECTIONS = ("long", "short")
EXITS = ("close", "withdraw")
#: The share of what the transfer rule allows that a withdrawal takes: the rest covers the
#: funding and borrowing that accrue before it lands.
_EDGE = Decimal("0.995")


def _check(name: str, ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(f"{name}: {message}")


def _common(params: Any) -> None:
    _check("budget", params.budget > 0, f"must be > 0 USD, got {params.budget}")
    _check("start_block", params.start_block >= 1, f"must be >= 1, got {params.start_block}")
    _check("leverage", params.leverage >= 0, f"must be >= 1 (0: the market's maximum), got "
           f"{params.leverage}")
    _check("direction", params.direction in DIRECTIONS,
           f"must be one of {', '.join(DIRECTIONS)}, got {params.direction!r}")


class Attacker(Agent):
    """What the attackers share: capital = ``budget``, the accounts they control
    (:attr:`accounts`: the agent's own trader first), a ledger of actions, and :meth:`profit`.

    ``search``: the parameters ``perpsim attack`` varies besides the budget, with the values it
    tries by default (a grid; ``--vary`` replaces them)."""

    kind = "attacker"
    search: ClassVar[Mapping[str, tuple[Any, ...]]] = {}

    def __init__(self, name: str, trader: Trader, rng: random.Random, params: Any):
        super().__init__(name, trader, rng, params)
        self.capital = usd(Decimal(repr(params.budget)))
        self.accounts: list[Trader] = [trader]
        #: (block, what) for each step of the attack, in order
        self.actions: list[tuple[int, str]] = []
        self.market: Optional[str] = params.market
        self.done = False

    # ------------------------------------------------------------------ bookkeeping
    def _target(self, ctx: Context) -> str:
        if self.market is None:
            self.market = next(iter(ctx.prices))
        elif self.market not in ctx.prices:
            raise ValueError(f"market: no market {self.market!r}; markets: {', '.join(ctx.prices)}")
        return self.market

    def log(self, block: int, what: str) -> None:
        self.actions.append((block, what))

    def leverage_for(self, ctx: Context, market: str) -> int:
        top = ctx.venue.markets[market].max_leverage
        wanted = int(self.params.leverage)
        return top if wanted == 0 else max(1, min(top, wanted))

    @staticmethod
    def account_value(venue: Venue, trader: Trader) -> Decimal:
        """What ``trader``'s venue account is worth: its cross equity (cross balance and cross
        positions at the oracle), its isolated positions' equity, and the negative price impact
        held for it above the pricing module's cap (the admin may release it to the account, as
        GMX's claimable collateral: counted, so that a lower cap shows as a smaller cost)."""
        ch = venue.clearinghouse
        value = from_wad(ch.account_health(trader.address)[0]) + venue.held_impact(trader)
        for market in venue.markets:
            raw = venue.raw_position(trader, market)
            if raw.size != 0 and raw.mode == MarginMode.ISOLATED:
                value += from_wad(ch.position_health(trader.address, venue.market_id(market))[0])
        return value

    def wallet(self, venue: Venue) -> Decimal:
        return sum((venue.usd(venue.usdc.balance_of(t.address)) for t in self.accounts), Decimal(0))

    def venue_value(self, venue: Venue) -> Decimal:
        return sum((self.account_value(venue, t) for t in self.accounts), Decimal(0))

    def profit(self, venue: Venue, prices: Mapping[str, Decimal]) -> Decimal:
        """Wallets + venue accounts + the external book at ``prices`` - capital."""
        return (self.wallet(venue) + self.venue_value(venue) + self.outside_value(prices)
                - self.capital)

    # ------------------------------------------------------------------ venue steps
    def _sized_open(self, ctx: Context, trader: Trader, market: str, notional: Decimal,
                    side: int, leverage: int, tries: int = 8) -> Decimal:
        """Open a cross position of ``notional`` USD, halving it on each refusal (an open
        interest cap, the margin); returns the notional opened (0: none)."""
        price = ctx.prices[market]
        for _ in range(tries):
            size = quantize_size(notional / price * side)
            if size == 0:
                return Decimal(0)
            if self._send(lambda: trader.open(market, size, leverage, "cross")) is None:
                self.activity.opened += 1
                if trader is self.trader:
                    self.holdings.pop(market, None)
                return notional
            notional /= 2
        return Decimal(0)

    def _withdraw_edge(self, ctx: Context, trader: Trader) -> Decimal:
        """Withdraw all the cross balance the transfer rule lets go (SPEC §5): equity stays at
        max(IM, 10% of notional). Returns what was withdrawn."""
        venue = ctx.venue
        ch = venue.clearinghouse
        equity, _, _, required = ch.account_health(trader.address)
        balance = venue.usd(ch.cross_balance(trader.address))
        amount = usd(min(balance, from_wad(equity - required)) * _EDGE)
        if amount <= 0:
            return Decimal(0)
        if self._send(lambda: trader.withdraw(amount)) is None:
            return amount
        return Decimal(0)

    def _withdraw_all(self, ctx: Context, trader: Trader) -> Decimal:
        balance = usd(ctx.venue.usd(ctx.venue.clearinghouse.cross_balance(trader.address)))
        if balance > 0 and self._send(lambda: trader.withdraw(balance)) is None:
            return balance
        return Decimal(0)

    def _unwind(self, ctx: Context, market: str, left_blocks: int) -> None:
        """Sell (or buy back) 1/``left_blocks`` of the external inventory: the trade whose fill
        (the book walked) trades exactly that many units, found by bisection; as much of it as
        the market takes without falling 99%."""
        units = self.outside_units.get(market, Decimal(0))
        share = units / max(left_blocks, 1)
        if ctx.external is None or abs(share) * ctx.prices[market] < 1:
            return
        ext = ctx.external

        def traded(usd_: Decimal) -> Optional[Decimal]:  # units a trade of usd_ moves; None: refused
            try:
                return usd_ / ext.fill_price(market, usd_)
            except ValueError:
                return None

        low, high = Decimal(0), -share * ctx.prices[market]  # high undershoots: walk it out
        for _ in range(60):
            done = traded(high)
            if done is None or abs(done) >= abs(share):
                break
            low, high = high, high * 2
        for _ in range(60):  # bisect |usd| in [low, high]: the fill that trades -share units
            mid = (low + high) / 2
            done = traded(mid)
            if done is None or abs(done) > abs(share):
                high = mid
            else:
                low = mid
            if abs(high - low) < Decimal("0.01"):
                break
        if low != 0:
            self.trade_outside(ctx, market, low)


# ---------------------------------------------------------------------------------------------
# the manipulator


@dataclass(frozen=True)
class ManipulatorParams:
    """``budget`` USD in all; ``venue_leg`` of it is deposited on the venue as margin for a
    cross position of ``leverage`` (0: the market's maximum) in ``market`` (None: the first),
    opened at ``start_block``; the rest buys (``direction`` long) or sells (short) the external
    market over the next ``pump_blocks`` blocks. In the block after the last (the first the
    oracle shows it) it realises on the venue -- ``exit`` ``close``: closes the position and
    withdraws everything; ``withdraw``: closes ``realise`` of it and withdraws all the free
    collateral the transfer rule allows at the moved price, leaving the rest of the position to
    the venue (Mango) -- and unwinds its external inventory over ``unwind_blocks`` blocks from
    that block."""

    budget: float = 1_000_000.0
    market: Optional[str] = None
    venue_leg: float = 0.3
    leverage: int = 10
    start_block: int = 10
    pump_blocks: int = 5
    direction: str = "long"
    exit: str = "close"
    realise: float = 0.5
    unwind_blocks: int = 1

    def __post_init__(self) -> None:
        _common(self)
        _check("venue_leg", 0 < self.venue_leg <= 1, f"must be in (0, 1], got {self.venue_leg}")
        _check("pump_blocks", self.pump_blocks >= 0, f"must be >= 0, got {self.pump_blocks}")
        _check("unwind_blocks", self.unwind_blocks >= 1, f"must be >= 1, got {self.unwind_blocks}")
        _check("exit", self.exit in EXITS, f"must be one of {', '.join(EXITS)}, got {self.exit!r}")
        _check("realise", 0 <= self.realise <= 1, f"must be in [0, 1], got {self.realise}")


class Manipulator(Attacker):
    """Mango / GMX-AVAX: venue leg first, then the external pump, then realise, then unwind
    (:class:`ManipulatorParams`)."""

    Params: ClassVar[type] = ManipulatorParams
    kind = "manipulator"
    search: ClassVar[Mapping[str, tuple[Any, ...]]] = {
        "venue_leg": (0.1, 0.3, 0.6), "pump_blocks": (1, 5), "exit": ("close", "withdraw")}

    def __init__(self, name: str, trader: Trader, rng: random.Random, params: ManipulatorParams):
        super().__init__(name, trader, rng, params)
        self.side = 1 if params.direction == "long" else -1
        self.exit_block = params.start_block + params.pump_blocks + 1
        self.exited = False
        self.venue_notional = Decimal(0)

    def act(self, ctx: Context) -> None:
        p: ManipulatorParams = self.params
        market = self._target(ctx)
        block = ctx.block
        if block < p.start_block or self.done:
            return
        if block == p.start_block:
            margin = usd(self.capital * Decimal(repr(p.venue_leg)))
            if self._send(lambda: self.trader.deposit(margin)) is None:
                lev = self.leverage_for(ctx, market)
                self.venue_notional = self._sized_open(ctx, self.trader, market,
                                                       margin * lev * Decimal("0.98"), self.side, lev)
                self.log(block, f"venue {p.direction} ${self.venue_notional:,.0f} at {lev}x")
            return
        if block < self.exit_block:  # the pump
            budget = self.capital - usd(self.capital * Decimal(repr(p.venue_leg)))
            fill = self.trade_outside(ctx, market, self.side * budget / p.pump_blocks)
            if fill is not None:
                self.log(block, f"external {'buy' if self.side > 0 else 'sell'} ${abs(fill.usd):,.0f} "
                                f"at {fill.price:.6g}")
            return
        if not self.exited:
            self.exited = self._exit(ctx, market)
        left = self.exit_block + p.unwind_blocks - block
        if left >= 1:
            self._unwind(ctx, market, left)
        if left <= 1 and self.exited:
            self.done = True

    def _exit(self, ctx: Context, market: str) -> bool:
        p: ManipulatorParams = self.params
        held = ctx.venue.raw_position(self.trader, market).size
        if p.exit == "close":
            if held != 0 and self._send(lambda: self.trader.close(market)) is not None:
                return False  # refused (a stale price): again next block
            out = self._withdraw_all(ctx, self.trader)
            self.log(ctx.block, f"closed on the venue; withdrew ${out:,.0f}")
            return True
        if held != 0 and p.realise > 0:
            size = quantize_size(abs(Decimal(held) / Decimal(10**18)) * Decimal(repr(p.realise)))
            if size > 0:
                self._send(lambda: self.trader.decrease(market, size))
        out = self._withdraw_edge(ctx, self.trader)
        self.log(ctx.block, f"realised {p.realise:.0%}; withdrew ${out:,.0f} at the moved price, "
                            "leaving the rest")
        return True

    def next_block(self, block: int) -> Optional[int]:
        p: ManipulatorParams = self.params
        if self.done:
            return None
        return max(block + 1, p.start_block)


# ---------------------------------------------------------------------------------------------
# the self-liquidator


@dataclass(frozen=True)
class SelfLiquidatorParams:
    """``budget`` USD in all. At ``start_block`` it deposits ``margin_share`` of it and opens a
    cross position of ``leverage`` (0: the market's maximum) on the ``direction`` side of
    ``market``; with ``hedge``, a second account it controls takes the other side at the same
    size, at ``hedge_leverage``. The next block it withdraws the first account's margin to the
    edge of the transfer rule. Then it spends the rest of the budget over ``pump_blocks`` blocks
    pushing the external price against the first position, until it is liquidated (or
    ``wait_blocks`` after the pump); the block after, the second account closes in profit and
    withdraws, and the external inventory is unwound over ``unwind_blocks`` blocks."""

    budget: float = 1_000_000.0
    market: Optional[str] = None
    margin_share: float = 0.1
    leverage: int = 5
    hedge: bool = True
    hedge_leverage: int = 5
    direction: str = "short"
    start_block: int = 10
    pump_blocks: int = 3
    wait_blocks: int = 10
    unwind_blocks: int = 1

    def __post_init__(self) -> None:
        _common(self)
        _check("margin_share", 0 < self.margin_share < 1,
               f"must be in (0, 1), got {self.margin_share}")
        _check("hedge_leverage", self.hedge_leverage >= 1, f"must be >= 1, got {self.hedge_leverage}")
        for name in ("pump_blocks", "wait_blocks", "unwind_blocks"):
            _check(name, getattr(self, name) >= 1, f"must be >= 1, got {getattr(self, name)}")


class SelfLiquidator(Attacker):
    """JELLY: a large position liquidated on purpose into the venue's backstop, its offset on a
    second account cashing the move (:class:`SelfLiquidatorParams`)."""

    Params: ClassVar[type] = SelfLiquidatorParams
    kind = "self_liquidator"
    search: ClassVar[Mapping[str, tuple[Any, ...]]] = {
        "margin_share": (0.05, 0.15), "pump_blocks": (1, 3), "hedge": (True, False)}

    def __init__(self, name: str, trader: Trader, rng: random.Random, params: SelfLiquidatorParams):
        super().__init__(name, trader, rng, params)
        self.side = 1 if params.direction == "long" else -1
        self.twin: Optional[Trader] = None
        self.pump_from = params.start_block + 2
        self.liquidated_at: Optional[int] = None
        self.cash_at: Optional[int] = None
        self.notional = Decimal(0)
        self._committed = Decimal(0)  # margin put up on the venue, not for the pump

    def on_liquidated(self, market: Optional[str]) -> None:
        super().on_liquidated(market)
        self.liquidated_at = self.liquidated_at or -1  # the block is set when it next acts

    def on_liquidated_size(self, market: str, closed: Decimal) -> None:
        super().on_liquidated_size(market, closed)
        self.liquidated_at = self.liquidated_at or -1

    def act(self, ctx: Context) -> None:
        p: SelfLiquidatorParams = self.params
        market = self._target(ctx)
        venue, block = ctx.venue, ctx.block
        if block < p.start_block or self.done:
            return
        if self.liquidated_at == -1:
            self.liquidated_at = block - 1
            self.log(block - 1, "liquidated by a keeper")
        if block == p.start_block:
            self._open(ctx, market)
            return
        if block == p.start_block + 1:  # to the edge: the highest leverage, then withdraw
            top = venue.markets[market].max_leverage
            self._send(lambda: self.trader.set_leverage(market, top))
            out = self._withdraw_edge(ctx, self.trader)
            self._committed -= out  # back in the wallet: it pays for the pump
            self.log(block, f"leverage {top}x; withdrew ${out:,.0f}: margin to the edge")
            return
        pump_end = self.pump_from + p.pump_blocks
        if block < pump_end and self.liquidated_at is None:
            spend = (self.capital - self._committed) / p.pump_blocks
            fill = self.trade_outside(ctx, market, -self.side * spend)
            if fill is not None:
                self.log(block, f"external {'buy' if self.side < 0 else 'sell'} ${abs(fill.usd):,.0f} "
                                f"at {fill.price:.6g}")
            return
        if self.cash_at is None:
            if venue.raw_position(self.trader, market).size != 0 \
                    and block < pump_end + p.wait_blocks:
                return  # not (wholly) liquidated yet
            self.cash_at = block
            if self.twin is not None and venue.raw_position(self.twin, market).size != 0:
                self._send(lambda: self.twin.close(market) if self.twin else None)
            for trader in self.accounts:
                self._withdraw_all(ctx, trader)
            self.log(block, "the offsetting account closed; everything withdrawn")
        left = self.cash_at + p.unwind_blocks - block
        if left >= 1:
            self._unwind(ctx, market, left)
        if left <= 1:
            self.done = True

    def _open(self, ctx: Context, market: str) -> None:
        p: SelfLiquidatorParams = self.params
        venue, block = ctx.venue, ctx.block
        margin = usd(self.capital * Decimal(repr(p.margin_share)))
        lev = self.leverage_for(ctx, market)
        if self._send(lambda: self.trader.deposit(margin)) is not None:
            return
        self.notional = self._sized_open(ctx, self.trader, market, margin * lev * Decimal("0.98"),
                                         self.side, lev)
        self._committed = margin
        self.log(block, f"{p.direction} ${self.notional:,.0f} at {lev}x")
        if p.hedge and self.notional > 0:
            twin = self.twin = venue.trader(f"{self.name}-twin")
            self.accounts.append(twin)
            hedge_margin = usd(self.notional / p.hedge_leverage * Decimal("1.05"))
            hedge_margin = min(hedge_margin, usd(self.capital - margin))
            wallet = venue.usdc
            wallet.transfer(twin.address, venue.tokens(hedge_margin), sender=self.address
                            ).raise_for_status()
            if self._send(lambda: twin.deposit(hedge_margin)) is None:
                lev2 = min(p.hedge_leverage, venue.markets[market].max_leverage)
                got = self._sized_open(ctx, twin, market, self.notional, -self.side, lev2)
                self.log(block, f"second account: {'long' if self.side < 0 else 'short'} "
                                f"${got:,.0f} at {lev2}x")
            self._committed += hedge_margin

    def next_block(self, block: int) -> Optional[int]:
        if self.done:
            return None
        return max(block + 1, int(self.params.start_block))


# ---------------------------------------------------------------------------------------------
# the whale margin-puller


@dataclass(frozen=True)
class MarginPullerParams:
    """``budget`` USD, all deposited at ``start_block`` as margin for a cross position of
    ``leverage`` (0: the market's maximum) on the ``direction`` side of ``market``. It pulls its
    margin when its unrealised profit first reaches ``take_profit`` x the margin, or at
    ``pull_block`` (0: no such block), whichever comes first: it closes ``realise`` of the
    position (the profit lands in its cross balance) and withdraws all the free collateral the
    transfer rule allows, leaving the rest of the position at the edge of maintenance for the
    venue to liquidate."""

    budget: float = 1_000_000.0
    market: Optional[str] = None
    leverage: int = 20
    direction: str = "long"
    start_block: int = 5
    take_profit: float = 0.5
    pull_block: int = 0
    realise: float = 0.5

    def __post_init__(self) -> None:
        _common(self)
        _check("take_profit", self.take_profit > 0, f"must be > 0, got {self.take_profit}")
        _check("pull_block", self.pull_block >= 0, f"must be >= 0, got {self.pull_block}")
        _check("realise", 0 <= self.realise < 1, f"must be in [0, 1), got {self.realise}")


class MarginPuller(Attacker):
    """The HL whale of Mar 2025: withdraws free collateral at the worst moment for the venue
    (:class:`MarginPullerParams`)."""

    Params: ClassVar[type] = MarginPullerParams
    kind = "margin_puller"
    search: ClassVar[Mapping[str, tuple[Any, ...]]] = {
        "leverage": (10, 25), "take_profit": (0.25, 0.5, 1.0), "realise": (0.0, 0.5)}

    def __init__(self, name: str, trader: Trader, rng: random.Random, params: MarginPullerParams):
        super().__init__(name, trader, rng, params)
        self.side = 1 if params.direction == "long" else -1
        self.entry: Optional[Decimal] = None
        self.size = Decimal(0)
        self.pulled_at: Optional[int] = None
        self.liquidated_at: Optional[int] = None

    def on_liquidated(self, market: Optional[str]) -> None:
        super().on_liquidated(market)
        self.liquidated_at = self.liquidated_at or -1

    def on_liquidated_size(self, market: str, closed: Decimal) -> None:
        super().on_liquidated_size(market, closed)
        self.liquidated_at = self.liquidated_at or -1

    def act(self, ctx: Context) -> None:
        p: MarginPullerParams = self.params
        market = self._target(ctx)
        block = ctx.block
        if self.liquidated_at == -1:
            self.liquidated_at = block - 1
            self.log(block - 1, "liquidated by a keeper")
            self.done = True
        if block < p.start_block or self.done:
            return
        if self.entry is None:
            if self._send(lambda: self.trader.deposit(self.capital)) is None:
                lev = self.leverage_for(ctx, market)
                notional = self._sized_open(ctx, self.trader, market,
                                            self.capital * lev * Decimal("0.98"), self.side, lev)
                self.entry = ctx.prices[market]
                self.size = notional / self.entry
                self.log(block, f"{p.direction} ${notional:,.0f} at {lev}x")
            return
        if self.pulled_at is not None:
            return
        price = ctx.prices[market]
        gain = self.side * (price - self.entry) * self.size
        if gain >= self.capital * Decimal(repr(p.take_profit)) or (p.pull_block and block >= p.pull_block):
            if p.realise > 0:
                size = quantize_size(self.size * Decimal(repr(p.realise)))
                if size > 0:
                    self._send(lambda: self.trader.decrease(market, size))
            out = self._withdraw_edge(ctx, self.trader)
            self.pulled_at = block
            self.log(block, f"unrealised profit ${gain:,.0f}: realised {p.realise:.0%}, "
                            f"withdrew ${out:,.0f}")

    def next_block(self, block: int) -> Optional[int]:
        if self.done:
            return None
        if self.pulled_at is not None:
            return None  # wait for the liquidation (a keeper's action wakes it)
        return max(block + 1, int(self.params.start_block))
