"""Keeper bots competing for liquidations, order execution, funding, auto-deleveraging and
oracle updates, and the event index of the book they (and the simulation's metrics) read.

>>> from protocol.keepers import BlockBuilder, LiquidationKeeper, Strategy
>>> bot = LiquidationKeeper(venue, "liq", Strategy(latency=1, gas_price=2 * 10**9))
>>> BlockBuilder(venue, [bot]).run(3)
"""

from protocol.keepers.block import BlockBuilder, BlockResult, Landed
from protocol.keepers.bots import (
                                   AdlKeeper,
                                   FundingKeeper,
                                   Intent,
                                   KeeperBot,
                                   LiquidationKeeper,
                                   OracleKeeper,
                                   OrderKeeper,
)
from protocol.keepers.index import BookIndex, IndexMismatch
from protocol.keepers.ledger import Ledger
from protocol.keepers.strategy import Strategy

__all__ = ["AdlKeeper", "BlockBuilder", "BlockResult", "BookIndex", "FundingKeeper", "IndexMismatch",
           "Intent", "KeeperBot", "Landed", "Ledger", "LiquidationKeeper", "OracleKeeper",
           "OrderKeeper", "Strategy"]
