"""Exact reference model of the Clearinghouse: the same state, the same rules, the same rounding.

It is split along the contracts' seams: this core, and one mirror per rule module (``rates``,
``requirements``, ``liquidation``, ``pricing``), which a market's :class:`MarketRules` names (the
stock rules by default, as on chain). It depends on nothing but the standard library. Differential tests apply each operation here and
on chain and require identical state afterwards. Operations raise :class:`ModelRevert` carrying
the custom error name the contract would revert with.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Optional

from protocol.exceptions import PerpsimError
from protocol.margin import bounds
from protocol.margin import math as m
from protocol.margin.liquidation import SliceInput, StockLiquidation
from protocol.margin.pricing import ImpactInput, ImpactPricing, ImpactResult, OraclePricing, PricingRevert
from protocol.margin.rates import RatesInput, StockRates, applied_funding, refused_value
from protocol.margin.requirements import StockMargin, Tier, tier_of, tiered_maintenance
from protocol.margin.types import MarginMode, ModuleKind

ISOLATED, CROSS = MarginMode.ISOLATED, MarginMode.CROSS
CLOSE_ALL = 2**256 - 1  # Clearinghouse.CLOSE_ALL
CROSS_ACCOUNT = 2**256 - 1  # Clearinghouse.CROSS_ACCOUNT: a liquidation target's cross account


class ModelRevert(PerpsimError):
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
    open_buffer_bps: int = 10


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
    held: int = 0  # of the price impact paid in ``pnl``, the tokens held for the trader


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
    #: account -> collateral tokens of negative impact held for it (``heldImpact``)
    held_impact: dict[str, int] = field(default_factory=dict)
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
    #: What the current profit-cap episode holds back from the cap, WAD (``profitHeld``).
    profit_held: int = 0
    #: Registered accounts in registration order (``Clearinghouse.accounts``): the ADL rank scan.
    accounts: list[str] = field(default_factory=list)
    #: Holders of ``ADL_KEEPER_ROLE``: checked when ``auto_deleverage`` is given its keeper.
    adl_keepers: set[str] = field(default_factory=set)
    paused: bool = False
    now: int = 0
    #: Pending market orders (SPEC §10, ``Clearinghouse.orderLock``): account -> (order id,
    #: market, expires at). Until then the account's own withdrawals, margin moves, leverage
    #: changes and direct trades are refused (the order book's fills are not the account's).
    order_locks: dict[str, tuple[int, int, int]] = field(default_factory=dict)

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

    def _apply_impact(self, account: str, market: int, p: Position, r: ImpactResult) -> tuple[int, int]:
        """``ImpactLogic._apply``: (execution price, tokens paid to the trader)."""
        if r.execution_price == 0:
            raise ModelRevert("ModuleResultOutOfBounds", 3, 0)
        if r.held:
            if r.realized >= 0 or r.held > -r.realized:
                raise ModelRevert("ModuleResultOutOfBounds", 3, r.held % 2**256)
            self.held_impact[account] = self.held_impact.get(account, 0) + r.held
        if r.pending_delta:
            pending = p.pending_impact + r.pending_delta
            if not -2**79 <= pending < 2**79:
                raise ModelRevert("SafeCastOverflowedIntDowncast", 80, pending)
            p.pending_impact = pending
        if r.pool_delta:
            self.impact_pool[market] = self.impact_pool.get(market, 0) + r.pool_delta
        return r.execution_price, r.realized

    def _increase_impact(self, account: str, market: int, p: Position, size_delta: int,
                         price: int) -> tuple[int, int]:
        """``ImpactLogic.increase`` (the stock rule: the oracle price, nothing paid)."""
        if not self._has_pricing(market):
            return price, 0
        pricing = self.rules_of(market).pricing
        r = self._ask(pricing.increase, self._impact_input(market, p, size_delta, price))
        if r.held:
            raise ModelRevert("ModuleResultOutOfBounds", 3, r.held % 2**256)
        return self._apply_impact(account, market, p, r)

    def _quote_decrease(self, market: int, p: Position, size_delta: int, price: int,
                        liquidation: bool) -> ImpactResult:
        pricing = self.rules_of(market).pricing
        r = self._ask(pricing.decrease, self._impact_input(market, p, size_delta, price), liquidation)
        if r.execution_price == 0:
            raise ModelRevert("ModuleResultOutOfBounds", 3, 0)
        return r

    def _decrease_impact(self, account: str, market: int, p: Position, size_delta: int, price: int,
                         st: Settlement, liquidation: bool = False) -> tuple[int, int]:
        """``Rules.decreaseImpact`` (the stock rule: the oracle price, nothing realised); what of
        a payment is held for the trader goes into ``st.held``."""
        if not self._has_pricing(market):
            return price, 0
        r = self._quote_decrease(market, p, size_delta, price, liquidation)
        fill, realized = self._apply_impact(account, market, p, r)
        st.held = r.held
        return fill, realized

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
            maintenance = tiered_maintenance(notional, tiers)
            return max(m.initial(notional, leverage), maintenance), maintenance
        initial, maintenance = margin.requirements(market, notional, leverage, self.params[market].mmf)
        if type(margin) is not StockMargin and initial < maintenance:
            raise ModelRevert("ModuleResultOutOfBounds", ModuleKind.MARGIN, initial)
        return initial, maintenance

    def max_leverage(self, market: int, notional: int) -> int:
        """The tier's max leverage for this notional (the market's without tiers)."""
        tiers = self.tiers.get(market)
        return tier_of(tiers, notional)[1] if tiers else self.params[market].max_leverage

    def _known(self, market: int) -> None:
        if market >= len(self.params):
            raise ModelRevert("UnknownMarket", market)

    # ------------------------------------------------------------------ indices
    def rates(self, market: int, price: int) -> tuple[int, int]:
        """``Rules.rates``: (funding, borrow) per second from the market's rates rule. A module's
        answer is checked as ``RatesLogic`` does: beyond the bounds it is refused
        (``ModuleResultOutOfBounds``), and its funding applies only while both sides hold
        positions. A module mirror that reverts raises the contract's ``ModelRevert``."""
        s, c = self.states[market], self.params[market]
        i = RatesInput(market, s.long_size, s.short_size, s.long_entry, s.short_entry, price,
                       self.pool_assets * self.scale, c.funding_factor, c.max_funding_rate,
                       c.borrow_rate)
        module = self.rules_of(market).rates
        funding, borrow = module.rates(i)
        if type(module) is StockRates:  # the stock rule inline, unchecked
            return funding, borrow
        refused = refused_value(funding, borrow)
        if refused is not None:
            raise ModelRevert("ModuleResultOutOfBounds", ModuleKind.RATES, refused)
        return applied_funding(i, funding), borrow

    def indices_now(self, market: int, price: int) -> tuple[int, int, int]:
        s = self.states[market]
        elapsed = self.now - s.last_update
        if elapsed == 0:
            return s.long_funding, s.short_funding, s.borrow_index
        rate, borrow_rate = self.rates(market, price)
        return m.advance_indices(s.long_funding, s.short_funding, s.borrow_index, s.long_size,
                                 s.short_size, rate, borrow_rate, price, elapsed)

    def accrue(self, market: int, price: int) -> MarketState:
        s = self.states[market]
        if s.last_update == self.now:
            return s
        s.long_funding, s.short_funding, s.borrow_index = self.indices_now(market, price)
        s.last_update = self.now
        return s

    def borrow_index_now(self, market: int, price: int) -> int:
        """``Markets.borrowIndexNow``: the borrow index accrued up to now for the pool's value;
        a market whose rates module fails counts what has accrued."""
        s = self.states[market]
        elapsed = self.now - s.last_update
        if elapsed == 0:
            return s.borrow_index
        try:
            _, borrow_rate = self.rates(market, price)
        except ModelRevert:
            return s.borrow_index
        return s.borrow_index + m.borrow_index_growth(borrow_rate, elapsed)

    def accrue_or_skip(self, market: int, price: int) -> ModelRevert | None:
        """``Markets.accrueOrSkip`` (``setMarketModule``'s accrual): a rates module that fails
        accrues nothing for the seconds since the last accrual; returns its failure (what
        ``RatesModuleFailed`` carries), None when the accrual went through."""
        s = self.states[market]
        if s.last_update == self.now:
            return None
        try:
            indices = self.indices_now(market, price)
        except ModelRevert as failure:
            s.last_update = self.now
            return failure
        s.long_funding, s.short_funding, s.borrow_index = indices
        s.last_update = self.now
        return None

    def set_rates_module(self, market: int, rates: object = None) -> ModelRevert | None:
        """``setMarketModule(market, Rates, module)``: accrual under the old rule first
        (:meth:`accrue_or_skip`, so a failing module can always be replaced), then ``rates`` (a
        mirror with ``rates(RatesInput)``; None: the stock rule) from now on. Returns the old
        module's failure, if any."""
        self._known(market)
        failure = self.accrue_or_skip(market, self.latest_price(market))
        current = self.rules.get(market)
        rules = MarketRules() if current is None else replace(current)
        rules.rates = StockRates() if rates is None else rates
        self.rules[market] = rules
        return failure

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
        if self.open_entry == 0:
            self.profit_held = 0  # the last position closed: a cap episode ends with it
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
        """The pool's budget, WAD: the cap of its assets less the episode's hold, none below
        zero; ``profit`` with the cap off (``Solvency.profitCap``)."""
        if self.max_pnl_factor_traders == 0:
            return profit
        return max(0, self._pool_wad() * self.max_pnl_factor_traders // m.BPS - self.profit_held)

    def profit_budget(self) -> tuple[int, int, int]:
        """(pending profit, budget, hold), WAD (``profitBudget``)."""
        profit = self.pending_profit()[0]
        return profit, self.profit_cap(profit), self.profit_held

    def cap_kept(self) -> int:
        """The least pool assets (tokens) keeping pending profit within the budget
        (``Solvency.capKept``)."""
        factor = self.max_pnl_factor_traders
        profit = self.pending_profit()[0] if factor else 0
        if profit == 0:
            return 0
        return m.ceil_div(m.ceil_div((profit + self.profit_held) * m.BPS, factor), self.scale)

    def pnl_factor(self) -> int:
        """Pending profit / pool assets, WAD (``Solvency.pnlFactor``)."""
        profit, _ = self.pending_profit()
        pool = self._pool_wad()
        if pool == 0:
            return 0 if profit == 0 else 2**256 - 1
        return profit * m.WAD // pool

    def capped(self, realized: int, whole: int | None = None) -> int:
        """Tokens credited for ``realized`` WAD of PnL under the profit cap, the closing
        position's whole profit at that price being ``whole`` (default: ``realized``)."""
        return self._cap(realized, realized if whole is None else whole)[0]

    def _cap(self, realized: int, whole: int) -> tuple[int, bool]:
        if realized <= 0 or self.max_pnl_factor_traders == 0:
            return m.credit_tokens(realized, self.scale), False
        profit = max(self.pending_profit()[0], whole)
        budget = self.profit_cap(profit)
        if profit <= budget:
            return m.credit_tokens(realized, self.scale), False
        return m.credit_tokens(realized * budget // profit, self.scale), True

    def quote(self, p: Position, close_abs: int, price: int) -> tuple[int, int, bool]:
        """(realised WAD, credited tokens, cut by the cap) of closing ``close_abs`` of ``p`` at
        ``price`` (``Solvency.quote``): judged against the whole position's profit."""
        realized = self._closing_pnl(p, close_abs, price)
        whole = realized if close_abs == abs(p.size) else self._closing_pnl(p, abs(p.size), price)
        paid, cut = self._cap(realized, whole)
        return realized, paid, cut

    def _credit(self, p: Position, close_abs: int, price: int, inflow: int) -> int:
        """``quote``, applied (``Solvency.credit``): a cut close adds (1 - f) x paid + f x inflow
        (its fee, borrowing and impact into the pool, tokens; impact paid out counts negative) to
        the hold, which stays at least 0; a profit paid in full ends the episode."""
        realized, paid, cut = self.quote(p, close_abs, price)
        if realized <= 0:
            return paid
        factor = self.max_pnl_factor_traders
        if cut:
            hold = (self.profit_held * m.BPS + (m.BPS - factor) * paid * self.scale
                    + factor * inflow * self.scale)
            self.profit_held = 0 if hold <= 0 else m.ceil_div(hold, m.BPS)
        elif factor:
            self.profit_held = 0
        return paid

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

    def release_held_impact(self, account: str, amount: int) -> None:
        """``Clearinghouse.releaseHeldImpact`` (the admin): ``amount`` of the account's held
        impact into its cross balance."""
        held = self.held_impact.get(account, 0)
        if amount > held:
            raise ModelRevert("ReleaseExceedsHeld", account, held, amount)
        self.held_impact[account] = held - amount
        self._register(account)
        self.cross_balance[account] = self.cross_balance.get(account, 0) + amount

    def adl_score(self, account: str, market: int, price: int) -> int:
        """A position's auto-deleveraging rank, WAD (``TradeLogic.adlScore``)."""
        p = self.position(account, market)
        if p.mode == ISOLATED:
            equity = self._isolated(market, p, price)[0]
        else:
            equity = self.cross_health(account)[0]
        return self._score(p, price, equity)

    @staticmethod
    def _score(p: Position, price: int, equity: int) -> int:
        if equity <= 0:
            return 2**256 - 1
        if p.size < 0:
            return p.entry_notional * m.WAD // equity
        notional = m.notional_up(p.size, price)
        return notional * m.WAD // p.entry_notional * notional // equity

    def _check_rank(self, target: str, target_market: int, score: int) -> None:
        """``TradeLogic._checkRank``: raise ``AdlNotHighestRanked`` naming the first position of
        the registered accounts ADL could close now that ranks above ``score``."""
        prices: dict[int, int] = {}
        indices: dict[int, tuple[int, int, int]] = {}
        longs = shorts = stale = 0
        for market, s in enumerate(self.states):
            if s.long_size == 0 and s.short_size == 0:
                continue
            price, fresh = self.valuation_price(market)
            if not fresh:
                stale |= 1 << market
                continue
            prices[market] = price
            indices[market] = self.indices_now(market, price)
            if m.notional_up(s.long_size, price) > s.long_entry:
                longs |= 1 << market
            if s.short_entry > m.notional_down(s.short_size, price):
                shorts |= 1 << market
        sides = longs | shorts
        if not sides:
            return

        def charges(p: Position, market: int) -> int:
            f, b = self.pending(p, *indices[market])
            return f + b

        for account in self.accounts:
            cross: int | None = None
            cross_state = 0
            for market in range(sides.bit_length()):
                if not sides >> market & 1:
                    continue
                p = self.position(account, market)
                if p.size == 0 or not ((longs if p.size > 0 else shorts) >> market) & 1:
                    continue
                price = prices[market]
                pnl = m.pnl(p.size, p.entry_notional, price)
                if pnl <= 0 or (account == target and market == target_market):
                    continue
                if p.mode == ISOLATED:
                    equity = p.margin * self.scale + pnl - charges(p, market)
                else:
                    if cross_state == 0:
                        mask = self.cross_markets.get(account, 0)
                        if mask & stale:
                            cross_state = 2
                        else:
                            cross_state, cross = 1, self.cross_balance.get(account, 0) * self.scale
                            for k in range(mask.bit_length()):
                                if mask >> k & 1:
                                    q = self.position(account, k)
                                    cross += m.pnl(q.size, q.entry_notional, prices[k]) - charges(q, k)
                    if cross_state == 2:
                        continue
                    equity = cross
                other = self._score(p, price, equity)
                if other > score:
                    raise ModelRevert("AdlNotHighestRanked", account, market, other)

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

    @staticmethod
    def _impact_inflow(realized: int, st: Settlement) -> int:
        """``Buckets.impactInflow``: what the impact moves into the pool: negative impact paid in,
        the held part left out, or minus positive impact paid out."""
        return -realized - st.held if realized < 0 else -realized

    def _pay_pool(self, st: Settlement, fee: int) -> None:
        assets = self.pool_assets - st.pnl - st.held + st.borrowing + fee
        if st.pnl > 0 and assets < 0:
            raise ModelRevert("PoolInsolvent")
        self.pool_assets = assets
        self.funding_reserve += st.funding

    def _pay_penalty(self, keeper: str, penalty: int, reward: int) -> None:
        if penalty == 0:
            return
        if reward:
            self._register(keeper)
            self.cross_balance[keeper] = self.cross_balance.get(keeper, 0) + reward
        self.insurance_fund += penalty - reward

    def _cover_bad_debt(self, account: str, amount: int) -> int:
        """``Buckets.coverBadDebt``: the account's held impact pays first, the insurance fund
        next, the pool the rest; returns what was written off."""
        from_held = min(self.held_impact.get(account, 0), amount)
        if from_held:
            self.held_impact[account] -= from_held
            amount -= from_held
            if amount == 0:
                return 0
        from_insurance = min(self.insurance_fund, amount) if self.insurance_fund > 0 else 0
        self.insurance_fund -= from_insurance
        self.pool_assets -= amount - from_insurance
        return amount

    def pool_value(self) -> int:
        """Assets + pending borrowing - trader PnL, their profit counted up to the cap; a market
        whose rates module fails counts the borrowing accrued so far (:meth:`borrow_index_now`)."""
        pending_borrow = 0
        for market, s in enumerate(self.states):
            borrow_idx = self.borrow_index_now(market, self.latest_price(market))
            pending_borrow += m.pending_borrowing(s.long_entry + s.short_entry, borrow_idx, s.borrow_weight)
        profit, loss = self.pending_profit()
        profit = min(profit, self.profit_cap(profit))
        return self.pool_assets + m.credit_tokens(pending_borrow + loss - profit, self.scale)

    # ------------------------------------------------------------------ operations
    def _register(self, account: str) -> None:
        """An account's first credit registers it (``Buckets.credit``)."""
        if self.cross_balance.get(account, 0) == 0 and account not in self.accounts:
            self.accounts.append(account)

    def deposit(self, account: str, amount: int) -> None:
        if amount == 0:
            raise ModelRevert("ZeroAmount")
        self._register(account)
        self.cross_balance[account] = self.cross_balance.get(account, 0) + amount

    def check_order_lock(self, account: str, market: Optional[int] = None) -> None:
        """``PendingMarketOrder`` while ``account``'s market order (in ``market``, or any) is
        pending and not expired."""
        order_id, locked_market, expires_at = self.order_locks.get(account, (0, 0, 0))
        if order_id and self.now <= expires_at and market in (None, locked_market):
            raise ModelRevert("PendingMarketOrder", account, order_id)

    def withdraw(self, account: str, amount: int) -> None:
        self.check_order_lock(account)
        if amount == 0:
            raise ModelRevert("ZeroAmount")
        if self.pool_assets < 0:
            raise ModelRevert("PoolInsolvent")
        self._take_from_cross(account, amount)

    def increase(self, account: str, market: int, size_delta: int, leverage: int, mode: int,
                 margin: int) -> None:
        """Mirror of ``increasePosition`` by the account itself; state is only changed if it would
        succeed."""
        self.check_order_lock(account)
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
        _, realized = self._increase_impact(account, market, p, size_delta, price)
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
        else:
            self.cross_balance[account] = self.cross_balance.get(account, 0) + trader_delta
            equity, maintenance, im, _ = self.cross_health(account)
            if equity < im:
                raise ModelRevert("InsufficientFreeCollateral")
        # maintenance (the account's, for cross) plus this position's open buffer
        maintenance += m.ceil_div(notional * c.open_buffer_bps, m.BPS)
        if equity < maintenance:
            raise ModelRevert("MarginBelowMaintenance", equity, maintenance)
        self._pay_pool(st, fee)
        self.open_entry = open_entry

    def decrease(self, account: str, market: int, size_abs: int) -> None:
        self.check_order_lock(account)
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
        # As ``TradeLogic._close``: the impact first, then the profit at the oracle price; negative
        # impact paid in is an inflow the cap's hold keeps, like the fee.
        realized = self._decrease_impact(account, market, p, -size_abs if p.size > 0 else size_abs, price, st)[1]
        st.pnl = self._credit(p, size_abs, price, st.borrowing + fee + self._impact_inflow(realized, st)) + realized
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
                    self._cover_bad_debt(account, -new_margin)
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
                self._cover_bad_debt(account, -balance)
            else:
                self.cross_balance[account] = balance
        self._store(account, market, Position() if closed else p)
        self._pay_pool(st, fee)
        return st

    def auto_deleverage(self, account: str, market: int, size_abs: int,
                        keeper: str | None = None) -> dict:
        """Mirror of ``autoDeleverage`` sent by ``keeper`` (None: a keeper allowed to, unchecked);
        state is only changed if it would succeed."""
        return self._atomic(self._auto_deleverage, account, market, size_abs, keeper)

    def _auto_deleverage(self, account: str, market: int, size_abs: int,
                         keeper: str | None = None) -> dict:
        if keeper is not None and (keeper == account or keeper not in self.adl_keepers):
            raise ModelRevert("Unauthorized", keeper, account)
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
        self._check_rank(account, market, score)
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
        self.check_order_lock(account)
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
        self.check_order_lock(account)
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
        self.check_order_lock(account, market)  # only an order in this market can fail for it
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
        part = self._slice(SliceInput(market, size_abs, notional, equity, mm, c.partial_threshold,
                                      c.partial_liquidation_bps))
        # Decided before anything changes, so a target skipped here leaves no trace.
        if 0 < part < size_abs and self._slice_leaves_margin(market, p, p.margin, part, price):
            self._check_cooldown(account, market)
            close_abs = part
        s = self.accrue(market, price)
        st = self._settle_indices(s, p, p.size > 0)
        realized = self._decrease_impact(account, market, p, -close_abs if p.size > 0 else close_abs, price, st,
                                         liquidation=True)[1]
        st.pnl = self._credit(p, close_abs, price, st.borrowing + self._impact_inflow(realized, st)) + realized
        self._reduce(s, p, close_abs)
        remaining = p.margin + st.pnl - st.funding - st.borrowing
        max_penalty = m.fee_tokens(m.notional_up(close_abs, price), c.liquidation_fee_bps, self.scale)
        penalty, reward = self._penalty(market, remaining, max_penalty)
        remaining -= penalty
        bad_debt = 0
        if close_abs == size_abs:
            self._store(account, market, Position())
            if remaining > 0:
                self.cross_balance[account] = self.cross_balance.get(account, 0) + remaining
            elif remaining < 0:  # no penalty then
                bad_debt = self._cover_bad_debt(account, -remaining)
        else:
            if remaining <= 0:
                raise ModelRevert("InsufficientMargin", remaining)
            p.margin = remaining
            self.last_partial_liquidation[account, market] = self.now
        self._pay_pool(st, 0)
        self._pay_penalty(keeper, penalty, reward)
        return {"penalty": penalty, "reward": reward, "bad_debt": bad_debt, "closed": close_abs}

    def _slice(self, i: SliceInput) -> int:
        """The size a liquidation closes, from the market's rule (``Rules.slice``): a module's
        answer of zero or above the position is refused."""
        rules = self.rules_of(i.market).liquidation
        part = rules.slice(i)
        if type(rules) is not StockLiquidation and not 0 < part <= i.size_abs:
            raise ModelRevert("ModuleResultOutOfBounds", 2, part)
        return part

    def _penalty(self, market: int, equity_left: int, max_penalty: int) -> tuple[int, int]:
        """(penalty, keeper reward) from the market's rule (``Rules.penalty``): more than is
        left, or a reward above the penalty, is refused."""
        taken, reward = self.rules_of(market).liquidation.penalty(
            market, equity_left, max_penalty, self.params[market].keeper_share_bps)
        if taken > max(equity_left, 0) or reward > taken:
            raise ModelRevert("ModuleResultOutOfBounds", 2, taken)
        return taken, reward

    def _slice_leaves_margin(self, market: int, p: Position, margin: int, part: int, price: int) -> bool:
        """Whether ``margin`` (tokens) stays positive after a slice's PnL, the position's pending
        charges and the penalty the market's rule takes for the slice
        (``LiquidationLogic._sliceLeavesMargin``)."""
        is_long = p.size > 0
        f, b = self.pending(p, *self.indices_now(market, price))
        part_pnl = self.quote(p, part, price)[1]
        if self._has_pricing(market):
            part_pnl += self._quote_decrease(market, p, -part if is_long else part, price,
                                             liquidation=True).realized
        left = margin + part_pnl - m.charge_tokens(f, self.scale) - m.charge_tokens(b, self.scale)
        if left <= 0:
            return False
        max_penalty = m.fee_tokens(m.notional_up(part, price), self.params[market].liquidation_fee_bps,
                                   self.scale)
        return left > self._penalty(market, left, max_penalty)[0]

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
        part = self._slice(SliceInput(market, size_abs, notional, equity, mm, c.partial_threshold,
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
        realized = self._decrease_impact(account, market, p, -part if p.size > 0 else part, price, st,
                                         liquidation=True)[1]
        st.pnl = self._credit(p, part, price, st.borrowing + self._impact_inflow(realized, st)) + realized
        self._reduce(s, p, part)
        balance += st.pnl - st.funding - st.borrowing
        max_penalty = m.fee_tokens(m.notional_up(part, price), c.liquidation_fee_bps, self.scale)
        penalty, reward = self._penalty(market, balance, max_penalty)
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
                realized = self._decrease_impact(account, market, p, -p.size, price, st, liquidation=True)[1]
                st.pnl = self._credit(p, size_abs, price, st.borrowing + self._impact_inflow(realized, st)) + realized
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
        # A debt stays on the account while it holds cross positions (in stale markets); it is
        # written off when the last one closes.
        if balance < 0 and not self.cross_markets[account]:
            bad_debt, balance = -balance, 0
        self.cross_balance[account] = balance
        self._pay_penalty(keeper, penalty, reward)
        if bad_debt:
            bad_debt = self._cover_bad_debt(account, bad_debt)
        return {"penalty": penalty, "reward": reward, "bad_debt": bad_debt, "positions": count}

    def liquidate_batch(self, keeper: str, targets: list[tuple[str, int]]) -> list[bool]:
        """Mirror of ``liquidateBatch``: each target (market ``CROSS_ACCOUNT``: the cross
        account) on its own; one that cannot be liquidated, for whatever reason, is undone alone
        and reported False (``done``)."""
        done = []
        for account, market in targets:
            try:
                if market == CROSS_ACCOUNT:
                    self.liquidate_account(keeper, account)
                else:
                    self.liquidate_position(keeper, account, market)
                done.append(True)
            except ModelRevert:
                done.append(False)
        return done

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
            taken, keeper = self._penalty(market, part, fees[market])
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
        return copy.deepcopy((self.states, self.cross_balance, self.cross_markets,
                              self.positions, self.pool_assets, self.insurance_fund,
                              self.funding_reserve, self.open_entry, self.impact_pool,
                              self.held_impact, self.profit_held, self.accounts))

    def _restore(self, snap) -> None:
        (self.states, self.cross_balance, self.cross_markets, self.positions,
         self.pool_assets, self.insurance_fund, self.funding_reserve, self.open_entry,
         self.impact_pool, self.held_impact, self.profit_held, self.accounts) = snap


_STOCK = MarketRules()
