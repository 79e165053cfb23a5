"""Build one block from every bot's intents, ordered by gas bid, and book the receipts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Optional

from protocol.chain import Receipt
from protocol.keepers.bots import Intent, KeeperBot

if TYPE_CHECKING:
    from protocol.venue.client import Venue


@dataclass(frozen=True)
class Landed:
    """One intent and the receipt of its transaction."""

    intent: Intent
    receipt: Receipt
    won: bool


@dataclass(frozen=True)
class BlockResult:
    number: int
    landed: tuple[Landed, ...]


class BlockBuilder:
    """Collects the intents of all bots for the pending block, sorts them by gas price
    (highest first; equal bids keep submission order: bots in the order added), sends them with
    ``contract.transact`` (a revert is booked, not raised), seals the block once and books each
    receipt into its bot's ledger. Every bot sees the same pre-block state when deciding."""

    def __init__(self, venue: Venue, bots: Iterable[KeeperBot] = ()) -> None:
        self.venue = venue
        self.bots: list[KeeperBot] = list(bots)
        self.history: list[BlockResult] = []

    def add(self, *bots: KeeperBot) -> "BlockBuilder":
        self.bots.extend(bots)
        return self

    def collect(self, block: int) -> list[Intent]:
        intents: list[Intent] = []
        for bot in self.bots:
            intents.extend(bot.tick(block))
        return sorted(intents, key=lambda i: -i.gas_price)  # sorted() is stable

    def step(self) -> BlockResult:
        """Build, land and book one block; return what landed in it."""
        chain = self.venue.chain
        number = chain.block_number
        intents = self.collect(number)
        with chain.block():
            receipts = [self._send(i) for i in intents]
        landed = tuple(Landed(i, r, i.bot.book(i, r)) for i, r in zip(intents, receipts))
        result = BlockResult(number, landed)
        self.history.append(result)
        return result

    def _send(self, i: Intent) -> Receipt:
        return i.contract.transact(i.from_address, i.function, *i.args, value=i.value,
                                   gas_price=i.gas_price)

    def run(self, blocks: int) -> list[BlockResult]:
        return [self.step() for _ in range(blocks)]

    def receipts(self, bot: Optional[KeeperBot] = None) -> list[Landed]:
        return [ld for b in self.history for ld in b.landed if bot is None or ld.intent.bot is bot]
