"""The network's base fee (``protocol.prices.gas``): EIP-1559's integer update block by block,
schedules, spikes and the refusals of bad settings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.constants import GWEI
from protocol.prices.gas import GasModel, GasSpike, gwei


def _spec_next(parent: int, used: int, target: int) -> int:
    """EIP-1559's base fee update, as the specification writes it (denominator 8)."""
    if used == target:
        return parent
    if used > target:
        return parent + max(parent * (used - target) // target // 8, 1)
    return parent - parent * (target - used) // target // 8


def test_eip1559_moves_by_at_most_an_eighth_toward_block_fullness():
    market = GasModel("eip1559", Decimal(10), target_gas=1_000_000).market()
    expected = 10 * GWEI
    for block, used in enumerate([2_000_000, 2_000_000, 1_000_000, 0, 1_500_001, 3], start=1):
        assert market.fee(block) == expected
        market.record(block, used)
        expected = _spec_next(expected, used, 1_000_000)
    assert market.fee(7) == expected
    full = GasModel("eip1559", Decimal(10), target_gas=1_000_000).market()
    full.record(1, 2_000_000)  # twice the target: exactly +12.5%
    assert full.fee(2) == 11_250_000_000
    empty = GasModel("eip1559", Decimal(10), target_gas=1_000_000).market()
    empty.record(1, 0)  # an empty block: exactly -12.5%
    assert empty.fee(2) == 8_750_000_000


def test_an_overfull_block_raises_even_a_one_wei_fee():
    market = GasModel("eip1559", Decimal("0.000000001"), target_gas=100).market()
    assert market.fee(1) == 1
    market.record(1, 101)
    assert market.fee(2) == 2  # at least 1 wei more, as the specification says


def test_a_schedule_steps_and_a_spike_multiplies_without_feeding_back():
    model = GasModel("schedule", schedule=((1, Decimal(5)), (10, Decimal("7.5"))),
                     spikes=(GasSpike(9, 2, Decimal(4)),))
    market = model.market()
    assert [market.fee(b) for b in (1, 8, 9, 10, 11, 12)] == [
        5 * GWEI, 5 * GWEI, 20 * GWEI, 30 * GWEI, 7_500_000_000, 7_500_000_000]
    spiked = GasModel("eip1559", Decimal(10), target_gas=1_000_000,
                      spikes=(GasSpike(2, 1, Decimal(3)),)).market()
    spiked.record(1, 1_000_000)
    assert spiked.fee(2) == 30 * GWEI and spiked.fee(3) == 10 * GWEI
    assert gwei(7_500_000_000) == Decimal("7.5") and gwei(None) is None


@pytest.mark.parametrize("kwargs, says", [
    ({"model": "auction"}, "model: must be one of constant, schedule, eip1559"),
    ({"base_fee_gwei": Decimal(-1)}, "base_fee_gwei: must be >= 0"),
    ({"model": "eip1559"}, "base_fee_gwei: EIP-1559 needs a starting fee > 0"),
    ({"model": "schedule"}, "schedule: a schedule needs at least one"),
    ({"model": "schedule", "schedule": ((2, Decimal(1)),)}, "schedule: steps must start at block 1"),
    ({"model": "schedule", "schedule": ((1, Decimal(1)), (1, Decimal(2)))},
     "schedule: steps must start at block 1, blocks rising"),
    ({"schedule": ((1, Decimal(1)),)}, 'schedule: only for model = "schedule"'),
    ({"target_gas": 0}, "target_gas: must be >= 1"),
])
def test_bad_settings_are_refused_by_name(kwargs, says):
    with pytest.raises(ValueError) as info:
        GasModel(**kwargs)
    assert str(info.value).startswith(says)


@pytest.mark.parametrize("args, says", [
    ((0, 1, Decimal(2)), "start_block: must be >= 1"), ((1, 0, Decimal(2)), "blocks: must be >= 1"),
    ((1, 1, Decimal(0)), "multiplier: must be > 0")])
def test_bad_spikes_are_refused_by_name(args, says):
    with pytest.raises(ValueError) as info:
        GasSpike(*args)
    assert str(info.value).startswith(says)
