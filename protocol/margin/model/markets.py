"""Margin requirements, rates, accrual and open interest: the reference model's ``Markets``
and ``Rules``. A part of :class:`~protocol.margin.model.Model`."""

from __future__ import annotations

from dataclasses import replace

from protocol.margin import math as m
from protocol.margin.model.base import ModelBase
from protocol.margin.model.state import (
    MarketMemory,
    MarketRules,
    MarketState,
    ModelRevert,
    Position,
    Settlement,
)
from protocol.margin.rates import (
    MAX_MARK_WINDOW,
    RatesInput,
    RatesMemory,
    RatesRule,
    StatefulRatesRule,
    StockRates,
    applied_funding,
    mark_after,
    refused_state,
    refused_value,
)
from protocol.margin.requirements import StockMargin, tier_of, tiered_maintenance
from protocol.margin.types import ModuleKind


class MarketsRules(ModelBase):
    """Mixed into :class:`~protocol.margin.model.Model` (its state is the model's)."""

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
    def memory_of(self, market: int) -> MarketMemory:
        """The market's ``marketMemory`` (created all 0 on first use)."""
        return self.memory.setdefault(market, MarketMemory())

    def mark_price(self, market: int, price: int | None = None) -> int:
        """``markPrice``: the mark price now at oracle ``price`` (the latest by default): the EMA
        stepped to now for a market that tracks memory (``price`` until its first accrual after
        it began to), ``price`` itself for any other market."""
        mem = self.memory_of(market)
        price = self.latest_price(market) if price is None else price
        if not mem.tracks:
            return price
        return mark_after(mem.mark_price, mem.mark_window, price,
                          self.now - self.states[market].last_update)

    def rates(self, market: int, price: int) -> tuple[int, int, int]:
        """``Rules.rates``: (funding, borrow) per second from the market's rates rule, and the
        word a stateful rule keeps (0 for any other). A module's answer is checked as
        ``RatesLogic`` does: beyond the bounds it is refused (``ModuleResultOutOfBounds``), and
        its funding applies only while both sides hold positions. A module mirror that reverts
        raises the contract's ``ModelRevert``. A stateful rule (the market's memory says so, as
        ERC-165 told the contract) is asked ``stateful_rates`` with its word, the seconds
        elapsed and the mark price."""
        s, c = self.states[market], self.params[market]
        i = RatesInput(market, s.long_size, s.short_size, s.long_entry, s.short_entry, price,
                       self.pool_assets * self.scale, c.funding_factor, c.max_funding_rate,
                       c.borrow_rate)
        module = self.rules_of(market).rates
        if type(module) is StockRates:  # the stock rule inline, unchecked
            funding, borrow = module.rates(i)
            return funding, borrow, 0
        mem = self.memory_of(market)
        state = 0
        if mem.stateful_rates and isinstance(module, StatefulRatesRule):
            elapsed = self.now - s.last_update
            remembered = RatesMemory(mem.rates_state, elapsed,
                                     mark_after(mem.mark_price, mem.mark_window, price, elapsed))
            funding, borrow, state = module.stateful_rates(i, remembered)
        else:
            funding, borrow = module.rates(i)
        refused = refused_value(funding, borrow)
        if refused is None:
            refused = refused_state(state)
        if refused is not None:
            raise ModelRevert("ModuleResultOutOfBounds", ModuleKind.RATES, refused)
        return applied_funding(i, funding), borrow, state

    def indices_now(self, market: int, price: int) -> tuple[int, int, int]:
        long_idx, short_idx, borrow_idx, _ = self._indices_now(market, price)
        return long_idx, short_idx, borrow_idx

    def _indices_now(self, market: int, price: int) -> tuple[int, int, int, int]:
        s = self.states[market]
        elapsed = self.now - s.last_update
        if elapsed == 0:
            return s.long_funding, s.short_funding, s.borrow_index, 0
        rate, borrow_rate, state = self.rates(market, price)
        return (*m.advance_indices(s.long_funding, s.short_funding, s.borrow_index, s.long_size,
                                   s.short_size, rate, borrow_rate, price, elapsed), state)

    def _remember(self, market: int, price: int, elapsed: int, state: int) -> None:
        """``Markets._remember`` for a market that tracks memory: the mark price's EMA step and
        the rates rule's word; any other market's memory is left alone."""
        mem = self.memory_of(market)
        if not mem.tracks:
            return
        mem.mark_price = mark_after(mem.mark_price, mem.mark_window, price, elapsed)
        mem.rates_state = state

    def accrue(self, market: int, price: int) -> MarketState:
        s = self.states[market]
        last = s.last_update
        if last == self.now:
            return s
        s.long_funding, s.short_funding, s.borrow_index, state = self._indices_now(market, price)
        s.last_update = self.now
        self._remember(market, price, self.now - last, state)
        return s

    def borrow_index_now(self, market: int, price: int) -> int:
        """``Markets.borrowIndexNow``: the borrow index accrued up to now for the pool's value;
        a market whose rates module fails counts what has accrued."""
        s = self.states[market]
        elapsed = self.now - s.last_update
        if elapsed == 0:
            return s.borrow_index
        try:
            _, borrow_rate, _ = self.rates(market, price)
        except ModelRevert:
            return s.borrow_index
        return s.borrow_index + m.borrow_index_growth(borrow_rate, elapsed)

    def accrue_or_skip(self, market: int, price: int) -> ModelRevert | None:
        """``Markets.accrueOrSkip`` (``setMarketModule``'s accrual): a rates module that fails
        accrues nothing for the seconds since the last accrual (its word is kept; the mark price
        of a market that tracks memory moves on); returns its failure (what ``RatesModuleFailed`` carries), None when the
        accrual went through."""
        s = self.states[market]
        last = s.last_update
        if last == self.now:
            return None
        try:
            *indices, state = self._indices_now(market, price)
        except ModelRevert as failure:
            s.last_update = self.now
            self._remember(market, price, self.now - last, self.memory_of(market).rates_state)
            return failure
        s.long_funding, s.short_funding, s.borrow_index = indices
        s.last_update = self.now
        self._remember(market, price, self.now - last, state)
        return None

    def set_rates_module(self, market: int, rates: RatesRule | None = None) -> ModelRevert | None:
        """``setMarketModule(market, Rates, module)``: accrual under the old rule first
        (:meth:`accrue_or_skip`, so a failing module can always be replaced), then ``rates`` (a
        mirror with ``rates(RatesInput)``, or a :class:`StatefulRatesRule`; None: the stock
        rule) from now on, its word reset to 0. A market left tracking no memory (a stateless
        rule and no mark window set) forgets its mark price (0). Returns the old module's
        failure, if any."""
        self._known(market)
        failure = self.accrue_or_skip(market, self.latest_price(market))
        current = self.rules.get(market)
        rules = MarketRules() if current is None else replace(current)
        rules.rates = StockRates() if rates is None else rates
        self.rules[market] = rules
        mem = self.memory_of(market)
        mem.stateful_rates = isinstance(rates, StatefulRatesRule)
        mem.rates_state = 0
        if not mem.tracks:
            mem.mark_price = 0
        return failure

    def set_mark_window(self, market: int, window: int) -> None:
        """``setMarkWindow``: the mark price's time constant, in [1, ``MAX_MARK_WINDOW``]
        (``MarkWindowOutOfBounds``), after an accrual under the old one; the market tracks memory
        from now on (a mark price of 0, which its next accrual starts at the oracle price)."""
        self._known(market)
        if window == 0 or window > MAX_MARK_WINDOW:
            raise ModelRevert("MarkWindowOutOfBounds", window, MAX_MARK_WINDOW)
        self.accrue(market, self.latest_price(market))
        self.memory_of(market).mark_window = window

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

    def update_funding(self, market: int) -> None:
        self._known(market)
        self.accrue(market, self.latest_price(market))
