"""Venue fixtures shared by the margin-engine tests."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from protocol import MarketConfig, Venue

#: The suite's own contracts (probes, hostile tokens and owners, a custom module): compiled apart
#: from the package's contracts, which the wheel ships and these are not (tests/conftest.py
#: compiles them and lets them be found by name after the project's).
TEST_CONTRACTS = Path(__file__).resolve().parent / "solidity"

ETH = MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000))
BTC = MarketConfig(symbol="BTC", max_leverage=20, initial_price=Decimal(60000))
ZERO_FEES = dict(taker_fee_bps=0, liquidation_fee_bps=0, funding_rate_per_hour=Decimal(0),
                 max_funding_rate_per_hour=Decimal(0), borrow_rate_per_year=Decimal(0))


def launch(backend: str, **kwargs) -> Venue:
    return Venue.launch(backend=backend, markets=[ETH, BTC], insurance=1_000, **kwargs)


def launch_zero_fees(backend: str) -> Venue:
    markets = [MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000),
                            **ZERO_FEES),
               MarketConfig(symbol="BTC", max_leverage=20, initial_price=Decimal(60000),
                            **ZERO_FEES)]
    return Venue.launch(backend=backend, markets=markets)


def funded(venue: Venue, name: str, usdc=10_000, deposit=10_000):
    """A new trader with ``usdc`` in its wallet, ``deposit`` of it in its cross balance."""
    trader = venue.trader(name, usdc=usdc)
    if deposit:
        trader.deposit(deposit)
    return trader


def execute_lp_request(venue: Venue, request, keeper: str = "lp-keeper"):
    """Push every market's price again one second later (an LP request needs a price newer than
    itself) and execute ``request`` (an ``LpRequestReceipt``) from a keeper."""
    venue.advance_time(1)
    venue.set_prices({m: venue.price(m) for m in venue.markets})
    return venue.keeper(keeper).execute_lp_request(request.request_id)


def provide_liquidity(venue: Venue, trader, usd):
    """Deposit ``usd`` into the pool through a two-step request, executed at once."""
    return execute_lp_request(venue, trader.request_deposit(usd))



def redeem_liquidity(venue: Venue, trader, shares: int):
    """Redeem ``shares`` (raw) from the pool through a two-step request, executed at once at
    the same prices; the receipt has ``LpRequestExecuted`` or ``LpRequestFailed``."""
    return execute_lp_request(venue, trader.request_redeem(shares))


def tdiv(a: int, b: int) -> int:
    """Integer division truncating toward zero, as Solidity's signed ``/``."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


#: ``Clearinghouse.marketState``'s fields, by their Solidity names.
MARKET_STATE = ("longSize", "shortSize", "borrowIndex", "longFunding", "shortFunding", "lastUpdate",
                "longEntry", "shortEntry", "borrowWeight")


def market_state(venue: Venue, market: int) -> dict:
    """A market's stored state as a dict of its Solidity field names."""
    return dict(zip(MARKET_STATE, venue.clearinghouse.market_state(market)))
