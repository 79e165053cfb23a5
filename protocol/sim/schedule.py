"""Which agents act in a block: agents are scheduled, not polled.

After acting, each agent declares when it next wants to act (:meth:`~protocol.agents.Agent.next_block`:
a block of its own clock, such as a Poisson clock's next tick or the end of a holding period)
and the prices that should wake it sooner (:meth:`~protocol.agents.Agent.triggers`). A keeper's
action on its positions (a liquidation, auto-deleveraging, an order that closed a position)
wakes it for the next block. An agent with nothing to do costs nothing: the schedule is a
priority queue of (block, agent), and a block looks only at the agents due in it and at the
price triggers declared.

The agents due in a block act in a seeded random order (the engine's ``order`` stream), as all
agents did when they were polled.
"""

from __future__ import annotations

import heapq
from decimal import Decimal
from typing import Mapping, Sequence

from protocol.agents import Agent
from protocol.agents.base import Triggers


class AgentSchedule:
    """The agents' queue. Every agent is due in block 1 (its first act: a deposit)."""

    def __init__(self, agents: Sequence[Agent], first_block: int = 1):
        self.agents = list(agents)
        self._index = {id(agent): i for i, agent in enumerate(self.agents)}
        self._at: dict[int, int] = {i: first_block for i in range(len(self.agents))}
        self._queue: list[tuple[int, int]] = [(first_block, i) for i in range(len(self.agents))]
        self._triggers: dict[int, Triggers] = {}

    def due(self, block: int, prices: Mapping[str, Decimal]) -> list[Agent]:
        """The agents that act in ``block``, in agent order (the engine shuffles them): those
        whose block has come and those a price in ``prices`` triggers."""
        due: set[int] = set()
        queue, at = self._queue, self._at
        while queue and queue[0][0] <= block:
            when, i = heapq.heappop(queue)
            if at.get(i) == when:  # else a stale entry: the agent was rescheduled since
                del at[i]
                due.add(i)
        for i, triggers in self._triggers.items():
            if i not in due and _crossed(triggers, prices):
                due.add(i)
        return [self.agents[i] for i in sorted(due)]

    def acted(self, agent: Agent, block: int) -> None:
        """Ask ``agent``, which just acted in ``block``, when it next wants to act."""
        i = self._index[id(agent)]
        wanted = agent.next_block(block)
        if wanted is not None:
            if wanted <= block:
                raise ValueError(f"{agent.name}: next_block({block}) must be later, got {wanted}")
            self._wake(i, wanted)
        triggers = agent.triggers()
        if triggers:
            self._triggers[i] = triggers
        else:
            self._triggers.pop(i, None)

    def wake(self, agent: Agent, block: int) -> None:
        """Have ``agent`` act in ``block`` at the latest (a keeper acted on its positions)."""
        self._wake(self._index[id(agent)], block)

    def _wake(self, i: int, block: int) -> None:
        current = self._at.get(i)
        if current is None or block < current:
            self._at[i] = block
            heapq.heappush(self._queue, (block, i))


def _crossed(triggers: Triggers, prices: Mapping[str, Decimal]) -> bool:
    for market, (low, high) in triggers.items():
        price = prices.get(market)
        if price is None:
            continue
        if (low is not None and price <= low) or (high is not None and price >= high):
            return True
    return False
