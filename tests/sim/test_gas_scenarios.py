"""``[gas]`` in a scenario: the network's base fee through a run. Keys and their errors at the
key, the column and summary it adds (and nothing without it), and keepers that wait out a spike
over their fee ceiling, liquidating later than the same keepers without one."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.sim.engine import Simulation
from protocol.sim.loader import ScenarioError, load_scenario

CRASH = {"blocks": 70, "agents.count": 4, "prices.ETH.shocks": [
    {"type": "crash", "drop_pct": 0.35, "start_block": 20, "over_blocks": 10}]}
SPIKE = {"model": "constant", "base_fee_gwei": 20,
         "spikes": [{"start_block": 18, "blocks": 25, "multiplier": 20}]}


def _run(**overrides):
    return Simulation(load_scenario("crash", {**CRASH, **overrides}), backend="revm").run()


def test_without_gas_a_run_has_no_base_fee_column_or_summary():
    run = _run()
    assert "base_fee_gwei" not in run.rows[0] and "gas" not in run.summary
    assert all(k["waited"] == 0 for k in run.summary["keepers"].values())


def test_a_spike_over_the_ceiling_makes_keepers_wait_and_liquidate_later():
    calm = _run(**{"gas": SPIKE, "gas.spikes": []})
    spiked = _run(**{"gas": SPIKE, "keepers.max_fee_gwei": 200})
    fees = [r["base_fee_gwei"] for r in spiked.rows]
    assert fees == [Decimal(20)] * 18 + [Decimal(400)] * 25 + [Decimal(20)] * 28
    assert spiked.summary["gas"]["base_fee_gwei"]["max"] == max(fees)
    waited = spiked.summary["gas"]["keeper_blocks_waited"]
    assert waited["liquidator"] > 0 and waited == {
        name: k["waited"] for name, k in spiked.summary["keepers"].items()}
    first = [m.block for m in spiked.liquidations]
    assert first and min(first) >= 43  # nothing went while the fee was over the ceiling
    assert min(m.block for m in calm.liquidations) < 43
    latency = [m.latency for m in spiked.liquidations if m.latency is not None]
    calm_latency = [m.latency for m in calm.liquidations if m.latency is not None]
    assert sum(latency) / len(latency) > sum(calm_latency) / len(calm_latency)


def test_a_keeper_pays_its_tip_above_the_base_fee():
    flat = _run(gas={"model": "constant", "base_fee_gwei": 30})
    free = _run()
    for name, keeper in flat.summary["keepers"].items():
        if keeper["wins"] + keeper["losses"]:
            assert keeper["gas_wei"] > free.summary["keepers"][name]["gas_wei"]


@pytest.mark.parametrize("overrides, key, says", [
    ({"gas": {"model": "auction"}}, "gas.model",
     "must be one of 'constant', 'schedule' or 'eip1559'; got 'auction'"),
    ({"gas": {"model": "eip1559"}}, "gas.base_fee_gwei", "EIP-1559 needs a starting fee > 0"),
    ({"gas": {"model": "schedule", "schedule": {"2": 5}}}, "gas.schedule",
     "steps must start at block 1"),
    ({"gas": {"model": "schedule", "schedule": {"one": 5}}}, "gas.schedule",
     "keys must be block numbers"),
    ({"gas": {"spikes": [{"start_block": 71, "blocks": 2, "multiplier": 3}]}},
     "gas.spikes[0].start_block", "must be at most the last block (70)"),
    ({"gas": {"spikes": [{"start_block": 5, "blocks": 2, "multiplier": 0}]}},
     "gas.spikes[0].multiplier", "must be > 0"),
    ({"keepers.max_fee_gwei": 0.5}, "keepers[0].max_fee_gwei", "must be >= gas_price"),
])
def test_bad_gas_keys_are_refused_at_the_key(overrides, key, says):
    with pytest.raises(ScenarioError) as info:
        load_scenario("crash", {**CRASH, **overrides})
    assert info.value.key == key, str(info.value)
    assert says in info.value.message, str(info.value)
