"""Bad amounts in the Python API (issue 25, defect 4): every public amount is checked before
anything is sent, and a bad one raises a one-line :class:`AmountError` (a ``PerpsimError`` and a
``ValueError``) naming the argument and its unit. Helpers return values the API accepts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.errors import AmountError, PerpsimError
from protocol.margin import cross_liquidation_price, liquidation_price


def refusal(call) -> str:
    with pytest.raises(AmountError) as info:
        call()
    assert isinstance(info.value, PerpsimError) and isinstance(info.value, ValueError)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.fixture()
def alice(venue):
    alice = venue.trader("alice", usdc=10_000)
    alice.deposit(5_000)
    return alice


@pytest.mark.parametrize("call,argument", [
    (lambda v, a: a.deposit(-100), "usd"),
    (lambda v, a: a.withdraw(-1), "usd"),
    (lambda v, a: a.open("ETH", 1, 5, margin=-300), "margin"),
    (lambda v, a: a.add_margin("ETH", -5), "usd"),
    (lambda v, a: a.remove_margin("ETH", "-0.5"), "usd"),
    (lambda v, a: a.provide_liquidity(-10), "usd"),
    (lambda v, a: a.withdraw_liquidity(-10), "usd"),
    (lambda v, a: a.request_deposit(-10), "usd"),
    (lambda v, a: a.request_redeem(0, min_usd=-1), "min_usd"),
    (lambda v, a: a.create_order("ETH", "market_increase", 1, leverage=5, collateral=-400),
     "collateral"),
    (lambda v, a: v.trader("bob", usdc=-5), "usdc"),
    (lambda v, a: v.mint(a, -5), "usd"),
    (lambda v, a: v.fund_insurance(-5), "usd"),
])
def test_a_negative_amount_names_its_argument_and_unit(venue, alice, call, argument):
    before = venue.chain.timestamp, venue.account(alice).wallet
    message = refusal(lambda: call(venue, alice))
    assert f"{argument} must be at least 0 USD" in message, message
    assert (venue.chain.timestamp, venue.account(alice).wallet) == before  # nothing was sent


@pytest.mark.parametrize("price", [-1, 0, "-0.000000000000000001"])
def test_a_price_must_be_positive(venue, price):
    message = refusal(lambda: venue.set_price("ETH", price))
    assert "ETH price must be above 0 USD" in message, message
    message = refusal(lambda: venue.set_prices({"ETH": 3_000, "BTC": price}))
    assert "BTC price must be above 0 USD" in message, message


def test_too_many_decimals_names_the_unit(venue, alice):
    message = refusal(lambda: alice.deposit("1.0000001"))
    assert message == "usd 1.0000001 has more than 6 decimals (USD, the collateral's precision)"
    message = refusal(lambda: venue.set_price("ETH", "3000.0000000000000000001"))
    assert "ETH price 3000.0000000000000000001 has more than 18 decimals" in message, message


@pytest.mark.parametrize("value", ["abc", float("nan"), float("inf"), True, None])
def test_what_is_not_a_number_is_refused_by_name(alice, value):
    message = refusal(lambda: alice.deposit(value))
    assert message.startswith("usd "), message
    assert "is not a" in message, message


@pytest.mark.parametrize("side", [1, -1])
def test_liquidation_prices_are_prices_the_oracle_takes(venue, alice, side):
    """1/3 of a dollar has no end: the helper returns 18 decimals at most, rounded toward the
    liquidation (a long's down, a short's up), so pushing it liquidates the position."""
    alice.open("ETH", side * 3, leverage=7, margin=1_300)
    position = venue.position(alice, "ETH")
    liq = liquidation_price(side, venue.price("ETH"), 3 * side, position.equity,
                            venue.markets["ETH"].maintenance_fraction)
    assert liq == liq.quantize(Decimal("1e-18"))
    assert liq != liq.quantize(Decimal("1e-6"))  # an odd price: the rounding matters
    cross = cross_liquidation_price(side, 3_000, 3 * side, 700, 40, venue.markets["ETH"].maintenance_fraction)
    assert cross == cross.quantize(Decimal("1e-18"))
    venue.set_price("ETH", liq)
    assert venue.is_liquidatable(alice, "ETH")
