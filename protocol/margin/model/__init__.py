"""The exact reference model of the Clearinghouse (:class:`Model`), in parts that mirror the
contracts' libraries; standard library only."""

from protocol.margin.model.core import Model
from protocol.margin.model.state import (
    CLOSE_ALL,
    CROSS,
    CROSS_ACCOUNT,
    ISOLATED,
    MarketMemory,
    MarketParams,
    MarketRules,
    MarketState,
    ModelRevert,
    Position,
    Settlement,
)

__all__ = ["CLOSE_ALL", "CROSS", "CROSS_ACCOUNT", "ISOLATED", "MarketMemory", "MarketParams", "MarketRules", "MarketState",
           "Model", "ModelRevert", "Position", "Settlement"]
