"""A JSON-RPC node (anvil, or any dev node with ``*_setBalance`` and ``evm_*`` methods).

Transactions are signed locally with the same deterministic keys as the in-process backends and
sent raw; the node mines each one (automine). Before every transaction the next block's timestamp
is set, so blocks follow the same clock rule as pyevm and revm.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import time
from typing import IO, Any, Mapping, cast

from eth_account import Account
from eth_utils.address import to_checksum_address
from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint

from protocol.build.toolchain import PROJECT_ROOT, ToolchainError, anvil_binary, npm_dir
from protocol.chain.abi import RawLog
from protocol.chain.base import BLOCK_GAS_LIMIT, CHAIN_ID, GENESIS_TIMESTAMP, Chain, RawResult, Receipt
from protocol.chain.trace import RawFrame
from protocol.errors import ChainError


class RPCChain(Chain):
    """web3.py's HTTP provider talking to a node."""

    name = "rpc"

    def __init__(self, url: str, genesis_timestamp: int = GENESIS_TIMESTAMP,
                 process: Any = None):
        super().__init__(genesis_timestamp)

        self.url = url
        self.w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 60}))
        self._process = process
        if process is not None:
            atexit.register(self.close)  # a run that dies must not leave its node behind
        self._mined_by_node = False
        head = self.w3.eth.get_block("latest")
        self._head_number, self._head_timestamp = head["number"], head["timestamp"]
        self._clock = max(genesis_timestamp, head["timestamp"]) + 1
        self._accounts: dict[str, Any] = {}

    def _rpc(self, method: str, params: list[Any]) -> Any:
        response = self.w3.provider.make_request(cast(RPCEndpoint, method), params)
        if "error" in response:
            raise _RPCError(method, response["error"])
        return response["result"]

    def _set_balance(self, address: str, wei: int) -> None:
        for method in ("anvil_setBalance", "hardhat_setBalance"):
            try:
                self._rpc(method, [address, hex(wei)])
                return
            except _RPCError as exc:
                last = exc
        raise ChainError(f"node at {self.url} cannot set balances: {last}")

    def balance(self, address: str) -> int:
        return int(self._rpc("eth_getBalance", [address, "latest"]), 16)

    def code(self, address: str) -> bytes:
        return bytes.fromhex(self._rpc("eth_getCode", [address, "latest"])[2:])

    def _send(self, sender: str, nonce: int, to: str | None, data: bytes, value: int,
              gas: int, gas_price: int) -> RawResult:
        account = self._accounts.get(sender)
        if account is None:
            account = self._accounts[sender] = Account.from_key(self._keys[sender])
        tx = {"nonce": nonce, "gasPrice": gas_price, "gas": gas, "value": value,
              "data": data, "chainId": CHAIN_ID}
        if to is not None:
            tx["to"] = to
        signed = account.sign_transaction(tx)
        return self._raw_result(self._land("0x" + signed.raw_transaction.hex()))

    def _land(self, raw: str) -> dict[str, Any]:
        """Send a signed transaction into the pending block; its node receipt."""
        self._rpc("evm_setNextBlockTimestamp", [self.timestamp])
        tx_hash = self._rpc("eth_sendRawTransaction", [raw])
        self._mined_by_node = True
        return self._receipt(tx_hash)

    def _raw_result(self, receipt: dict[str, Any]) -> RawResult:
        logs = [RawLog(to_checksum_address(log["address"]),
                       tuple(bytes.fromhex(t[2:]) for t in log["topics"]),
                       bytes.fromhex(log["data"][2:])) for log in receipt["logs"]]
        tx_hash = receipt["transactionHash"]
        success = int(receipt["status"], 16) == 1
        output = b"" if success else self._revert_data(tx_hash)
        created = receipt.get("contractAddress")
        return RawResult(success, int(receipt["gasUsed"], 16), output, logs,
                         to_checksum_address(created) if created else None,
                         lambda: self._call_tree(tx_hash))

    def send_signed(self, raw: str) -> Receipt:
        """Land a transaction signed elsewhere (by a bot outside perpsim) in the pending block,
        as :meth:`transact` lands ours; raises :class:`ChainError` if the node refuses it (a
        wrong nonce, too little ether for gas)."""
        self._state_changed()
        try:
            node = self._land(raw)
        except _RPCError as exc:
            raise ChainError(str(exc)) from None
        raw_result = self._raw_result(node)
        number = self._head_number + 1
        receipt = Receipt(raw_result.success, raw_result.gas_used, number, self.timestamp,
                          to_checksum_address(node["from"]),
                          to_checksum_address(node["to"]) if node.get("to") else None,
                          raw_result.output, None, raw_result.contract_address,
                          int(node.get("effectiveGasPrice", "0x0"), 16), raw_result.logs,
                          self.registry)
        if not raw_result.success:
            receipt.error = self.registry.decode_error(raw_result.output, receipt)
        self._pending_txs += 1
        for recorder in self._recorders:
            recorder.append(receipt)
        if not self._open_blocks:
            self.mine()
        return receipt

    def _receipt(self, tx_hash: str, timeout: float = 10.0) -> dict[str, Any]:
        """The node mines in the background: poll briefly until the receipt exists."""
        deadline = time.monotonic() + timeout
        while True:
            receipt: dict[str, Any] | None = self._rpc("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise ChainError(f"node at {self.url} did not mine {tx_hash} (automine off?)")
            time.sleep(0.0005)

    def _revert_data(self, tx_hash: str) -> bytes:
        trace = self._rpc("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
        return bytes.fromhex((trace.get("output") or "0x")[2:])

    def _call_tree(self, tx_hash: str) -> RawFrame:
        """The node's ``callTracer`` trace of a mined transaction, as raw frames."""
        try:
            trace = self._rpc("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
        except (_RPCError, OSError) as exc:
            raise ChainError(f"node at {self.url} gives no call trace of {tx_hash}: {exc}") from None
        return _raw_frame(trace)

    def _call(self, sender: str, to: str, data: bytes) -> tuple[bool, bytes]:
        try:
            self._rpc("evm_setNextBlockTimestamp", [self.timestamp])
            out = self._rpc("eth_call", [{"from": sender, "to": to, "data": "0x" + data.hex()},
                                         "pending"])
            return True, bytes.fromhex(out[2:])
        except _RPCError as exc:
            payload = exc.error.get("data")
            if isinstance(payload, dict):
                payload = payload.get("data")
            if isinstance(payload, str) and payload.startswith("0x"):
                return False, bytes.fromhex(payload[2:])
            if "revert" in str(exc.error.get("message", "")).lower():
                return False, b""
            raise ChainError(str(exc)) from None

    def _open_block(self, number: int, timestamp: int) -> None:
        pass  # the timestamp is set right before each transaction

    def _seal_block(self, number: int, timestamp: int) -> None:
        if self._mined_by_node:
            self._mined_by_node = False
            return
        self._rpc("evm_mine", [timestamp])

    def _backend_snapshot(self) -> Any:
        return self._rpc("evm_snapshot", [])

    def _backend_revert(self, token: Any) -> None:
        self._rpc("evm_revert", [token])

    def close(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
            atexit.unregister(self.close)


def _hex_bytes(text: str | None) -> bytes:
    return bytes.fromhex((text or "0x")[2:])


def _raw_frame(call: dict[str, Any]) -> RawFrame:
    """One ``callTracer`` frame (``type``, ``to``, ``input``, ``output``, ``error``, ``calls``)."""
    hex_bytes = _hex_bytes
    error: str | None = call.get("error")
    success = error is None
    halt = None if error is None or call.get("output") or "revert" in error.lower() else error
    to = call.get("to")
    return RawFrame(call.get("type", "CALL").upper(), to_checksum_address(to) if to else None,
                    hex_bytes(call.get("input")), hex_bytes(call.get("output")),
                    int(call.get("value") or "0x0", 16), int(call.get("gasUsed") or "0x0", 16),
                    success, halt, [_raw_frame(c) for c in call.get("calls", [])])


class _RPCError(Exception):
    def __init__(self, method: str, error: Mapping[str, Any]):
        super().__init__(f"{method}: {error.get('message')}")
        self.error = error


def anvil_path() -> str:
    """The anvil binary from npm (@foundry-rs/anvil): the repository's ``node_modules``, else one
    on PATH, else perpsim's per-user npm cache, set up on first use (one clear line without Node)."""
    if (found := anvil_binary(PROJECT_ROOT)) is not None:
        return str(found)
    if (on_path := shutil.which("anvil")) is not None:
        return on_path
    try:
        tools = npm_dir(PROJECT_ROOT)
    except ToolchainError as exc:
        raise ChainError(f"anvil not found: {exc}") from None
    if (found := anvil_binary(tools)) is not None:
        return str(found)
    raise ChainError(f"anvil not found: npm has no @foundry-rs/anvil build for this platform in "
                     f"{tools}; put an anvil on PATH")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_anvil(genesis_timestamp: int = GENESIS_TIMESTAMP, port: int | None = None,
                ) -> tuple[subprocess.Popen[bytes], str]:
    """Start anvil on 127.0.0.1 with our chain rules; returns (process, url)."""
    port = port or _free_port()
    process = subprocess.Popen(
        [anvil_path(), "--host", "127.0.0.1", "--port", str(port), "--silent",
         "--timestamp", str(genesis_timestamp), "--gas-limit", str(BLOCK_GAS_LIMIT),
         "--base-fee", "0", "--hardfork", "cancun", "--chain-id", str(CHAIN_ID),
         "--accounts", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = cast(IO[bytes], process.stderr)  # a pipe: stderr=PIPE
            raise ChainError(f"anvil exited: {stderr.read().decode()[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise ChainError("anvil did not start within 20 s")


def launch_anvil(genesis_timestamp: int = GENESIS_TIMESTAMP) -> RPCChain:
    """An :class:`RPCChain` on a fresh anvil it owns (stopped by ``close()``)."""
    process, url = start_anvil(genesis_timestamp)
    return RPCChain(url, genesis_timestamp=genesis_timestamp, process=process)
