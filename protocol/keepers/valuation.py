"""An account's equity computed from what it holds, exactly as ``Reader.equities`` computes it
on chain: wallet tokens, LP shares at the pool's share price, what the order book escrows, the
cross balance, and each position at the oracle price with its pending funding and borrowing
(``Health.cross`` / ``Health.isolated``). The event index (:mod:`protocol.keepers.index`) keeps
the holdings from events and reads an account again only after an event names it; this module is
the arithmetic, with the rounding of ``MarginMath`` (:mod:`protocol.margin.math`).

A position holding price impact, and a market whose rates come from a module or whose price is
stale, are left to the chain (the functions return None): their terms depend on more than this
module mirrors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from protocol.margin import math as m
from protocol.margin.requirements import tiered_maintenance
from protocol.margin.types import MarginMode

#: ``LiquidityPool._decimalsOffset``: shares carry 6 more decimals than assets.
SHARE_DECIMALS_OFFSET = 6


@dataclass(frozen=True)
class Holdings:
    """What one account holds: ``Reader.Balances`` and, per market, its
    ``Clearinghouse.Position`` tuple (size, entryNotional, leverage, mode, fundingIndex,
    borrowIndex, pendingImpact, margin)."""

    tokens: int
    shares: int
    escrow_tokens: int
    escrow_shares: int
    cross_balance: int
    positions: tuple[tuple[int, ...], ...]

    @property
    def open_markets(self) -> list[int]:
        return [i for i, p in enumerate(self.positions) if p[0] != 0]


@dataclass(frozen=True)
class MarginRule:
    """How a market's maintenance margin is computed (``Rules.requirements``): notional x
    ``mmf``, or its tiers ((lower bound, max leverage, deduction), lowest first); None for a
    margin module, which the chain answers for."""

    mmf: int
    tiers: tuple[tuple[int, int, int], ...] = ()

    def maintenance(self, notional: int) -> int:
        if not self.tiers:
            return m.maintenance(notional, self.mmf)
        return tiered_maintenance(notional, list(self.tiers))


@dataclass(frozen=True)
class MarketNow:
    """A market as a view sees it now: the oracle price, whether it is fresh (a position in a
    stale market makes the view revert), the indices accrued up to now (None when a rates
    module sets them) and its margin rule (None: a module)."""

    price: int
    fresh: bool
    indices: Optional[tuple[int, int, int]]  # (long funding, short funding, borrow)
    margin: Optional[MarginRule] = None


def market_now(state: Sequence[int], config: Sequence[int], price: int, fresh: bool,
               now: int, has_rates_module: bool,
               margin: Optional[MarginRule] = None) -> MarketNow:
    """``Markets.indicesNow`` for a market on the stock rates rule (``StockRules.rates``);
    ``state`` is ``Clearinghouse.MarketState``, ``config`` its ``MarketConfig``."""
    if has_rates_module:
        return MarketNow(price, fresh, None, margin)
    long_size, short_size, borrow_idx, long_idx, short_idx, last_update = state[:6]
    rate = m.funding_rate(long_size, short_size, config[1], config[2])
    return MarketNow(price, fresh, m.advance_indices(
        long_idx, short_idx, borrow_idx, long_size, short_size, rate, config[3], price,
        now - last_update), margin)


def position_equity(position: tuple[int, ...], market: MarketNow, scale: int) -> Optional[int]:
    """The position's equity, WAD USD (its margin counted when isolated); None when the chain
    must answer (held impact, a rates module, a stale price)."""
    size, entry, _, mode, funding_index, borrow_index, pending_impact, margin = position
    if pending_impact != 0 or market.indices is None or not market.fresh:
        return None
    long_idx, short_idx, borrow_now = market.indices
    value = (m.pnl(size, entry, market.price)
             - m.funding(abs(size), long_idx if size > 0 else short_idx, funding_index)
             - m.borrowing(entry, borrow_now, borrow_index))
    return value + margin * scale if mode == MarginMode.ISOLATED else value


def isolated_health(holdings: Holdings, market: int, markets: Mapping[int, MarketNow],
                    scale: int) -> Optional[tuple[int, int, bool]]:
    """``Reader.health`` of an isolated position: (equity, maintenance, liquidatable); zeros
    for no isolated position there or a stale price (the Reader's answer when the view
    reverts); None when the chain must answer."""
    position = holdings.positions[market]
    now = markets[market]
    if position[0] == 0 or position[3] != MarginMode.ISOLATED or not now.fresh:
        return 0, 0, False
    value = position_equity(position, now, scale)
    if value is None or now.margin is None:
        return None
    maintenance = now.margin.maintenance(m.notional_up(abs(position[0]), now.price))
    return value, maintenance, value < maintenance


def cross_health(holdings: Holdings, markets: Mapping[int, MarketNow],
                 scale: int) -> Optional[tuple[int, int, bool]]:
    """``Reader.health`` of a cross account (``Health.cross``): (equity, maintenance,
    liquidatable: with a cross position, below maintenance); None when the chain must answer
    (a stale market among its positions is valued as the liquidation values it)."""
    total, maintenance, held = holdings.cross_balance * scale, 0, False
    for i in holdings.open_markets:
        position = holdings.positions[i]
        if position[3] != MarginMode.CROSS:
            continue
        now = markets[i]
        value = position_equity(position, now, scale)
        if value is None or now.margin is None:
            return None
        total += value
        maintenance += now.margin.maintenance(m.notional_up(abs(position[0]), now.price))
        held = True
    return total, maintenance, held and total < maintenance


def equity(holdings: Holdings, markets: Mapping[int, MarketNow], scale: int,
           total_assets: int, total_supply: int) -> Optional[int]:
    """``Reader.equities`` (with the book) of one account, WAD USD; None when the chain must
    answer for one of its positions."""
    total = holdings.cross_balance * scale
    for i in holdings.open_markets:
        value = position_equity(holdings.positions[i], markets[i], scale)
        if value is None:
            return None
        total += value
    shares = holdings.shares + holdings.escrow_shares
    tokens = holdings.tokens + holdings.escrow_tokens
    if shares:  # ERC-4626 convertToAssets, rounded down, with the pool's virtual offset
        tokens += shares * (total_assets + 1) // (total_supply + 10**SHARE_DECIMALS_OFFSET)
    return total + tokens * scale
