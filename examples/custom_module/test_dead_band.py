"""A user's own rates module: funding with a dead band, against the stock rule.

Run it from the repository (CI does):
    .venv/bin/python -m pytest examples/custom_module
"""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol import Venue

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module", params=["stock", "dead band"])
def venue(request):
    modules = {"rates": "DeadBandRates"} if request.param == "dead band" else {}
    return Venue.launch(backend="revm", contracts=HERE, modules=modules)


def funding_paid(venue, long_size: float, short_size: float) -> int:
    """Funding (WAD) the long side owes after an hour with these open positions."""
    with venue.snapshot():
        long, short = venue.trader("long", usdc=100_000), venue.trader("short", usdc=100_000)
        for t in (long, short):
            t.deposit(50_000)
        long.open("ETH", size=long_size, leverage=5, mode="isolated", margin=3_000)
        short.open("ETH", size=-short_size, leverage=5, mode="isolated", margin=3_000)
        venue.advance_time(3600)
        eth = venue.market_id("ETH")
        return venue.clearinghouse.pending_charges(long.address, eth)[0]


def test_module_is_the_markets_rates_rule(venue):
    rates = venue.clearinghouse.market_modules(venue.market_id("ETH"))[0]
    if venue.deployment.modules:
        assert rates.lower() == venue.deployment.modules["rates"].lower() != "0x" + "00" * 20
    else:
        assert int(rates, 16) == 0  # the stock rule, applied inline


def test_dead_band_spares_a_balanced_market(venue):
    paid = funding_paid(venue, 1.1, 1.0)  # skew 4.8% of open interest
    if venue.deployment.modules:
        assert paid == 0
    else:
        assert paid > 0


def test_outside_the_band_both_pay_the_stock_rate(venue):
    assert funding_paid(venue, 2.0, 1.0) > 0  # skew 33%


def test_same_funding_outside_the_band_on_both():
    stock = Venue.launch(backend="revm")
    band = Venue.launch(backend="revm", contracts=HERE, modules={"rates": "DeadBandRates"})
    assert funding_paid(stock, 2.0, 1.0) == funding_paid(band, 2.0, 1.0)
    assert funding_paid(stock, 1.1, 1.0) > funding_paid(band, 1.1, 1.0) == 0
