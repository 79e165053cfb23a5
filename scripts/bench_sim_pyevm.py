"""pyevm simulation throughput against raw eth-tester on the same transactions.

Runs a simulation on pyevm while recording every transaction it sends (sender, nonce, target,
data, value, gas, gas price, block and timestamp) and the time our chain layer spent sending
them. Then replays exactly those transactions, signed the same way, through raw eth-tester's
py-evm backend (`PyEVMBackend.send_raw_transaction`, one `mine_blocks` per block, the same
timestamps, accounts funded in the genesis as the simulation funded them) and compares. (The
`EthereumTester` front end cannot batch: with auto-mining off it re-validates each new
transaction against the state without the earlier pending ones, so a sender's second transaction
in a block fails its nonce check.) Run:
    .venv/bin/python scripts/bench_sim_pyevm.py [--traders 100] [--blocks 120]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from protocol.bench.scaling import scaled  # noqa: E402
from protocol.chain.base import BLOCK_GAS_LIMIT, CHAIN_ID, GENESIS_TIMESTAMP, Chain  # noqa: E402
from protocol.chain.pyevm import PyEVMChain  # noqa: E402
from protocol.sim.engine import Simulation  # noqa: E402


class Recorder:
    """Patches the pyevm backend to log transactions and time the transaction path."""

    def __init__(self) -> None:
        self.txs: list[tuple] = []
        self.statuses: list[bool] = []
        self.balances: dict[str, int] = {}
        self.seconds = 0.0
        self.keys: dict[str, bytes] = {}

    def install(self) -> None:
        recorder, send, execute, set_balance = self, PyEVMChain._send, Chain._execute, PyEVMChain.set_balance

        def _send(chain, sender, nonce, to, data, value, gas, gas_price):
            recorder.keys[sender] = chain._keys[sender]
            recorder.txs.append((chain.block_number, chain.timestamp, sender, nonce, to, data, value,
                                 gas, gas_price))
            result = send(chain, sender, nonce, to, data, value, gas, gas_price)
            recorder.statuses.append(result.success)
            return result

        def _execute(chain, *args, **kwargs):
            started = time.perf_counter()
            try:
                return execute(chain, *args, **kwargs)
            finally:
                recorder.seconds += time.perf_counter() - started

        def _set_balance(chain, address, wei):
            recorder.balances.setdefault(address, wei)
            return set_balance(chain, address, wei)

        PyEVMChain._send, Chain._execute, PyEVMChain.set_balance = _send, _execute, _set_balance


def replay(recorder: Recorder):
    """Raw eth-tester on the same transactions; returns (seconds, backend, transaction hashes)."""
    from eth.vm.forks import CancunVM
    from eth_account import Account
    from eth_tester import PyEVMBackend
    from eth_tester.backends.pyevm.main import get_default_genesis_params
    from eth_utils import to_canonical_address

    params = get_default_genesis_params({"timestamp": GENESIS_TIMESTAMP, "gas_limit": BLOCK_GAS_LIMIT})
    params["base_fee_per_gas"] = 0
    state = {to_canonical_address(a): {"balance": wei, "nonce": 0, "code": b"", "storage": {}}
             for a, wei in recorder.balances.items()}
    backend = PyEVMBackend(genesis_parameters=params, genesis_state=state,
                           vm_configuration=((0, CancunVM),))
    backend.chain.chain_id = CHAIN_ID
    signed = []
    for block, ts, sender, nonce, to, data, value, gas, gas_price in recorder.txs:
        # eth-tester's validator takes typed transactions only (a legacy EIP-155 `v` for chain
        # 31337 overflows its uint8 check); at base fee 0 a type-2 transaction pays exactly its
        # priority fee, so costs and gas match the simulation's legacy ones.
        tx = {"type": 2, "nonce": nonce, "maxFeePerGas": gas_price,
              "maxPriorityFeePerGas": gas_price, "gas": gas, "value": value, "data": data,
              "chainId": CHAIN_ID}
        if to is not None:
            tx["to"] = to
        raw = Account.sign_transaction(tx, recorder.keys[sender]).raw_transaction
        signed.append((block, ts, bytes(raw)))
    started = time.perf_counter()
    hashes = []
    current = None
    for block, ts, raw in signed:
        if block != current:
            if current is not None:
                backend.mine_blocks()
            backend.chain.header = backend.chain.header.copy(timestamp=ts)
            current = block
        hashes.append(backend.send_raw_transaction(raw))
    backend.mine_blocks()
    return time.perf_counter() - started, backend, hashes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traders", type=int, default=100)
    parser.add_argument("--blocks", type=int, default=120)
    args = parser.parse_args()
    recorder = Recorder()
    recorder.install()
    sc = scaled(args.traders, args.blocks, "pyevm")
    started = time.perf_counter()
    Simulation(sc).run()
    total = time.perf_counter() - started
    raw_seconds, backend, hashes = replay(recorder)
    statuses = [backend.get_transaction_receipt(h)["status"] == 1 for h in hashes]
    if statuses != recorder.statuses:
        raise SystemExit("replay diverged from the simulation: the comparison would be unfair")
    n = len(recorder.txs)
    table = Table(title=f"pyevm vs raw eth-tester, same {n:,} transactions "
                        f"({args.traders} traders, {args.blocks} blocks)")
    for col in ("path", "seconds", "tx/s", "vs raw eth-tester"):
        table.add_column(col, justify="left" if col == "path" else "right")
    table.add_row("raw eth-tester (send_raw_transaction + mine)", f"{raw_seconds:.2f}",
                  f"{n / raw_seconds:,.0f}", "1.00x")
    table.add_row("perpsim transaction path (encode, send, decode)", f"{recorder.seconds:.2f}",
                  f"{n / recorder.seconds:,.0f}", f"{raw_seconds / recorder.seconds:.2f}x")
    table.add_row("perpsim whole simulation (agents, views, metrics)", f"{total:.2f}",
                  f"{n / total:,.0f}", f"{raw_seconds / total:.2f}x")
    Console(width=110).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
