"""What the built-in metrics share: USD rounding and drawdowns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Sequence

#: An account with under 1% of its starting capital left is wiped out.
WIPED_OUT = Decimal("0.01")


#: Decimal places of every USD figure of a run: to the micro-dollar.
USD_DECIMALS = 6
_USD_QUANTUM = Decimal(1).scaleb(-USD_DECIMALS)


def usd(x: Decimal) -> Decimal:
    """``x`` to the micro-dollar, as every USD figure of a run is written."""
    return x.quantize(_USD_QUANTUM)


def max_drawdown(values: Sequence[Decimal]) -> Decimal:
    """Largest peak-to-trough fall, as a fraction of the peak (0 if it never falls)."""
    peak, worst = None, Decimal(0)
    for x in values:
        if peak is None or x > peak:
            peak = x
        elif peak > 0:
            worst = max(worst, (peak - x) / peak)
    return worst.quantize(Decimal("0.000001"))


def market_drawdowns(exogenous: Sequence[Decimal], reported: Sequence[Decimal]) -> dict[str, Any]:
    """A market's largest fall on the external path and as the oracle reported it (moved by the
    venue's own flow), and their ratio, ``amplification`` (1 when the flow moved nothing; None
    when only the reported price fell)."""
    exo, moved = max_drawdown(exogenous), max_drawdown(reported)
    if exo == 0:
        amplification = Decimal(1) if moved == 0 else None
    else:
        amplification = (moved / exo).quantize(Decimal("0.0001"))
    return {"exogenous_max_drawdown": exo, "max_drawdown": moved, "amplification": amplification}
