"""Depth over time (``protocol.prices.liquidity``): schedules by block and by time, a side each,
and thinning when the market moves fast, with exact numbers; constant depth as before."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.prices.liquidity import (
    DepthSchedule,
    ExternalMarket,
    Liquidity,
    Thinning,
    schedule_from_times,
)

D = Decimal


def test_a_schedule_holds_each_depth_until_the_next_step():
    s = DepthSchedule.of({0: D(3_000_000), 10: D(1_000_000), 25: D(2_000_000)})
    assert [s.at(b) for b in (0, 9, 10, 24, 25, 10**6)] == [
        (D(3_000_000),) * 2, (D(3_000_000),) * 2, (D(1_000_000),) * 2, (D(1_000_000),) * 2,
        (D(2_000_000),) * 2, (D(2_000_000),) * 2]


@pytest.mark.parametrize("steps, message", [
    ((), "must not be empty"),
    (((1, D(1), D(1)),), "must start at block 0, got block 1"),
    (((0, D(1), D(1)), (5, D(1), D(1)), (5, D(2), D(2))), "blocks must increase, got 5 after 5"),
    (((0, D(1), D(0)),), "depth must be > 0 USD per 1%, got 0 at block 0"),
])
def test_bad_schedules_are_refused(steps, message):
    with pytest.raises(ValueError, match=message):
        DepthSchedule(steps)


def test_snapshots_by_time_become_steps_by_block():
    points = [(D(1000), D(5), D(6)), (D(1030), D(7), D(8)), (D(1100), D(9), D(9))]
    s = schedule_from_times(points, start=D(1010), block_time=D(12), blocks=7)  # to t = 1094
    # block k at 1010 + 12k: blocks 0-1 before 1030, 2-7 after (none reaches 1100)
    assert s.steps == ((0, D(5), D(6)), (2, D(7), D(8)))
    with pytest.raises(ValueError, match="depth data starts at t=1000, after block 0 \\(t=990\\)"):
        schedule_from_times(points, start=D(990), block_time=D(12), blocks=1)
    with pytest.raises(ValueError, match="depth data ends at t=1100, before the last block "
                       "\\(t=1130\\)"):
        schedule_from_times(points, start=D(1010), block_time=D(12), blocks=10)


def test_sales_walk_the_bids_and_purchases_the_asks_as_scheduled():
    liq = Liquidity(depth=DepthSchedule(((0, D(1_000_000), D(2_000_000)),
                                         (5, D(4_000_000), D(4_000_000)))))
    market = ExternalMarket({"ETH": liq})
    market.quote({"ETH": D(3000)}, block=1)
    assert market.depth("ETH", D(-1)) == D(1_000_000) and market.depth("ETH", D(1)) == D(2_000_000)
    assert market.cost_of("ETH", D(2_000_000)) == D(10_000)  # 2M of buys against 2M: 1%
    assert market.cost_of("ETH", D(-2_000_000)) == D(20_000)  # 2M of sales against 1M: 2%
    market.quote({"ETH": D(3000)}, block=5)
    assert market.cost_of("ETH", D(-2_000_000)) == D(5_000)


def test_a_flat_schedule_moves_the_market_as_the_constant_depth_does():
    flows = [D(-1_234_567), D(0), D(2_000_000), D("-0.5")]
    constant = ExternalMarket({"ETH": Liquidity(depth=D(3_000_000), half_life=D(7))})
    flat = ExternalMarket({"ETH": Liquidity(depth=DepthSchedule.of({0: D(3_000_000)}),
                                            half_life=D(7))})
    for block, flow in enumerate(flows, start=1):
        quotes = [m.quote({"ETH": D(3000)}, block) for m in (constant, flat)]
        costs = [m.absorb({"ETH": flow}) for m in (constant, flat)]
        assert quotes[0] == quotes[1] and costs[0] == costs[1]
    assert constant.displacement == flat.displacement


def test_thinning_halves_depth_on_a_fast_move_and_gives_it_back_with_its_half_life():
    rule = Thinning(factor=D("0.5"), window=2, threshold=D("0.05"), half_life=D(1))
    market = ExternalMarket({"ETH": Liquidity(depth=D(1_000_000), thinning=rule)},
                            start={"ETH": D(100)})
    left = []
    for block, price in enumerate([D(100), D(90), D(90), D(90), D(90), D(90)], start=1):
        market.quote({"ETH": price}, block)
        left.append(market.thinned["ETH"])
    # 10% down within the window: halved; the move stays in the window one block more; then the
    # lost half comes back, half of it a block (half_life 1).
    assert left == [1, D("0.5"), D("0.5"), D("0.75"), D("0.875"), D("0.9375")]
    assert market.depth("ETH", D(-1)) == D("937500.0000")
    assert market.cost_of("ETH", D(-937_500)) == D("4687.5")  # 1% of 937,500 / 2


def test_thinning_watches_the_market_price_the_venues_flow_moved():
    rule = Thinning(factor=D("0.2"), window=1, threshold=D("0.015"), half_life=D(10))
    market = ExternalMarket({"ETH": Liquidity(depth=D(1_000_000), thinning=rule)},
                            feedback=False, start={"ETH": D(100)})
    market.quote({"ETH": D(100)}, 1)
    market.absorb({"ETH": D(-2_000_000)})  # sells move the market 2% down; the path is flat
    assert market.quote({"ETH": D(100)}, 2) == {"ETH": D(100)}  # no feedback: the oracle's view
    assert market.thinned["ETH"] == D("0.2")  # ... but the market itself moved 2%


@pytest.mark.parametrize("kwargs, message", [
    ({"factor": D(1)}, "factor must be a fraction in \\(0, 1\\)"),
    ({"factor": D(0)}, "factor must be a fraction in \\(0, 1\\)"),
    ({"window": 0}, "window must be >= 1"),
    ({"threshold": D(0)}, "threshold must be > 0"),
    ({"half_life": D(-1)}, "half_life must be > 0 blocks"),
])
def test_bad_thinning_rules_are_refused(kwargs, message):
    good = {"factor": D("0.5"), "window": 5, "threshold": D("0.03"), "half_life": D(20)}
    with pytest.raises(ValueError, match=message):
        Thinning(**{**good, **kwargs})
