"""One served run: when blocks may run (a step request or a pace) and the transactions bots
outside perpsim sent meanwhile, landed in the next block. Thread-safe: the JSON-RPC proxy calls
it from its threads while the simulation runs in the main thread."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, cast

import rlp
from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from protocol.chain import Receipt
from protocol.chain.rpc import RPCChain
from protocol.errors import ChainError, PerpsimError
from protocol.venue import Venue


class ServeError(PerpsimError):
    """A request the served run cannot take (its message goes back to the JSON-RPC caller)."""


@dataclass(frozen=True)
class Pending:
    """A signed transaction waiting for the next block."""

    hash: str
    sender: str
    nonce: int
    raw: str


@dataclass
class Status:
    """Where the served run is: blocks done of ``blocks``, the head's timestamp, and what
    happened to the external transactions since the last step (with --pace: in the last block)."""

    block: int = 0
    blocks: int = 0
    timestamp: int = 0
    done: bool = False
    failed: Optional[str] = None
    landed: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"block": self.block, "blocks": self.blocks, "timestamp": self.timestamp,
                "done": self.done, "failed": self.failed, "landed": list(self.landed),
                "rejected": list(self.rejected)}


class ServeSession:
    """The engine's :class:`~protocol.sim.external.ExternalBots` for ``perpsim serve``.

    With ``pace`` (seconds) a block runs every ``pace`` seconds of wall time; without, a block
    runs only when :meth:`step` allows it. ``on_start`` is called once the venue is deployed
    (it writes ``deployment.json``) before block 1 waits for its turn."""

    def __init__(self, blocks: int, pace: Optional[float],
                 on_start: Callable[[Venue], None], log: Callable[[str], None] = print):
        self.pace = pace
        self._on_start = on_start
        self._log = log
        self._lock = threading.Condition()
        #: Held while a block takes the queue in: until those transactions are mined, the node's
        #: nonce count is behind, so a new submission's nonce cannot be checked.
        self._landing = threading.Lock()
        self._queue: list[Pending] = []
        self._allowed = 0  # blocks a step allowed that have not run yet
        self._next_at = 0.0  # monotonic time the next paced block may run
        self._chain: Optional[RPCChain] = None  # the venue's node, from start()
        self.status = Status(blocks=blocks)

    # ------------------------------------------------------------------ engine side
    def start(self, venue: Venue) -> None:
        self._chain = cast(RPCChain, venue.chain)  # serve drives a node
        self.status.timestamp = venue.chain.timestamp - 1
        self._on_start(venue)
        self._next_at = time.monotonic()
        self._wait_for_turn()

    def land(self, block: int) -> list[Receipt]:
        receipts: list[Receipt] = []
        landed: list[str] = []
        rejected: list[dict[str, str]] = []
        chain = cast(RPCChain, self._chain)  # started
        with self._landing:
            with self._lock:
                queue, self._queue = self._queue, []
            refused: set[str] = set()
            for tx in queue:
                try:
                    if tx.sender in refused:  # its nonce now leaves a gap the node would hold
                        raise ChainError("an earlier transaction from its sender was refused")
                    receipts.append(chain.send_signed(tx.raw))
                    landed.append(tx.hash)
                except ChainError as exc:
                    refused.add(tx.sender)
                    rejected.append({"hash": tx.hash, "error": str(exc)})
                    self._log(f"block {block}: refused external transaction {tx.hash}: {exc}")
        with self._lock:
            if self.pace is not None:  # paced: what the last block took in
                self.status.landed, self.status.rejected = [], []
            self.status.landed += landed
            self.status.rejected += rejected
        return receipts

    def block_done(self, block: int, total: int) -> None:
        """The engine's progress callback: record the block, then wait for the next turn."""
        with self._lock:
            self.status.block = block
            self.status.timestamp = cast(RPCChain, self._chain).timestamp - 1  # started
            self._lock.notify_all()
        if block < total:
            self._wait_for_turn()

    def finish(self, failed: Optional[str] = None) -> None:
        """The run is over, its outputs written (or it broke with ``failed``): wake every
        waiting step."""
        with self._lock:
            self.status.done = True
            self.status.failed = failed
            self._lock.notify_all()

    def _wait_for_turn(self) -> None:
        if self.pace is not None:
            self._next_at += self.pace
            time.sleep(max(0.0, self._next_at - time.monotonic()))
            return
        with self._lock:
            while self._allowed == 0:
                self._lock.wait(timeout=0.5)  # a timeout keeps Ctrl-C responsive
            self._allowed -= 1

    # ------------------------------------------------------------------ proxy side
    def step(self, blocks: int = 1, timeout: float = 300.0) -> Status:
        """Let ``blocks`` more blocks run and return once they have; a step that reaches the
        last block returns once the run's outputs are written (``done``)."""
        if self.pace is not None:
            raise ServeError(f"serve runs with --pace {self.pace}: blocks advance on their own")
        if blocks < 1:
            raise ServeError(f"blocks must be at least 1, got {blocks}")
        deadline = time.monotonic() + timeout
        with self._lock:
            target = min(self.status.block + self._allowed + blocks, self.status.blocks)
            self._allowed += blocks
            self.status.landed, self.status.rejected = [], []  # report what this step took in
            self._lock.notify_all()
            while not self.status.done and (self.status.block < target
                                            or target == self.status.blocks):
                if time.monotonic() > deadline:
                    raise ServeError(f"block {target} did not finish within {timeout:.0f} s")
                self._lock.wait(timeout=0.5)
            return self.snapshot()

    def snapshot(self) -> Status:
        with self._lock:
            s = self.status
            return Status(s.block, s.blocks, s.timestamp, s.done, s.failed, list(s.landed),
                          list(s.rejected))

    def submit(self, raw: str, mined_nonce: Callable[[str], int]) -> str:
        """Queue a signed transaction for the next block; its hash. ``mined_nonce(address)``
        is the node's count of the sender's mined transactions: the nonce must follow it and
        the sender's queued transactions, as a node would hold a later one back for ever.
        Raises ValueError for bytes that are no signed transaction, :class:`ServeError` for a
        wrong nonce or once the last block has run."""
        try:
            data = bytes.fromhex(raw.removeprefix("0x"))
            sender = to_checksum_address(Account.recover_transaction(data))
            nonce = _nonce(data)
        except Exception as exc:  # eth-account and rlp raise many kinds for malformed bytes
            raise ValueError(f"not a signed transaction: {exc}") from None
        tx = Pending("0x" + keccak(data).hex(), sender, nonce, "0x" + data.hex())
        with self._landing:
            with self._lock:
                if self.status.done or self.status.block >= self.status.blocks:
                    raise ServeError("the scenario is over: no more blocks will be mined")
                queued = sum(1 for t in self._queue if t.sender == sender)
            expected = mined_nonce(sender) + queued
            if nonce != expected:
                raise ServeError(f"nonce {nonce} from {sender}: its next nonce is {expected}")
            with self._lock:
                self._queue.append(tx)
        return tx.hash

    def queued_from(self, address: str) -> int:
        """Transactions from ``address`` waiting for the next block (for pending nonces)."""
        address = to_checksum_address(address)
        with self._lock:
            return sum(1 for tx in self._queue if tx.sender == address)


def _nonce(data: bytes) -> int:
    """The nonce of a signed transaction: a legacy one is an RLP list starting with it; a typed
    one (EIP-2718) is a type byte, then a list starting with the chain id and the nonce."""
    if data[0] >= 0xC0:
        return int.from_bytes(rlp.decode(data)[0], "big")
    return int.from_bytes(rlp.decode(data[1:])[1], "big")
