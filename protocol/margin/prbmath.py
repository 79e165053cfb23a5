"""An exact port of the fixed-point ``pow`` of prb-math 2.4.3 (``PRBMathUD60x18``), the library
gmx-synthetics' ``Precision.applyExponentFactor`` (and so ``ImpactPricing``) raises an imbalance
to a fractional exponent with.

Every step is the library's own integer arithmetic, so the result equals the chain's to the wei:
``pow(x, y) = exp2(mul(log2(x), y))`` with ``log2`` by the iterative binary-fraction method (59
squarings), ``mul`` rounding half up, and ``exp2`` by the 64 magic factors of
``PRBMath.exp2`` in 192.64-bit fixed point. ``tests/contracts/test_prbmath.py`` checks each constant below
against the pinned npm package's source and the functions against the chain on random inputs.

Standard library only, like the rest of the reference model. A value the library refuses raises
:class:`PRBMathError` carrying the library's custom error name.
"""

from __future__ import annotations

from protocol.exceptions import PerpsimError

SCALE = 10**18  # PRBMathUD60x18.SCALE: 1.0 as an unsigned 60.18-decimal number
HALF_SCALE = 5 * 10**17  # PRBMathUD60x18.HALF_SCALE
#: 2^192 does not fit the 192.64-bit format ``exp2`` works in (PRBMathUD60x18.exp2's bound).
EXP2_MAX_INPUT = 192 * SCALE
UINT256 = 2**256

#: ``PRBMath.exp2``: the factor 2^(2^-(64-i)) in 1.64 fixed point, applied when bit ``63 - k`` of
#: the fractional part is set (``EXP2_FACTORS[k]`` for bit 63 - k).
EXP2_FACTORS = (
    0x16A09E667F3BCC909, 0x1306FE0A31B7152DF, 0x1172B83C7D517ADCE, 0x10B5586CF9890F62A,
    0x1059B0D31585743AE, 0x102C9A3E778060EE7, 0x10163DA9FB33356D8, 0x100B1AFA5ABCBED61,
    0x10058C86DA1C09EA2, 0x1002C605E2E8CEC50, 0x100162F3904051FA1, 0x1000B175EFFDC76BA,
    0x100058BA01FB9F96D, 0x10002C5CC37DA9492, 0x1000162E525EE0547, 0x10000B17255775C04,
    0x1000058B91B5BC9AE, 0x100002C5C89D5EC6D, 0x10000162E43F4F831, 0x100000B1721BCFC9A,
    0x10000058B90CF1E6E, 0x1000002C5C863B73F, 0x100000162E430E5A2, 0x1000000B172183551,
    0x100000058B90C0B49, 0x10000002C5C8601CC, 0x1000000162E42FFF0, 0x10000000B17217FBB,
    0x1000000058B90BFCE, 0x100000002C5C85FE3, 0x10000000162E42FF1, 0x100000000B17217F8,
    0x10000000058B90BFC, 0x1000000002C5C85FE, 0x100000000162E42FF, 0x1000000000B17217F,
    0x100000000058B90C0, 0x10000000002C5C860, 0x1000000000162E430, 0x10000000000B17218,
    0x1000000000058B90C, 0x100000000002C5C86, 0x10000000000162E43, 0x100000000000B1721,
    0x10000000000058B91, 0x1000000000002C5C8, 0x100000000000162E4, 0x1000000000000B172,
    0x100000000000058B9, 0x10000000000002C5D, 0x1000000000000162E, 0x10000000000000B17,
    0x1000000000000058C, 0x100000000000002C6, 0x10000000000000163, 0x100000000000000B1,
    0x10000000000000059, 0x1000000000000002C, 0x10000000000000016, 0x1000000000000000B,
    0x10000000000000006, 0x10000000000000003, 0x10000000000000001, 0x10000000000000001,
)


class PRBMathError(PerpsimError, ArithmeticError):
    """prb-math would revert with the custom error ``name``."""

    def __init__(self, name: str, *args: int):
        super().__init__(name, *args)
        self.name = name


def log2(x: int) -> int:
    """``PRBMathUD60x18.log2``: the binary logarithm of ``x`` (60.18), for ``x >= 1.0``."""
    if x < SCALE:
        raise PRBMathError("PRBMathUD60x18__LogInputTooSmall", x)
    n = (x // SCALE).bit_length() - 1  # PRBMath.mostSignificantBit
    result = n * SCALE
    y = x >> n
    if y == SCALE:
        return result
    delta = HALF_SCALE
    while delta > 0:
        y = y * y // SCALE
        if y >= 2 * SCALE:
            result += delta
            y >>= 1
        delta >>= 1
    return result


def mul(x: int, y: int) -> int:
    """``PRBMathUD60x18.mul`` (``PRBMath.mulDivFixedPoint``): x * y / 1e18, rounded half up."""
    product = x * y
    if product >> 256 >= SCALE:
        raise PRBMathError("PRBMath__MulDivFixedPointOverflow", product >> 256)
    quotient, remainder = divmod(product, SCALE)
    return quotient + (1 if remainder > HALF_SCALE - 1 else 0)


def exp2(x: int) -> int:
    """``PRBMathUD60x18.exp2``: 2^x for a 60.18 ``x`` below 192."""
    if x >= EXP2_MAX_INPUT:
        raise PRBMathError("PRBMathUD60x18__Exp2InputTooBig", x)
    x192x64 = (x << 64) // SCALE
    result = 1 << 191
    for k, factor in enumerate(EXP2_FACTORS):
        if x192x64 & (1 << (63 - k)):
            result = (result * factor) >> 64
    result = (result * SCALE) % UINT256  # unchecked in the library; never wraps
    return result >> (191 - (x192x64 >> 64))


def pow(x: int, y: int) -> int:  # noqa: A001 - the library's name
    """``PRBMathUD60x18.pow``: x^y = 2^(log2(x) * y), both 60.18; 0^0 is 1."""
    if x == 0:
        return SCALE if y == 0 else 0
    return exp2(mul(log2(x), y))
