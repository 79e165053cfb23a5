"""Participants with intent: agents that trade because the venue pays them to, or because they
know something (issue 29 §1). Each is a plug-in like the built-ins (a frozen dataclass
``Params`` validated on construction, a ``kind`` labelling its cohort).

``funding_arb`` (:class:`FundingArbitrageur`, :class:`FundingArbParams`)
    Every ``check_every`` blocks it reads each of its markets (one ``marketState`` and one
    ``marketConfig`` view: :func:`read_market`). When the funding rate, annualised, is above
    ``hurdle`` (0.10: 10% a year) it opens against the skew (short when longs pay) at
    ``leverage`` (cross margin, ``fraction`` of its capital as margin, never more notional than
    the skew), and buys or sells the same notional on the external market the oracle reads
    (:meth:`~protocol.agents.base.Agent.trade_outside`; the fill pays that market's impact and
    moves its price from the next block). It closes both legs when the rate, annualised and
    signed in its favour, falls below ``exit`` (< ``hurdle``), or after ``max_hold_blocks``. A
    hedge left without its venue leg (liquidated) is unwound at the next check.

``market_maker`` (:class:`SkewMarketMaker`, :class:`MarketMakerParams`)
    Every ``check_every`` blocks it takes the side that reduces the market's skew (the side that
    receives funding, and price impact where the market has a pricing module): up to
    ``clip_usd`` of notional a check, never more than the skew, keeping its inventory (|size|
    x price after each of its trades) within ``max_inventory_usd``. When the skew flips to its
    side it trims ``clip_usd`` a check; a price move that takes the inventory past the limit is
    trimmed back at the next check. Skews below ``min_skew_usd`` are left alone.

``momentum`` / ``mean_reversion`` (:class:`MomentumTrader`, :class:`MeanReversionTrader`,
:class:`InformedParams`)
    Traders like the built-ins (the :class:`~protocol.agents.traders.TraderParams` of capital,
    leverage, fraction, trade probability, mode), whose direction is informed. The choice made
    here: with probability ``signal_quality`` an entry follows the true exogenous move over the
    next ``horizon`` blocks (the scenario's price path: the engine gives agents
    ``Context.path_at``; a tie or no path falls through), otherwise the agent's own rule from
    past prices: momentum trades in the direction of the exogenous return over the last
    ``lookback`` blocks, mean reversion against it (a coin flip when that return is 0). It
    holds for ``horizon`` blocks (``hold_blocks`` is not used). ``signal_quality`` 0 is a pure
    chartist, which on a martingale path has no edge; above it, the trader wins what the
    venue's counterparty loses: on a pool-backed venue the LPs face adverse selection (the
    ``informed`` and ``informed-noise`` scenarios compare the LP return at equal volume).

What an agent holds on the external market (:attr:`~protocol.agents.base.Agent.outside_units`,
``outside_cash``) is part of its equity in the cohort metrics (``equity.COHORT``, the
summary's ``cohorts``): :meth:`~protocol.agents.base.Agent.outside_value` at the external
market's price.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Optional

from protocol.agents.base import Agent, Context, Holding, quantize_size, uniform, usd
from protocol.agents.traders import Range, TraderParams, TradingAgent
from protocol.constants import SECONDS_PER_YEAR, WAD
from protocol.margin.math import funding_rate
from protocol.venue import Trader
from protocol.venue.units import from_wad

_ZERO = Decimal(0)
#: what is left of a hedge after it is unwound, at most (USD): not a hedge any more
_DUST_USD = Decimal(1)


# ------------------------------------------------------------------ reading a market
@dataclass(frozen=True)
class MarketRead:
    """One market as an agent reads it when due: ``price`` (the price it is shown),
    ``long_size``/``short_size`` (open interest, base units) and ``funding_rate`` (fraction of
    notional per second, + when longs pay)."""

    market: str
    price: Decimal
    long_size: Decimal
    short_size: Decimal
    funding_rate: Decimal

    @property
    def skew_usd(self) -> Decimal:
        """Long minus short open interest at ``price``, USD."""
        return (self.long_size - self.short_size) * self.price

    @property
    def annual_rate(self) -> Decimal:
        """The funding rate a year (365 days), + when longs pay."""
        return self.funding_rate * SECONDS_PER_YEAR


@dataclass(frozen=True)
class _IndexMark:
    time: int
    long_index: int
    short_index: int


class MarketWatch:
    """How an agent reads its markets when it is due (:meth:`read`), and how many reads it made
    (``reads``: two views each, ``marketState`` and ``marketConfig``; the first read of a market
    also asks for its modules once)."""

    def __init__(self) -> None:
        self.reads = 0
        self._module: dict[str, bool] = {}  # market -> has a rates module
        self._marks: dict[str, _IndexMark] = {}

    def read(self, ctx: Context, market: str) -> MarketRead:
        """``market`` now. The funding rate is the stock rule's (``factor x skew / open
        interest``, capped; 0 while a side is empty), computed from the state as the chain
        computes it, unless the market has a rates module: then it is the rate realised since
        this watch's previous read (the growth of the payers' funding index over the time
        between the market's two updates; 0 on the first read)."""
        venue = ctx.venue
        if market not in self._module:
            self._module[market] = venue.market_modules(market).get("rates") is not None
        mid = venue.market_id(market)
        state = venue.clearinghouse.market_state(mid)
        self.reads += 1
        price = ctx.prices[market]
        if self._module[market]:
            rate = self._realised(market, state, price)
        else:
            config = venue.clearinghouse.market_config(mid)
            rate = Decimal(funding_rate(state.long_size, state.short_size, config.funding_factor,
                                        config.max_funding_rate)) / WAD
        return MarketRead(market, price, from_wad(state.long_size), from_wad(state.short_size),
                          rate)

    def _realised(self, market: str, state: Any, price: Decimal) -> Decimal:
        before = self._marks.get(market)
        now = _IndexMark(state.last_update, state.long_funding, state.short_funding)
        self._marks[market] = now
        if before is None or now.time <= before.time or price <= 0:
            return _ZERO
        long_paid = now.long_index - before.long_index
        short_paid = now.short_index - before.short_index
        paid = long_paid if long_paid > 0 else -short_paid if short_paid > 0 else 0
        return Decimal(paid) / WAD / price / (now.time - before.time)


def _sign(x: Decimal) -> int:
    return 1 if x > 0 else -1 if x < 0 else 0


def _check_range(name: str, bounds: Range, low: float = 0.0) -> None:
    lo, hi = bounds
    if lo < low or hi < lo:
        raise ValueError(f"{name}: need {low:g} <= low <= high, got {lo}, {hi}")


def _check_markets(markets: Optional[tuple[str, ...]]) -> None:
    if markets is not None and not markets:
        raise ValueError("markets: name at least one market, or leave it out for every market")


# ------------------------------------------------------------------ agents that watch a market
class WatchingAgent(Agent):
    """What the funding arbitrageur and the market maker share: its capital deposited as cross
    margin in its first block, then a check of its markets every ``check_every`` blocks (the
    first one at a seeded offset, so a cohort does not read the chain in the same block), each
    check reading each market once (:class:`MarketWatch`). Positions are cross margin at a fixed
    leverage (the venue refuses an increase at another leverage)."""

    mode = "cross"

    def __init__(self, name: str, trader: Trader, rng: random.Random, params: Any) -> None:
        super().__init__(name, trader, rng, params)
        self.capital = usd(uniform(rng, params.capital))
        self.watch = MarketWatch()
        self._deposited = False
        self._markets: list[str] = []
        self._offset = rng.randrange(params.check_every)

    def act(self, ctx: Context) -> None:
        if not self._deposited:
            self._deposited = self._send(lambda: self.trader.deposit(self.capital)) is None
            self._markets = list(self.params.markets or ctx.prices)
            return
        for market in self._markets:
            self.check(ctx, market)

    def check(self, ctx: Context, market: str) -> None:
        """The agent's decision in ``market`` at a check."""

    def next_block(self, block: int) -> Optional[int]:
        if not self._deposited:
            return block + 1
        if self._offset:
            block, self._offset = block + self._offset, 0
        return int(block + self.params.check_every)

    def leverage_for(self, ctx: Context, market: str) -> int:
        return max(1, min(ctx.venue.markets[market].max_leverage, int(self.params.leverage)))

    def change(self, ctx: Context, market: str, delta: Decimal) -> bool:
        """Add ``delta`` base units (signed) to the position in ``market``: open or increase on
        its side, decrease (or close, when it is all of it) against it; the book follows."""
        delta = quantize_size(delta)
        holding = self.holdings.get(market)
        if delta == 0:
            return False
        if holding is None:
            return self.open(ctx, market, delta, self.leverage_for(ctx, market), self.mode)
        if _sign(delta) == holding.side:
            ok = self._send(lambda: self.trader.open(market, delta, holding.leverage, self.mode)) is None
            if ok:
                holding.entry = ((holding.entry * holding.size + ctx.prices[market] * delta)
                                 / (holding.size + delta))
                holding.size += delta
            return ok
        if abs(delta) >= abs(holding.size):
            return self.close(market)
        ok = self._send(lambda: self.trader.decrease(market, abs(delta))) is None
        if ok:
            holding.size += delta
        return ok


# ------------------------------------------------------------------ funding arbitrageur
@dataclass(frozen=True)
class FundingArbParams:
    """``capital`` (USD, a range each agent draws from), ``check_every`` (blocks between reads
    of the market), ``hurdle`` (annualised funding rate that opens a trade: 0.10 is 10% a year),
    ``exit`` (annualised rate in its favour below which it closes; < ``hurdle``),
    ``leverage``, ``fraction`` (of capital put up as margin per trade), ``max_hold_blocks``,
    ``hedge`` (trade the same notional on the external market; false: venue leg only) and
    ``markets`` (None: every market)."""

    capital: Range = (100_000.0, 100_000.0)
    check_every: int = 10
    hurdle: float = 0.10
    exit: float = 0.03
    leverage: float = 2.0
    fraction: float = 0.5
    max_hold_blocks: int = 1440
    hedge: bool = True
    markets: Optional[tuple[str, ...]] = None

    def __post_init__(self) -> None:
        _check_range("capital", self.capital)
        if self.check_every < 1:
            raise ValueError(f"check_every: must be at least 1 block, got {self.check_every}")
        if self.hurdle <= 0:
            raise ValueError(f"hurdle: must be > 0 (an annual rate: 0.10 is 10% a year), got "
                             f"{self.hurdle}")
        if self.exit >= self.hurdle:
            raise ValueError(f"exit: must be below hurdle ({self.hurdle}), got {self.exit}")
        if self.leverage < 1:
            raise ValueError(f"leverage: must be at least 1, got {self.leverage}")
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction: must be in (0, 1], got {self.fraction}")
        if self.max_hold_blocks < 1:
            raise ValueError(f"max_hold_blocks: must be at least 1 block, got "
                             f"{self.max_hold_blocks}")
        _check_markets(self.markets)


@dataclass(frozen=True)
class ArbTrade:
    """One entry of the arbitrageur: its venue size (signed), the price it was shown, the skew
    (USD) and annualised rate it read, and the hedge's fill (None: no external market, or
    ``hedge`` off)."""

    block: int
    market: str
    size: Decimal
    price: Decimal
    skew_usd: Decimal
    annual_rate: Decimal
    hedge_usd: Optional[Decimal]
    hedge_price: Optional[Decimal]


class FundingArbitrageur(WatchingAgent):
    """Opens against the skew when funding beats its hurdle, hedged outside; closes both legs
    when the edge is gone (see the module docstring)."""

    Params: ClassVar[type] = FundingArbParams
    kind = "funding_arb"

    def __init__(self, name: str, trader: Trader, rng: random.Random,
                 params: FundingArbParams) -> None:
        super().__init__(name, trader, rng, params)
        self.trades: list[ArbTrade] = []
        self.exits: Counter[str] = Counter()  # why it closed: "edge", "max_hold", "liquidated"

    def check(self, ctx: Context, market: str) -> None:
        params: FundingArbParams = self.params
        read = self.watch.read(ctx, market)
        holding = self.holdings.get(market)
        if holding is None:
            if abs(self.outside_units.get(market, _ZERO) * read.price) >= _DUST_USD:
                self.exits["liquidated"] += 1
                self.unwind(ctx, market)  # the venue leg went without it
            if abs(read.annual_rate) >= Decimal(repr(params.hurdle)):
                self.enter(ctx, read)
            return
        earned = -holding.side * read.annual_rate  # what its side receives, a year
        if ctx.block - holding.opened_at >= params.max_hold_blocks:
            reason = "max_hold"
        elif earned < Decimal(repr(params.exit)):
            reason = "edge"
        else:
            return
        if self.close(market):
            self.exits[reason] += 1
            self.unwind(ctx, market)

    def enter(self, ctx: Context, read: MarketRead) -> None:
        params: FundingArbParams = self.params
        if read.price <= 0:
            return
        side = -_sign(read.funding_rate)  # short when longs pay
        leverage = self.leverage_for(ctx, read.market)
        notional = min(self.capital * Decimal(repr(params.fraction)) * leverage,
                       abs(read.skew_usd)) * Decimal("0.995")
        size = quantize_size(side * notional / read.price)
        if size == 0 or not self.change(ctx, read.market, size):
            return
        hedge = None
        if params.hedge:  # the same notional, the other way, outside
            hedge = self.trade_outside(ctx, read.market, -size * read.price)
        self.trades.append(ArbTrade(ctx.block, read.market, size, read.price, read.skew_usd,
                                    read.annual_rate,
                                    None if hedge is None else hedge.usd,
                                    None if hedge is None else hedge.price))

    def unwind(self, ctx: Context, market: str) -> None:
        """Trade the hedge in ``market`` back to (nearly) nothing: up to four trades at the
        quote, each taking back what the last one's fill price overshot, until under $1 is
        left."""
        for _ in range(4):
            units = self.outside_units.get(market, _ZERO)
            if abs(units * ctx.prices[market]) < _DUST_USD:
                break
            if self.trade_outside(ctx, market, -units * ctx.prices[market]) is None:
                break


# ------------------------------------------------------------------ skew-balancing market maker
@dataclass(frozen=True)
class MarketMakerParams:
    """``capital`` (USD range), ``check_every`` (blocks between reads), ``max_inventory_usd``
    (the most notional it holds after a trade of its own), ``clip_usd`` (the most notional it
    adds or removes at one check), ``leverage``, ``min_skew_usd`` (smaller skews are left
    alone) and ``markets`` (None: every market)."""

    capital: Range = (100_000.0, 100_000.0)
    check_every: int = 5
    max_inventory_usd: float = 100_000.0
    clip_usd: float = 20_000.0
    leverage: float = 3.0
    min_skew_usd: float = 0.0
    markets: Optional[tuple[str, ...]] = None

    def __post_init__(self) -> None:
        _check_range("capital", self.capital)
        if self.check_every < 1:
            raise ValueError(f"check_every: must be at least 1 block, got {self.check_every}")
        if self.max_inventory_usd <= 0:
            raise ValueError(f"max_inventory_usd: must be > 0 USD, got {self.max_inventory_usd}")
        if self.clip_usd <= 0:
            raise ValueError(f"clip_usd: must be > 0 USD, got {self.clip_usd}")
        if self.leverage < 1:
            raise ValueError(f"leverage: must be at least 1, got {self.leverage}")
        if self.min_skew_usd < 0:
            raise ValueError(f"min_skew_usd: must be >= 0 USD, got {self.min_skew_usd}")
        _check_markets(self.markets)


@dataclass(frozen=True)
class MakerTrade:
    """One trade of the market maker: the notional it added (+ long, - short; a trim is
    against its position), the skew it read (USD), and its inventory after (signed USD at the
    price it was shown)."""

    block: int
    market: str
    delta_usd: Decimal
    skew_usd: Decimal
    inventory_usd: Decimal
    trim: bool


class SkewMarketMaker(WatchingAgent):
    """Takes the side that reduces the skew, within its inventory limit (see the module
    docstring)."""

    Params: ClassVar[type] = MarketMakerParams
    kind = "market_maker"

    #: notional below which it does not bother to trade, USD
    MIN_TRADE_USD = Decimal(10)

    def __init__(self, name: str, trader: Trader, rng: random.Random,
                 params: MarketMakerParams) -> None:
        super().__init__(name, trader, rng, params)
        self.trades: list[MakerTrade] = []

    def check(self, ctx: Context, market: str) -> None:
        params: MarketMakerParams = self.params
        read = self.watch.read(ctx, market)
        if read.price <= 0:
            return
        limit = Decimal(repr(params.max_inventory_usd))
        clip = Decimal(repr(params.clip_usd))
        holding: Optional[Holding] = self.holdings.get(market)
        held = holding.size if holding is not None else _ZERO
        inventory = abs(held) * read.price
        skew = read.skew_usd
        wanted = -_sign(skew) if abs(skew) > Decimal(repr(params.min_skew_usd)) else 0
        if held and _sign(held) == _sign(skew):  # the skew flipped to its side: trim
            self._trade(ctx, read, -_sign(held) * min(clip, inventory), trim=True)
        elif inventory > limit:  # the price took it past its limit: back to just under it
            target = _sign(held) * quantize_size(limit * Decimal("0.999") / read.price)
            self._trade(ctx, read, (target - held) * read.price, trim=True)
        elif wanted:
            room = min(clip, limit - inventory, abs(skew))
            self._trade(ctx, read, wanted * room * Decimal("0.999"), trim=False)

    def _trade(self, ctx: Context, read: MarketRead, delta_usd: Decimal, trim: bool) -> None:
        if abs(delta_usd) < self.MIN_TRADE_USD:
            return
        holding = self.holdings.get(read.market)
        held = holding.size if holding is not None else _ZERO
        delta = quantize_size(delta_usd / read.price)
        if trim and abs(delta_usd) >= abs(held) * read.price:
            delta = -held
        if delta and self.change(ctx, read.market, delta):
            left = self.holdings[read.market].size if read.market in self.holdings else _ZERO
            self.trades.append(MakerTrade(ctx.block, read.market, delta * read.price, read.skew_usd,
                                          left * read.price, trim))

    @property
    def peak_inventory_usd(self) -> Decimal:
        """The largest inventory it held after one of its trades, USD."""
        return max((abs(t.inventory_usd) for t in self.trades), default=_ZERO)


# ------------------------------------------------------------------ informed traders
@dataclass(frozen=True)
class InformedParams(TraderParams):
    """:class:`~protocol.agents.traders.TraderParams` and: ``signal_quality`` (0..1, the chance
    that an entry follows the true exogenous move over ``horizon`` blocks), ``horizon`` (blocks
    it looks ahead and holds for) and ``lookback`` (blocks of past return its own rule reads)."""

    signal_quality: float = 0.5
    horizon: int = 30
    lookback: int = 30

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.signal_quality <= 1:
            raise ValueError(f"signal_quality: must be in [0, 1], got {self.signal_quality}")
        if self.horizon < 1:
            raise ValueError(f"horizon: must be at least 1 block, got {self.horizon}")
        if self.lookback < 1:
            raise ValueError(f"lookback: must be at least 1 block, got {self.lookback}")


class InformedTrader(TradingAgent):
    """A trader whose direction comes from :meth:`signal`: the true move with probability
    ``signal_quality``, else :meth:`rule` of the past return. ``signals`` counts the entries by
    source (``informed``, ``rule``, ``coin``)."""

    Params: ClassVar[type] = InformedParams
    kind = "informed"

    def __init__(self, name: str, trader: Trader, rng: random.Random,
                 params: InformedParams) -> None:
        super().__init__(name, trader, rng, params)
        self.signals: Counter[str] = Counter()

    def enter(self, ctx: Context, market: str) -> None:
        leverage = self.leverage(ctx, market)
        margin = usd(self.capital * uniform(self.rng, self.params.fraction))
        self.open_sized(ctx, market, self.signal(ctx, market), margin, leverage)

    def signal(self, ctx: Context, market: str) -> int:
        """+1 long or -1 short for an entry in ``market`` now."""
        params: InformedParams = self.params
        peek = self.rng.random() < params.signal_quality
        coin = 1 if self.rng.random() < 0.5 else -1
        path = ctx.path_at
        if path is None:
            self.signals["coin"] += 1
            return coin
        now = path(ctx.block)[market]
        if peek:
            move = _sign(path(ctx.block + params.horizon)[market] - now)
            if move:
                self.signals["informed"] += 1
                return move
        past = _sign(now - path(ctx.block - params.lookback)[market])
        if past == 0:
            self.signals["coin"] += 1
            return coin
        self.signals["rule"] += 1
        return self.rule(past)

    def rule(self, past_return: int) -> int:
        """The direction its own rule takes from the sign of the past return."""
        return past_return

    def open_sized(self, ctx: Context, market: str, side: int, margin: Decimal, leverage: int) -> bool:
        ok = super().open_sized(ctx, market, side, margin, leverage)
        if ok:
            self._close_at[market] = ctx.block + self.params.horizon
        return ok


class MomentumTrader(InformedTrader):
    """Trades in the direction of the last ``lookback`` blocks' return, or of the future move
    when its signal tells it."""

    kind = "momentum"


class MeanReversionTrader(InformedTrader):
    """Trades against the last ``lookback`` blocks' return, or with the future move when its
    signal tells it."""

    kind = "mean_reversion"

    def rule(self, past_return: int) -> int:
        return -past_return


__all__ = ["ArbTrade", "FundingArbParams", "FundingArbitrageur", "InformedParams",
           "InformedTrader", "MakerTrade", "MarketMakerParams", "MarketRead", "MarketWatch",
           "MeanReversionTrader", "MomentumTrader", "SkewMarketMaker", "WatchingAgent"]
