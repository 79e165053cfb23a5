"""The fast backend: revm through pyrevm, with exact gas.

pyrevm 0.3.7 never finalises revm's journal: its ``EVM.commit()`` only commits a checkpoint, so
state written by one transaction stays *in the journal*, where EIP-2929 warm/cold status and
EIP-2200 original values carry over into the next transaction and its gas comes out wrong.

We therefore keep committed state in pyrevm's database (a ``CacheDB``) and run every transaction
against an empty journal, exactly as revm itself does between transactions:

1. take a journal checkpoint (the journal holds nothing but the coinbase, which EIP-3651 makes
   warm in every transaction anyway);
2. execute; every account and slot starts cold, every original value is the committed one;
3. read what the transaction wrote: its accounts (``journal_state``, whose infos keep the
   contracts' analysed bytecode) and its storage (the journal's debug text, read after the
   contracts' code has been blanked out of the journal so the text stays small);
4. revert the checkpoint, which empties the journal again, and write the accounts and the changed
   slots into the database, where the next transaction loads them cold.

Writes go to the database only while the journal does not hold the account (pyrevm's
``insert_account_*`` write through to it then), so each one runs inside a checkpoint of its own.
Chain snapshots cannot use journal checkpoints (the database is below the journal): they are an
undo log of the database writes, kept only while a snapshot is live.

pyrevm's message calls neither bump the sender's nonce nor charge gas; both are applied in step
4, as py-evm applies them (the coinbase is the zero address and the base fee 0, so the coinbase
receives ``gas_used x gas_price``). What this scheme cannot reproduce exactly raises
:class:`~protocol.errors.ChainError` naming the limitation; it never gives silently wrong numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any, Callable, Iterator, Union, cast, overload

import pyrevm
from eth_utils.address import to_checksum_address

from protocol.chain import hooks
from protocol.chain.abi import RawLog
from protocol.chain.base import BLOCK_GAS_LIMIT, CHAIN_ID, GENESIS_TIMESTAMP, Chain, RawResult
from protocol.chain.bytecode import instruction_offsets
from protocol.chain.eip3155 import call_tree, captured_stdout
from protocol.chain.trace import RawFrame
from protocol.errors import ChainError

PYREVM_VERSION = "0.3.7"  # the journal text this module reads is that release's revm 8 format
COINBASE = "0x" + "00" * 20
_REVERT = re.compile(r"Revert \{ gas_used: (\d+), output: 0x([0-9a-fA-F]*) \}")
_HALT = re.compile(r"Halt \{ reason: ([^,]+(?:\([^)]*\))?), gas_used: (\d+) \}")
_STATE_HEAD = "JournaledState { state: {"
_STATE_END = "}, transient_storage: "
_BULKY_CODE = 1024  # bytes of code from which blanking a contract out of the text pays
_EMPTY_CODE_HASH = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")

#: A database write to undo: an account's info (key None) or a slot's value before the write.
_UndoEntry = Union[tuple[str, None, pyrevm.AccountInfo], tuple[str, int, Union[int, None]]]


class _Logs(Sequence[RawLog]):
    """pyrevm's logs, turned into :class:`RawLog` only when someone reads them: most receipts
    of a simulation are never inspected, and the conversion crosses into Rust per field."""

    __slots__ = ("_raw", "_logs")

    def __init__(self, raw: list[Any]):
        self._raw = raw
        self._logs: list[RawLog] | None = None

    def _materialise(self) -> list[RawLog]:
        if self._logs is None:
            # pyrevm already reports checksummed log addresses.
            self._logs = [RawLog(log.address, tuple(log.data[0]), log.data[1]) for log in self._raw]
        return self._logs

    @overload
    def __getitem__(self, index: int) -> RawLog: ...
    @overload
    def __getitem__(self, index: slice) -> list[RawLog]: ...

    def __getitem__(self, index: int | slice) -> RawLog | list[RawLog]:
        return self._materialise()[index]

    def __len__(self) -> int:
        return len(self._raw)

    def __iter__(self) -> Iterator[RawLog]:
        return iter(self._materialise())

    def __eq__(self, other: Any) -> bool:
        return list(self) == list(other)


class RevmChain(Chain):
    """pyrevm (revm, Cancun rules), committed state in its database: gas equals py-evm's."""

    name = "revm"
    caches_views = True  # nothing but this object writes to its in-process EVM
    #: Whether the view-batch code is installed (protocol.testing.batch sets it; unset: no).
    _view_batch: bool

    def __init__(self, genesis_timestamp: int = GENESIS_TIMESTAMP):
        super().__init__(genesis_timestamp)

        if version("pyrevm") != PYREVM_VERSION:
            raise ChainError(f"the revm backend reads pyrevm {PYREVM_VERSION}'s journal; "
                             f"pyrevm {version('pyrevm')} is installed")
        self._pyrevm = pyrevm
        # Called with balance=, which pyrevm's stub of AccountInfo leaves out.
        self._info: Callable[..., pyrevm.AccountInfo] = pyrevm.AccountInfo
        self.evm = pyrevm.EVM(spec_id="CANCUN", gas_limit=BLOCK_GAS_LIMIT,
                              env=pyrevm.Env(cfg=pyrevm.CfgEnv(chain_id=CHAIN_ID)))
        #: The committed info of every account read or written so far (checksummed address).
        self._committed: dict[str, pyrevm.AccountInfo] = {}
        #: Every contract's runtime code (the database holds it by hash, analysed and padded).
        self._code: dict[str, bytes] = {}
        #: Contracts whose code is worth blanking out of the journal text, with their infos.
        self._bulky: dict[str, pyrevm.AccountInfo] = {}
        #: Contracts that could change an account's balance, nonce or code in a transaction of
        #: zero value: those holding ether, and those whose code can CREATE (module doc).
        self._funded: set[str] = set()
        self._creators: set[str] = set()
        #: Database writes to undo, kept while a chain snapshot is live (None: none is).
        self._undo: list[_UndoEntry] | None = None
        self._live_snapshots = 0
        #: Slots as the journal prints them ("0x<address>, key: <key>"), parsed once: most
        #: transactions write the same global slots again.
        self._slots_seen: dict[str, tuple[str, int]] = {}
        self._block = pyrevm.BlockEnv(number=0, timestamp=0, basefee=0,
                                      gas_limit=BLOCK_GAS_LIMIT, coinbase=COINBASE)
        self._open_block(self.block_number, self.timestamp)

    # ----------------------------------------------------------------- database
    def _read(self, address: str) -> pyrevm.AccountInfo:
        """An account's committed info (balance, nonce, code); the journal stays empty."""
        info = self._committed.get(address)
        if info is None:
            evm = self.evm
            checkpoint = evm.snapshot()
            info = self._committed[address] = evm.basic(address)
            evm.revert(checkpoint)
        return info

    def _put_info(self, address: str, info: pyrevm.AccountInfo, *, contract: bool = True) -> None:
        """Commit an account's info; ``contract=False`` promises it has no code (a sender).

        A contract's analysed code is registered in the database once, by code hash; its
        account then holds the hash alone, so that the info the journal loads is the info we
        keep here, and writing it again changes nothing (see :meth:`_commit_storage`)."""
        if self._undo is not None:
            self._undo.append((address, None, self._read(address)))
        evm = self.evm
        if contract and info.code is not None:
            self._code[address] = _code_of(info)
            evm.insert_account_info(address, info)  # registers the analysed code by its hash
            info = self._info(balance=info.balance, nonce=info.nonce, code_hash=info.code_hash)
        evm.insert_account_info(address, info)
        self._committed[address] = info
        if contract:
            self._classify(address, info)

    def _classify(self, address: str, info: pyrevm.AccountInfo) -> None:
        code = self._code.get(address, b"") if info.code_hash != _EMPTY_CODE_HASH else b""
        if len(code) >= _BULKY_CODE:
            self._bulky[address] = info
        else:
            self._bulky.pop(address, None)
        for flagged, flag in ((self._funded, bool(code) and info.balance > 0),
                              (self._creators, _can_create(code))):
            if flag:
                flagged.add(address)
            else:
                flagged.discard(address)

    def _put_storages(self, writes: list[tuple[str, int, int | None, int]]) -> None:
        """Commit (address, key, old, new) slot writes. Each write loads its account into the
        journal, where a second write would stay: each runs inside a checkpoint of its own."""
        evm = self.evm
        snapshot, insert, revert = evm.snapshot, evm.insert_account_storage, evm.revert
        undo = self._undo
        for address, key, old, new in writes:
            if undo is not None:
                undo.append((address, key, old))
            checkpoint = snapshot()
            insert(address, key, new)
            revert(checkpoint)

    def _set_balance(self, address: str, wei: int) -> None:
        address = to_checksum_address(address)
        info = self._read(address)
        self._put_info(address, self._info(balance=wei, nonce=info.nonce,
                                           code_hash=info.code_hash))

    def balance(self, address: str) -> int:
        return self._read(to_checksum_address(address)).balance

    def code(self, address: str) -> bytes:
        address = to_checksum_address(address)
        if self._read(address).code_hash == _EMPTY_CODE_HASH:
            return b""
        return self._code[address]

    # ----------------------------------------------------------------- transactions
    def _send(self, sender: str, nonce: int, to: str | None, data: bytes, value: int,
              gas: int, gas_price: int) -> RawResult:
        coverage = hooks.COVERAGE
        if not self.record_traces and coverage is None:
            return self._run(sender, nonce, to, data, value, gas, gas_price)
        evm = self.evm
        # EIP-3155 steps on stdout, read back into a call tree / coverage.
        evm.tracing = True  # type: ignore[misc]  # pyrevm's stub names the setter set_tracing
        try:
            with captured_stdout() as steps:
                raw = self._run(sender, nonce, to, data, value, gas, gas_price)
        finally:
            evm.tracing = False  # type: ignore[misc]  # pyrevm's stub names the setter set_tracing
        if coverage is not None:
            coverage.add_steps(steps, self.code, to)
        if not self.record_traces:
            return raw
        root = RawFrame("CREATE" if to is None else "CALL", raw.contract_address if to is None
                        else to, data, raw.output, value, raw.gas_used, raw.success)
        tree = call_tree(steps, root)
        return raw._replace(trace=lambda: tree)

    def _run(self, sender: str, nonce: int, to: str | None, data: bytes, value: int,
             gas: int, gas_price: int) -> RawResult:
        evm = self.evm
        if to is None:
            self._set_nonce(sender, nonce)
        checkpoint = evm.snapshot()
        created = None
        try:
            if to is None:
                created = to_checksum_address(
                    evm.deploy(sender, data, value=value, gas=gas,
                               gas_price=gas_price))  # type: ignore[call-arg]  # pyrevm's stub lacks gas_price
                output = b""
            else:
                output = evm.message_call(sender, to, data, value=value, gas=gas,
                                          gas_price=gas_price)
        except RuntimeError as exc:
            evm.revert(checkpoint)  # a failed transaction changes nothing but nonce and gas
            raw = self._failure(str(exc))
            self._pay(sender, nonce + 1, raw.gas_used * gas_price, self._read(sender))
            return raw
        result = cast(pyrevm.ExecutionResult, evm.result)  # the call just made set it
        logs = result.logs
        raw = RawResult(True, result.gas_used, output, _Logs(logs) if logs else [], created)
        fee = raw.gas_used * gas_price
        if to is None or value or self._funded or self._creators:
            self._commit_accounts(checkpoint, sender, nonce + 1, fee)
        else:
            self._commit_storage(checkpoint, sender, nonce + 1, fee)
        return raw

    def _commit_storage(self, checkpoint: pyrevm.JournalCheckpoint, sender: str, nonce: int, fee: int) -> None:
        """Commit a transaction that cannot have changed any account's balance, nonce or code:
        it moved no ether (it sent none, and no contract holds any) and no contract can CREATE.
        Only its storage writes, the sender's nonce and the gas payment remain."""
        evm = self.evm
        for address, info in self._bulky.items():
            # The committed info, without code: in the journal it replaces the loaded account's
            # (whose code would be most of the text); in the database it changes nothing.
            evm.insert_account_info(address, info)
        writes = self._written(evm.journal_str)
        evm.revert(checkpoint)
        self._pay(sender, nonce, fee, self._committed[sender])
        self._put_storages(writes)

    def _commit_accounts(self, checkpoint: pyrevm.JournalCheckpoint, sender: str, nonce: int, fee: int) -> None:
        """Commit any transaction: every account it loaded is compared with its committed info
        (deployments, ether transfers, contracts that create contracts)."""
        evm = self.evm
        accounts = evm.journal_state
        info = self._info
        for address, account in accounts.items():
            if address != COINBASE and account.code_hash != _EMPTY_CODE_HASH:
                evm.insert_account_info(address, info(balance=account.balance,
                                                      nonce=account.nonce))
        text = evm.journal_str
        if "AccountDestroyed" in text:
            evm.revert(checkpoint)
            raise ChainError("revm: a transaction self-destructed a contract it created; the "
                             "exact-gas backend cannot commit that (use the pyevm backend)")
        writes = self._written(text)
        evm.revert(checkpoint)
        committed = self._committed
        for address, account in accounts.items():
            if address in (sender, COINBASE):
                continue
            before = committed.get(address)
            if (before is None or before.balance != account.balance
                    or before.nonce != account.nonce or before.code_hash != account.code_hash):
                self._put_info(address, account)
        self._pay(sender, nonce, fee, accounts[sender],
                  accounts.get(COINBASE) or self._read(COINBASE))
        self._put_storages(writes)

    def _pay(self, sender: str, nonce: int, fee: int, account: pyrevm.AccountInfo,
             coinbase: pyrevm.AccountInfo | None = None) -> None:
        """The sender's nonce moves on and it pays ``fee`` to the coinbase (py-evm's rules)."""
        info = self._info
        self._put_info(sender, info(balance=account.balance - fee, nonce=nonce,
                                    code_hash=_EMPTY_CODE_HASH), contract=False)
        if fee or coinbase is not None:
            coinbase = coinbase or self._read(COINBASE)
            self._put_info(COINBASE, info(balance=coinbase.balance + fee, nonce=coinbase.nonce,
                                          code_hash=coinbase.code_hash), contract=False)

    def _written(self, text: str) -> list[tuple[str, int, int | None, int]]:
        """(address, key, original, present) of every slot the transaction wrote; the original
        only while a snapshot needs it. The keys come from the journal text; present values are
        read while the journal still holds them."""
        storage = self.evm.storage
        slots = self._slots_seen
        keep_old = self._undo is not None
        writes = []
        for text_slot, old in _storage_writes(text).items():
            slot = slots.get(text_slot)
            if slot is None:
                slot = slots[text_slot] = (text_slot[:42], int(text_slot[49:]))
            address, key = slot
            writes.append((address, key, int(old) if keep_old else None, storage(address, key)))
        return writes

    def _failure(self, message: str) -> RawResult:
        revert = _REVERT.search(message)
        if revert:
            return RawResult(False, int(revert.group(1)), bytes.fromhex(revert.group(2)), [])
        halt = _HALT.search(message)
        if halt:
            return RawResult(False, int(halt.group(2)), b"", [])
        raise ChainError(f"revm rejected the transaction: {message}")

    def _set_nonce(self, address: str, nonce: int) -> None:
        """CREATE addresses derive from the deployer's nonce, which the database must hold."""
        info = self._read(address)
        if info.nonce != nonce:
            self._put_info(address, self._info(balance=info.balance, nonce=nonce,
                                               code_hash=info.code_hash))

    def _call(self, sender: str, to: str, data: bytes) -> tuple[bool, bytes]:
        evm = self.evm
        checkpoint = evm.snapshot()
        try:
            return True, evm.message_call(sender, to, data)
        except RuntimeError as exc:
            failure = self._failure(str(exc))
            return False, failure.output
        finally:
            evm.revert(checkpoint)

    # ----------------------------------------------------------------- blocks and snapshots
    def _open_block(self, number: int, timestamp: int) -> None:
        block = self._block
        block.number, block.timestamp = number, timestamp  # type: ignore[misc]  # pyrevm's stub: setters apart
        self.evm.set_block_env(block)

    def _seal_block(self, number: int, timestamp: int) -> None:
        pass  # revm has no block structure; the next _open_block moves number and time on

    def _backend_snapshot(self) -> Any:
        if self._undo is None:
            self._undo = []
        self._live_snapshots += 1
        return len(self._undo)

    def _backend_revert(self, token: Any) -> None:
        undo = self._undo
        if undo is None or token > len(undo):
            raise ChainError("revm: this snapshot was released and can no longer be reverted to")
        evm, committed = self.evm, self._committed
        while len(undo) > token:
            address, key, old = undo.pop()
            if key is None:
                info = cast(pyrevm.AccountInfo, old)  # an account's entry
                evm.insert_account_info(address, info)
                committed[address] = info
                self._classify(address, info)
            else:
                checkpoint = evm.snapshot()
                evm.insert_account_storage(address, key, cast(int, old))  # kept while undoing
                evm.revert(checkpoint)
        self._open_block(self.block_number, self.timestamp)

    def _backend_release(self, token: Any) -> None:
        self._live_snapshots -= 1
        if self._live_snapshots <= 0:
            self._live_snapshots = 0
            self._undo = None


_WRITE = ", had_value: Some("
_KEY = ", key: "


def _storage_writes(text: str) -> dict[str, str]:
    """Every slot a transaction wrote, as ``"0x<address>, key: <key>" -> value before the
    transaction``, from the debug text of pyrevm's journal. Each write is an entry
    ``StorageChange { address: A, key: K, had_value: Some(V) }``, and the first one of a slot
    holds its original value; writes of a reverted frame are no longer in the journal."""
    if not text.startswith(_STATE_HEAD):
        raise ChainError("revm: unrecognised pyrevm journal; the exact-gas backend needs "
                         f"pyrevm {PYREVM_VERSION}")
    pieces = text.split(_WRITE)
    writes: dict[str, str] = {}
    entry = pieces[0]
    for after in pieces[1:]:
        slot = entry[entry.rfind(_KEY) - 42:]
        if slot not in writes:
            writes[slot] = after[:after.index(")")]
        entry = after
    return writes


_ANALYSED_LENGTH = re.compile(r"state: (?:Analysed|Checked) \{ len: (\d+)")


def _code_of(info: pyrevm.AccountInfo) -> bytes:
    """An account's runtime code. pyrevm hands out analysed code with the 33 zero bytes of
    padding revm appends; the original length is only in the info's debug text."""
    code = info.code
    if code is None:  # an info read back from the database holds the code hash only
        return b""
    length = _ANALYSED_LENGTH.search(str(info))
    return code[:int(length.group(1))] if length else code


def _can_create(code: bytes) -> bool:
    """Whether EVM code holds a CREATE or CREATE2 instruction: push data is skipped, and so is
    solc's trailing CBOR metadata; any other data read as code can only err towards yes."""
    end = len(code)
    if end > 2:
        metadata = int.from_bytes(code[-2:], "big") + 2
        if metadata < end and 0xA1 <= code[end - metadata] <= 0xA7:
            end -= metadata
    return any(code[pc] in (0xF0, 0xF5) for pc in instruction_offsets(code, end))
