"""Human units <-> exact integers. Conversions never round silently: too many decimals raise.

Every conversion checks its input and raises :class:`~protocol.errors.AmountError` (one line,
naming the argument and its unit) for what cannot be sent: not a finite number, a negative
amount where none is allowed, or more decimals than the unit has.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Optional, Union

from protocol.errors import AmountError

Number = Union[int, float, Decimal, str]


def _decimal(value: Number, what: str, unit: str) -> Decimal:
    where = f" ({unit})" if unit else ""
    if isinstance(value, bool) or value is None:
        raise AmountError(f"{what} {value!r} is not a number{where}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise AmountError(f"{what} {value!r} is not a number{where}") from None
    if not number.is_finite():
        raise AmountError(f"{what} {value!r} is not a finite number{where}")
    return number


def to_fixed(value: Number, decimals: int, what: str = "amount", *, unit: str = "",
             minimum: Optional[int] = None, positive: bool = False,
             precision: str = "") -> int:
    """``value`` x 10**decimals as an exact int. ``minimum`` (in whole units) and ``positive``
    bound it; ``unit`` names the unit in messages (``precision`` says whose decimals they are)."""
    number = _decimal(value, what, unit)
    in_unit = f" {unit}" if unit else ""
    if positive and number <= 0:
        raise AmountError(f"{what} must be above 0{in_unit}, got {value}")
    if minimum is not None and number < minimum:
        raise AmountError(f"{what} must be at least {minimum}{in_unit}, got {value}")
    scaled = number.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        detail = ", ".join(part for part in (unit, precision) if part)
        raise AmountError(f"{what} {value} has more than {decimals} decimals"
                          + (f" ({detail})" if detail else ""))
    return int(scaled)


def to_wad(value: Number, what: str = "amount", **bounds: Any) -> int:
    return to_fixed(value, 18, what, **bounds)


def to_tokens(value: Number, decimals: int, what: str = "amount", **bounds: Any) -> int:
    return to_fixed(value, decimals, what, **bounds)


def usd_tokens(value: Number, decimals: int, what: str) -> int:
    """A non-negative USD amount in collateral token units (what every amount a trader, LP or
    the admin moves is)."""
    return to_fixed(value, decimals, what, unit="USD", minimum=0,
                    precision="the collateral's precision")


def price_wad(value: Number, what: str = "price") -> int:
    """A price (USD per unit of the base asset, above 0) in WAD."""
    return to_fixed(value, 18, what, unit="USD", positive=True)


def from_fixed(value: int, decimals: int) -> Decimal:
    return Decimal(value).scaleb(-decimals)


def from_wad(value: int) -> Decimal:
    return from_fixed(value, 18)
