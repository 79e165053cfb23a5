"""Human units <-> exact integers. Conversions never round silently: too many decimals raise."""

from __future__ import annotations

from decimal import Decimal
from typing import Union

Number = Union[int, float, Decimal, str]
WAD = 10**18


def _decimal(value: Number) -> Decimal:
    if isinstance(value, bool):
        raise TypeError("booleans are not amounts")
    return value if isinstance(value, Decimal) else Decimal(str(value))


def to_fixed(value: Number, decimals: int, what: str = "amount") -> int:
    """``value`` x 10**decimals as an exact int; more precision than that raises ValueError."""
    scaled = _decimal(value).scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what} {value} has more than {decimals} decimals")
    return int(scaled)


def to_wad(value: Number, what: str = "amount") -> int:
    return to_fixed(value, 18, what)


def to_tokens(value: Number, decimals: int, what: str = "amount") -> int:
    return to_fixed(value, decimals, what)


def from_fixed(value: int, decimals: int) -> Decimal:
    return Decimal(value).scaleb(-decimals)


def from_wad(value: int) -> Decimal:
    return from_fixed(value, 18)
