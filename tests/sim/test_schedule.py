"""Agents are scheduled, not polled (issue 27): an agent says when it next wants to act and which
prices wake it; the engine asks nothing of an agent with nothing to do. The per-block laws of the
agents are unchanged (a Poisson clock draws the wait that per-block coin flips would give), and a
price trigger wakes an agent in exactly the blocks where asking it every block would have found
something to do."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from protocol.agents import Agent, MarginTopper, TradingAgent
from protocol.agents.base import blocks_until
from protocol.sim.engine import Simulation
from protocol.sim.loader import load_scenario
from protocol.sim.schedule import AgentSchedule


def test_the_wait_follows_the_per_block_law():
    """P(wait >= k) = (1 - p)^k: the first success of one coin flip per block."""
    rng = random.Random(7)
    p, n = 0.02, 40_000
    waits = [blocks_until(rng, p) for _ in range(n)]
    assert min(waits) == 0
    mean = sum(waits) / n
    assert abs(mean - (1 - p) / p) < 0.03 * (1 - p) / p  # 49 blocks; the standard error is 0.5%
    for k in (0, 10, 50, 100):
        share = sum(w >= k for w in waits) / n
        assert abs(share - (1 - p) ** k) < 0.01, k
    assert blocks_until(rng, 0.0) is None  # never
    assert blocks_until(rng, 1.0) == 0  # at once, every time


class Clocked(Agent):
    """Acts every ``every`` blocks (None: never again), with optional price triggers."""

    def __init__(self, name: str, every=None, triggers=None):
        super().__init__(name, None, random.Random(0))
        self.every, self._triggers, self.acted_in = every, triggers or {}, []

    def act(self, ctx) -> None:
        self.acted_in.append(ctx)

    def next_block(self, block: int):
        return None if self.every is None else block + self.every

    def triggers(self):
        return self._triggers


def _run(schedule: AgentSchedule, blocks: range, prices) -> dict[int, list[str]]:
    seen = {}
    for block in blocks:
        due = schedule.due(block, prices(block))
        seen[block] = [a.name for a in due]
        for agent in due:
            agent.act(block)
            schedule.acted(agent, block)
    return seen


def test_agents_act_when_due_and_when_a_price_or_a_keeper_wakes_them():
    idle, every3 = Clocked("idle"), Clocked("every3", every=3)
    dip = Clocked("dip", triggers={"ETH": (Decimal(90), None), "BTC": (None, Decimal(200))})
    schedule = AgentSchedule([idle, every3, dip])
    eth = {1: 100, 2: 95, 3: 90, 4: 91, 5: 89, 6: 100}
    seen = _run(schedule, range(1, 7), lambda b: {"ETH": Decimal(eth[b]), "BTC": Decimal(150)})
    assert seen == {1: ["idle", "every3", "dip"], 2: [], 3: ["dip"], 4: ["every3"], 5: ["dip"],
                    6: []}  # dip: at or below 90; idle: never asked again after block 1
    schedule.wake(idle, 8)  # a keeper liquidated it in block 7
    schedule.wake(every3, 9)  # later than its own block 7: changes nothing
    seen = _run(schedule, range(7, 11), lambda b: {"ETH": Decimal(100), "BTC": Decimal(200)})
    assert seen == {7: ["every3", "dip"], 8: ["idle", "dip"], 9: ["dip"], 10: ["every3", "dip"]}
    bad = Clocked("bad", every=0)
    with pytest.raises(ValueError, match="must be later"):
        AgentSchedule([bad]).acted(bad, 10)


def test_a_trigger_the_agent_no_longer_declares_wakes_nothing():
    """Triggers sit in heaps per market: a level the agent replaced (or dropped) after acting
    stays in the heap but wakes nobody when the price crosses it; the new level does."""
    mover = Clocked("mover", triggers={"ETH": (Decimal(90), Decimal(110))})
    schedule = AgentSchedule([mover])
    assert _run(schedule, range(1, 2), lambda b: {"ETH": Decimal(100)}) == {1: ["mover"]}
    mover._triggers = {"ETH": (Decimal(80), None)}  # what it declares after its next act
    seen = _run(schedule, range(2, 4), lambda b: {"ETH": Decimal(111 if b == 2 else 100)})
    assert seen == {2: ["mover"], 3: []}  # 110 was still declared in block 2
    seen = _run(schedule, range(4, 8), lambda b: {"ETH": Decimal({4: 112, 5: 85, 6: 80, 7: 79}[b])})
    assert seen == {4: [], 5: [], 6: ["mover"], 7: ["mover"]}  # 110 and 90 replaced by 80
    mover._triggers = {}
    assert _run(schedule, range(8, 10), lambda b: {"ETH": Decimal(70)}) == {8: ["mover"], 9: []}


def _one_topper(tmp_path, blocks: int = 200) -> object:
    path = tmp_path / "topper.toml"
    path.write_text(f"""
seed = 5
blocks = {blocks}
block_time = 60
backend = "revm"
[venue]
pool_liquidity = 5_000_000
instant_trading = true
[markets.ETH]
initial_price = 3000
max_leverage = 50
[prices.ETH]
volatility = 0.6
shocks = [{{ type = "crash", drop_pct = 0.12, start_block = 60, over_blocks = 60 }}]
[[agents]]
type = "margin_topper"
count = 1
trade_probability = 1.0
long_probability = 1.0
hold_blocks = [150, 150]
leverage = [20, 20]
[[keepers]]
type = "liquidation"
name = "liquidator"
""")
    return load_scenario(str(path))


def test_a_price_trigger_wakes_the_margin_topper_exactly_when_polling_would(tmp_path, monkeypatch):
    """One margin topper through a slide: scheduled (woken by its trigger prices) and asked
    every block (triggers off) send the same transactions in the same blocks."""
    scheduled = Simulation(_one_topper(tmp_path)).run()
    topped = [e for e in scheduled.events if e["event"] == "MarginChanged"]
    assert topped, "the slide should trigger a top-up"
    asked = []
    monkeypatch.setattr(MarginTopper, "triggers", Agent.triggers)  # polled while it holds
    original = MarginTopper.act
    monkeypatch.setattr(MarginTopper, "act", lambda self, ctx: (asked.append(ctx.block),
                                                                original(self, ctx))[1])
    polled = Simulation(_one_topper(tmp_path)).run()
    assert polled.rows == scheduled.rows and polled.events == scheduled.events
    assert len(asked) > 100  # every block while it held its position


def test_traders_with_nothing_to_do_are_not_asked(tmp_path, monkeypatch):
    """Traders that never trade (trade_probability 0) act once, to deposit, and never again."""
    asked = []
    real = TradingAgent.act
    monkeypatch.setattr(TradingAgent, "act",
                        lambda self, ctx: (asked.append(self.name), real(self, ctx))[1])
    sc = load_scenario("default", {"blocks": 60, "agents.count": 5,
                                   "agents[0].trade_probability": 0.0,
                                   "agents[1].trade_probability": 0.0})
    Simulation(sc).run()
    idle = [n for n in asked if n.startswith(("conservative-", "speculator-"))]
    assert sorted(idle) == sorted(f"{c}-{i}" for c in ("conservative", "speculator") for i in range(5))
    assert len(asked) > len(idle)  # the others trade
