"""Transactions from outside the simulation, landed block by block (``perpsim serve``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from protocol.chain import Receipt
    from protocol.venue import Venue


class ExternalBots(Protocol):
    """What the engine asks of bots that live outside it (they reach the chain over JSON-RPC)."""

    def start(self, venue: Venue) -> None:
        """The venue is deployed and the agents are funded; block 1 comes next."""

    def land(self, block: int) -> list[Receipt]:
        """Send the transactions that arrived since the last block into the open block (after
        the oracle and the agents, before the keepers) and return their receipts."""
