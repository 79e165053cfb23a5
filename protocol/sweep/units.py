"""How a sweep's statistics read: each in its unit (USD or %, :mod:`protocol.pages.units`), with
its interval, or why it has none."""

from __future__ import annotations

from decimal import Decimal
from typing import Optional, Sequence

from protocol.pages.units import money, percent
from protocol.sweep.aggregate import CONFIDENCE, Interval, PointAggregate, Statistic, min_seeds

UNIT_SUFFIX = {"usd": "USD", "fraction": "%"}


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


def short_reason(reason: str) -> str:
    """``"n too small for VaR95"``: the part of a missing figure's reason a table cell shows."""
    return reason.split(":", 1)[0]


def figure(stat: Statistic, a: PointAggregate) -> str:
    """Point ``a``'s ``stat`` in its unit, or why it has none (``n too small for VaR95``)."""
    value = a.value(stat.name)
    if value is None and stat.name in a.reasons:
        return short_reason(a.reasons[stat.name])
    return show(stat, value)


def too_few_seeds_note(aggregates: Sequence[PointAggregate], stats: Sequence[Statistic]) -> str:
    """One sentence for every tail quantile the sweep's points have too few seeds for, or ``""``:
    ``n too small for VaR95, LP return p5: 10 seeds per grid point; a 95% order-statistic
    interval needs at least 72 (run with --seeds 72 or more).``"""
    missing = [s for s in stats if any(s.name in a.reasons for a in aggregates)]
    if not missing:
        return ""
    counts = sorted({a.runs for a in aggregates if any(s.name in a.reasons for s in missing)})
    seeds = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    need = max(min_seeds(s.quantile) for s in missing if s.quantile is not None)
    return (f"n too small for {', '.join(s.short for s in missing)}: {seeds} finished seeds per "
            f"grid point; a {CONFIDENCE * 100:.0f}% order-statistic interval of a tail quantile "
            f"needs at least {need} (run with --seeds {need} or more). Means and worst cases are "
            "shown with bootstrap intervals.")
