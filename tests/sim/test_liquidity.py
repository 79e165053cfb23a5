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
