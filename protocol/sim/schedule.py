"""Which agents act in a block: agents are scheduled, not polled.

After acting, each agent declares when it next wants to act (:meth:`~protocol.agents.Agent.next_block`:
a block of its own clock, such as a Poisson clock's next tick or the end of a holding period)
and the prices that should wake it sooner (:meth:`~protocol.agents.Agent.triggers`). A keeper's
action on its positions (a liquidation, auto-deleveraging, an order that closed a position)
wakes it for the next block. An agent with nothing to do costs nothing: the schedule is a
priority queue of (block, agent), and a block looks only at the agents due in it and at the
price triggers that the block's prices cross (kept in heaps per market, nearest first).

The agents due in a block act in a seeded random order (the engine's ``order`` stream), as all
agents did when they were polled.
"""

from __future__ import annotations

import heapq
from decimal import Decimal
from typing import Mapping, Sequence

from protocol.agents import Agent


class AgentSchedule:
    """The agents' queue. Every agent is due in block 1 (its first act: a deposit)."""

    def __init__(self, agents: Sequence[Agent], first_block: int = 1):
        self.agents = list(agents)
        self._index = {id(agent): i for i, agent in enumerate(self.agents)}
        self._at: dict[int, int] = {i: first_block for i in range(len(self.agents))}
        self._queue: list[tuple[int, int]] = [(first_block, i) for i in range(len(self.agents))]
        #: Per market, the declared price levels in heaps, nearest first: lows (fire at or
        #: below, negated: a max-heap) and highs (fire at or above). An entry is (key, the
        #: agent's trigger version it was declared at, agent); a later declaration voids it.
        self._lows: dict[str, list[tuple[Decimal, int, int]]] = {}
        self._highs: dict[str, list[tuple[Decimal, int, int]]] = {}
        self._version: dict[int, int] = {}

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
        version = self._version
        for market, price in prices.items():
            lows, highs = self._lows.get(market), self._highs.get(market)
            while lows and -lows[0][0] >= price:
                _, declared, i = heapq.heappop(lows)
                if version.get(i) == declared:
                    due.add(i)
            while highs and highs[0][0] <= price:
                _, declared, i = heapq.heappop(highs)
                if version.get(i) == declared:
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
        declared = self._version[i] = self._version.get(i, 0) + 1  # voids the ones before
        if triggers:
            for market, (low, high) in triggers.items():
                if low is not None:
                    heapq.heappush(self._lows.setdefault(market, []), (-low, declared, i))
                if high is not None:
                    heapq.heappush(self._highs.setdefault(market, []), (high, declared, i))

    def wake(self, agent: Agent, block: int) -> None:
        """Have ``agent`` act in ``block`` at the latest (a keeper acted on its positions)."""
        self._wake(self._index[id(agent)], block)

    def _wake(self, i: int, block: int) -> None:
        current = self._at.get(i)
        if current is None or block < current:
            self._at[i] = block
            heapq.heappush(self._queue, (block, i))

