"""The reference backend: py-evm under eth-tester, with a web3.py client on top.

``chain.w3`` is an ordinary ``Web3(EthereumTesterProvider(...))`` for anyone who wants web3's API.
Our own transactions skip web3's middleware and eth-tester's normalisation and go straight to the
py-evm chain eth-tester manages: that path is what keeps our layer within a few percent of raw
eth-tester, and it is the only one that exposes revert data of mined transactions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, cast

from eth.abc import BlockHeaderAPI, ComputationAPI, MiningChainAPI, SignedTransactionAPI, StateAPI
from eth.constants import GENESIS_PARENT_HASH
from eth.db.chain import ChainDB
from eth.vm.base import VM
from eth.vm.forks.cancun import CancunVM
from eth.vm.spoof import SpoofTransaction
from eth_keys.main import lazy_key_api as keys  # what eth_keys exports as keys
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.main import get_default_genesis_params
from eth_typing import Address
from eth_utils.address import to_canonical_address, to_checksum_address
from eth_utils.crypto import keccak

from protocol.chain import hooks
from protocol.chain.abi import RawLog
from protocol.chain.base import BLOCK_GAS_LIMIT, CHAIN_ID, GENESIS_TIMESTAMP, VIEW_GAS_LIMIT, Chain, RawResult
from protocol.chain.trace import RawFrame

if TYPE_CHECKING:
    from eth_keys.datatypes import PrivateKey
    from web3 import Web3

_ZERO = b"\0" * 20
_NO_RECIPIENT = Address(b"")  # a transaction's "to" when it creates a contract


class PyEVMChain(Chain):
    """web3.py + eth-tester + py-evm (Cancun rules)."""

    name = "pyevm"

    def __init__(self, genesis_timestamp: int = GENESIS_TIMESTAMP):
        super().__init__(genesis_timestamp)

        params = get_default_genesis_params({"timestamp": genesis_timestamp,
                                             "gas_limit": BLOCK_GAS_LIMIT})
        # Base fee 0 stays 0 while blocks use under half the (huge) gas limit, so gas prices
        # are exactly what each transaction bids, as on revm.
        params["base_fee_per_gas"] = 0
        self._backend = PyEVMBackend(genesis_parameters=params,
                                     vm_configuration=((0, _coverage_vm(CancunVM)),))
        self._backend.chain.chain_id = CHAIN_ID
        self.tester = EthereumTester(self._backend, auto_mine_transactions=False)
        self._key_objects: dict[str, PrivateKey] = {}
        self._keys_module = keys
        self._w3: Optional[Web3] = None
        self._view_vm: tuple[BlockHeaderAPI, StateAPI] | None = None  # (header, state) that views read
        self._open_block(self.block_number, self.timestamp)

    @property
    def evm(self) -> MiningChainAPI:
        """The py-evm ``MiningChain`` (eth-tester keeps it in ``backend.chain``)."""
        chain: MiningChainAPI = self._backend.chain  # eth-tester is untyped
        return chain

    @property
    def w3(self) -> Web3:
        """A web3.py client over the same chain."""
        if self._w3 is None:
            # Function-level: web3 (about 0.3 s to import) only for those who ask for its API.
            from web3 import EthereumTesterProvider, Web3

            self._w3 = Web3(EthereumTesterProvider(self.tester))
        return self._w3

    # ----------------------------------------------------------------- state
    def _mutate_state(self, fn: Callable[[StateAPI], None]) -> None:
        chain = self.evm
        vm = chain.get_vm()
        state = vm.state
        fn(state)
        state.persist()
        chain.header = chain.header.copy(state_root=state.state_root)

    def _set_balance(self, address: str, wei: int) -> None:
        canonical = to_canonical_address(address)
        self._mutate_state(lambda state: state.set_balance(canonical, wei))

    def balance(self, address: str) -> int:
        return self.evm.get_vm().state.get_balance(to_canonical_address(address))

    def code(self, address: str) -> bytes:
        return self.evm.get_vm().state.get_code(to_canonical_address(address))

    # ----------------------------------------------------------------- transactions
    def _signing_key(self, sender: str) -> PrivateKey:
        key = self._key_objects.get(sender)
        if key is None:
            key = self._key_objects[sender] = self._keys_module.PrivateKey(self._keys[sender])
        return key

    def _send(self, sender: str, nonce: int, to: str | None, data: bytes, value: int,
              gas: int, gas_price: int) -> RawResult:
        chain = self.evm
        unsigned = chain.create_unsigned_transaction(
            nonce=nonce, gas_price=gas_price, gas=gas,
            to=to_canonical_address(to) if to else _NO_RECIPIENT, value=value, data=data)
        signed = unsigned.as_signed_transaction(self._signing_key(sender), chain_id=CHAIN_ID)
        before = chain.header.gas_used
        coverage = _RECORDING[0] = hooks.COVERAGE  # transactions only: views are not counted
        try:
            _, receipt, computation = chain.apply_transaction(signed)
        finally:
            _RECORDING[0] = None
        if coverage is not None:
            coverage.transactions += 1
        logs = [RawLog(to_checksum_address(log.address),
                       tuple(t.to_bytes(32, "big") for t in log.topics), log.data)
                for log in receipt.logs]
        created = None
        if to is None and computation.is_success:
            created = to_checksum_address(computation.msg.storage_address)
        output = computation.output
        if computation.is_error and not output:
            output = _revert_payload(computation.error)
        gas_used = receipt.gas_used - before
        tree = _frame(computation, gas_used)
        return RawResult(computation.is_success, gas_used, output, logs, created,
                         lambda: tree)

    def _view_state(self) -> StateAPI:
        """The pending block's state for views, kept while the pending header is the same
        object: every change to the chain (a transaction, a block, a balance, a revert) installs
        a new header, and a view undoes its own writes, so the state's account and storage
        caches stay valid between views (about 9% of a simulation's time on this backend)."""
        header = self.evm.header
        if self._view_vm is None or self._view_vm[0] is not header:
            self._view_vm = (header, self.evm.get_vm().state)
        return self._view_vm[1]

    def _call(self, sender: str, to: str, data: bytes) -> tuple[bool, bytes]:
        chain = self.evm
        state = self._view_state()
        sender_bytes = to_canonical_address(sender)
        unsigned = chain.create_unsigned_transaction(
            nonce=state.get_nonce(sender_bytes), gas_price=0, gas=VIEW_GAS_LIMIT,
            to=to_canonical_address(to), value=0, data=data)
        snapshot = state.snapshot()
        # The spoof stands in for a signed transaction (py-evm types it as its own class).
        spoof = cast(SignedTransactionAPI, SpoofTransaction(unsigned, from_=sender_bytes))
        computation = state.apply_transaction(spoof)
        state.revert(snapshot)
        if computation.is_error:
            return False, computation.output or _revert_payload(computation.error)
        return True, computation.output

    # ----------------------------------------------------------------- blocks
    def _open_block(self, number: int, timestamp: int) -> None:
        chain = self.evm
        if chain.header.timestamp != timestamp:
            chain.header = chain.header.copy(timestamp=timestamp)

    def _seal_block(self, number: int, timestamp: int) -> None:
        self._open_block(number, timestamp)
        self.evm.mine_block(coinbase=_ZERO, mix_hash=keccak(number.to_bytes(32, "big")))

    def _backend_snapshot(self) -> Any:
        chain = self.evm
        return chain.get_canonical_head(), chain.header

    def _backend_revert(self, token: Any) -> None:
        head, pending = token
        chain = self.evm
        chaindb = cast(ChainDB, chain.chaindb)  # eth-tester's: a ChainDB
        if chain.get_canonical_head().hash != head.hash:
            chaindb._set_as_canonical_chain_head(chaindb.db, head, GENESIS_PARENT_HASH)
        chain.header = pending


#: The coverage collector of the transaction being applied (None: not recording).
_RECORDING: list[Optional[hooks.CoverageRecorder]] = [None]


def _coverage_vm(vm_class: type[VM]) -> type[VM]:
    """``vm_class`` whose computations, while a coverage collector is recording, fetch their
    opcodes through :class:`_RecordingOpcodes` (py-evm looks each opcode up in
    ``computation.opcodes`` right after moving the program counter past it)."""
    state_class = vm_class._state_class
    base = state_class.computation_class

    class CoverageComputation(base):  # type: ignore[misc, valid-type]  # a base chosen at run time (the fork's)
        def __init__(self, state: Any, message: Any, transaction_context: Any) -> None:
            super().__init__(state, message, transaction_context)
            collector = _RECORDING[0]
            if collector is not None and message.code and not message.is_create:
                self.opcodes = _RecordingOpcodes(self, base.opcodes, collector)

    computation_class = CoverageComputation
    return vm_class.configure(
        __name__=f"Coverage{vm_class.__name__}",
        _state_class=state_class.configure(__name__=f"Coverage{state_class.__name__}",
                                           computation_class=computation_class))


class _RecordingOpcodes:
    """A computation's opcode table that counts the program counter of every opcode fetched and
    which way each JUMPI goes (its condition is the stack's second word)."""

    __slots__ = ("_code", "_values", "_opcodes", "_hits", "_jumps")

    def __init__(self, computation: Any, opcodes: Any, collector: hooks.CoverageRecorder) -> None:
        self._code = computation.code
        self._values = computation._stack.values
        self._opcodes = opcodes
        self._hits, self._jumps = collector.counters(bytes(computation.msg.code))

    def __getitem__(self, opcode: int) -> Any:
        pc = self._code.program_counter - 1
        self._hits[pc] += 1
        if opcode == 0x57:  # JUMPI
            values = self._values
            condition = values[-2] if len(values) > 1 else 0
            outcome = self._jumps.setdefault(pc, [0, 0])
            outcome[0 if (condition if isinstance(condition, int) else any(condition)) else 1] += 1
        return self._opcodes[opcode]


def _frame(computation: ComputationAPI, gas_used: int | None = None) -> RawFrame:
    """py-evm's computation tree as raw frames (built as the transaction ends: a computation
    holds its VM state, too much to keep)."""
    msg = computation.msg
    if msg.is_create:
        kind, to = "CREATE", msg.storage_address
    elif msg.is_static:
        kind, to = "STATICCALL", msg.code_address
    elif msg.code_address != msg.storage_address:
        kind, to = ("CALLCODE" if msg.should_transfer_value else "DELEGATECALL"), msg.code_address
    else:
        kind, to = "CALL", msg.to
    failed = computation.is_error
    output = computation.output
    halt = None
    if failed and not output:
        output = _revert_payload(computation.error)
        if not output and type(computation.error).__name__ != "Revert":
            halt = type(computation.error).__name__
    return RawFrame(kind, to_checksum_address(to), bytes(msg.data), output,
                    0 if kind == "DELEGATECALL" else msg.value, computation.get_gas_used() if gas_used is None else gas_used,
                    not failed, halt, [_frame(child) for child in computation.children])


def _revert_payload(error: Exception | None) -> bytes:
    """py-evm keeps revert data in the exception's first argument."""
    if error is not None and error.args and isinstance(error.args[0], bytes):
        return error.args[0]
    return b""
