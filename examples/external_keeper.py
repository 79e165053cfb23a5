"""A liquidation keeper that lives outside perpsim: it knows only the JSON-RPC endpoint and the
deployment.json that `perpsim serve` writes, as a bot on a real chain knows only its node.

    perpsim serve external-keeper --port 8545 --out out/serve --step &
    python examples/external_keeper.py out/serve/deployment.json

Each new block it reads the oracle's Chainlink feeds, asks the Reader which positions are
liquidatable, reads each one and sends a signed liquidation from its keeper account. It prints
one JSON line per event ("ready", "block", "sent", "refused", "scanned", "liquidated", "failed")
and stops when the scenario's last block has run (or after one scan with --once). It needs only web3.py.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

SCAN_PAGE = 500  # accounts per Reader call


def say(**fields) -> None:
    print(json.dumps(fields), flush=True)


class Keeper:
    def __init__(self, deployment: dict, account_index: int):
        self.w3 = Web3(HTTPProvider(deployment["rpc_url"]))
        self.account = Account.from_key(deployment["keepers"][account_index]["private_key"])
        contracts = deployment["contracts"]

        def contract(name: str):
            return self.w3.eth.contract(address=contracts[name]["address"],
                                        abi=contracts[name]["abi"])

        self.clearinghouse = contract("clearinghouse")
        self.reader = contract("reader")
        self.feeds = {symbol: contract(f"feed:{symbol}") for symbol in deployment["markets"]}
        self.symbols = {m["id"]: symbol for symbol, m in deployment["markets"].items()}
        self.cross_account = self.clearinghouse.functions.CROSS_ACCOUNT().call()
        self.status_method = deployment["blocks"]["status_method"]
        self.in_flight: dict[str, tuple[str, int]] = {}  # tx hash -> target

    def status(self) -> dict:
        return self.w3.provider.make_request(self.status_method, [])["result"]

    def prices(self) -> dict[str, float]:
        out = {}
        for symbol, feed in self.feeds.items():
            _, answer, _, _, _ = feed.functions.latestRoundData().call()
            out[symbol] = answer / 10**18
        return out

    def liquidatable(self) -> list[tuple[str, int]]:
        found, start = [], 0
        while True:
            targets, start = self.reader.functions.liquidatable(
                self.clearinghouse.address, start, SCAN_PAGE).call()
            found += [(account, market) for account, market in targets]
            if start >= self.clearinghouse.functions.accountCount().call():
                return found

    def liquidate(self, account: str, market: int) -> str:
        if market == self.cross_account:
            call = self.clearinghouse.functions.liquidateAccount(account)
        else:
            call = self.clearinghouse.functions.liquidatePosition(account, market)
        tx = call.build_transaction({
            "from": self.account.address, "chainId": self.w3.eth.chain_id, "gas": 3_000_000,
            "gasPrice": self.w3.eth.gas_price,
            "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending")})
        signed = self.account.sign_transaction(tx)
        return "0x" + self.w3.eth.send_raw_transaction(signed.raw_transaction).hex()

    def scan(self, block: int) -> None:
        say(event="block", block=block, prices=self.prices())
        busy = set(self.in_flight.values())
        sent = 0
        for account, market in self.liquidatable():
            if (account, market) in busy:
                continue
            symbol = self.symbols.get(market, "cross")
            size = (self.clearinghouse.functions.position(account, market).call()[0] / 10**18
                    if market != self.cross_account else None)
            try:
                tx = self.liquidate(account, market)
            except Web3RPCError as exc:  # e.g. the scenario ended meanwhile
                say(event="refused", account=account, market=symbol, error=str(exc))
                continue
            self.in_flight[tx] = (account, market)
            say(event="sent", account=account, market=symbol, size=size, tx=tx)
            sent += 1
        say(event="scanned", block=block, sent=sent)

    def collect(self) -> None:
        """Report the liquidations whose blocks have run."""
        for tx, (account, market) in list(self.in_flight.items()):
            try:
                receipt = self.w3.eth.get_transaction_receipt(tx)
            except TransactionNotFound:  # its block has not run yet
                continue
            del self.in_flight[tx]
            say(event="liquidated" if receipt["status"] == 1 else "failed", account=account,
                market=self.symbols.get(market, "cross"), tx=tx,
                node_block=receipt["blockNumber"], gas_used=receipt["gasUsed"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("deployment", type=Path, help="deployment.json written by perpsim serve")
    parser.add_argument("--account", type=int, default=0, help="which keeper account to use")
    parser.add_argument("--once", action="store_true", help="scan once, send, and exit")
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between status polls")
    args = parser.parse_args()
    keeper = Keeper(json.loads(args.deployment.read_text()), args.account)
    say(event="ready", keeper=keeper.account.address)
    seen = None
    while True:
        status = keeper.status()
        keeper.collect()
        if status["block"] >= status["blocks"]:  # the last block has run: nothing more lands
            break
        if status["block"] != seen:
            seen = status["block"]
            keeper.scan(seen)
            if args.once:
                break
        time.sleep(args.poll)


if __name__ == "__main__":
    main()
