"""Price impact through a market's pricing rule: the reference model's ``ImpactLogic``.
A part of :class:`~protocol.margin.model.Model`."""

from __future__ import annotations

from typing import Callable, TypeVar, TypeVarTuple, Unpack

from protocol.margin.model.base import ModelBase
from protocol.margin.model.state import (
    ModelRevert,
    Position,
    Settlement,
)
from protocol.margin.pricing import ImpactInput, ImpactResult, OraclePricing, PricingRevert

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class ImpactRules(ModelBase):
    """Mixed into :class:`~protocol.margin.model.Model` (its state is the model's)."""

    # ------------------------------------------------------------------ price impact
    def _has_pricing(self, market: int) -> bool:
        return type(self.rules_of(market).pricing) is not OraclePricing

    def _impact_input(self, market: int, p: Position, size_delta: int, price: int) -> ImpactInput:
        """What the pricing module sees (``ImpactLogic._input``)."""
        s = self.states[market]
        return ImpactInput(market, size_delta, price, s.long_size, s.short_size, s.long_entry,
                           s.short_entry, p.size, p.entry_notional, p.pending_impact,
                           self.impact_pool.get(market, 0), self.scale)

    def _ask(self, call: Callable[[Unpack[Ts]], T], *args: Unpack[Ts]) -> T:
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
