"""The venue's enums, mirroring ``contracts/types/MarginMode.sol`` member for member (a test
reads the Solidity file and compares)."""

from __future__ import annotations

from enum import IntEnum


class MarginMode(IntEnum):
    """How a position is margined; the ABI carries it as a uint8."""

    NONE = 0
    ISOLATED = 1
    CROSS = 2


class ModuleKind(IntEnum):
    """The rule modules a market can swap."""

    RATES = 0
    MARGIN = 1
    LIQUIDATION = 2
    PRICING = 3
    ADL = 4


#: Module kinds by their lower-case names, as scenarios and ``Venue.launch(modules=...)`` name
#: them, with the Solidity interface each module must implement.
MODULE_INTERFACES = {"rates": "IRatesModule", "margin": "IMarginModule",
                     "liquidation": "ILiquidationModule", "pricing": "IPricingModule",
                     "adl": "IAdlModule"}
#: The stock module contract of each kind (``contracts/modules``); a market without a module
#: applies the same rule inline.
STOCK_MODULES = {"rates": "StockRates", "margin": "StockMargin",
                 "liquidation": "StockLiquidation", "pricing": "OraclePricing", "adl": "StockAdl"}
