"""Exact integer mirror of ``contracts/libraries/MarginMath.sol`` (same names, same rounding).

Amounts are WAD (1e18) USD unless a name says tokens. Every function rounds against the trader.
"""

from __future__ import annotations

from protocol.constants import BPS as BPS  # re-exported: callers write m.BPS, m.WAD
from protocol.constants import WAD as WAD

#: Steps of the borrow index: 1e-15 of entry notional (``MarginMath.BORROW_INDEX_UNIT``).
BORROW_INDEX_UNIT = 10**3


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def mul_div(a: int, b: int, d: int, up: bool = False) -> int:
    return ceil_div(a * b, d) if up else (a * b) // d


def notional_down(size_abs: int, price: int) -> int:
    return size_abs * price // WAD


def notional_up(size_abs: int, price: int) -> int:
    return ceil_div(size_abs * price, WAD)


def entry_notional(is_long: bool, size_abs: int, price: int) -> int:
    return notional_up(size_abs, price) if is_long else notional_down(size_abs, price)


def closed_entry(entry: int, close_abs: int, size_abs: int, is_long: bool) -> int:
    if close_abs == size_abs:
        return entry
    return mul_div(entry, close_abs, size_abs, up=is_long)


def pnl(size: int, entry: int, price: int) -> int:
    if size >= 0:
        return notional_down(size, price) - entry
    return entry - notional_up(-size, price)


def funding(size_abs: int, index_now: int, index_at_entry: int) -> int:
    delta = index_now - index_at_entry
    if delta >= 0:
        return ceil_div(size_abs * delta, WAD)
    return -((size_abs * -delta) // WAD)


def borrowing(entry: int, index_now: int, index_at_entry: int) -> int:
    return ceil_div(entry * (index_now - index_at_entry), WAD // BORROW_INDEX_UNIT)


def borrow_index_growth(rate: int, elapsed: int) -> int:
    return ceil_div(rate * elapsed, BORROW_INDEX_UNIT)


def advance_indices(long_idx: int, short_idx: int, borrow_idx: int, long_size: int,
                    short_size: int, rate: int, borrow_rate: int, price: int,
                    elapsed: int) -> tuple[int, int, int]:
    """``Markets.indicesNow``'s arithmetic: the indices after ``elapsed`` seconds at ``rate``
    (funding, + longs pay) and ``borrow_rate``. The payers' index rises by price x elapsed x
    |rate|, rounded up; the receivers' falls by that share of the payers' size, rounded down."""
    if elapsed == 0:
        return long_idx, short_idx, borrow_idx
    borrow_idx += borrow_index_growth(borrow_rate, elapsed)
    if rate != 0:
        payer_delta = mul_div(price * elapsed, abs(rate), WAD, up=True)
        payer, receiver = (long_size, short_size) if rate > 0 else (short_size, long_size)
        receiver_delta = mul_div(payer_delta, payer, receiver)
        if rate > 0:
            long_idx, short_idx = long_idx + payer_delta, short_idx - receiver_delta
        else:
            short_idx, long_idx = short_idx + payer_delta, long_idx - receiver_delta
    return long_idx, short_idx, borrow_idx


def pending_borrowing(entries: int, index: int, weight: int) -> int:
    return (entries * index - weight) // (WAD // BORROW_INDEX_UNIT)


def maintenance(notional: int, mmf: int) -> int:
    return ceil_div(notional * mmf, WAD)


def initial(notional: int, leverage: int) -> int:
    return ceil_div(notional, leverage)


def transfer_requirement(notional: int, initial_margin: int) -> int:
    """What a transfer out must leave: max(IM, 10% of notional) (``Health.transferRequirement``)."""
    return max(initial_margin, ceil_div(notional, 10))


def fee_wad(notional: int, bps: int) -> int:
    return ceil_div(notional * bps, BPS)


def credit_tokens(wad: int, scale: int) -> int:
    """WAD to tokens rounded towards minus infinity (credits)."""
    return wad // scale


def charge_tokens(wad: int, scale: int) -> int:
    """WAD to tokens rounded towards plus infinity (charges)."""
    return ceil_div(wad, scale)


def fee_tokens(notional: int, bps: int, scale: int) -> int:
    return charge_tokens(fee_wad(notional, bps), scale)


def funding_rate(long_size: int, short_size: int, factor: int, max_rate: int) -> int:
    if long_size == 0 or short_size == 0:
        return 0
    skew = abs(long_size - short_size)
    rate = min(factor * skew // (long_size + short_size), max_rate)
    return rate if long_size >= short_size else -rate
