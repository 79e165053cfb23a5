"""Oracles that lag and fail (``protocol.prices.oracle``): push by deviation and heartbeat, delay,
outages and the pull window, at their exact boundaries; and their scenario keys."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.prices.oracle import OracleFeed, OracleModel

D = Decimal
T0 = 1_000


def feed(model=None, start=D(3000)):
    return OracleFeed({"ETH": model} if model else {}, {"ETH": start}, T0)


def run(f, prices, block_time=60):
    """Observe ``prices`` at blocks 1..n; the pushes per block (None: no push)."""
    return [f.observe(b, T0 + b * block_time, {"ETH": D(p)}).get("ETH")
            for b, p in enumerate(prices, start=1)]


def test_without_a_model_every_block_is_pushed():
    assert run(feed(), [3000, 3000, 2990]) == [D(3000), D(3000), D(2990)]


def test_deviation_pushes_exactly_at_the_threshold():
    f = feed(OracleModel(deviation_bps=100))  # 1%
    assert run(f, ["3029.99", "3030", "3030", "2999.71", "2999.70"]) == \
        [None, D(3030), None, None, D("2999.70")]  # 1% of 3030 is 30.30


def test_an_update_the_chain_refused_is_measured_from_the_price_it_kept():
    """A deviation guard on chain refused block 1's push: the stored price is still 3000, so
    the schedule pushes 3030 again in block 2 (without being told, it would wait for another
    1% from 3030)."""
    f = feed(OracleModel(deviation_bps=100))
    assert f.observe(1, T0 + 60, {"ETH": D(3030)}) == {"ETH": D(3030)}
    f.refused(["ETH"])
    assert f.observe(2, T0 + 120, {"ETH": D(3030)}) == {"ETH": D(3030)}
    assert f.observe(3, T0 + 180, {"ETH": D(3030)}) == {}  # accepted this time: measured from 3030
    f.refused(["ETH"])  # nothing pushed this block: nothing to take back
    assert f.last_push["ETH"] == (T0 + 120, D(3030))


def test_heartbeat_pushes_a_still_price_exactly_when_due():
    f = feed(OracleModel(deviation_bps=100, heartbeat=600))  # 10 blocks of 60 s
    pushes = run(f, [3000] * 21)
    assert [b for b, p in enumerate(pushes, start=1) if p is not None] == [10, 20]


def test_delay_publishes_the_price_of_blocks_ago():
    f = feed(OracleModel(delay_blocks=2))
    assert run(f, [3100, 3200, 3300, 3400]) == [D(3000), D(3000), D(3100), D(3200)]


def test_an_outage_publishes_nothing_from_first_to_last_block():
    f = feed(OracleModel(outages=((2, 3),)))
    assert run(f, [3100, 3200, 3300, 3400]) == [D(3100), None, None, D(3400)]
    assert [p for _, p in f.published["ETH"]] == [D(3000), D(3100), D(3400)]


def test_pull_lands_only_on_heartbeat_and_offers_a_window():
    f = feed(OracleModel(mode="pull", heartbeat=180))
    pushes = run(f, [3000, 2900, 2800, 2850, 2950])
    assert pushes == [None, None, D(2800), None, None]
    now = T0 + 5 * 60
    # After the stored price (block 3), within the max age: blocks 4 and 5.
    assert f.window("ETH", T0 + 3 * 60, now, 3600) == [(T0 + 240, D(2850)), (T0 + 300, D(2950))]
    assert f.window("ETH", T0, now, 120) == [(T0 + 180, D(2800)), (T0 + 240, D(2850)), (T0 + 300, D(2950))]
    assert f.window("ETH", T0, now, 119) == [(T0 + 240, D(2850)), (T0 + 300, D(2950))]
    assert f.pull_symbols == ["ETH"]


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "poll"}, "mode must be one of push, pull"),
    ({"deviation_bps": 10_001}, "deviation_bps"),
    ({"heartbeat": 0}, "heartbeat must be > 0"),
    ({"mode": "pull"}, "a pull oracle needs one"),
    ({"mode": "pull", "heartbeat": 60, "deviation_bps": 5}, "no deviation trigger"),
    ({"delay_blocks": -1}, "delay_blocks"),
    ({"outages": ((5, 4),)}, "start <= end"),
])
def test_bad_models_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OracleModel(**kwargs)
