"""The external market with depth (``protocol.prices.liquidity``) and the venue's hedged flow
(``protocol.sim.hedging``): exact moves, decay, impact cost, feedback on and off, bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.prices.liquidity import ExternalMarket, Liquidity, impact_cost

D = Decimal


def test_linear_and_square_root_moves_are_exact():
    linear = Liquidity(depth=D(1_000_000))
    assert linear.move(D(2_000_000)) == D("0.02")  # 2x depth: 2%
    assert linear.move(D(-500_000)) == D("-0.005")
    assert linear.move(D(0)) == 0
    root = Liquidity(depth=D(1_000_000), shape="sqrt")
    assert root.move(D(4_000_000)) == D("0.02")  # sqrt(4) = 2%
    assert root.move(D(-250_000)) == D("-0.005")
    # No sale takes the price to zero: a fall is capped at 99%.
    assert linear.move(D(-10**12)) == D("-0.99") and linear.move(D(10**12)) == D(10_000)


def test_half_life_halves_a_displacement():
    liq = Liquidity(depth=D(1_000_000), half_life=D(10))
    assert abs(liq.decay ** 10 - D("0.5")) < D("1e-25")
    market = ExternalMarket({"ETH": Liquidity(depth=D(1_000_000), half_life=D(1))})
    market.absorb({"ETH": D(-1_000_000)})  # 1% down
    assert market.quote({"ETH": D(3000)}) == {"ETH": D("2970.00000000")}
    market.absorb({})  # one block, no flow: half of the (log) displacement left
    moved = market.quote({"ETH": D(3000)})["ETH"]
    assert moved == (D(3000) * D("0.99").sqrt()).quantize(D("1e-8"))


def test_feedback_off_reports_the_exogenous_price_and_still_prices_the_flow():
    liq = {"ETH": Liquidity(depth=D(3_000_000))}
    on, off = ExternalMarket(liq, feedback=True), ExternalMarket(liq, feedback=False)
    costs_on, costs_off = on.absorb({"ETH": D(-3_000_000)}), off.absorb({"ETH": D(-3_000_000)})
    assert costs_on == costs_off == {"ETH": D(15_000)}  # 3M x 1% / 2
    assert off.quote({"ETH": D(3000), "BTC": D(60000)}) == {"ETH": D(3000), "BTC": D(60000)}
    assert on.quote({"ETH": D(3000), "BTC": D(60000)}) == {"ETH": D("2970.00000000"), "BTC": D(60000)}
    assert on.cost_of("ETH", D(600_000)) == impact_cost(D(600_000), D("0.002")) == D(600)
    assert on.cost_of("BTC", D(10**9)) == 0  # no liquidity given: infinitely deep


@pytest.mark.parametrize("kwargs, message", [
    ({"depth": D(0)}, "depth must be > 0"),
    ({"depth": D(-5)}, "depth must be > 0"),
    ({"depth": D(1), "shape": "cubic"}, "shape must be one of linear, sqrt"),
    ({"depth": D(1), "half_life": D(0)}, "half_life must be > 0"),
])
def test_bad_liquidity_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Liquidity(**kwargs)


def test_an_outside_trade_fills_along_the_book_and_moves_the_next_quote():
    """A participant's own purchase walks the book from the quote (linear: 1 M against 2 M per
    1% is 0.5%), a second one in the same block starts where the first left it, and the block's
    absorbed move is that of the venue's flow plus theirs; the venue's hedge cost is its own."""
    market = ExternalMarket({"ETH": Liquidity(depth=Decimal(2_000_000), half_life=Decimal(10**9))})
    market.quote({"ETH": Decimal(1000)}, 1)
    first = market.trade("ETH", Decimal(1_000_000))
    assert first.price == Decimal("1002.5")  # halfway through the 0.5% it moves the price
    assert abs(first.units * first.price - 1_000_000) < Decimal("1e-20")
    assert first.cost == Decimal(2500)
    second = market.trade("ETH", Decimal(1_000_000))
    assert second.price == Decimal("1007.5")  # from 0.5% to 1%
    costs = market.absorb({"ETH": Decimal(2_000_000)})
    assert costs["ETH"] == impact_cost(Decimal(2_000_000), Decimal("0.01"))  # the venue's alone
    quoted = market.quote({"ETH": Decimal(1000)}, 2)["ETH"]
    # 2 M hedged + 2 M outside: 2% up, compounded in log space with no decay to speak of
    assert abs(quoted - Decimal(1020)) < Decimal("0.001")
    assert market.pending == {}


def test_outside_trades_fill_at_the_quote_where_the_market_is_deep_and_are_refused_unquoted():
    market = ExternalMarket({})
    market.quote({"BTC": Decimal(60_000)}, 1)
    fill = market.trade("BTC", Decimal(-120_000))
    assert (fill.price, fill.units, fill.cost) == (Decimal(60_000), Decimal(-2), Decimal(0))
    with pytest.raises(ValueError, match="no external market 'ETH'"):
        market.trade("ETH", Decimal(1))
    thin = ExternalMarket({"ETH": Liquidity(depth=Decimal(1_000))})
    thin.quote({"ETH": Decimal(1000)}, 1)
    with pytest.raises(ValueError, match="takes its price down 99%"):
        thin.trade("ETH", Decimal(-200_000))
