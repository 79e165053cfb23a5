"""Human-unit helpers: liquidation prices from SPEC §6 (Decimal in, Decimal out)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Optional, Sequence, Union, cast

Number = Union[int, float, Decimal, str]


def _d(x: Number) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


Tiers = Sequence[tuple[Number, int]]

WEI = Decimal("1e-18")


def _toward_liquidation(side: int, price: Decimal) -> Decimal:
    """A price the oracle takes (18 decimals), rounded toward the liquidation: a long's down,
    a short's up, so the price returned is one at which the position is liquidatable."""
    return price.quantize(WEI, rounding=ROUND_FLOOR if side == 1 else ROUND_CEILING)


def _tier_table(tiers: Tiers) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(lower bound, mmr, deduction) per tier: mmr = 1 / (2 max leverage), deductions making
    maintenance continuous (Hyperliquid)."""
    table, deduction, previous = [], Decimal(0), None
    for bound, leverage in tiers:
        bound, mmr = _d(bound), Decimal(1) / (2 * int(leverage))
        if previous is not None:
            deduction += bound * (mmr - previous)
        table.append((bound, mmr, deduction))
        previous = mmr
    return table


def maintenance_margin(notional: Number, tiers: Tiers) -> Decimal:
    """Maintenance margin of a position of this notional under Hyperliquid tiers:
    ``notional x mmr(tier) - deduction(tier)`` (``tiers``: (lower bound USD, max leverage))."""
    n = _d(notional)
    bound, mmr, deduction = [t for t in _tier_table(tiers) if n >= t[0]][-1]
    return n * mmr - deduction


def liquidation_price(side: int, price: Number, size: Number, equity: Number,
                      mmf: Optional[Number] = None, *, tiers: Optional[Tiers] = None) -> Decimal:
    """Price at which one position's equity meets its maintenance margin, all else fixed.

    ``p_liq = p - s (E - MM(p)) / |q| / (1 - mmf s)`` with ``MM(p) = |q| p mmf``; ``side`` is +1
    for a long and -1 for a short, ``equity`` is E at ``price``. With ``tiers`` the maintenance
    margin is the tier's at the liquidation price (``|q| p mmr - deduction``), as on
    Hyperliquid. Returns ``Decimal`` with at most 18 decimals, rounded toward the liquidation
    (a long's down, a short's up), so ``venue.set_price`` takes it and it liquidates; it may be
    negative for a long that can never be liquidated.
    """
    if side not in (1, -1):
        raise ValueError(f"side must be +1 (long) or -1 (short), not {side!r}")
    if (mmf is None) == (tiers is None):
        raise ValueError("give either mmf or tiers")
    p, q, e = _d(price), abs(_d(size)), _d(equity)
    if q == 0:
        raise ValueError("size must be non-zero")
    if tiers is None:
        m = _d(cast(Number, mmf))  # given, as tiers is not (checked above)
        return _toward_liquidation(side, p - side * (e - q * p * m) / q / (1 - m * side))
    # E + s q (x - p) = q x mmr - D in the tier the notional q x lands in.
    table = _tier_table(tiers)
    for i, (bound, mmr, deduction) in enumerate(table):
        x = (side * q * p - e - deduction) / (q * (side - mmr))
        upper = table[i + 1][0] if i + 1 < len(table) else None
        if q * x >= bound and (upper is None or q * x < upper):
            return _toward_liquidation(side, x)
    return _toward_liquidation(side, (side * q * p - e) / (q * (side - table[0][1])))  # x <= 0


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
    return _toward_liquidation(side, p - side * (e - mm) / q / (1 - m * side))

