"""Human-unit helpers: liquidation prices from SPEC §6 (Decimal in, Decimal out)."""

from __future__ import annotations

from decimal import Decimal
from typing import Union

Number = Union[int, float, Decimal, str]


def _d(x: Number) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def liquidation_price(side: int, price: Number, size: Number, equity: Number,
                      mmf: Number) -> Decimal:
    """Price at which one position's equity meets its maintenance margin, all else fixed.

    ``p_liq = p - s (E - MM(p)) / |q| / (1 - mmf s)`` with ``MM(p) = |q| p mmf``; ``side`` is +1
    for a long and -1 for a short, ``equity`` is E at ``price``. Returns ``Decimal`` (it may be
    negative for a long that can never be liquidated).
    """
    if side not in (1, -1):
        raise ValueError(f"side must be +1 (long) or -1 (short), not {side!r}")
    p, q, e, m = _d(price), abs(_d(size)), _d(equity), _d(mmf)
    if q == 0:
        raise ValueError("size must be non-zero")
    mm = q * p * m
    return p - side * (e - mm) / q / (1 - m * side)


def cross_liquidation_price(side: int, price: Number, size: Number, equity: Number,
                            maintenance_margin: Number, mmf: Number) -> Decimal:
    """Cross variant: ``equity`` is the account's equity and ``maintenance_margin`` the whole
    cross maintenance margin at ``price``; the other positions are held at their prices.

    As this market's price moves by d, equity moves by ``s |q| d`` and maintenance margin by
    ``|q| d mmf``, so the account reaches maintenance at ``p - s (E - MM) / |q| / (1 - mmf s)``.
    """
    if side not in (1, -1):
        raise ValueError(f"side must be +1 (long) or -1 (short), not {side!r}")
    p, q, e, mm, m = _d(price), abs(_d(size)), _d(equity), _d(maintenance_margin), _d(mmf)
    if q == 0:
        raise ValueError("size must be non-zero")
    return p - side * (e - mm) / q / (1 - m * side)

