"""``perpsim serve``: a keeper in a separate process, knowing only the JSON-RPC endpoint and
deployment.json, liquidates a position of a running scenario; and ``perpsim run --backend rpc``
gives the numbers of revm."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account
from web3 import HTTPProvider, Web3

from protocol.cli import main
from protocol.serve import DeploymentDoc, keeper_accounts

ROOT = Path(__file__).resolve().parents[2]
KEEPER_SCRIPT = ROOT / "examples" / "external_keeper.py"
PERPSIM = [sys.executable, "-c", "from protocol.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (
        str(ROOT), os.environ.get("PYTHONPATH"))))}


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 40) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"perpsim serve exited: {process.stderr.read()}")
        assert time.monotonic() < deadline, f"no {path} after {seconds} s"
        time.sleep(0.1)


def _rpc(w3: Web3, method: str, *params):
    reply = w3.provider.make_request(method, list(params))
    return reply.get("result"), reply.get("error")


def _lines_until(process: subprocess.Popen, event: str) -> list[dict]:
    """The keeper's JSON lines up to and including the next ``event``."""
    lines = []
    while True:
        line = process.stdout.readline()
        assert line, f"the keeper exited before {event!r}: {process.stderr.read()}"
        lines.append(json.loads(line))
        if lines[-1]["event"] == event:
            return lines


@pytest.fixture()
def served(tmp_path):
    port = _free_port()
    out = tmp_path / "serve"
    process = subprocess.Popen(
        [*PERPSIM, "serve", "external-keeper", "--port", str(port), "--out", str(out), "--step"],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(out / "deployment.json", process)
        yield process, out, Web3(HTTPProvider(f"http://127.0.0.1:{port}"))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=20)


def test_an_external_keeper_liquidates_over_json_rpc(served):
    process, out, w3 = served
    doc = DeploymentDoc.model_validate_json((out / "deployment.json").read_text())
    keeper_address = keeper_accounts(1)[0].address
    assert doc.keepers[0].address == keeper_address
    assert doc.rpc_url == w3.provider.endpoint_uri and doc.chain_id == w3.eth.chain_id
    assert w3.eth.get_balance(keeper_address) == 1_000 * 10**18
    env = (out / "deployment.env").read_text()
    assert f"export ETH_RPC_URL={doc.rpc_url}\n" in env
    assert f"export CLEARINGHOUSE={doc.contracts['clearinghouse'].address}\n" in env
    assert f"export FEED_ETH={doc.markets['ETH'].feed}\n" in env
    assert f"export KEEPER_KEY={doc.keepers[0].private_key}\n" in env
    assert doc.contracts["clearinghouse"].binding == "protocol.bindings.clearinghouse:Clearinghouse"
    assert doc.contracts["feed:ETH"].binding == "protocol.bindings.chainlink_feed:ChainlinkFeed"
    ch = w3.eth.contract(address=doc.contracts["clearinghouse"].address,
                         abi=doc.contracts["clearinghouse"].abi)
    feed = w3.eth.contract(address=doc.markets["ETH"].feed, abi=doc.contracts["feed:ETH"].abi)
    assert feed.functions.latestRoundData().call()[1] == 3_000 * 10**18

    keeper = subprocess.Popen([sys.executable, str(KEEPER_SCRIPT), str(out / "deployment.json")],
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        assert _lines_until(keeper, "ready")[-1]["keeper"] == keeper_address
        assert _lines_until(keeper, "scanned")[-1] == {"event": "scanned", "block": 0, "sent": 0}
        sent: list[dict] = []
        block = 0
        while not sent:  # step until the crash makes positions liquidatable
            status, error = _rpc(w3, "perpsim_step", 1)
            assert error is None and status["block"] == block + 1 and not status["done"]
            block = status["block"]
            lines = _lines_until(keeper, "scanned")
            assert lines[-1]["block"] == block
            sent = [line for line in lines if line["event"] == "sent"]
        price = feed.functions.latestRoundData().call()[1]
        assert price < 3_000 * 10**18  # the crash, read through the Chainlink interface
        targets = {line["account"] for line in sent}
        for account in targets:  # liquidatable on chain, waiting for the keeper's transaction
            assert ch.functions.isLiquidatable(account, 0).call()
            assert ch.functions.position(account, 0).call()[0] > 0
            assert w3.eth.get_transaction_count(keeper_address, "pending") == \
                w3.eth.get_transaction_count(keeper_address) + len(sent)

        status, error = _rpc(w3, "perpsim_step")  # the keeper's transactions land in this block
        assert error is None and status["block"] == block + 1
        assert sorted(status["landed"]) == sorted(line["tx"] for line in sent)
        assert status["rejected"] == []
        logs = ch.events.PositionLiquidated().get_logs(
            from_block=0, argument_filters={"keeper": keeper_address})
        assert {log["args"]["account"] for log in logs} == targets
        assert len(logs) == len(sent)
        for log in logs:
            receipt = w3.eth.get_transaction_receipt(log["transactionHash"])
            assert receipt["status"] == 1 and receipt["from"] == keeper_address
            assert ch.functions.position(log["args"]["account"], 0).call()[0] == 0
        reward = sum(log["args"]["keeperReward"] for log in logs)  # credited on the venue
        assert reward > 0 and ch.functions.crossBalance(keeper_address).call() == reward

        # a nonce the node would hold back for ever, or one already used, is turned away
        spare = Account.from_key(doc.keepers[1].private_key)
        for nonce in (1, 0):
            raw = spare.sign_transaction({"to": keeper_address, "value": 1, "gas": 21_000,
                                          "gasPrice": 0, "nonce": nonce, "chainId": doc.chain_id})
            hash_, error = _rpc(w3, "eth_sendRawTransaction", "0x" + raw.raw_transaction.hex())
            if nonce == 1:
                assert error["message"] == f"nonce 1 from {spare.address}: its next nonce is 0"
        assert error is None and w3.eth.get_transaction_count(spare.address, "pending") == 1
        status, error = _rpc(w3, "perpsim_step")
        assert hash_ in status["landed"] and w3.eth.get_transaction_count(spare.address) == 1
        _, error = _rpc(w3, "eth_sendRawTransaction", "0x" + raw.raw_transaction.hex())
        assert error["message"] == f"nonce 0 from {spare.address}: its next nonce is 1"

        status, error = _rpc(w3, "perpsim_step", 1000)  # run out the scenario
        assert error is None and status["done"] and status["block"] == doc.blocks.total
        rest = [json.loads(line) for line in keeper.communicate(timeout=20)[0].splitlines()]
        assert keeper.returncode == 0
        liquidated = [line for line in rest if line["event"] == "liquidated"]
        assert not [line for line in rest if line["event"] == "failed"]
    finally:
        if keeper.poll() is None:
            keeper.kill()

    summary = json.loads((out / "summary.json").read_text())
    every = ch.events.PositionLiquidated().get_logs(from_block=0)
    assert summary["liquidations"] == len(every)  # the run booked what landed from outside
    # no keeper inside the run: every liquidation is the external keeper's, as it reported
    assert {"0x" + log["transactionHash"].hex() for log in every} == \
        {line["tx"] for line in liquidated}
    assert {log["args"]["keeper"] for log in every} == {keeper_address}
    assert summary["blocks"] == doc.blocks.total
    assert (out / "report.html").exists()
    # the run is over: reads go on, new transactions and steps are turned away
    assert feed.functions.latestRoundData().call()[1] == 2_820 * 10**18  # 6% down
    status, error = _rpc(w3, "perpsim_step", 1)
    assert status["done"] and error is None
    _, error = _rpc(w3, "eth_sendRawTransaction", "0x" + "00" * 20)
    assert error["code"] == -32602 and "not a signed transaction" in error["message"]
    signed = Account.from_key(doc.keepers[1].private_key).sign_transaction(
        {"to": keeper_address, "value": 1, "gas": 21_000, "gasPrice": 0, "nonce": 0,
         "chainId": doc.chain_id})
    _, error = _rpc(w3, "eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())
    assert error["code"] == -32000 and "the scenario is over" in error["message"]
    _, error = _rpc(w3, "eth_sendTransaction", {"from": keeper_address, "to": keeper_address})
    assert "sign locally" in error["message"]
    _, error = _rpc(w3, "perpsim_step", 0)
    assert "at least 1" in error["message"]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0


def test_serve_refuses_bad_options_in_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["serve", "external-keeper", "--out", str(tmp_path),
                                  "--pace", "1", "--step"])
    assert result.exit_code != 0 and "choose one of --pace SECONDS and --step" in result.output
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(main, ["serve", "external-keeper", "--out", str(tmp_path),
                                      "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: cannot listen on 127.0.0.1:{port}: in use"
    result = runner.invoke(main, ["run", "external-keeper", "--backend", "revm",
                                  "--rpc-url", "http://127.0.0.1:1", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "--rpc-url needs --backend rpc" in result.output


def test_run_on_a_node_gives_the_numbers_of_revm(tmp_path):
    """The same seed on anvil and on revm: the same summary, keepers' gas included."""
    args = ["run", "crash", "--blocks", "30", "--set", "agents.count=4",
            "--set", "prices.ETH.shocks.start_block=5", "--set", "prices.ETH.shocks.over_blocks=5"]
    summaries = {}
    for backend in ("revm", "rpc"):
        result = CliRunner().invoke(main, [*args, "--backend", backend,
                                           "--out", str(tmp_path / backend)])
        assert result.exit_code == 0, result.output
        summaries[backend] = json.loads((tmp_path / backend / "summary.json").read_text())
    assert summaries["rpc"]["liquidations"] > 0
    assert summaries["rpc"]["keepers"]["liquidator"]["gas_wei"] > 0
    assert summaries["rpc"] == summaries["revm"]


def test_paced_serve_runs_its_blocks_and_exits_when_done(tmp_path):
    port, out = _free_port(), tmp_path / "paced"
    process = subprocess.Popen(
        [*PERPSIM, "serve", "external-keeper", "--port", str(port), "--out", str(out),
         "--pace", "0.1", "--blocks", "20", "--exit-when-done"],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(out / "deployment.json", process)
        started = time.monotonic()
        doc = DeploymentDoc.model_validate_json((out / "deployment.json").read_text())
        assert doc.blocks.pace_seconds == 0.1 and doc.blocks.step_method is None
        assert doc.blocks.total == 20
        _, error = _rpc(Web3(HTTPProvider(doc.rpc_url)), "perpsim_step", 1)
        assert error["message"] == "serve runs with --pace 0.1: blocks advance on their own"
        assert process.wait(timeout=30) == 0, process.stderr.read()
        assert time.monotonic() - started >= 20 * 0.1 - 0.2  # the first block waits one pace
    finally:
        if process.poll() is None:
            process.kill()
    assert json.loads((out / "summary.json").read_text())["blocks"] == 20


def test_cast_liquidates_as_the_readme_shows(served):
    """The README's cast session, command for command (cast from npm @foundry-rs/cast)."""
    process, out, w3 = served
    cast = ROOT / "node_modules" / ".bin" / "cast"
    assert cast.exists(), "npm ci installs @foundry-rs/cast (a devDependency)"
    env = dict(_env())
    for line in (out / "deployment.env").read_text().splitlines():
        name, value = line.removeprefix("export ").split("=", 1)
        env[name] = value

    def run(*args: str) -> str:
        done = subprocess.run([str(cast), *args], env=env, capture_output=True, text=True,
                              timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert json.loads(run("rpc", "perpsim_step", "8"))["block"] == 8
    answer = run("call", env["FEED_ETH"], "latestRoundData()(uint80,int256,uint256,uint256,uint80)")
    assert answer.splitlines()[1].split()[0] == str(2_955 * 10**18)
    scan = run("call", env["READER"],
               "liquidatable(address,uint256,uint256)((address,uint256)[],uint256)",
               env["CLEARINGHOUSE"], "0", "100")
    account = scan.split("(")[2].split(",")[0]
    assert run("call", env["CLEARINGHOUSE"], "isLiquidatable(address,uint256)(bool)",
               account, "0") == "true"
    tx = run("send", "--async", "--private-key", env["KEEPER_KEY"], env["CLEARINGHOUSE"],
             "liquidatePosition(address,uint256)", account, "0")
    assert json.loads(run("rpc", "perpsim_step"))["landed"] == [tx]
    assert run("receipt", tx, "status") == "true"
    assert run("call", env["CLEARINGHOUSE"], "isLiquidatable(address,uint256)(bool)",
               account, "0") == "false"
    log = w3.eth.contract(address=env["CLEARINGHOUSE"],
                          abi=DeploymentDoc.model_validate_json(
                              (out / "deployment.json").read_text()).contracts["clearinghouse"].abi
                          ).events.PositionLiquidated().get_logs(from_block=0)
    assert [(e["args"]["account"], e["args"]["keeper"]) for e in log] == \
        [(account, env["KEEPER_ADDRESS"])]
    reward = int(run("call", env["CLEARINGHOUSE"], "crossBalance(address)(int256)",
                     env["KEEPER_ADDRESS"]).split()[0])
    assert reward == log[0]["args"]["keeperReward"] > 0
