"""perpsim: a simulator of an on-chain perpetual-futures venue.

>>> from protocol import Venue, MarketConfig
>>> venue = Venue.launch(backend="revm")
"""

from protocol.chain.base import Receipt
from protocol.errors import Reverted
from protocol.venue import MarketConfig, Venue

__all__ = ["MarketConfig", "Receipt", "Reverted", "Venue"]
__version__ = "0.1.0"
