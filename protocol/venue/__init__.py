"""Typed client of a deployed venue: :class:`Venue`, :class:`Trader`, :class:`Keeper`."""

from protocol.deploy.deployer import Deployment
from protocol.venue.client import Keeper, Trader, Venue
from protocol.venue.config import DEFAULT_MARKETS, MarketConfig
from protocol.venue.liquidity import LpRequestReceipt, LpRequestView
from protocol.venue.views import AccountView, PositionView

__all__ = ["AccountView", "DEFAULT_MARKETS", "Deployment", "Keeper", "LpRequestReceipt",
           "LpRequestView", "MarketConfig", "PositionView", "Trader", "Venue"]
