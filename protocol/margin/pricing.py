"""Mirror of the pricing module (``IPricingModule``) and its stock rule: the oracle price."""

from __future__ import annotations


class OraclePricing:
    def fill_price(self, market: int, size_delta: int, oracle_price: int) -> int:
        return oracle_price
