"""Parameter checks shared by the price models; every failure is a ``ValueError`` naming the
parameter."""

from __future__ import annotations

import math
import random
from decimal import Decimal, InvalidOperation
from numbers import Real
from typing import Union

Number = Union[int, float, Decimal, str]


def real(name: str, value: object, *, lo: float | None = None, hi: float | None = None,
         lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` as a finite float within the given bounds, else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (Real, Decimal)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo is not None and (x <= lo if lo_open else x < lo):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and (x >= hi if hi_open else x > hi):
        raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi}, got {value!r}")
    return x


def decimal(name: str, value: object) -> Decimal:
    """``value`` (int, float, Decimal or numeric string) as a finite ``Decimal``."""
    if isinstance(value, bool) or not isinstance(value, (Real, Decimal, str)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return d


def fraction(name: str, value: object, *, lo: Decimal, hi: Decimal,
             lo_open: bool = True, hi_open: bool = True) -> Decimal:
    """A ``Decimal`` fraction (0.2 means 20%) within the given bounds."""
    d = decimal(name, value)
    if (d <= lo if lo_open else d < lo) or (d >= hi if hi_open else d > hi):
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ValueError(f"{name} must be a fraction in {left}{lo}, {hi}{right} "
                         f"(e.g. 0.2 for 20%), got {value!r}")
    return d


def integer(name: str, value: object, *, lo: int = 0) -> int:
    """``value`` as an int >= ``lo`` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < lo:
        raise ValueError(f"{name} must be >= {lo}, got {value!r}")
    return value


def symbol(name: str, value: object) -> str:
    """A non-empty symbol without surrounding whitespace."""
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValueError(f"{name} must be a non-empty string without surrounding whitespace, "
                         f"got {value!r}")
    return value


def symbols(name: str, values: object) -> tuple[str, ...]:
    """A non-empty tuple of distinct symbols."""
    if isinstance(values, str) or not isinstance(values, (tuple, list)):
        raise ValueError(f"{name} must be a tuple of symbols, got {values!r}")
    out = tuple(symbol(f"{name}[{i}]", s) for i, s in enumerate(values))
    if not out:
        raise ValueError(f"{name} must not be empty")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct, got {out!r}")
    return out


def path_args(blocks: object, block_time: object, seed: object) -> tuple[int, float, int]:
    """Check the arguments of ``PriceSource.path``."""
    return (integer("blocks", blocks), real("block_time", block_time, lo=0, lo_open=True),
            integer("seed", seed))


def rng(seed: int) -> random.Random:
    """A private Mersenne-Twister generator; the only randomness the models use.

    Seeding ``random.Random`` with a non-negative int is platform independent.
    """
    return random.Random(integer("seed", seed))


def set_field(obj: object, name: str, value: object) -> None:
    """Normalise a field of a frozen dataclass in ``__post_init__``."""
    object.__setattr__(obj, name, value)
