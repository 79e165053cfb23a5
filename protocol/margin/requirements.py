"""Mirror of the margin module (``IMarginModule``) and its stock rule (``StockRules``):
initial margin = notional / leverage, maintenance = notional x mmf, both rounded up."""

from __future__ import annotations

from protocol.margin import math as m


class StockMargin:
    def requirements(self, market: int, notional: int, leverage: int, mmf: int) -> tuple[int, int]:
        """(initial, maintenance) margin of a position, WAD USD."""
        return m.initial(notional, leverage), m.maintenance(notional, mmf)
