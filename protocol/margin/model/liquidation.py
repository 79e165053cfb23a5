"""Liquidations, isolated and cross, slices, penalties and batches: the reference model's
``LiquidationLogic``. A part of :class:`~protocol.margin.model.Model`."""

from __future__ import annotations

from protocol.margin import math as m
from protocol.margin.liquidation import SliceInput, StockLiquidation
from protocol.margin.model.base import ModelBase
from protocol.margin.model.state import (
    CROSS_ACCOUNT,
    ModelRevert,
    Position,
)


class LiquidationRules(ModelBase):
    """Mixed into :class:`~protocol.margin.model.Model` (its state is the model's)."""

    def liquidate_position(self, keeper: str, account: str, market: int) -> dict[str, int]:
        """Mirror of ``liquidatePosition``; state is only changed if it would succeed."""
        return self._atomic(self._liquidate_position, keeper, account, market)

    def _liquidate_position(self, keeper: str, account: str, market: int) -> dict[str, int]:
        p = self.isolated_position(account, market)
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
                     mm: int) -> dict[str, int] | None:
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

    def liquidate_account(self, keeper: str, account: str) -> dict[str, int]:
        """Mirror of ``liquidateAccount``; state is only changed if it would succeed."""
        return self._atomic(self._liquidate_account, keeper, account)

    def _liquidate_account(self, keeper: str, account: str) -> dict[str, int]:
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
