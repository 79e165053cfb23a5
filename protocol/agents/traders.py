"""Trader agents: the ways real traders size and manage positions.

Each agent deposits its capital into its cross balance on its first block, then acts on its own
book and the prices it is shown. Parameters are ranges; each agent draws its own values from its
seeded RNG, so a population is varied but reproducible.

A trader flat in a market enters with ``trade_probability`` per block. It draws the wait once
(:func:`~protocol.agents.base.blocks_until`, a Poisson clock) and is scheduled for that block,
for the end of each holding period, and for the prices its rules react to, instead of being
asked every block.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Optional

from protocol.agents.base import Agent, Context, Holding, Triggers, blocks_until, randint, uniform, usd
from protocol.margin.human import liquidation_price
from protocol.venue import Trader
from protocol.venue.orders import OrderReceipt

Range = tuple[float, float]


@dataclass(frozen=True)
class TraderParams:
    """What a population of one agent type shares. ``mode`` None keeps the type's own mode."""

    capital: Range = (1_000.0, 10_000.0)  # USD
    leverage: Range = (2.0, 5.0)
    fraction: Range = (0.05, 0.10)  # of capital committed as margin per trade
    trade_probability: float = 0.02  # per block, when flat in a market
    long_probability: float = 0.5  # chance a new position is long
    hold_blocks: Range = (30.0, 240.0)
    mode: Optional[str] = None
    markets: Optional[tuple[str, ...]] = None  # None: every market

    def __post_init__(self) -> None:
        for name in ("capital", "leverage", "fraction", "hold_blocks"):
            low, high = getattr(self, name)
            if low < 0 or high < low:
                raise ValueError(f"{name}: need 0 <= low <= high, got {low}, {high}")
        if self.leverage[0] < 1:
            raise ValueError(f"leverage: must be at least 1, got {self.leverage[0]}")
        for name in ("trade_probability", "long_probability"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name}: must be in [0, 1], got {value}")
        if self.mode not in (None, "isolated", "cross"):
            raise ValueError(f"mode: must be 'isolated' or 'cross', got {self.mode!r}")


class TradingAgent(Agent):
    """Opens one position per market at a time and closes it after a holding period."""

    Params: ClassVar[type] = TraderParams
    kind = "trader"
    default_mode = "isolated"

    def __init__(self, name: str, trader: Trader, rng: random.Random, params: TraderParams) -> None:
        super().__init__(name, trader, rng, params)
        self.mode = params.mode or self.default_mode
        self.capital = usd(uniform(rng, params.capital))
        self._deposited = False
        self._close_at: dict[str, int] = {}
        self._enter_at: dict[str, Optional[int]] = {}  # flat market -> block of the next entry
        self._markets: list[str] = []

    def markets(self, ctx: Context) -> list[str]:
        return list(self.params.markets or ctx.prices)

    def act(self, ctx: Context) -> None:
        self._markets = self.markets(ctx)
        if not self._deposited:
            self._deposited = self._send(lambda: self.trader.deposit(self.capital)) is None
            return
        for market in self._markets:
            holding = self.holdings.get(market)
            if holding is not None:
                if ctx.block >= self._close_at.get(market, 0):
                    self.close(market)
                else:
                    self.manage(ctx, holding)
            elif self._entry_due(market, ctx.block):
                self.enter(ctx, market)
                self._enter_at.pop(market, None)  # entered or refused: a new wait from here

    def _entry_due(self, key: str, block: int) -> bool:
        entry = self._entry_block(key, block)
        return entry is not None and entry <= block

    def _entry_block(self, key: str, first: int) -> Optional[int]:
        """The block of the next entry for ``key`` (a market, or a hedger's pair), drawn when
        first asked, ``first`` being the first block it could be."""
        if key not in self._enter_at:
            wait = blocks_until(self.rng, self.params.trade_probability)
            self._enter_at[key] = None if wait is None else first + wait
        return self._enter_at[key]

    def next_block(self, block: int) -> Optional[int]:
        """The earliest of: a retry next block (no deposit yet, or a close refused), a
        holding's end, a flat market's next entry; every block while it holds a position if
        its class manages holdings (overrides :meth:`manage`) without declaring triggers."""
        if not self._deposited:
            return block + 1
        wanted: list[int] = []
        for market in self._markets:
            if market in self.holdings:
                wanted.append(max(self._close_at.get(market, 0), block + 1))
            else:
                entry = self._entry_block(market, block + 1)
                if entry is not None:
                    wanted.append(entry)
        if self.holdings and self._polls_holdings():
            wanted.append(block + 1)
        return min(wanted, default=None)

    def _polls_holdings(self) -> bool:
        cls = type(self)
        return cls.manage is not TradingAgent.manage and cls.triggers is Agent.triggers

    def enter(self, ctx: Context, market: str) -> None:
        leverage = self.leverage(ctx, market)
        margin = usd(self.capital * uniform(self.rng, self.params.fraction))
        self.open_sized(ctx, market, self.side(), margin, leverage)

    def side(self) -> int:
        return 1 if self.rng.random() < self.params.long_probability else -1

    def open_sized(self, ctx: Context, market: str, side: int, margin: Decimal, leverage: int) -> bool:
        """Open ``margin x leverage`` of notional; the taker fee comes out of the margin, so
        margin is put up with a little room above IM."""
        price = ctx.prices[market]
        if margin <= 0 or price <= 0:
            return False
        size = side * margin * leverage / price * Decimal("0.995")
        ok = self.open(ctx, market, size, leverage, self.mode, margin)
        if ok:
            self._close_at[market] = ctx.block + randint(self.rng, self.params.hold_blocks)
        return ok

    def leverage(self, ctx: Context, market: str) -> int:
        max_leverage = ctx.venue.markets[market].max_leverage
        return max(1, min(max_leverage, int(uniform(self.rng, self.params.leverage))))

    def manage(self, ctx: Context, holding: Holding) -> None:
        """Called whenever the agent acts while a position is open and not yet due to close
        (no-op by default). A subclass that overrides it is asked every block while it holds
        a position, unless it declares the prices that matter to it (:meth:`triggers`)."""


class ConservativeTrader(TradingAgent):
    """2-5x, 5-10% of capital per trade, isolated."""

    kind = "conservative"


class Speculator(TradingAgent):
    """High leverage, isolated."""

    kind = "speculator"


class NoiseTrader(TradingAgent):
    """Random direction, size, leverage and mode; random exits."""

    kind = "noise"

    def enter(self, ctx: Context, market: str) -> None:
        if self.params.mode is None:
            self.mode = "isolated" if self.rng.random() < 0.5 else "cross"
        super().enter(ctx, market)


class Hedger(TradingAgent):
    """Cross margin with offsetting positions across two markets (long one, short the other,
    equal notional), so one leg's profit holds up the other."""

    kind = "hedger"
    default_mode = "cross"

    def act(self, ctx: Context) -> None:
        if not self._deposited:
            super().act(ctx)
            return
        markets = self._markets = self.markets(ctx)
        if len(markets) < 2:
            return
        legs = markets[:2]
        if any(m in self.holdings for m in legs):
            if ctx.block >= self._close_at.get(legs[0], 0):
                for market in legs:
                    if market in self.holdings:
                        self.close(market)
            return
        if self._entry_due(self.PAIR, ctx.block):
            self._enter_at.pop(self.PAIR, None)
            leverage = min(self.leverage(ctx, m) for m in legs)
            margin = usd(self.capital * uniform(self.rng, self.params.fraction))
            side = self.side()
            if self.open_sized(ctx, legs[0], side, margin, leverage):
                self.open_sized(ctx, legs[1], -side, margin, leverage)
                self._close_at[legs[1]] = self._close_at[legs[0]]

    PAIR = "pair"  # the key of the two legs' entry clock

    def next_block(self, block: int) -> Optional[int]:
        if not self._deposited:
            return block + 1
        legs = self._markets[:2]
        if len(legs) < 2:
            return None
        if any(m in self.holdings for m in legs):
            return max(self._close_at.get(legs[0], 0), block + 1)
        return self._entry_block(self.PAIR, block + 1)


@dataclass(frozen=True)
class RiskSizedParams(TraderParams):
    """Margin is the loss accepted; leverage puts the liquidation price ``liquidation_distance``
    (fraction of the price) away."""

    loss_fraction: Range = (0.02, 0.05)
    liquidation_distance: Range = (0.05, 0.15)


class RiskSizedTrader(TradingAgent):
    Params: ClassVar[type] = RiskSizedParams
    kind = "risk_sized"

    def enter(self, ctx: Context, market: str) -> None:
        params: RiskSizedParams = self.params
        config = ctx.venue.markets[market]
        distance = uniform(self.rng, params.liquidation_distance)
        # an isolated position is liquidated after losing (1/L - mmf) of its notional
        leverage = int(1 / (distance + config.maintenance_fraction))
        leverage = max(1, min(config.max_leverage, leverage))
        margin = usd(self.capital * uniform(self.rng, params.loss_fraction))
        self.open_sized(ctx, market, self.side(), margin, leverage)


@dataclass(frozen=True)
class MarginTopperParams(TraderParams):
    """Adds ``top_up`` x the original margin when the price has covered ``trigger`` of the way
    to the liquidation price, at most ``max_top_ups`` times per position."""

    trigger: float = 0.7
    top_up: float = 0.5
    max_top_ups: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_top_ups < 0:
            raise ValueError(f"max_top_ups: must be >= 0, got {self.max_top_ups}")


class MarginTopper(TradingAgent):
    Params: ClassVar[type] = MarginTopperParams
    kind = "margin_topper"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._top_ups: dict[str, int] = {}
        self._maintenance: dict[str, Decimal] = {}  # market -> maintenance fraction

    def act(self, ctx: Context) -> None:
        if not self._maintenance:
            self._maintenance = {m: c.maintenance_fraction for m, c in ctx.venue.markets.items()}
        super().act(ctx)

    def _watched(self, holding: Holding) -> Optional[Decimal]:
        """The liquidation price of ``holding`` if it may still be topped up (isolated, top-ups
        left), else None."""
        params: MarginTopperParams = self.params
        if holding.mode != "isolated" or self._top_ups.get(holding.market, 0) >= params.max_top_ups:
            return None
        mmf = self._maintenance[holding.market]
        return liquidation_price(holding.side, holding.entry, holding.size, holding.margin, mmf)

    def manage(self, ctx: Context, holding: Holding) -> None:
        params: MarginTopperParams = self.params
        liq = self._watched(holding)
        if liq is None:
            return
        price = ctx.prices[holding.market]
        travelled = (holding.entry - price) / (holding.entry - liq) if holding.entry != liq else 0
        if travelled >= Decimal(repr(params.trigger)):
            amount = usd(holding.margin * Decimal(repr(params.top_up)))
            if amount > 0 and self._send(lambda: self.trader.add_margin(holding.market, amount)) is None:
                holding.margin += amount
                self._top_ups[holding.market] = self._top_ups.get(holding.market, 0) + 1

    def triggers(self) -> Triggers:
        """For each isolated holding with top-ups left, the price at which it has covered
        ``trigger`` of the way to its liquidation price (a hair early: :meth:`manage` decides)."""
        params: MarginTopperParams = self.params
        found = {}
        for market, holding in self.holdings.items():
            liq = self._watched(holding)
            if liq is None or liq == holding.entry:
                continue
            level = holding.entry + (liq - holding.entry) * Decimal(repr(params.trigger))
            early = abs(level) * Decimal("1e-9")
            found[market] = (level + early, None) if holding.side > 0 else (None, level - early)
        return found

    def on_liquidated(self, market: Optional[str]) -> None:
        super().on_liquidated(market)
        if market is not None:
            self._top_ups.pop(market, None)


@dataclass(frozen=True)
class StopLossParams(TraderParams):
    """Places a stop-loss order ``stop_fraction`` of the way from entry to the liquidation
    price (a keeper executes it)."""

    stop_fraction: float = 0.5


class StopLossTrader(TradingAgent):
    Params: ClassVar[type] = StopLossParams
    kind = "stop_loss"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stops: dict[str, int] = {}

    def open_sized(self, ctx: Context, market: str, side: int, margin: Decimal, leverage: int) -> bool:
        if not super().open_sized(ctx, market, side, margin, leverage):
            return False
        holding = self.holdings[market]
        params: StopLossParams = self.params
        mmf = ctx.venue.markets[market].maintenance_fraction
        if holding.mode == "isolated":
            liq = liquidation_price(holding.side, holding.entry, holding.size, holding.margin, mmf)
        else:
            liq = holding.entry * (1 - holding.side / Decimal(leverage))
        stop = holding.entry + (liq - holding.entry) * Decimal(repr(params.stop_fraction))
        stop = stop.quantize(Decimal("0.01"))
        if stop > 0:
            result: list[OrderReceipt] = []
            error = self._send(lambda: result.append(
                self.trader.create_order(market, "stop_loss", side="long" if side > 0 else "short",
                                         trigger_price=stop)))
            if error is None:
                self.stops[market] = result[0].order_id
        return True

    def close(self, market: str) -> bool:
        order_id = self.stops.pop(market, None)
        if order_id is not None:
            self._send(lambda: self.trader.cancel_order(order_id))
        return super().close(market)

    def on_position_closed(self, market: str) -> None:
        self.stops.pop(market, None)
        super().on_position_closed(market)


@dataclass(frozen=True)
class LPParams:
    capital: Range = (50_000.0, 500_000.0)
    withdraw_probability: float = 0.001  # per block
    withdraw_fraction: Range = (0.1, 0.5)  # of the shares held


class LiquidityProvider(Agent):
    """Requests a deposit of its capital on its first block; now and then requests the
    redemption of part of its shares. The pool takes both as two-step requests that an order
    keeper executes at a newer price (``LpRequestRequired`` otherwise, while positions are
    open), so a scenario with LPs needs an ``order`` keeper."""

    Params: ClassVar[type] = LPParams
    kind = "lp"

    def __init__(self, name: str, trader: Trader, rng: random.Random, params: LPParams) -> None:
        super().__init__(name, trader, rng, params)
        self.capital = usd(uniform(rng, params.capital))
        self.requested = False
        self._redeem_at: Optional[int] = None

    def act(self, ctx: Context) -> None:
        if not self.requested:
            self.requested = True
            self._send(lambda: self.trader.request_deposit(self.capital))
            return
        if self._redeem_at is not None and self._redeem_at <= ctx.block:
            self._redeem_at = None
            shares = ctx.venue.lp_shares(self.trader)
            amount = int(shares * Decimal(str(uniform(self.rng, self.params.withdraw_fraction))))
            if amount > 0:
                self._send(lambda: self.trader.request_redeem(amount))

    def next_block(self, block: int) -> Optional[int]:
        """The next redemption, ``withdraw_probability`` per block from the next one on."""
        if self._redeem_at is None:
            wait = blocks_until(self.rng, self.params.withdraw_probability)
            self._redeem_at = None if wait is None else block + 1 + wait
        return self._redeem_at
