"""Benchmark: our chain layer (``protocol.chain``) versus the raw backends under it.

Per backend, in time-bounded loops after a warm-up: transactions/s of ``p.transact(me, "store",
i)`` (automine on) and views/s of ``p.call("value")`` on ``ParityProbe``; then the raw backend
doing the same with precomputed calldata: eth-tester for pyevm (plus web3.py over
``EthereumTesterProvider`` as a reference row), ``pyrevm.EVM.message_call`` for revm, web3.py to
the same anvil for rpc (locally signed raw transactions + receipt; ``eth_call``).

Overhead = raw rate / our rate ("1.08x" = our layer 8% slower). Targets, on transactions: our
layer adds at most 20% on pyevm (<= 1.2x vs eth-tester) and at most 2x on revm (vs pyrevm).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

from eth_abi import encode as abi_encode
from eth_utils import keccak
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocol.build import compile_contracts, user_artifacts_dir  # noqa: E402
from protocol.chain import connect  # noqa: E402
from protocol.chain.abi import add_artifact_dir  # noqa: E402

#: ParityProbe is one of the test suite's contracts, compiled apart from the package's.
TEST_CONTRACTS = Path(__file__).resolve().parents[1] / "tests" / "solidity"
compile_contracts(user_dir=TEST_CONTRACTS, quiet=True)
add_artifact_dir(user_artifacts_dir(TEST_CONTRACTS))
ARTIFACT = user_artifacts_dir(TEST_CONTRACTS) / "ParityProbe.json"
TARGETS = {"pyevm": 1.2, "revm": 2.0}  # max raw/ours tx-rate ratio
STORE = keccak(text="store(uint256)")[:4]
VALUE = keccak(text="value()")[:4]
POOL = 4096  # distinct store() arguments: every transaction changes the slot, as ours does
Row = dict[str, Any]


def rate(fn: Callable[[int], object], seconds: float, warmup: int = 30) -> float:
    """Calls per second of ``fn(i)`` over ``seconds`` of wall time, after ``warmup`` calls."""
    for i in range(warmup):
        fn(i)
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        fn(warmup + n)
        n += 1
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def store_data(i: int) -> bytes:
    return STORE + abi_encode(["uint256"], [i % POOL + 1])


def deploy_code() -> bytes:
    bytecode = json.loads(ARTIFACT.read_text())["bytecode"]
    return bytes.fromhex(bytecode.removeprefix("0x")) + abi_encode(["uint256"], [0])


def bench_ours(backend: str, seconds: float, url: str | None = None) -> Row:
    chain = connect(backend, url=url)
    chain.cache_views(False)  # the same view again and again would be served from the cache
    try:
        me = chain.new_account()
        p = chain.deploy("ParityProbe", 0, sender=me)
        tx = rate(lambda i: p.transact(me, "store", i + 1), seconds)
        view = rate(lambda i: p.call("value"), seconds)
    finally:
        chain.close()
    return {"client": "perpsim (ours)", "role": "ours", "tx": tx, "view": view}


def bench_eth_tester(seconds: float) -> list[Row]:
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider, Web3

    calldata = ["0x" + store_data(i).hex() for i in range(POOL)]
    view = "0x" + VALUE.hex()
    tester = EthereumTester(PyEVMBackend())
    acct = tester.get_accounts()[0]
    deploy = {"from": acct, "gas": 3_000_000, "data": "0x" + deploy_code().hex()}
    addr = tester.get_transaction_receipt(tester.send_transaction(deploy))["contract_address"]
    raw_tx = rate(lambda i: tester.send_transaction(
        {"from": acct, "to": addr, "gas": 100_000, "data": calldata[i % POOL]}), seconds)
    raw_view = rate(lambda i: tester.call({"from": acct, "to": addr, "data": view}), seconds)

    w3 = Web3(EthereumTesterProvider())
    sender = w3.eth.accounts[0]
    tx_hash = w3.eth.send_transaction({"from": sender, "gas": 3_000_000, "data": deploy_code()})
    target = w3.eth.get_transaction_receipt(tx_hash)["contractAddress"]
    w3_tx = rate(lambda i: w3.eth.send_transaction(
        {"from": sender, "to": target, "gas": 100_000, "data": calldata[i % POOL]}), seconds)
    w3_view = rate(lambda i: w3.eth.call({"to": target, "data": view}), seconds)
    return [{"client": "eth-tester (raw)", "role": "raw", "tx": raw_tx, "view": raw_view},
            {"client": "web3.py + eth-tester", "role": "reference", "tx": w3_tx,
             "view": w3_view}]


def bench_pyrevm(seconds: float) -> list[Row]:
    import pyrevm

    calldata = [store_data(i) for i in range(POOL)]
    caller = "0x" + "11" * 20
    evm = pyrevm.EVM(spec_id="CANCUN")
    evm.set_balance(caller, 10**24)
    addr = evm.deploy(caller, deploy_code())
    tx = rate(lambda i: evm.message_call(caller, addr, calldata[i % POOL]), seconds)
    view = rate(lambda i: evm.message_call(caller, addr, VALUE, is_static=True), seconds)
    return [{"client": "pyrevm (raw)", "role": "raw", "tx": tx, "view": view}]


def bench_web3_rpc(seconds: float, url: str) -> list[Row]:
    from eth_account import Account
    from web3 import HTTPProvider, Web3

    w3 = Web3(HTTPProvider(url))
    account = Account.from_key(keccak(text="bench_chain:raw"))
    w3.provider.make_request("anvil_setBalance", [account.address, hex(10**24)])
    calldata = [store_data(i) for i in range(POOL)]
    nonce = w3.eth.get_transaction_count(account.address)

    def send(to: str | None, data: bytes) -> Any:
        nonlocal nonce
        tx = {"nonce": nonce, "gasPrice": 0, "gas": 3_000_000 if to is None else 100_000,
              "value": 0, "data": data, "chainId": 31337}
        if to is not None:
            tx["to"] = to
        signed = account.sign_transaction(tx)
        nonce += 1
        return w3.eth.wait_for_transaction_receipt(  # anvil may need a moment to mine
            w3.eth.send_raw_transaction(signed.raw_transaction), poll_latency=0.001)

    addr = send(None, deploy_code())["contractAddress"]
    tx = rate(lambda i: send(addr, calldata[i % POOL]), seconds, warmup=10)
    view = rate(lambda i: w3.eth.call({"to": addr, "data": VALUE}), seconds, warmup=10)
    return [{"client": "web3.py (raw)", "role": "raw", "tx": tx, "view": view}]


def bench_backend(backend: str, seconds: float) -> list[Row]:
    """Our layer first, then the raw backend(s); adds the overheads (raw rate / our rate)."""
    if backend == "rpc":
        from protocol.chain.rpc import start_anvil

        process, url = start_anvil()
        try:
            rows = [bench_ours("rpc", seconds, url), *bench_web3_rpc(seconds, url)]
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()
    else:
        raw = bench_eth_tester if backend == "pyevm" else bench_pyrevm
        rows = [bench_ours(backend, seconds), *raw(seconds)]
    for row in rows:
        row["backend"] = backend
        if row["role"] != "ours":
            row["tx_overhead"] = row["tx"] / rows[0]["tx"]
            row["view_overhead"] = row["view"] / rows[0]["view"]
    return rows


def fmt(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}x ({(ratio - 1) * 100:+.0f}%)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--backends", default="pyevm,revm,rpc", help="comma-separated")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - {"pyevm", "revm", "rpc"}:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")

    console = Console()
    if not console.is_terminal:
        console.width = 120  # pipes default to 80 columns, too narrow for the table
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(),
               "python": platform.python_version()}
    console.print(f"[bold]bench_chain[/] {machine['platform']} | {machine['cpus']} CPUs | "
                  f"Python {machine['python']} | {args.seconds:g} s per measurement")
    rows: list[Row] = []
    for backend in backends:
        console.print(f"measuring {backend} ...")
        try:
            rows += bench_backend(backend, args.seconds)
        except Exception as exc:  # report it and go on with the other backends
            console.print(f"[red]{backend} failed:[/] {type(exc).__name__}: {exc}")
            rows.append({"backend": backend, "client": "FAILED", "role": "error",
                         "error": f"{type(exc).__name__}: {exc}"})

    table = Table(title="ParityProbe.store / value: our layer vs the raw backend")
    for i, col in enumerate(["backend", "client", "tx/s", "views/s", "tx overhead",
                             "view overhead", "target (tx)"]):
        table.add_column(col, justify="right" if 2 <= i <= 5 else "left")
    verdicts: dict[str, bool] = {}
    for i, row in enumerate(rows):
        if row["role"] == "error":
            table.add_row(row["backend"], "[red]FAILED[/] (see above)", end_section=True)
            continue
        target = TARGETS.get(row["backend"]) if row["role"] == "raw" else None
        verdict = ""
        if target is not None:
            verdicts[row["backend"]] = ok = row["tx_overhead"] <= target
            verdict = f"<= {target:g}x " + ("[green]met[/]" if ok else "[red]MISSED[/]")
        last = i + 1 == len(rows) or rows[i + 1]["role"] in ("ours", "error")
        table.add_row(row["backend"], row["client"], f"{row['tx']:,.0f}", f"{row['view']:,.0f}",
                      fmt(row.get("tx_overhead")), fmt(row.get("view_overhead")), verdict,
                      end_section=last)
    console.print(table)
    console.print("overhead = raw rate / our rate: above 1x our layer is slower than the raw "
                  "backend, below 1x it is faster")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "seconds": args.seconds,
                                         "targets": TARGETS, "targets_met": verdicts,
                                         "results": rows}, indent=2) + "\n")
        console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
