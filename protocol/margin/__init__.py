"""Reference model of the venue's margin rules (standard library only).

- :mod:`protocol.margin.math`: exact integer mirror of ``MarginMath.sol``.
- :mod:`protocol.margin.model`: the whole Clearinghouse as a Python state machine.
- :func:`liquidation_price` / :func:`cross_liquidation_price`: SPEC §6 in human units;
  :func:`maintenance_margin` under Hyperliquid tiers.
"""

from protocol.margin.human import cross_liquidation_price, liquidation_price, maintenance_margin
from protocol.margin.model import CROSS, ISOLATED, MarketParams, Model, ModelRevert

__all__ = ["CROSS", "ISOLATED", "MarketParams", "Model", "ModelRevert",
           "cross_liquidation_price", "liquidation_price", "maintenance_margin"]
