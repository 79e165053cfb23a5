"""With fees 0, the on-chain boundary sits where the reference formula says, to the cent."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest
from venue_fixtures import launch_zero_fees

from protocol.margin import cross_liquidation_price, liquidation_price

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def base(backend):
    return launch_zero_fees(backend)


@pytest.mark.parametrize("side,leverage,margin", [(1, 20, 200), (-1, 20, 200), (1, 50, 75),
                                                  (-1, 5, 900)])
def test_isolated_boundary(venue, side, leverage, margin):
    alice = venue.trader("alice", usdc=10_000)
    alice.deposit(10_000)
    alice.open("ETH", size=side, leverage=leverage, mode="isolated", margin=margin)
    p = venue.position(alice, "ETH")
    expected = liquidation_price(side=side, price=3000, size=1, equity=margin, mmf=Decimal(1) / 100)
    assert p.liquidation_price == expected
    worse = expected - side * CENT
    better = expected + side * CENT
    # Round the probe prices away from the boundary so they are whole cents.
    worse = worse.quantize(CENT, ROUND_FLOOR if side == 1 else ROUND_CEILING)
    better = better.quantize(CENT, ROUND_CEILING if side == 1 else ROUND_FLOOR)
    venue.set_price("ETH", better)
    assert not venue.is_liquidatable(alice, "ETH")
    venue.set_price("ETH", worse)
    assert venue.is_liquidatable(alice, "ETH")


def test_cross_boundary_with_another_position(venue):
    alice = venue.trader("alice", usdc=10_000)
    alice.deposit(400)
    alice.open("ETH", size=1, leverage=20, mode="cross")
    alice.open("BTC", size=-0.01, leverage=20, mode="cross")
    a = venue.account(alice)
    expected = cross_liquidation_price(1, 3000, 1, a.equity, a.maintenance_margin, Decimal(1) / 100)
    assert venue.position(alice, "ETH").liquidation_price == expected
    venue.set_price("ETH", (expected + CENT).quantize(CENT, ROUND_CEILING))
    assert not venue.is_liquidatable(alice)
    venue.set_price("ETH", (expected - CENT).quantize(CENT, ROUND_FLOOR))
    assert venue.is_liquidatable(alice)


def test_liquidation_price_helper():
    exact = Decimal(3000) - Decimal(270) / Decimal("0.99")  # 2727.2727...: no end
    assert liquidation_price(side=1, price=3000, size=1.0, equity=300, mmf=0.01) == \
        exact.quantize(Decimal("1e-18"), ROUND_FLOOR)  # a long's toward the liquidation
    short = Decimal(3000) + Decimal(270) / Decimal("1.01")
    assert liquidation_price(side=-1, price=3000, size=1.0, equity=300, mmf=0.01) == \
        short.quantize(Decimal("1e-18"), ROUND_CEILING)
    with pytest.raises(ValueError):
        liquidation_price(side=0, price=1, size=1, equity=1, mmf=0.01)


@pytest.mark.parametrize("mode", ["isolated", "cross"])
def test_equity_exactly_at_maintenance_is_not_liquidated(venue, mode):
    """Liquidatable means equity < MM, strictly: at equality the keeper is refused."""
    from protocol import errors

    alice = venue.trader("alice", usdc=10_000)
    alice.deposit(129)
    alice.open("ETH", size=1, leverage=25, mode=mode, margin=129 if mode == "isolated" else 0)
    venue.set_price("ETH", 2_900)  # equity 129 - 100 = 29 = MM (2,900 x 1%)
    ch, keeper = venue.clearinghouse, venue.keeper("k")
    if mode == "isolated":
        equity, mm = ch.position_health(alice.address, 0)
    else:
        equity, mm, _, _ = ch.account_health(alice.address)
    assert equity == mm
    market = "ETH" if mode == "isolated" else None
    refusal = errors.PositionHealthy if mode == "isolated" else errors.AccountHealthy
    with pytest.raises(refusal):
        keeper.liquidate(alice, market)
    venue.set_price("ETH", Decimal("2899.99"))
    keeper.liquidate(alice, market)
    assert venue.position(alice, "ETH") is None
