"""Solvency of the venue as traders and keepers see it: pending profit against the pool, the
profit cap, and auto-deleveraging (ADL) candidates ranked as the contract ranks them.

The score is the contract's (``TradeLogic.adlScore``), computed here from the same views in the
same integers, so the ranking a keeper acts on is the one the ``AutoDeleveraged`` event reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Optional, Sequence

from eth_utils.address import to_checksum_address

from protocol.constants import BPS, MAX_UINT
from protocol.errors import Reverted
from protocol.margin import math as margin_math
from protocol.margin.deleveraging import ADL_RANKED
from protocol.margin.types import MarginMode
from protocol.venue.units import Number, from_wad

if TYPE_CHECKING:
    from protocol.venue.client import Venue


@dataclass(frozen=True)
class SolvencyView:
    """Pending trader profit against the pool (``Clearinghouse.solvency``). Factors are
    fractions of the pool's assets: ``pnl_factor`` 0.9 means winners are owed 90% of it."""

    pending_profit: Decimal  # USD, every market side's net profit at its last price
    pnl_factor: Optional[Decimal]  # None when the pool has no assets and profit is pending
    open_entry: Decimal  # USD of entry notional open in all markets (the reserve rule's)
    max_pnl_factor_traders: Decimal  # the profit cap (0: off)
    max_pnl_factor_adl: Decimal  # ADL allowed above this
    min_pnl_factor_after_adl: Decimal  # ADL may not go below this
    #: What the pool pays out now at most, USD: the cap of its assets less what the current cap
    #: episode holds back (``held``); None when read without it.
    budget: Optional[Decimal] = None
    held: Decimal = Decimal(0)

    @property
    def capped(self) -> bool:
        """Whether profit realised now is paid pro rata rather than in full: pending profit
        above the budget (SPEC §8.1). LP deposits wait meanwhile (``ProfitCapBinds``)."""
        if self.max_pnl_factor_traders == 0:
            return False
        if self.budget is not None:
            return self.pending_profit > self.budget
        return self.pnl_factor is None or self.pnl_factor > self.max_pnl_factor_traders

    @property
    def adl_allowed(self) -> bool:
        return self.pnl_factor is None or self.pnl_factor > self.max_pnl_factor_adl


@dataclass(frozen=True)
class AdlCandidate:
    """A profitable position that auto-deleveraging may close, with its rank."""

    account: str
    market: str
    side: str  # "long" | "short"
    size: Decimal  # absolute, in the market's base unit
    score: Decimal  # (mark / entry) x (notional / account value), mirrored for shorts
    raw_score: int  # the contract's WAD score (MAX_UINT: no account value left)
    raw_pnl: int = 0  # WAD USD at the oracle price
    entry_notional: int = 0  # WAD USD

    @property
    def pnl_to_size(self) -> int:
        """PnL / entry notional (GMX's size in USD), WAD: the order GMX-style keepers take."""
        return self.raw_pnl * margin_math.WAD // self.entry_notional if self.entry_notional else 0


def solvency(venue: "Venue") -> SolvencyView:
    profit, factor, open_entry, cap, adl, floor = venue.clearinghouse.solvency()
    _, budget, held = venue.clearinghouse.profit_budget()
    return SolvencyView(
        pending_profit=from_wad(profit), pnl_factor=_pnl_factor(factor),
        open_entry=from_wad(open_entry), max_pnl_factor_traders=Decimal(cap) / BPS,
        max_pnl_factor_adl=Decimal(adl) / BPS, min_pnl_factor_after_adl=Decimal(floor) / BPS,
        budget=from_wad(budget), held=from_wad(held))


def pnl_factor(venue: "Venue") -> Optional[Decimal]:
    """:attr:`SolvencyView.pnl_factor` alone (one view, where :func:`solvency` reads two)."""
    return _pnl_factor(venue.clearinghouse.solvency()[1])


def _pnl_factor(factor: int) -> Optional[Decimal]:
    return None if factor == MAX_UINT else from_wad(factor)


def factor_bps(name: str, value: Number) -> int:
    """A factor given as a fraction (0.85), in whole basis points; anything finer is refused,
    not rounded."""
    bps = Decimal(str(value)) * BPS
    if bps != bps.to_integral_value() or not 0 <= bps <= BPS:
        raise ValueError(f"{name} must be a fraction in [0, 1] with at most 4 decimals, got {value}")
    return int(bps)


def adl_score(size: int, entry: int, price: int, equity: int) -> int:
    """``TradeLogic.adlScore``: WAD, MAX_UINT when the account value is gone."""
    if equity <= 0:
        return MAX_UINT
    if size < 0:
        return entry * margin_math.WAD // equity
    notional = margin_math.notional_up(size, price)
    return notional * margin_math.WAD // entry * notional // equity


def adl_candidates(venue: "Venue", market: str) -> list[AdlCandidate]:
    """Every position in ``market`` that auto-deleveraging could close now, highest score first
    (ties: registration order), as the contract ranks them (``AdlNotHighestRanked``): in profit
    at the oracle price, on a side whose positions are in profit net of its losers (the sides
    pending profit counts; closing a winner of the others would raise the pnl factor), and
    valued: a position in a stale market, or a cross account whose markets are not all fresh,
    is left out until its feed returns."""
    return ranked_candidates(venue, [market])


def _profitable_sides(venue: "Venue", market_id: int, price: int) -> tuple[bool, bool]:
    """Whether the market's longs and its shorts are in profit net (``Solvency``'s rounding)."""
    state = venue.clearinghouse.market_state(market_id)
    long_size, short_size, long_entry, short_entry = state[0], state[1], state[6], state[7]
    return (margin_math.notional_up(long_size, price) > long_entry,
            short_entry > margin_math.notional_down(short_size, price))


def ranked_candidates(venue: "Venue", markets: Sequence[str]) -> list[AdlCandidate]:
    """:func:`adl_candidates` of several markets in one ranking, each account read once: the
    first is the one ``autoDeleverage`` takes now when ``markets`` are all of them and their
    ADL rule is ranked (the stock rule; the contract ranks only the markets whose rule is)."""
    ch = venue.clearinghouse
    prices = {m: venue.oracle.latest(venue.market_id(m))[0] for m in markets}
    sides = {m: _profitable_sides(venue, venue.market_id(m), prices[m]) for m in markets}
    found = []
    for index in range(ch.account_count()):
        account = ch.accounts(index)
        cross_equity: Optional[int] = None
        for market in markets:
            mid, price = venue.market_id(market), prices[market]
            size, entry, _, mode, *_ = ch.position(account, mid)
            if size == 0 or margin_math.pnl(size, entry, price) <= 0 \
                    or not sides[market][0 if size > 0 else 1]:
                continue
            try:
                if mode == MarginMode.ISOLATED:
                    equity = ch.position_health(account, mid)[0]
                else:
                    if cross_equity is None:
                        cross_equity = ch.account_health(account)[0]
                    equity = cross_equity
            except Reverted:
                continue
            score = adl_score(size, entry, price, equity)
            found.append(AdlCandidate(
                account=to_checksum_address(account), market=market,
                side="long" if size > 0 else "short", size=from_wad(abs(size)),
                score=from_wad(score) if score != MAX_UINT else Decimal("Infinity"), raw_score=score,
                raw_pnl=margin_math.pnl(size, entry, price), entry_notional=entry))
    found.sort(key=lambda c: -c.raw_score)
    return found


def adl_flags(venue: "Venue", market: str) -> int:
    """The ADL rule of ``market`` (``IAdlModule.rule``): ADL_RANKED (1) and/or ADL_ROUND (2);
    the stock rule (no module) is ranked."""
    module = venue.clearinghouse.market_modules(venue.market_id(market))[4]
    if not int(module, 16):
        return ADL_RANKED
    return int(venue.chain.at("IAdlModule", module).call("rule", venue.market_id(market)))


@dataclass(frozen=True)
class AdlRound:
    """The ADL round in progress or the last one (``adlRound``, SPEC §8.1)."""

    id: int
    fraction: int  # WAD: each member is cut by this fraction of its size when the round began
    remaining: int  # members not cut yet; 0: no round in progress
    module: str

    @property
    def active(self) -> bool:
        return self.remaining > 0


def adl_round(venue: "Venue") -> AdlRound:
    rid, fraction, remaining, module = venue.clearinghouse.adl_round()
    return AdlRound(rid, fraction, remaining, to_checksum_address(module))


def round_entitlements(venue: "Venue") -> list[tuple[str, str, int]]:
    """(account, market, size WAD) of every member of the round in progress not cut yet whose
    entitlement (``adlRoundEntry``) is positive now, in registration order."""
    ch = venue.clearinghouse
    if not adl_round(venue).active:
        return []
    found: list[tuple[str, str, int]] = []
    for index in range(ch.account_count()):
        account = ch.accounts(index)
        for market in venue.markets:
            entitled = ch.adl_round_entry(account, venue.market_id(market))[3]
            if entitled:
                found.append((to_checksum_address(account), market, entitled))
    return found


def max_adl_size(venue: "Venue", caller: str, account: str, market: str) -> int:
    """The most of ``account``'s position in ``market`` that one ``autoDeleverage`` may close now
    (base units, WAD): all of it, or the largest size that keeps the pnl factor at or above its
    floor, found by simulating the call (to 1 ppm of the position). 0 when none may be."""
    ch, mid = venue.clearinghouse, venue.market_id(market)
    size = abs(ch.position(account, mid)[0])

    def error(amount: int) -> Optional[str]:
        try:
            ch.simulate.auto_deleverage(account, mid, amount, sender=caller)
            return None
        except Reverted as e:
            return e.error or "revert"

    if size == 0:
        return 0
    refused = error(size)
    if refused is None:
        return size
    if refused != "AdlOvershoot":
        return 0  # not a question of size: not required, not profitable, stale...
    lo, hi = 0, size  # lo may be closed (0: nothing), hi may not
    tolerance = max(1, size // 10**6)
    while hi - lo > tolerance:
        middle = (lo + hi) // 2
        if error(middle) is None:
            lo = middle
        else:
            hi = middle
    return lo
