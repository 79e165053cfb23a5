"""The one interface every EVM backend implements.

Blocks follow one rule on every backend so that results are identical: the chain starts at
``GENESIS_TIMESTAMP`` (a fixed instant, so runs are reproducible whatever the wall clock says);
transactions execute into a *pending block* and return their receipt at once. Outside a
:meth:`Chain.block` context every transaction is sealed in a block of its own; inside one, they
share the pending block until the context ends (or :meth:`Chain.mine` seals it early). A sealed
block's timestamp is ``max(clock, parent + 1)``: timestamps strictly increase, as every EVM client
requires, and :meth:`Chain.advance_time` moves the clock. Views run against the pending block.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, NamedTuple, Sequence

from eth_keys.main import lazy_key_api as keys  # what eth_keys exports as keys
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from protocol.chain import hooks
from protocol.chain.abi import Artifact, ContractABI, Event, KnownContract, RawLog, Registry, load_artifact
from protocol.chain.codec import encoder
from protocol.chain.trace import CallTrace, top_level_frame
from protocol.errors import ChainError, Reverted

if TYPE_CHECKING:
    from protocol.chain.trace import CallTrace, RawFrame

GENESIS_TIMESTAMP = 1_900_000_000  # 2030-03-17T17:46:40Z: later than any wall clock we run on
BLOCK_GAS_LIMIT = 1_000_000_000_000  # large, so many simulated transactions fit in one block
TX_GAS_LIMIT = 30_000_000
#: Gas for view calls: batch views (the Reader scanning thousands of positions) need far more
#: than a transaction may use; eth_call on a node is bounded by its block gas limit likewise.
VIEW_GAS_LIMIT = 2_000_000_000
CHAIN_ID = 31337
ETHER = 10**18
VIEW_SENDER = "0x" + "00" * 20  # msg.sender of views; an address with code is refused (EIP-3607)
_MEMO_SIZE = 1 << 16  # entries of the view call's calldata and decoded-result memos
_MISSING = object()
_PLAIN = (int, str)


@dataclass
class Receipt:
    """Outcome of one transaction. ``events`` are decoded from ``logs`` when first read: most
    transactions of a simulation are never inspected, and decoding is most of the Python cost
    of a transaction."""

    status: bool
    gas_used: int
    block: int
    timestamp: int
    sender: str
    to: str | None
    output: bytes = b""
    error: Reverted | None = None
    contract_address: str | None = None
    gas_price: int = 0
    logs: Sequence[RawLog] = field(default_factory=list, repr=False)  # revm's read lazily
    registry: Registry | None = field(default=None, repr=False, compare=False)
    _events: list[Event] | None = field(default=None, repr=False, compare=False)
    #: The transaction's calldata (the creation code for a deployment).
    data: bytes = field(default=b"", repr=False, compare=False)
    #: Produces the backend's raw call tree on demand (None: the backend recorded nothing).
    _raw_trace: Callable[[], "RawFrame"] | None = field(default=None, repr=False, compare=False)

    @property
    def trace(self) -> "CallTrace":
        """The decoded call trace: each contract by name, the function with its decoded
        arguments, nested calls, and where it reverted with which error. How deep it goes
        depends on the backend (:mod:`protocol.chain.trace`)."""
        if self._raw_trace is None:
            raw, complete = top_level_frame(self), False
        else:
            raw, complete = self._raw_trace(), True
        assert self.registry is not None
        return CallTrace.decode(raw, self.registry, complete=complete)

    @property
    def events(self) -> list[Event]:
        """Decoded events of the logs the registry knows (others are left out)."""
        if self._events is None:
            decode = self.registry.decode_log if self.registry else None
            self._events = [ev for ev in map(decode, self.logs) if ev is not None] \
                if decode else []
        return self._events

    def raise_for_status(self) -> "Receipt":
        """Raise the decoded revert if the transaction failed; return self otherwise."""
        if not self.status:
            assert self.error is not None
            raise self.error
        return self

    def events_named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.name == name]


class RawResult(NamedTuple):
    """What a backend reports for one executed transaction, before decoding."""

    success: bool
    gas_used: int
    output: bytes
    logs: Sequence[RawLog]
    contract_address: str | None = None
    #: The nested call tree, recorded by the backend or fetched when first asked for.
    trace: Callable[[], "RawFrame"] | None = None


class Contract:
    """A deployed contract: an address plus its ABI, bound to a chain."""

    #: The receipt of its deployment: set on the handles :meth:`Chain.deploy` returns only
    #: (declared here, not defaulted: ``getattr(c, "deploy_receipt", None)`` tells them apart).
    deploy_receipt: Receipt

    def __init__(self, chain: "Chain", address: str, abi: ContractABI, name: str = ""):
        self.chain = chain
        self.address = address
        self.abi = abi
        self.name = name

    def transact(self, sender: str, function: str, *args: Any, value: int = 0,
                 gas: int | None = None, gas_price: int = 0) -> Receipt:
        return self.chain.transact(sender, self, function, args, value=value, gas=gas,
                                   gas_price=gas_price)

    def call(self, function: str, *args: Any, sender: str | None = None) -> Any:
        return self.chain.call(self, function, args, sender=sender)

    def __repr__(self) -> str:
        return f"Contract({self.name or '?'} at {self.address})"


def account_key(index: int, namespace: str = "perpsim") -> bytes:
    """Deterministic private key of the index-th generated account."""
    return keccak(text=f"{namespace}:{index}")


class Chain(ABC):
    """An EVM with deterministic blocks, decoded receipts and snapshots."""

    name: str = "?"
    #: Whether identical views between two changes of state may share one execution. Only for
    #: backends that nothing but this object writes to (a node can be written by others).
    caches_views: bool = False
    #: Record every transaction's nested call tree where that costs time (revm: each
    #: transaction then runs under pyrevm's EIP-3155 tracer, seconds each). pyevm always records
    #: it, rpc asks the node when a trace is read; without it revm traces show the transaction's
    #: own call only.
    record_traces: bool = False

    def __init__(self, genesis_timestamp: int = GENESIS_TIMESTAMP):
        self.registry = Registry()
        self._nonces: dict[str, int] = {}
        self._keys: dict[str, bytes] = {}
        self._accounts_made = 0
        self._head_number = 0
        self._head_timestamp = genesis_timestamp
        self._clock = genesis_timestamp + 1
        self._pending_txs = 0
        self._genesis_timestamp = genesis_timestamp
        self._open_blocks = 0  # depth of block() contexts: while > 0, transactions share a block
        self._recorders: list[list[Receipt]] = []  # every receipt is appended to each
        #: Called with each receipt of this chain, in order (:meth:`listen`).
        self._listeners: list[Callable[[Receipt], None]] = []
        #: The open :meth:`snapshot` contexts, outermost first, each by a number of its own:
        #: what happens inside one is undone when it ends.
        self._snapshots: list[int] = []
        self._snapshots_made = 0
        #: Counts :meth:`revert_to` calls (outside :meth:`snapshot`): a listener that kept
        #: state from receipts must rebuild it when this changes.
        self.rewinds = 0
        #: View results since the last change of state or block (backends whose state only this
        #: object changes): keepers that scan the same book in the same block run it once.
        self._views: dict[tuple[str, str, bytes], tuple[bool, bytes]] | None = \
            {} if self.caches_views else None
        #: Counts changes of state or of the pending block (:attr:`state_version`).
        self._version = 0
        #: Calldata of recent view calls by (selector, args), and decoded results by
        #: (output types, output bytes): an invariant check asks the same views with the same
        #: arguments every step, and most answers are the bytes they were (values are
        #: immutable tuples, so sharing them is safe).
        self._calldata: dict[tuple[bytes, tuple[Any, ...]], bytes] = {}
        self._decoded: dict[tuple[Any, ...], Any] = {}

    # ----------------------------------------------------------------- clock and blocks
    @property
    def block_number(self) -> int:
        """Number of the block the next transaction lands in."""
        return self._head_number + 1

    @property
    def timestamp(self) -> int:
        """``block.timestamp`` seen by the next transaction and by views."""
        return max(self._clock, self._head_timestamp + 1)

    @property
    def pending_transactions(self) -> int:
        """Transactions in the pending block (0 outside a :meth:`block` context)."""
        return self._pending_txs

    def advance_time(self, seconds: int) -> int:
        """Move the clock forward; an open block with transactions is sealed first."""
        if seconds < 0:
            raise ChainError(f"cannot move time backwards ({seconds} s)")
        self._state_changed()
        if self._pending_txs:
            self.mine()
        self._clock = self.timestamp + seconds
        self._open_block(self.block_number, self.timestamp)
        return self.timestamp

    @contextlib.contextmanager
    def block(self) -> Iterator[list[Receipt]]:
        """Context: the transactions sent inside land in one block, sealed on exit (even if
        empty); yields the list their receipts are appended to. Blocks nest: an inner one
        records its own transactions and leaves the sealing to the outermost."""
        receipts: list[Receipt] = []
        self._recorders.append(receipts)
        self._open_blocks += 1
        try:
            yield receipts
        finally:
            self._open_blocks -= 1
            self._stop_recording(receipts)
            if not self._open_blocks:
                self.mine()

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[Receipt]]:
        """Context: yields a list every receipt is appended to; blocks are left as they are."""
        receipts: list[Receipt] = []
        self._recorders.append(receipts)
        try:
            yield receipts
        finally:
            self._stop_recording(receipts)

    def _stop_recording(self, receipts: list[Receipt]) -> None:
        # By identity: two recorders may hold equal lists.
        self._recorders = [r for r in self._recorders if r is not receipts]

    def mine(self) -> int:
        """Seal the pending block (even if empty); return its number."""
        self._state_changed()
        number = self._head_number + 1
        ts = self._clock if self._clock > self._head_timestamp else self._head_timestamp + 1
        self._seal_block(number, ts)
        self._head_number = number
        self._head_timestamp = self._clock = ts
        self._pending_txs = 0
        self._open_block(number + 1, ts + 1)  # the clock now equals the head's time
        return number

    # ----------------------------------------------------------------- accounts
    def new_account(self, ether: int = 1_000 * ETHER) -> str:
        """A fresh deterministic account with a private key, funded with ``ether`` wei."""
        key = account_key(self._accounts_made)
        self._accounts_made += 1
        address = self.add_key(key)
        self.set_balance(address, ether)
        return address

    def add_key(self, private_key: bytes) -> str:
        address = keys.PrivateKey(private_key).public_key.to_checksum_address()
        self._keys[address] = private_key
        self._nonces.setdefault(address, 0)
        return address

    def set_balance(self, address: str, wei: int) -> None:
        """Set an address's ether balance."""
        self._state_changed()
        self._set_balance(address, wei)

    @abstractmethod
    def _set_balance(self, address: str, wei: int) -> None: ...

    @abstractmethod
    def balance(self, address: str) -> int: ...

    @abstractmethod
    def code(self, address: str) -> bytes:
        """An address's runtime code (empty for an account without code)."""

    def fund(self, address: str, wei: int) -> None:
        """Add ``wei`` to an address's ether balance."""
        self.set_balance(address, self.balance(address) + wei)

    # ----------------------------------------------------------------- contracts
    def deploy(self, artifact: str | Artifact, *args: Any, sender: str, value: int = 0,
               gas: int | None = None, libraries: Mapping[str, str] | None = None) -> Contract:
        """Deploy a compiled contract, its external ``libraries`` (name -> address) linked in;
        raises :class:`Reverted` if the constructor reverts."""
        art = load_artifact(artifact) if isinstance(artifact, str) else artifact
        self.registry.add(art.abi)
        code = art.code(libraries) + encoder(art.abi.constructor_inputs)(args)
        receipt = self._execute(sender, None, code, value, gas, 0, creating=art)
        receipt.raise_for_status()
        assert receipt.contract_address is not None
        contract = Contract(self, receipt.contract_address, art.abi, art.name)
        contract.deploy_receipt = receipt
        return contract if hooks.BIND is None else hooks.BIND(contract)

    def at(self, artifact: str | Artifact, address: str) -> Contract:
        """A handle on an already deployed contract."""
        art = load_artifact(artifact) if isinstance(artifact, str) else artifact
        self.registry.add(art.abi)
        address = to_checksum_address(address)
        self._remember(address, art)
        contract = Contract(self, address, art.abi, art.name)
        return contract if hooks.BIND is None else hooks.BIND(contract)

    def _remember(self, address: str, art: Artifact) -> None:
        self.registry.remember(address, KnownContract(art.name, art.abi,
                                                  art.raw.get("methodIdentifiers", {})))

    def trace(self, receipt: Receipt) -> "CallTrace":
        """The decoded call trace of a transaction this chain executed (``receipt.trace``)."""
        return receipt.trace

    def transact(self, sender: str, contract: Contract, function: str,
                 args: Sequence[Any] = (), value: int = 0, gas: int | None = None,
                 gas_price: int = 0) -> Receipt:
        """Send a transaction; the receipt says whether it reverted and why (it never raises
        for a revert: call ``receipt.raise_for_status()``)."""
        data = contract.abi.function(function).encode(args)
        return self._execute(sender, contract.address, data, value, gas, gas_price)

    def transact_raw(self, sender: str, to: str | None, data: bytes, value: int = 0,
                     gas: int | None = None, gas_price: int = 0) -> Receipt:
        return self._execute(sender, to, data, value, gas, gas_price)

    def call(self, contract: Contract, function: str, args: Sequence[Any] = (),
             sender: str | None = None) -> Any:
        """Run a call against the pending block, as eth_call does: a view, or a transaction
        simulated and discarded. Raises :class:`Reverted` on revert."""
        fn = contract.abi.function(function)
        ok, out = self._view(sender or VIEW_SENDER, contract.address, self._calldata_of(fn, args))
        if not ok:
            raise self.registry.decode_error(out)
        decoded = self._decoded
        key = (fn.outputs, out)
        value = decoded.get(key, _MISSING)
        if value is _MISSING:
            value = fn.decode(out)
            if len(decoded) >= _MEMO_SIZE:
                decoded.clear()
            decoded[key] = value
        return value

    def _calldata_of(self, fn: Any, args: Sequence[Any]) -> bytes:
        """``fn``'s calldata for ``args``, memoised. Only plain str/int arguments are: 1 ==
        True == Decimal(1) as keys, yet they encode differently (or not at all). The selector
        fixes the argument types."""
        if type(args) is not tuple:
            args = tuple(args)
        calldata = self._calldata
        key: tuple[bytes, tuple[Any, ...]] | None = (fn.selector, args)
        for a in args:
            if type(a) not in _PLAIN:
                key = None
                break
        data = calldata.get(key) if key is not None else None
        if data is None:
            data = fn.encode(args)
            if key is not None:
                if len(calldata) >= _MEMO_SIZE:
                    calldata.clear()
                calldata[key] = data
        return data

    def cache_views(self, enabled: bool) -> None:
        """Turn the view cache on or off (on by default where :attr:`caches_views`); off, every
        view executes, as a benchmark of the view path wants."""
        self._views = {} if enabled and self.caches_views else None

    def _view(self, sender: str, to: str, data: bytes) -> tuple[bool, bytes]:
        views = self._views
        if views is None:
            return self._call(sender, to, data)
        key = (sender, to, data)
        result = views.get(key)
        if result is None:
            result = views[key] = self._call(sender, to, data)
        return result

    @property
    def state_version(self) -> int:
        """A number that changes whenever the state or the pending block may have changed
        (a transaction, a balance set, time moved, a block mined, a snapshot reverted to):
        views asked twice at the same version answer the same on backends that nothing but
        this object writes to (:attr:`caches_views`)."""
        return self._version

    def _state_changed(self) -> None:
        """Forget cached views: the state or the pending block moved on."""
        self._version += 1
        if self._views:
            self._views.clear()

    # ----------------------------------------------------------------- snapshots
    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Context manager: every change made inside is undone on exit."""
        token = self.take_snapshot()
        self._snapshots_made += 1
        self._snapshots.append(self._snapshots_made)
        try:
            yield
        finally:
            self._snapshots.pop()
            self._revert(token)
            self.release_snapshot(token)

    @property
    def snapshot_path(self) -> tuple[int, ...]:
        """The open :meth:`snapshot` contexts, outermost first: state kept from receipts at
        one path is undone when the chain's path no longer starts with it."""
        return tuple(self._snapshots)

    def listen(self, listener: Callable[[Receipt], None]) -> Callable[[], None]:
        """Call ``listener(receipt)`` after every transaction of this chain; returns the function
        that stops it. Receipts of transactions inside a :meth:`snapshot` are passed too
        (:attr:`snapshot_path` tells where they happened): they are undone when it ends."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def take_snapshot(self) -> Any:
        return (self._backend_snapshot(), dict(self._nonces), self._head_number,
                self._head_timestamp, self._clock, self._pending_txs)

    def revert_to(self, token: Any) -> None:
        """Undo everything since :meth:`take_snapshot` returned ``token`` (repeatable)."""
        self.rewinds += 1
        self._revert(token)

    def _revert(self, token: Any) -> None:
        self._state_changed()
        backend, nonces, self._head_number, self._head_timestamp, self._clock, \
            self._pending_txs = token
        self._nonces = dict(nonces)
        self._backend_revert(backend)

    def release_snapshot(self, token: Any) -> None:
        """Say that ``token`` will not be reverted to again, so the backend may stop keeping
        what reverting would need (:meth:`snapshot` does this on exit)."""
        self._backend_release(token[0])

    # ----------------------------------------------------------------- internals
    def _execute(self, sender: str, to: str | None, data: bytes, value: int,
                 gas: int | None, gas_price: int, creating: Artifact | None = None) -> Receipt:
        self._state_changed()
        if sender not in self._keys:  # checksumming every transaction costs ~20% on revm
            sender = to_checksum_address(sender)
            if sender not in self._keys:
                raise ChainError(f"no key for {sender}: create it with new_account()")
        nonce = self._nonces[sender]
        raw = self._send(sender, nonce, to, data, value, gas or TX_GAS_LIMIT, gas_price)
        self._nonces[sender] = nonce + 1
        number = self._head_number + 1
        ts = self._clock if self._clock > self._head_timestamp else self._head_timestamp + 1
        self._pending_txs += 1
        receipt = Receipt(raw.success, raw.gas_used, number, ts, sender, to, raw.output, None,
                          raw.contract_address, gas_price, raw.logs, self.registry, None, data,
                          raw.trace)
        if creating is not None and raw.contract_address is not None:
            self._remember(raw.contract_address, creating)
        if not raw.success:
            receipt.error = self.registry.decode_error(raw.output, receipt)
        if hooks.LISTENERS:
            hooks.notify(self, receipt)
        for listener in self._listeners:
            listener(receipt)
        for recorder in self._recorders:
            recorder.append(receipt)
        if not self._open_blocks:
            self.mine()
        return receipt

    @abstractmethod
    def _send(self, sender: str, nonce: int, to: str | None, data: bytes, value: int,
              gas: int, gas_price: int) -> RawResult: ...

    @abstractmethod
    def _call(self, sender: str, to: str, data: bytes) -> tuple[bool, bytes]: ...

    @abstractmethod
    def _open_block(self, number: int, timestamp: int) -> None:
        """Make the pending block carry this number and timestamp (it holds no transactions)."""

    @abstractmethod
    def _seal_block(self, number: int, timestamp: int) -> None: ...

    @abstractmethod
    def _backend_snapshot(self) -> Any: ...

    @abstractmethod
    def _backend_revert(self, token: Any) -> None: ...

    def _backend_release(self, token: Any) -> None:
        """Forget a snapshot (backends whose snapshots cost nothing to keep do nothing)."""

    def close(self) -> None:
        """Release external resources (a node process); a no-op in-process."""
