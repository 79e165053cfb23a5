"""Opening, increasing, decreasing and closing: the reference model's ``TradeLogic``.
A part of :class:`~protocol.margin.model.Model`."""

from __future__ import annotations

from protocol.margin import math as m
from protocol.margin.model.base import ModelBase
from protocol.margin.model.state import (
    CLOSE_ALL,
    CROSS,
    ISOLATED,
    ModelRevert,
    Position,
    Settlement,
)


class TradeRules(ModelBase):
    """Mixed into :class:`~protocol.margin.model.Model` (its state is the model's)."""

    def increase(self, account: str, market: int, size_delta: int, leverage: int, mode: int,
                 margin: int) -> None:
        """Mirror of ``increasePosition`` by the account itself; state is only changed if it would
        succeed."""
        self.check_order_lock(account)
        self._atomic(self._increase, account, market, size_delta, leverage, mode, margin)

    def _increase(self, account: str, market: int, size_delta: int, leverage: int, mode: int,
                  margin: int) -> None:
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
