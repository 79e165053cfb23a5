"""The fast backend: revm through pyrevm.

pyrevm executes every call inside one never-finalised journal. Results, events, reverts, balances
and timestamps are exactly those of pyevm, but EIP-2929 warm/cold status and EIP-2200 "original
values" carry over from one transaction to the next, so ``gas_used`` equals pyevm's for the first
touch of fresh state and is lower when later transactions touch the same accounts and slots.
pyrevm also does not bump the sender's nonce on calls; we track nonces ourselves and set the
deployer's nonce before every CREATE so contract addresses match the other backends. Nor does it
charge for gas: we debit ``gas_used x gas_price`` from the sender and credit the coinbase (the
zero address, base fee 0), as pyevm does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from eth_utils import to_checksum_address

from protocol.chain.abi import RawLog
from protocol.chain.base import (BLOCK_GAS_LIMIT, CHAIN_ID, GENESIS_TIMESTAMP, Chain,
                                 RawResult)
from protocol.errors import ChainError

COINBASE = "0x" + "00" * 20
_REVERT = re.compile(r"Revert \{ gas_used: (\d+), output: 0x([0-9a-fA-F]*) \}")
_HALT = re.compile(r"Halt \{ reason: ([^,]+(?:\([^)]*\))?), gas_used: (\d+) \}")


class _Logs(Sequence):
    """pyrevm's logs, turned into :class:`RawLog` only when someone reads them: most receipts
    of a simulation are never inspected, and the conversion crosses into Rust per field."""

    __slots__ = ("_raw", "_logs")

    def __init__(self, raw: list):
        self._raw = raw
        self._logs: list[RawLog] | None = None

    def _materialise(self) -> list[RawLog]:
        if self._logs is None:
            # pyrevm already reports checksummed log addresses.
            self._logs = [RawLog(log.address, tuple(log.data[0]), log.data[1]) for log in self._raw]
        return self._logs

    def __getitem__(self, index):
        return self._materialise()[index]

    def __len__(self) -> int:
        return len(self._raw)

    def __iter__(self):
        return iter(self._materialise())

    def __eq__(self, other) -> bool:
        return list(self) == list(other)


class RevmChain(Chain):
    """pyrevm (revm, Cancun rules)."""

    name = "revm"

    def __init__(self, automine: bool = True, genesis_timestamp: int = GENESIS_TIMESTAMP):
        super().__init__(automine, genesis_timestamp)
        import pyrevm

        self._pyrevm = pyrevm
        self.evm = pyrevm.EVM(spec_id="CANCUN", gas_limit=BLOCK_GAS_LIMIT,
                              env=pyrevm.Env(cfg=pyrevm.CfgEnv(chain_id=CHAIN_ID)))
        self._open_block(self.block_number, self.timestamp)

    def set_balance(self, address: str, wei: int) -> None:
        self.evm.set_balance(address, wei)

    def balance(self, address: str) -> int:
        return self.evm.get_balance(address)

    def code(self, address: str) -> bytes:
        return self.evm.get_code(address) or b""

    def _send(self, sender: str, nonce: int, to: str | None, data: bytes, value: int,
              gas: int, gas_price: int) -> RawResult:
        evm = self.evm
        created = None
        try:
            if to is None:
                self._set_nonce(sender, nonce)
                created = to_checksum_address(
                    evm.deploy(sender, data, value=value, gas=gas, gas_price=gas_price))
                output = b""
            else:
                output = evm.message_call(sender, to, data, value=value, gas=gas,
                                          gas_price=gas_price)
        except RuntimeError as exc:
            failure = self._failure(str(exc))
            if gas_price:
                self._charge(sender, failure.gas_used * gas_price)
            return failure
        finally:
            evm.reset_transient_storage()
        result = evm.result
        if gas_price:
            self._charge(sender, result.gas_used * gas_price)
        logs = result.logs
        return RawResult(True, result.gas_used, output, _Logs(logs) if logs else [], created)

    def _charge(self, sender: str, wei: int) -> None:
        evm = self.evm
        evm.set_balance(sender, evm.get_balance(sender) - wei)
        evm.set_balance(COINBASE, evm.get_balance(COINBASE) + wei)

    def _failure(self, message: str) -> RawResult:
        revert = _REVERT.search(message)
        if revert:
            return RawResult(False, int(revert.group(1)), bytes.fromhex(revert.group(2)), [])
        halt = _HALT.search(message)
        if halt:
            return RawResult(False, int(halt.group(2)), b"", [])
        raise ChainError(f"revm rejected the transaction: {message}")

    def _set_nonce(self, address: str, nonce: int) -> None:
        info = self.evm.basic(address)
        if info.nonce != nonce:
            balance = info.balance
            self.evm.insert_account_info(address, self._pyrevm.AccountInfo(nonce=nonce))
            self.evm.set_balance(address, balance)

    def _call(self, sender: str, to: str, data: bytes) -> tuple[bool, bytes]:
        evm = self.evm
        checkpoint = evm.snapshot()
        try:
            return True, evm.message_call(sender, to, data, is_static=True)
        except RuntimeError as exc:
            failure = self._failure(str(exc))
            return False, failure.output
        finally:
            evm.revert(checkpoint)

    def _open_block(self, number: int, timestamp: int) -> None:
        self.evm.set_block_env(self._pyrevm.BlockEnv(
            number=number, timestamp=timestamp, basefee=0, gas_limit=BLOCK_GAS_LIMIT,
            coinbase=COINBASE))

    def _seal_block(self, number: int, timestamp: int) -> None:
        pass  # revm has no block structure; the next _open_block moves number and time on

    def _backend_snapshot(self) -> Any:
        return self.evm.snapshot()

    def _backend_revert(self, token: Any) -> None:
        self.evm.revert(token)
        self._open_block(self.block_number, self.timestamp)
