"""Equity and maintenance of positions and cross accounts: the reference model's ``Health``.
A part of :class:`~protocol.margin.model.Model`."""

from __future__ import annotations

from protocol.margin import math as m
from protocol.margin.model.base import ModelBase
from protocol.margin.model.state import (
    ISOLATED,
    ModelRevert,
    Position,
)


class HealthRules(ModelBase):
    """Mixed into :class:`~protocol.margin.model.Model` (its state is the model's)."""

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
