"""Auto-deleveraging, its scores, rank and close: the reference model's ``autoDeleverage``.
A part of :class:`~protocol.margin.model.Model`."""

from __future__ import annotations

from protocol.margin import math as m
from protocol.margin.deleveraging import ADL_RANKED, ADL_ROUND, AdlInput, AdlRoundInput, AdlRule
from protocol.margin.model.base import ModelBase
from protocol.margin.model.state import (
    ISOLATED,
    ModelRevert,
    Position,
)
from protocol.margin.types import ModuleKind

WAD = m.WAD
CLOSE_ALL = 2**256 - 1


class AdlRules(ModelBase):
    """Mixed into :class:`~protocol.margin.model.Model` (its state is the model's)."""

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
            if not self.rules_of(market).adl.rule(market) & ADL_RANKED:
                continue  # not ranked: its positions are not in the ranking
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
            cross = 0  # the cross account's equity, once cross_state is 1
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

    def auto_deleverage(self, account: str, market: int, size_abs: int,
                        keeper: str | None = None) -> dict[str, int]:
        """Mirror of ``autoDeleverage`` sent by ``keeper`` (None: a keeper allowed to, unchecked);
        state is only changed if it would succeed."""
        return self._atomic(self._auto_deleverage, account, market, size_abs, keeper)

    def _auto_deleverage(self, account: str, market: int, size_abs: int,
                         keeper: str | None = None) -> dict[str, int]:
        if keeper is not None and (keeper == account or keeper not in self.adl_keepers):
            raise ModelRevert("Unauthorized", keeper, account)
        p = self.position(account, market)
        everything = size_abs == CLOSE_ALL
        size_abs = self._check_size(p, size_abs)
        price = self.fresh_price(market)
        before = self.pnl_factor()
        rule = self.rules_of(market).adl
        flags = rule.rule(market)
        in_round = bool(flags & ADL_ROUND)
        trigger = self.max_pnl_factor_adl * m.WAD // m.BPS
        if before <= trigger and not (in_round and self.adl_round_remaining):
            raise ModelRevert("AdlNotRequired", before, trigger)
        if m.pnl(p.size, p.entry_notional, price) <= 0:
            raise ModelRevert("AdlNotProfitable")
        score = self.adl_score(account, market, price)
        if flags & ADL_RANKED:
            self._check_rank(account, market, score)
        current = abs(p.size)
        if in_round:
            size_abs = self._round_close(rule, account, market, current, size_abs, everything)
        else:
            most, exact = rule.close_limit(AdlInput(market, current, 0, 0))
            size_abs = self._adl_checked(most, exact, current, size_abs, everything)
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
    def _adl_checked(most: int, exact: bool, current: int, size_abs: int, everything: bool) -> int:
        """``AdlLogic._checked``."""
        if most > current:
            raise ModelRevert("ModuleResultOutOfBounds", ModuleKind.ADL, most)
        if everything:
            size_abs = most
        if size_abs == 0 or (size_abs != most if exact else size_abs > most):
            raise ModelRevert("AdlSizeNotAllowed", CLOSE_ALL if everything else size_abs, most)
        return size_abs

    def _round_close(self, rule: AdlRule, account: str, market: int, current: int, size_abs: int,
                     everything: bool) -> int:
        """``AdlLogic.roundClose``: begin a round if none is in progress, check membership,
        take the module's cut, mark it."""
        if not self.adl_round_remaining:
            self._begin_round(rule, self.adl_round_id + 1)
        rid = self.adl_round_id
        entry = self.adl_round_entry.get((account, market))
        if entry is None or entry[0] != rid:
            raise ModelRevert("AdlNotInRound", account, market, rid)
        if entry[2]:
            raise ModelRevert("AdlAlreadyCut", account, market, rid)
        most, exact = rule.close_limit(AdlInput(market, current, entry[1], self.adl_round_fraction))
        size_abs = self._adl_checked(most, exact, current, size_abs, everything)
        self.adl_round_entry[(account, market)] = (rid, entry[1], True)
        self.adl_round_remaining -= 1
        return size_abs

    def _begin_round(self, rule: AdlRule, rid: int) -> None:
        """``AdlLogic._begin``: the members are the winners of the markets with this rule."""
        prices: dict[int, int] = {}
        longs = shorts = 0
        for market, s in enumerate(self.states):
            if self.rules_of(market).adl != rule or (s.long_size == 0 and s.short_size == 0):
                continue
            price, fresh = self.valuation_price(market)
            if not fresh:
                continue
            prices[market] = price
            if m.notional_up(s.long_size, price) > s.long_entry:
                longs |= 1 << market
            if s.short_entry > m.notional_down(s.short_size, price):
                shorts |= 1 << market
        sides = longs | shorts
        winners = members = 0
        for account in self.accounts if sides else []:
            for market in range(sides.bit_length()):
                if not sides >> market & 1:
                    continue
                p = self.position(account, market)
                if p.size == 0 or not ((longs if p.size > 0 else shorts) >> market) & 1:
                    continue
                pnl = m.pnl(p.size, p.entry_notional, prices[market])
                if pnl <= 0:
                    continue
                self.adl_round_entry[(account, market)] = (rid, abs(p.size), False)
                winners += pnl
                members += 1
        profit = self.pending_profit()[0]
        fraction = rule.round_fraction(AdlRoundInput(
            profit, self._pool_wad(), self.profit_cap(profit), winners, members,
            self.min_pnl_factor_after_adl * WAD // m.BPS, self.scale))
        if fraction > WAD:
            raise ModelRevert("ModuleResultOutOfBounds", ModuleKind.ADL, fraction)
        self.adl_round_id, self.adl_round_fraction, self.adl_round_remaining = rid, fraction, members
        self.adl_round_rule = rule

    def adl_entitlement(self, account: str, market: int) -> int:
        """``adlRoundEntry``'s ``entitled``: what one close may take of the position now under
        the round in progress (0: not a member of it, or cut)."""
        entry = self.adl_round_entry.get((account, market))
        if not self.adl_round_remaining or entry is None or entry[0] != self.adl_round_id or entry[2]:
            return 0
        rule = self.rules_of(market).adl
        if rule != self.adl_round_rule:
            return 0
        current = abs(self.position(account, market).size)
        most, _ = rule.close_limit(AdlInput(market, current, entry[1], self.adl_round_fraction))
        return 0 if most > current else most

    def end_adl_round(self, admin: bool = False) -> int:
        """``endAdlRound``: (an ADL keeper) once the factor is at or below the trigger; returns
        the members left uncut."""
        if not self.adl_round_remaining:
            raise ModelRevert("AdlNoRound")
        if not admin:
            factor, trigger = self.pnl_factor(), self.max_pnl_factor_adl * WAD // m.BPS
            if factor > trigger:
                raise ModelRevert("AdlRoundStillNeeded", factor, trigger)
        left, self.adl_round_remaining = self.adl_round_remaining, 0
        return left
