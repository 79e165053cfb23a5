"""Human units for every page: USD with thousands separators (``$1,234.50`` on a run's page,
``1,234.50`` in a sweep's tables, whose columns name the unit), percentages, gas in gwei and USD,
durations in hours and days beside blocks, parameters as TOML writes them. Formatting only; the
files keep exact values."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Optional

from protocol import constants
from protocol.values import to_float

GWEI = Decimal(constants.GWEI)
ETH = Decimal(10) ** 18
DASH = "–"


def usd(value: Any, cents: bool = True) -> str:
    """``$1,234,567.89`` (``-$12.50``); ``–`` for nothing."""
    x = to_float(value)
    if math.isnan(x):
        return DASH
    text = f"{abs(x):,.2f}" if cents else f"{abs(x):,.0f}"
    return f"-${text}" if x < 0 and float(text.replace(",", "")) else f"${text}"


def pct(fraction: Any, digits: int = 2) -> str:
    """A fraction as a percentage: ``0.2672`` -> ``26.72%``."""
    x = to_float(fraction)
    return DASH if math.isnan(x) else f"{x * 100:,.{digits}f}%"


def count(value: Any) -> str:
    x = to_float(value)
    return DASH if math.isnan(x) else f"{x:,.0f}"


def duration(seconds: float) -> str:
    """``45 min``, ``6.0 h``, ``2.5 d``."""
    if seconds < 3600:
        return f"{seconds / 60:,.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 86400:,.1f} d"


def blocks(n: Any, block_time: int) -> str:
    """``1,440 blocks (1.0 d)``: blocks with the time they span."""
    x = to_float(n)
    if math.isnan(x):
        return DASH
    return f"{x:,.0f} blocks ({duration(x * block_time)})"


def gas(wei: Any, eth_price_usd: Optional[Any] = None) -> str:
    """Wei spent as gwei and, given the ETH price, USD: ``2,305,567 gwei ($6.92)``."""
    x = to_float(wei)
    if math.isnan(x):
        return DASH
    text = f"{x / 1e9:,.0f} gwei"
    price = to_float(eth_price_usd)
    return text if math.isnan(price) else f"{text} ({usd(x / 1e18 * price)})"


def human_key(key: str) -> str:
    """``pool.lp_return`` -> ``pool › LP return``."""
    words = key.replace("_", " ").replace(" usd", "").replace(" wei", "").split(".")
    return " › ".join(w.replace("lp ", "LP ").replace(" lp", " LP") for w in words)


USD_WORDS = ("usd", "value", "debt", "notional", "fees", "funding", "profit", "equity", "paid",
             "haircut", "losses", "insurance_fund.", "cost", "volume", "rewards", "start", "end",
             "min", "$")
PCT_WORDS = ("return", "drawdown")


def human(key: str, value: Any, eth_price_usd: Optional[Any] = None) -> str:
    """A summary value in the unit its key implies (USD, %, gas, count, share price)."""
    if value is None:
        return DASH
    if isinstance(value, str) and not _numeric(value):
        return value
    leaf = key.rsplit(".", 1)[-1]
    if leaf.endswith("_wei"):
        return gas(value, eth_price_usd)
    if "share_price" in leaf:
        return f"${to_float(value):,.6f}"
    if any(w in leaf for w in PCT_WORDS):
        return pct(value)
    if leaf.endswith("_pct") or leaf.endswith("%"):
        x = to_float(value)
        return f"{x:,.2f}%"
    if "factor" in leaf or "amplification" in leaf:
        return f"{to_float(value):,.4f}"
    if isinstance(value, int) or (isinstance(value, Decimal) and value == value.to_integral_value()
                                  and not any(w in key for w in USD_WORDS)):
        return count(value)
    if any(w in key for w in USD_WORDS):
        return usd(value)
    return f"{to_float(value):,.4f}"


def _numeric(text: str) -> bool:
    return not math.isnan(to_float(text))


def param(value: Any) -> str:
    """A parameter value as it is written in TOML and ``--set`` (``true``, ``10``, ``0.5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def money(value: Any) -> str:
    """USD with 2 decimals and thousands separators (``""`` for ``None``, no ``-0.00``)."""
    if value is None:
        return ""
    q = Decimal(str(value)).quantize(Decimal("0.01"))
    if q == 0:
        q = abs(q)
    return f"{q:,.2f}"


def percent(value: Any) -> str:
    """A fraction as a percentage with 2 decimals (``0.0123`` -> ``1.23%``)."""
    if value is None:
        return ""
    q = (Decimal(str(value)) * 100).quantize(Decimal("0.01"))
    if q == 0:
        q = abs(q)
    return f"{q:,.2f}%"
