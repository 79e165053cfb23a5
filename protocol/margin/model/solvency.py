"""The profit cap, the pool's value and the buckets money moves through: the reference model's
``Solvency`` and ``Buckets``. A part of :class:`~protocol.margin.model.Model`."""

from __future__ import annotations

from protocol.margin import bounds
from protocol.margin import math as m
from protocol.margin.model.base import ModelBase
from protocol.margin.model.state import (
    MarketParams,
    ModelRevert,
    Position,
    Settlement,
)


class SolvencyRules(ModelBase):
    """Mixed into :class:`~protocol.margin.model.Model` (its state is the model's)."""

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
