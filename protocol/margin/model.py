"""Exact reference model of the Clearinghouse: the same state, the same rules, the same rounding.

It is split along the contracts' seams: this core, and one mirror per rule module (``rates``,
``requirements``, ``liquidation``, ``pricing``), which a market's :class:`MarketRules` names (the
stock rules by default, as on chain). It depends on nothing but the standard library. Differential tests apply each operation here and
on chain and require identical state afterwards. Operations raise :class:`ModelRevert` carrying
the custom error name the contract would revert with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.margin import bounds
from protocol.margin import math as m
from protocol.margin.liquidation import SliceInput, StockLiquidation
from protocol.margin.pricing import (ImpactInput, ImpactPricing, ImpactResult, OraclePricing,
                                     PricingRevert)
from protocol.margin.rates import RatesInput, StockRates
from protocol.margin.requirements import StockMargin, Tier, tier_of, tiered_maintenance
from protocol.margin.types import MarginMode

ISOLATED, CROSS = MarginMode.ISOLATED, MarginMode.CROSS
CLOSE_ALL = 2**256 - 1  # Clearinghouse.CLOSE_ALL


class ModelRevert(Exception):
    """The contract would revert with the custom error ``name``."""

    def __init__(self, name: str, *args: object):
        super().__init__(name, *args)
        self.name = name


@dataclass
class MarketParams:
    """``Clearinghouse.MarketConfig``, in the same field order."""

    mmf: int
    funding_factor: int
    max_funding_rate: int
    borrow_rate: int
    max_leverage: int
    taker_fee_bps: int
    liquidation_fee_bps: int
    keeper_share_bps: int
    reserve_factor_bps: int
    partial_liquidation_bps: int
    liquidation_cooldown: int
    min_collateral: int
    max_long_oi: int
    max_short_oi: int
    partial_threshold: int


@dataclass
class MarketState:
    """``Clearinghouse.MarketState``, in the same field order."""

    long_size: int = 0
    short_size: int = 0
    borrow_index: int = 0
    long_funding: int = 0
    short_funding: int = 0
    last_update: int = 0
    long_entry: int = 0
    short_entry: int = 0
    borrow_weight: int = 0


@dataclass
class Position:
    """``Clearinghouse.Position``, in the same field order."""

    size: int = 0
    entry_notional: int = 0
    leverage: int = 0
    mode: int = 0
    funding_index: int = 0
    borrow_index: int = 0
    pending_impact: int = 0  # WAD base units (``IPricingModule``)
    margin: int = 0


@dataclass
class MarketRules:
    """A market's rule modules (Python mirrors of the contracts it names on chain)."""

    rates: StockRates = field(default_factory=StockRates)
    margin: StockMargin = field(default_factory=StockMargin)
    liquidation: StockLiquidation = field(default_factory=StockLiquidation)
    pricing: OraclePricing | ImpactPricing = field(default_factory=OraclePricing)


@dataclass
class Settlement:
    pnl: int = 0
    funding: int = 0
    borrowing: int = 0


@dataclass
class Model:
    """State of one venue. ``prices[market]`` is (price, timestamp); ``now`` is block.timestamp."""

    scale: int
    max_price_age: int  # every market's heartbeat, unless ``heartbeats`` names its own
    close_grace_period: int = 0
    heartbeats: dict[int, int] = field(default_factory=dict)
    params: list[MarketParams] = field(default_factory=list)
    states: list[MarketState] = field(default_factory=list)
    prices: dict[int, tuple[int, int]] = field(default_factory=dict)
    cross_balance: dict[str, int] = field(default_factory=dict)
    cross_markets: dict[str, int] = field(default_factory=dict)
    positions: dict[tuple[str, int], Position] = field(default_factory=dict)
    rules: dict[int, MarketRules] = field(default_factory=dict)  # market -> modules; stock if absent
    impact_pool: dict[int, int] = field(default_factory=dict)  # market -> WAD base units (``ImpactLogic``)
    tiers: dict[int, list[Tier]] = field(default_factory=dict)  # market -> maintenance tiers
    last_partial_liquidation: dict[tuple[str, int], int] = field(default_factory=dict)
    pool_assets: int = 0
    open_entry: int = 0  # entry notional of every position in every market
    insurance_fund: int = 0
    funding_reserve: int = 0
    #: The profit cap and auto-deleveraging thresholds, bps of the pool (``Solvency``).
    max_pnl_factor_traders: int = 9_000
    max_pnl_factor_adl: int = 8_500
    min_pnl_factor_after_adl: int = 7_700
    paused: bool = False
    now: int = 0

    # ------------------------------------------------------------------ helpers
    def position(self, account: str, market: int) -> Position:
        return self.positions.get((account, market), Position())

    def _store(self, account: str, market: int, p: Position) -> None:
        if p == Position():
            self.positions.pop((account, market), None)
        else:
            self.positions[(account, market)] = p

    def fresh_price(self, market: int) -> int:
        price, ts = self.prices.get(market, (0, 0))
        if price == 0:
            raise ModelRevert("NoPrice", market)
        if self.now > ts + self.heartbeats.get(market, self.max_price_age):
            raise ModelRevert("StalePrice", market)
        return price

    def close_price(self, market: int) -> int:
        """The price a decrease uses: fresh, or stale by at most the close grace period."""
        price, ts = self.prices.get(market, (0, 0))
        if price == 0:
            raise ModelRevert("NoPrice", market)
        if self.now > ts + self.heartbeats.get(market, self.max_price_age) + self.close_grace_period:
            raise ModelRevert("StalePrice", market)
        return price

    def latest_price(self, market: int) -> int:
        return self.prices.get(market, (0, 0))[0]

    def _take_from_cross(self, account: str, amount: int) -> None:
        """Debit the cross balance, keeping the transfer rule of any cross positions."""
        balance = self.cross_balance.get(account, 0)
        if balance < amount:
            raise ModelRevert("InsufficientBalance")
        self.cross_balance[account] = balance - amount
        if self.cross_markets.get(account, 0):
            try:
                equity, _, _, transfer = self.cross_health(account)
                if equity < transfer:
                    raise ModelRevert("TransferRuleViolated")
            except ModelRevert:
                self.cross_balance[account] = balance
                raise

    def _check_min_notional(self, c: MarketParams, notional: int) -> None:
        if notional < c.min_collateral * self.scale:
            raise ModelRevert("PositionTooSmall")

    def rules_of(self, market: int) -> MarketRules:
        return self.rules.get(market) or _STOCK

    # ------------------------------------------------------------------ price impact
    def _has_pricing(self, market: int) -> bool:
        return type(self.rules_of(market).pricing) is not OraclePricing

    def _impact_input(self, market: int, p: Position, size_delta: int, price: int) -> ImpactInput:
        """What the pricing module sees (``ImpactLogic._input``)."""
        s = self.states[market]
        return ImpactInput(market, size_delta, price, s.long_size, s.short_size, s.long_entry,
                           s.short_entry, p.size, p.entry_notional, p.pending_impact,
                           self.impact_pool.get(market, 0), self.scale)

    def _ask(self, call, *args):
        """A pricing module's answer; its refusal is the chain's revert."""
        try:
            return call(*args)
        except PricingRevert as exc:
            raise ModelRevert(exc.name, *exc.args[1:]) from None

    def _apply_impact(self, market: int, p: Position, r: ImpactResult) -> tuple[int, int]:
        """``ImpactLogic._apply``: (execution price, tokens paid to the trader)."""
        if r.execution_price == 0:
            raise ModelRevert("ModuleResultOutOfBounds", 3, 0)
        if r.pending_delta:
            pending = p.pending_impact + r.pending_delta
            if not -2**79 <= pending < 2**79:
                raise ModelRevert("SafeCastOverflowedIntDowncast", 80, pending)
            p.pending_impact = pending
        if r.pool_delta:
            self.impact_pool[market] = self.impact_pool.get(market, 0) + r.pool_delta
        return r.execution_price, r.realized

    def _increase_impact(self, market: int, p: Position, size_delta: int, price: int) -> tuple[int, int]:
        """``ImpactLogic.increase`` (the stock rule: the oracle price, nothing paid)."""
        if not self._has_pricing(market):
            return price, 0
        pricing = self.rules_of(market).pricing
        r = self._ask(pricing.increase, self._impact_input(market, p, size_delta, price))
        return self._apply_impact(market, p, r)

    def _quote_decrease(self, market: int, p: Position, size_delta: int, price: int,
                        liquidation: bool) -> ImpactResult:
        pricing = self.rules_of(market).pricing
        r = self._ask(pricing.decrease, self._impact_input(market, p, size_delta, price), liquidation)
        if r.execution_price == 0:
            raise ModelRevert("ModuleResultOutOfBounds", 3, 0)
        return r

    def _decrease_impact(self, market: int, p: Position, size_delta: int, price: int,
                         liquidation: bool = False) -> tuple[int, int]:
        """``Rules.decreaseImpact`` (the stock rule: the oracle price, nothing realised)."""
        if not self._has_pricing(market):
            return price, 0
        return self._apply_impact(market, p, self._quote_decrease(market, p, size_delta, price,
                                                                  liquidation))

    def health_impact(self, market: int, p: Position, price: int) -> int:
        """What ``Health`` counts of the position's impact, WAD, <= 0: the pricing module's term
        (``ImpactLogic.health``) for a position holding pending impact, else nothing."""
        if p.pending_impact == 0 or not self._has_pricing(market):
            return 0
        pricing = self.rules_of(market).pricing
        h = self._ask(pricing.health, self._impact_input(market, p, -p.size, price))
        if h > 0:
            raise ModelRevert("ModuleResultOutOfBounds", 3, h)
        return h

    def quote_fill(self, market: int, size_delta: int, price: int) -> int:
        """``quoteFill``: the execution price an increase would get now."""
        if not self._has_pricing(market):
            return price
        return self._ask(self.rules_of(market).pricing.increase,
                         self._impact_input(market, Position(), size_delta, price)).execution_price

    def requirements(self, market: int, notional: int, leverage: int) -> tuple[int, int]:
        """(initial, maintenance) margin from the market's margin rule (the stock rule applies
        the market's tiers when it has some, as ``Rules.requirements`` does)."""
        margin = self.rules_of(market).margin
        tiers = self.tiers.get(market)
        if tiers and type(margin) is StockMargin:
            return m.initial(notional, leverage), tiered_maintenance(notional, tiers)
        return margin.requirements(market, notional, leverage, self.params[market].mmf)

    def max_leverage(self, market: int, notional: int) -> int:
        """The tier's max leverage for this notional (the market's without tiers)."""
        tiers = self.tiers.get(market)
        return tier_of(tiers, notional)[1] if tiers else self.params[market].max_leverage

    def _known(self, market: int) -> None:
        if market >= len(self.params):
            raise ModelRevert("UnknownMarket", market)

    # ------------------------------------------------------------------ indices
    def indices_now(self, market: int, price: int) -> tuple[int, int, int]:
        s, c = self.states[market], self.params[market]
        long_idx, short_idx, borrow_idx = s.long_funding, s.short_funding, s.borrow_index
        elapsed = self.now - s.last_update
        if elapsed == 0:
            return long_idx, short_idx, borrow_idx
        rate, borrow_rate = self.rules_of(market).rates.rates(RatesInput(
            market, s.long_size, s.short_size, s.long_entry, s.short_entry, price,
            self.pool_assets * self.scale, c.funding_factor, c.max_funding_rate, c.borrow_rate))
        borrow_idx += m.borrow_index_growth(borrow_rate, elapsed)
        if rate != 0:
            payer_delta = m.mul_div(price * elapsed, abs(rate), m.WAD, up=True)
            payer, receiver = (s.long_size, s.short_size) if rate > 0 else (s.short_size, s.long_size)
            receiver_delta = m.mul_div(payer_delta, payer, receiver)
            if rate > 0:
                long_idx += payer_delta
                short_idx -= receiver_delta
            else:
                short_idx += payer_delta
                long_idx -= receiver_delta
        return long_idx, short_idx, borrow_idx

    def accrue(self, market: int, price: int) -> MarketState:
        s = self.states[market]
        if s.last_update == self.now:
            return s
        s.long_funding, s.short_funding, s.borrow_index = self.indices_now(market, price)
        s.last_update = self.now
        return s

    @staticmethod
    def pending(p: Position, long_idx: int, short_idx: int, borrow_idx: int) -> tuple[int, int]:
        if p.size == 0:
            return 0, 0
        side_idx = long_idx if p.size > 0 else short_idx
        return (m.funding(abs(p.size), side_idx, p.funding_index),
                m.borrowing(p.entry_notional, borrow_idx, p.borrow_index))

    def _settle_indices(self, s: MarketState, p: Position, is_long: bool) -> Settlement:
        st = Settlement()
        if p.size != 0:
            f, b = self.pending(p, s.long_funding, s.short_funding, s.borrow_index)
            st.funding = m.charge_tokens(f, self.scale)
            st.borrowing = m.charge_tokens(b, self.scale)
            s.borrow_weight += p.entry_notional * (s.borrow_index - p.borrow_index)
        p.borrow_index = s.borrow_index
        p.funding_index = s.long_funding if is_long else s.short_funding
        return st

    @staticmethod
    def _remove(s: MarketState, p: Position) -> None:
        if p.size > 0:
            s.long_size -= p.size
            s.long_entry -= p.entry_notional
        elif p.size < 0:
            s.short_size += p.size
            s.short_entry -= p.entry_notional
        if p.size != 0:
            s.borrow_weight -= p.entry_notional * p.borrow_index

    @staticmethod
    def _add(s: MarketState, p: Position) -> None:
        if p.size > 0:
            s.long_size += p.size
            s.long_entry += p.entry_notional
        elif p.size < 0:
            s.short_size -= p.size
            s.short_entry += p.entry_notional
        if p.size != 0:
            s.borrow_weight += p.entry_notional * p.borrow_index

    @staticmethod
    def _closing_pnl(p: Position, close_abs: int, price: int) -> int:
        """What closing ``close_abs`` realises, before the cap (``Markets.closingPnl``)."""
        is_long = p.size > 0
        closed_entry = m.closed_entry(p.entry_notional, close_abs, abs(p.size), is_long)
        return m.pnl(close_abs if is_long else -close_abs, closed_entry, price)

    def _reduce(self, s: MarketState, p: Position, close_abs: int) -> int:
        """Close ``close_abs`` of a position; returns the size change (``Markets.reduce``)."""
        size_abs, entry, is_long = abs(p.size), p.entry_notional, p.size > 0
        closed_entry = m.closed_entry(entry, close_abs, size_abs, is_long)
        size_delta = -close_abs if is_long else close_abs
        self._remove(s, p)
        p.size += size_delta
        p.entry_notional = entry - closed_entry
        self._add(s, p)
        self.open_entry -= closed_entry
        return size_delta

    # ------------------------------------------------------------------ solvency
    def pending_profit(self) -> tuple[int, int]:
        """(profit, loss), WAD: each market side's net PnL at its last price, summed where
        positive and where negative (``Solvency.pendingProfit``)."""
        profit = loss = 0
        for market, s in enumerate(self.states):
            if s.long_size == 0 and s.short_size == 0:
                continue
            price = self.latest_price(market)
            for side in (m.notional_up(s.long_size, price) - s.long_entry,
                         s.short_entry - m.notional_down(s.short_size, price)):
                if side > 0:
                    profit += side
                else:
                    loss -= side
        return profit, loss

    def _pool_wad(self) -> int:
        return self.pool_assets * self.scale if self.pool_assets > 0 else 0

    def profit_cap(self, profit: int) -> int:
        if self.max_pnl_factor_traders == 0:
            return profit
        return self._pool_wad() * self.max_pnl_factor_traders // m.BPS

    def pnl_factor(self) -> int:
        """Pending profit / pool assets, WAD (``Solvency.pnlFactor``)."""
        profit, _ = self.pending_profit()
        pool = self._pool_wad()
        if pool == 0:
            return 0 if profit == 0 else 2**256 - 1
        return profit * m.WAD // pool

    def capped(self, realized: int) -> int:
        """Tokens credited for ``realized`` WAD of PnL under the profit cap (``Solvency.capped``)."""
        if realized <= 0 or self.max_pnl_factor_traders == 0:
            return m.credit_tokens(realized, self.scale)
        profit = max(self.pending_profit()[0], realized)
        cap = self.profit_cap(profit)
        if profit <= cap:
            return m.credit_tokens(realized, self.scale)
        return m.credit_tokens(realized * cap // profit, self.scale)

    def set_pnl_factors(self, max_traders: int, max_adl: int, min_after_adl: int) -> None:
        for name, value in (("max_pnl_factor_traders", max_traders), ("max_pnl_factor_adl", max_adl),
                            ("min_pnl_factor_after_adl", min_after_adl)):
            limit = bounds.bound(name)
            if not limit.raw_contains(value):
                raise ModelRevert(limit.error, limit.param)
        if min_after_adl >= max_adl:
            relation = bounds.RELATION_BY_FIELD["min_pnl_factor_after_adl"]
            raise ModelRevert(relation.error, relation.param)
        self.max_pnl_factor_traders, self.max_pnl_factor_adl = max_traders, max_adl
        self.min_pnl_factor_after_adl = min_after_adl

    def adl_score(self, account: str, market: int, price: int) -> int:
        """A position's auto-deleveraging rank, WAD (``TradeLogic.adlScore``)."""
        p = self.position(account, market)
        if p.mode == ISOLATED:
            equity = self._isolated(market, p, price)[0]
        else:
            equity = self.cross_health(account)[0]
        if equity <= 0:
            return 2**256 - 1
        if p.size < 0:
            return p.entry_notional * m.WAD // equity
        notional = m.notional_up(p.size, price)
        return notional * m.WAD // p.entry_notional * notional // equity

    # ------------------------------------------------------------------ health
    def isolated_health(self, market: int, p: Position, price: int) -> tuple[int, int]:
        equity, mm, _, _ = self._isolated(market, p, price)
        return equity, mm

    def _isolated(self, market: int, p: Position, price: int) -> tuple[int, int, int, int]:
        """(equity, maintenance, initial, notional) of an isolated position (``Health.isolated``)."""
        long_idx, short_idx, borrow_idx = self.indices_now(market, price)
        f, b = self.pending(p, long_idx, short_idx, borrow_idx)
        equity = (p.margin * self.scale + m.pnl(p.size, p.entry_notional, price) - f - b
                  + self.health_impact(market, p, price))
        notional = m.notional_up(abs(p.size), price)
        im, mm = self.requirements(market, notional, p.leverage)
        return equity, mm, im, notional

    def cross_health(self, account: str) -> tuple[int, int, int, int]:
        equity = self.cross_balance.get(account, 0) * self.scale
        mm = im = transfer = 0
        mask = self.cross_markets.get(account, 0)
        market = 0
        while mask:
            if mask & 1:
                p = self.position(account, market)
                price = self.fresh_price(market)
                f, b = self.pending(p, *self.indices_now(market, price))
                equity += (m.pnl(p.size, p.entry_notional, price) - f - b
                           + self.health_impact(market, p, price))
                notional = m.notional_up(abs(p.size), price)
                position_im, position_mm = self.requirements(market, notional, p.leverage)
                mm += position_mm
                im += position_im
                transfer += m.transfer_requirement(notional, position_im)
            mask >>= 1
            market += 1
        return equity, mm, im, transfer

    def valuation_price(self, market: int) -> tuple[int, bool]:
        """(latest price, fresh?) (``PriceOracle.valuationPrice``)."""
        price, ts = self.prices.get(market, (0, 0))
        if price == 0:
            raise ModelRevert("NoPrice", market)
        return price, self.now <= ts + self.heartbeats.get(market, self.max_price_age)

    def cross_for_liquidation(self, account: str) -> tuple[int, int, int, int, int]:
        """(equity, maintenance, fresh mask, largest fresh market, its notional) of a cross
        account as a liquidation values it: a stale market's position counts its loss and none
        of its profit at the last price (``Health.crossForLiquidation``)."""
        equity = self.cross_balance.get(account, 0) * self.scale
        mm = fresh_mask = largest = largest_notional = 0
        mask = self.cross_markets.get(account, 0)
        market = 0
        while mask:
            if mask & 1:
                p = self.position(account, market)
                price, fresh = self.valuation_price(market)
                f, b = self.pending(p, *self.indices_now(market, price))
                value = (m.pnl(p.size, p.entry_notional, price) - f - b
                         + self.health_impact(market, p, price))
                notional = m.notional_up(abs(p.size), price)
                if fresh:
                    fresh_mask |= 1 << market
                    if notional > largest_notional:
                        largest, largest_notional = market, notional
                else:
                    value = min(value, 0)
                equity += value
                mm += self.requirements(market, notional, p.leverage)[1]
            mask >>= 1
            market += 1
        return equity, mm, fresh_mask, largest, largest_notional

    def is_liquidatable(self, account: str, market: int) -> bool:
        p = self.position(account, market)
        if p.size == 0 or p.mode != ISOLATED:
            return False
        equity, mm = self.isolated_health(market, p, self.fresh_price(market))
        return equity < mm

    def is_account_liquidatable(self, account: str) -> bool:
        if not self.cross_markets.get(account, 0):
            return False
        equity, mm, fresh_mask, _, _ = self.cross_for_liquidation(account)
        return fresh_mask != 0 and equity < mm

    # ------------------------------------------------------------------ buckets
    def _reserve(self, c: MarketParams) -> int:
        return 0 if self.pool_assets <= 0 else self.pool_assets * self.scale * c.reserve_factor_bps // m.BPS

    def _pay_pool(self, st: Settlement, fee: int) -> None:
        assets = self.pool_assets - st.pnl + st.borrowing + fee
        if st.pnl > 0 and assets < 0:
            raise ModelRevert("PoolInsolvent")
        self.pool_assets = assets
        self.funding_reserve += st.funding

    def _pay_penalty(self, keeper: str, penalty: int, reward: int) -> None:
        if penalty == 0:
            return
        if reward:
            self.cross_balance[keeper] = self.cross_balance.get(keeper, 0) + reward
        self.insurance_fund += penalty - reward

    def _cover_bad_debt(self, amount: int) -> tuple[int, int]:
        from_insurance = min(self.insurance_fund, amount) if self.insurance_fund > 0 else 0
        self.insurance_fund -= from_insurance
        self.pool_assets -= amount - from_insurance
        return from_insurance, amount - from_insurance

    def pool_value(self) -> int:
        """Assets + pending borrowing - trader PnL, their profit counted up to the cap."""
        pending_borrow = 0
        for market, s in enumerate(self.states):
            price = self.latest_price(market)
            _, _, borrow_idx = self.indices_now(market, price)
            pending_borrow += m.pending_borrowing(s.long_entry + s.short_entry, borrow_idx, s.borrow_weight)
        profit, loss = self.pending_profit()
        profit = min(profit, self.profit_cap(profit))
        return self.pool_assets + m.credit_tokens(pending_borrow + loss - profit, self.scale)

    # ------------------------------------------------------------------ operations
    def deposit(self, account: str, amount: int) -> None:
        if amount == 0:
            raise ModelRevert("ZeroAmount")
        self.cross_balance[account] = self.cross_balance.get(account, 0) + amount

    def withdraw(self, account: str, amount: int) -> None:
        if amount == 0:
            raise ModelRevert("ZeroAmount")
        if self.pool_assets < 0:
            raise ModelRevert("PoolInsolvent")
        self._take_from_cross(account, amount)

    def increase(self, account: str, market: int, size_delta: int, leverage: int, mode: int,
                 margin: int) -> None:
        """Mirror of ``increasePosition``; state is only changed if it would succeed."""
        self._atomic(self._increase, account, market, size_delta, leverage, mode, margin)

    def _increase(self, account, market, size_delta, leverage, mode, margin) -> None:
        self._known(market)
        if self.paused:
            raise ModelRevert("TradingPaused")
        if size_delta == 0:
            raise ModelRevert("ZeroSize")
        if mode not in (ISOLATED, CROSS):
            raise ModelRevert("InvalidMode")
        c = self.params[market]
        if leverage == 0 or leverage > c.max_leverage:
            raise ModelRevert("InvalidLeverage")
        price = self.fresh_price(market)
        s = self.accrue(market, price)
        p = self.position(account, market)
        # everything at the oracle price; a pricing module holds the impact as pending impact
        _, realized = self._increase_impact(market, p, size_delta, price)
        size = p.size
        if size != 0:
            if p.mode != mode:
                raise ModelRevert("ModeMismatch")
            if (size > 0) != (size_delta > 0):
                raise ModelRevert("DirectionMismatch")
            if p.leverage != leverage:
                raise ModelRevert("LeverageMismatch")
        else:
            p.mode = mode
            if mode == CROSS:
                self.cross_markets[account] = self.cross_markets.get(account, 0) | (1 << market)
        is_long = size_delta > 0
        delta_abs = abs(size_delta)
        fee = m.fee_tokens(m.notional_up(delta_abs, price), c.taker_fee_bps, self.scale)
        st = self._settle_indices(s, p, is_long)
        st.pnl = realized
        trader_delta = realized - st.funding - st.borrowing - fee
        self._remove(s, p)
        p.size = size + size_delta
        added_entry = m.entry_notional(is_long, delta_abs, price)
        p.entry_notional += added_entry
        p.leverage = leverage
        self._add(s, p)
        oi = m.notional_up(s.long_size if is_long else s.short_size, price)
        reserve = self._reserve(c)
        cap = min(c.max_long_oi if is_long else c.max_short_oi, reserve)
        if oi > cap:
            raise ModelRevert("OpenInterestCap")
        open_entry = self.open_entry + added_entry
        if open_entry > reserve:
            raise ModelRevert("OpenInterestCap")
        notional = m.notional_up(abs(p.size), price)
        self._check_min_notional(c, notional)
        if leverage > self.max_leverage(market, notional):
            raise ModelRevert("InvalidLeverage")
        self._store(account, market, p)
        if mode == ISOLATED:
            if margin > 0:
                self._take_from_cross(account, margin)
            new_margin = p.margin + margin + trader_delta
            if new_margin < 0:
                raise ModelRevert("InsufficientMargin")
            p.margin = new_margin
            if new_margin < c.min_collateral:
                raise ModelRevert("BelowMinCollateral")
            equity = (new_margin * self.scale + m.pnl(p.size, p.entry_notional, price)
                      + self.health_impact(market, p, price))
            required, maintenance = self.requirements(market, notional, leverage)
            if equity + fee * self.scale < required:
                raise ModelRevert("MarginBelowInitial")
            if equity < maintenance:
                raise ModelRevert("MarginBelowMaintenance")
        else:
            self.cross_balance[account] = self.cross_balance.get(account, 0) + trader_delta
            equity, _, im, _ = self.cross_health(account)
            if equity < im:
                raise ModelRevert("InsufficientFreeCollateral")
        self._pay_pool(st, fee)
        self.open_entry = open_entry

    def decrease(self, account: str, market: int, size_abs: int) -> None:
        self._atomic(self._decrease, account, market, size_abs)

    def _decrease(self, account: str, market: int, size_abs: int) -> None:
        p = self.position(account, market)
        size_abs = self._check_size(p, size_abs)
        price = self.close_price(market)
        c = self.params[market]
        self.accrue(market, price)
        fee = m.fee_tokens(m.notional_up(size_abs, price), c.taker_fee_bps, self.scale)
        self._close(account, market, p, size_abs, price, fee)

    def _close(self, account: str, market: int, p: Position, size_abs: int, price: int,
               fee: int) -> Settlement:
        """Close ``size_abs`` of an accrued market's position at ``price`` (``TradeLogic._close``)."""
        current = abs(p.size)
        if size_abs != current:
            self._check_min_notional(self.params[market], m.notional_up(current - size_abs, price))
        s = self.states[market]
        st = self._settle_indices(s, p, p.size > 0)
        st.pnl = self.capped(self._closing_pnl(p, size_abs, price))
        st.pnl += self._decrease_impact(market, p, -size_abs if p.size > 0 else size_abs, price)[1]
        self._reduce(s, p, size_abs)
        trader_delta = st.pnl - st.funding - st.borrowing - fee
        closed = size_abs == current
        if p.mode == ISOLATED:
            new_margin = p.margin + trader_delta
            if closed:
                p.margin = 0
                if new_margin >= 0:
                    self.cross_balance[account] = self.cross_balance.get(account, 0) + new_margin
                else:
                    self._cover_bad_debt(-new_margin)
            else:
                if new_margin < 0:
                    raise ModelRevert("InsufficientMargin")
                p.margin = new_margin
        else:
            balance = self.cross_balance.get(account, 0) + trader_delta
            if closed:
                self.cross_markets[account] = self.cross_markets.get(account, 0) & ~(1 << market)
            if balance < 0 and self.cross_markets.get(account, 0) == 0:
                self.cross_balance[account] = 0
                self._cover_bad_debt(-balance)
            else:
                self.cross_balance[account] = balance
        self._store(account, market, Position() if closed else p)
        self._pay_pool(st, fee)
        return st

    def auto_deleverage(self, account: str, market: int, size_abs: int) -> dict:
        """Mirror of ``autoDeleverage``; state is only changed if it would succeed."""
        return self._atomic(self._auto_deleverage, account, market, size_abs)

    def _auto_deleverage(self, account: str, market: int, size_abs: int) -> dict:
        p = self.position(account, market)
        size_abs = self._check_size(p, size_abs)
        price = self.fresh_price(market)
        before = self.pnl_factor()
        trigger = self.max_pnl_factor_adl * m.WAD // m.BPS
        if before <= trigger:
            raise ModelRevert("AdlNotRequired", before, trigger)
        if m.pnl(p.size, p.entry_notional, price) <= 0:
            raise ModelRevert("AdlNotProfitable")
        score = self.adl_score(account, market, price)
        self.accrue(market, price)
        st = self._close(account, market, p, size_abs, price, 0)
        after = self.pnl_factor()
        if after >= before:
            raise ModelRevert("AdlFactorNotLowered", before, after)
        floor = self.min_pnl_factor_after_adl * m.WAD // m.BPS
        if after < floor:
            raise ModelRevert("AdlOvershoot", after, floor)
        return {"score": score, "before": before, "after": after, "pnl": st.pnl, "closed": size_abs}

    @staticmethod
    def _check_size(p: Position, size_abs: int) -> int:
        if size_abs == 0:
            raise ModelRevert("ZeroSize")
        if p.size == 0:
            raise ModelRevert("NoPosition")
        if size_abs == CLOSE_ALL:
            return abs(p.size)
        if size_abs > abs(p.size):
            raise ModelRevert("SizeExceedsPosition")
        return size_abs

    def add_margin(self, account: str, market: int, amount: int) -> None:
        if amount == 0:
            raise ModelRevert("ZeroAmount")
        p = self.position(account, market)
        if p.size == 0:
            raise ModelRevert("NoPosition")
        if p.mode != ISOLATED:
            raise ModelRevert("NotIsolated")
        self._take_from_cross(account, amount)
        p.margin += amount

    def update_leverage(self, account: str, market: int, leverage: int) -> None:
        """``updateLeverage``: the position's initial margin at the new leverage must be covered."""
        self._known(market)
        p = self.position(account, market)
        if p.size == 0:
            raise ModelRevert("NoPosition")
        if leverage == 0 or leverage > self.params[market].max_leverage:
            raise ModelRevert("InvalidLeverage")
        if market in self.tiers and leverage > self.max_leverage(
                market, m.notional_up(abs(p.size), self.fresh_price(market))):
            raise ModelRevert("InvalidLeverage")
        old, p.leverage = p.leverage, leverage
        if p.mode == ISOLATED:
            equity, _, im, _ = self._isolated(market, p, self.fresh_price(market))
            failure = "MarginBelowInitial"
        else:
            equity, _, im, _ = self.cross_health(account)
            failure = "InsufficientFreeCollateral"
        if equity < im:
            p.leverage = old
            raise ModelRevert(failure)

    def remove_margin(self, account: str, market: int, amount: int) -> None:
        if amount == 0:
            raise ModelRevert("ZeroAmount")
        p = self.position(account, market)
        if p.size == 0:
            raise ModelRevert("NoPosition")
        if p.mode != ISOLATED:
            raise ModelRevert("NotIsolated")
        price = self.fresh_price(market)
        if amount > p.margin:
            raise ModelRevert("InsufficientMargin")
        c = self.params[market]
        if p.margin - amount < c.min_collateral:
            raise ModelRevert("BelowMinCollateral")
        p.margin -= amount
        equity, _, im, notional = self._isolated(market, p, price)
        required = m.transfer_requirement(notional, im)
        if equity < required:
            p.margin += amount
            raise ModelRevert("TransferRuleViolated")
        self.cross_balance[account] = self.cross_balance.get(account, 0) + amount

    def liquidate_position(self, keeper: str, account: str, market: int) -> dict:
        """Mirror of ``liquidatePosition``; state is only changed if it would succeed."""
        return self._atomic(self._liquidate_position, keeper, account, market)

    def _liquidate_position(self, keeper: str, account: str, market: int) -> dict:
        p = self.position(account, market)
        if p.size == 0:
            raise ModelRevert("NoPosition")
        if p.mode != ISOLATED:
            raise ModelRevert("NotIsolated")
        price = self.fresh_price(market)
        c = self.params[market]
        equity, mm, _, notional = self._isolated(market, p, price)
        if equity >= mm:
            raise ModelRevert("PositionHealthy")
        size_abs = abs(p.size)
        close_abs = size_abs
        rules = self.rules_of(market).liquidation
        part = rules.slice(SliceInput(market, size_abs, notional, equity, mm, c.partial_threshold,
                                      c.partial_liquidation_bps))
        # Decided before anything changes, so a target skipped here leaves no trace.
        if 0 < part < size_abs and self._slice_leaves_margin(market, p, p.margin, part, price):
            self._check_cooldown(account, market)
            close_abs = part
        s = self.accrue(market, price)
        st = self._settle_indices(s, p, p.size > 0)
        st.pnl = self.capped(self._closing_pnl(p, close_abs, price))
        st.pnl += self._decrease_impact(market, p, -close_abs if p.size > 0 else close_abs, price,
                                        liquidation=True)[1]
        self._reduce(s, p, close_abs)
        remaining = p.margin + st.pnl - st.funding - st.borrowing
        max_penalty = m.fee_tokens(m.notional_up(close_abs, price), c.liquidation_fee_bps, self.scale)
        penalty, reward = rules.penalty(market, remaining, max_penalty, c.keeper_share_bps)
        remaining -= penalty
        bad_debt = 0
        if close_abs == size_abs:
            self._store(account, market, Position())
            if remaining > 0:
                self.cross_balance[account] = self.cross_balance.get(account, 0) + remaining
            elif remaining < 0:
                bad_debt = -remaining
        else:
            p.margin = remaining
            self.last_partial_liquidation[account, market] = self.now
        self._pay_pool(st, 0)
        self._pay_penalty(keeper, penalty, reward)
        if bad_debt:
            self._cover_bad_debt(bad_debt)
        return {"penalty": penalty, "reward": reward, "bad_debt": bad_debt, "closed": close_abs}

    def _slice_leaves_margin(self, market: int, p: Position, margin: int, part: int, price: int) -> bool:
        """Whether ``margin`` (tokens) stays positive after a slice's PnL, the position's pending
        charges and the slice's fee (``LiquidationLogic._sliceLeavesMargin``)."""
        is_long = p.size > 0
        f, b = self.pending(p, *self.indices_now(market, price))
        part_pnl = self.capped(self._closing_pnl(p, part, price))
        if self._has_pricing(market):
            part_pnl += self._quote_decrease(market, p, -part if is_long else part, price,
                                             liquidation=True).realized
        left = (margin + part_pnl - m.charge_tokens(f, self.scale) - m.charge_tokens(b, self.scale)
                - m.fee_tokens(m.notional_up(part, price), self.params[market].liquidation_fee_bps,
                               self.scale))
        return left > 0

    def _check_cooldown(self, account: str, market: int) -> None:
        last = self.last_partial_liquidation.get((account, market), 0)
        if last != 0 and self.now < last + self.params[market].liquidation_cooldown:
            raise ModelRevert("LiquidationCooldown", market, last + self.params[market].liquidation_cooldown)

    def _cross_slice(self, keeper: str, account: str, market: int, notional: int, equity: int,
                     mm: int) -> dict | None:
        """A slice of a large cross account's largest position, or None when the whole account
        goes (``LiquidationLogic._crossSlice``)."""
        p = self.position(account, market)
        c = self.params[market]
        size_abs = abs(p.size)
        rules = self.rules_of(market).liquidation
        part = rules.slice(SliceInput(market, size_abs, notional, equity, mm, c.partial_threshold,
                                      c.partial_liquidation_bps))
        if not 0 < part < size_abs:
            return None
        price = self.fresh_price(market)
        balance = self.cross_balance.get(account, 0)
        if not self._slice_leaves_margin(market, p, balance, part, price):
            return None
        self._check_cooldown(account, market)
        s = self.accrue(market, price)
        st = self._settle_indices(s, p, p.size > 0)
        st.pnl = self.capped(self._closing_pnl(p, part, price))
        st.pnl += self._decrease_impact(market, p, -part if p.size > 0 else part, price,
                                        liquidation=True)[1]
        self._reduce(s, p, part)
        balance += st.pnl - st.funding - st.borrowing
        max_penalty = m.fee_tokens(m.notional_up(part, price), c.liquidation_fee_bps, self.scale)
        penalty, reward = rules.penalty(market, balance, max_penalty, c.keeper_share_bps)
        balance -= penalty
        if balance <= 0:
            raise ModelRevert("InsufficientMargin", balance)
        self.cross_balance[account] = balance
        self.last_partial_liquidation[account, market] = self.now
        self._pay_pool(st, 0)
        self._pay_penalty(keeper, penalty, reward)
        return {"penalty": penalty, "reward": reward, "bad_debt": 0, "positions": 0,
                "market": market, "closed": part}

    def liquidate_account(self, keeper: str, account: str) -> dict:
        """Mirror of ``liquidateAccount``; state is only changed if it would succeed."""
        return self._atomic(self._liquidate_account, keeper, account)

    def _liquidate_account(self, keeper: str, account: str) -> dict:
        mask = self.cross_markets.get(account, 0)
        if mask == 0:
            raise ModelRevert("NoPosition")
        equity, mm, fresh_mask, largest, notional = self.cross_for_liquidation(account)
        if equity >= mm:
            raise ModelRevert("AccountHealthy")
        if fresh_mask == 0:
            self.fresh_price((mask & -mask).bit_length() - 1)  # raises StalePrice
        sliced = self._cross_slice(keeper, account, largest, notional, equity, mm)
        if sliced is not None:
            return sliced
        balance = self.cross_balance.get(account, 0)
        self.cross_markets[account] = mask & ~fresh_mask  # stale markets' positions stay open
        mask = fresh_mask
        fees: dict[int, int] = {}
        count = 0
        market = 0
        while mask:
            if mask & 1:
                price = self.fresh_price(market)
                s = self.accrue(market, price)
                p = self.position(account, market)
                size_abs = abs(p.size)
                st = self._settle_indices(s, p, p.size > 0)
                st.pnl = self.capped(self._closing_pnl(p, size_abs, price))
                st.pnl += self._decrease_impact(market, p, -p.size, price, liquidation=True)[1]
                self._reduce(s, p, size_abs)
                balance += st.pnl - st.funding - st.borrowing
                fees[market] = m.fee_tokens(m.notional_up(size_abs, price),
                                            self.params[market].liquidation_fee_bps, self.scale)
                self._pay_pool(st, 0)
                self._store(account, market, Position())
                count += 1
            mask >>= 1
            market += 1
        penalty, reward = self._cross_penalty(fees, balance)
        balance -= penalty
        bad_debt = 0
        if balance < 0:
            bad_debt, balance = -balance, 0
        self.cross_balance[account] = balance
        self._pay_penalty(keeper, penalty, reward)
        if bad_debt:
            self._cover_bad_debt(bad_debt)
        return {"penalty": penalty, "reward": reward, "bad_debt": bad_debt, "positions": count}

    def _cross_penalty(self, fees: dict[int, int], balance: int) -> tuple[int, int]:
        """(penalty, reward) of a cross liquidation: what the account can pay of its markets'
        fees, split in proportion to them (the last market takes the rounding), each part
        through its market's liquidation rule."""
        total = sum(fees.values())
        payable = min(balance, total) if balance > 0 else 0
        penalty = reward = allocated = 0
        if payable == 0:
            return 0, 0
        markets = sorted(fees)
        for market in markets:
            part = payable - allocated if market == markets[-1] else payable * fees[market] // total
            allocated += part
            taken, keeper = self.rules_of(market).liquidation.penalty(
                market, part, fees[market], self.params[market].keeper_share_bps)
            penalty += taken
            reward += keeper
        return penalty, reward

    def update_funding(self, market: int) -> None:
        self._known(market)
        self.accrue(market, self.latest_price(market))

    # ------------------------------------------------------------------ snapshots
    def _atomic(self, action, *args):
        """Run ``action``; if it raises ``ModelRevert``, undo what it changed, as a revert does."""
        snapshot = self._snapshot()
        try:
            return action(*args)
        except ModelRevert:
            self._restore(snapshot)
            raise

    def _snapshot(self):
        import copy

        return copy.deepcopy((self.states, self.cross_balance, self.cross_markets,
                              self.positions, self.pool_assets, self.insurance_fund,
                              self.funding_reserve, self.open_entry, self.impact_pool))

    def _restore(self, snap) -> None:
        (self.states, self.cross_balance, self.cross_markets, self.positions,
         self.pool_assets, self.insurance_fund, self.funding_reserve, self.open_entry,
         self.impact_pool) = snap


_STOCK = MarketRules()
