"""How sweep figures read: USD with separators, fractions as percentages (as the CLI's table)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from protocol.sweep.aggregate import Interval, Statistic

UNIT_SUFFIX = {"usd": "USD", "fraction": "%"}


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


def show(stat: Statistic, value: Optional[Decimal]) -> str:
    """``value`` of ``stat`` in its unit: ``1,234.50`` (USD) or ``26.72%``."""
    return percent(value) if stat.unit == "fraction" else money(value)


def show_interval(stat: Statistic, interval: Optional[Interval]) -> str:
    """``95% CI 1,000.00 – 2,000.00`` (empty without an interval)."""
    if interval is None:
        return ""
    return f"{show(stat, interval.low)} – {show(stat, interval.high)}"


def plotted(stat: Statistic, value: Optional[Decimal]) -> Optional[float]:
    """Chart coordinate in the unit the axis shows (percent for fractions)."""
    if value is None:
        return None
    return float(value * 100) if stat.unit == "fraction" else float(value)


def titled(stat: Statistic) -> str:
    """``VaR95 bad debt (USD)``, ``LP return, mean (%)``."""
    return f"{stat.label} ({UNIT_SUFFIX[stat.unit]})"
