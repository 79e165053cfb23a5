"""Deposits, withdrawals and margin moves: the reference model's ``CollateralLogic``.
A part of :class:`~protocol.margin.model.Model`."""

from __future__ import annotations

from typing import Optional

from protocol.margin import math as m
from protocol.margin.model.base import ModelBase
from protocol.margin.model.state import (
    ISOLATED,
    MarketParams,
    ModelRevert,
)


class CollateralRules(ModelBase):
    """Mixed into :class:`~protocol.margin.model.Model` (its state is the model's)."""

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

    def add_margin(self, account: str, market: int, amount: int) -> None:
        self.check_order_lock(account)
        if amount == 0:
            raise ModelRevert("ZeroAmount")
        p = self.isolated_position(account, market)
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
        try:  # a refusal, the valuation's own (a stale price) included, keeps the old leverage
            if p.mode == ISOLATED:
                equity, _, im, _ = self._isolated(market, p, self.fresh_price(market))
                failure = "MarginBelowInitial"
            else:
                equity, _, im, _ = self.cross_health(account)
                failure = "InsufficientFreeCollateral"
            if equity < im:
                raise ModelRevert(failure)
        except ModelRevert:
            p.leverage = old
            raise

    def remove_margin(self, account: str, market: int, amount: int) -> None:
        self.check_order_lock(account, market)  # only an order in this market can fail for it
        if amount == 0:
            raise ModelRevert("ZeroAmount")
        p = self.isolated_position(account, market)
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
