"""``perpsim serve``: a scenario run on a node of its own, behind a JSON-RPC endpoint that bots
outside perpsim use as they would a real chain's."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Callable, Optional

from eth_keys.main import lazy_key_api as keys  # what eth_keys exports as keys

from protocol.chain import ETHER, account_key
from protocol.chain.rpc import RPCChain, start_anvil
from protocol.report import write_run
from protocol.serve.deployment import STATUS_METHOD, STEP_METHOD, Blocks, KeeperAccount, describe, write
from protocol.serve.proxy import RPCProxy
from protocol.serve.session import ServeError, ServeSession
from protocol.sim.engine import Simulation
from protocol.sim.result import RunResult
from protocol.sim.scenario import Scenario
from protocol.venue import Venue
from protocol.venue.modules import prepare_modules

KEEPER_NAMESPACE = "perpsim-external"  # keys of the accounts handed to external bots
KEEPER_ETHER = 1_000 * ETHER
DEPLOYMENT_FILE = "deployment.json"


def keeper_accounts(count: int) -> list[KeeperAccount]:
    """The accounts ``perpsim serve`` funds for external bots: the same on every run."""
    out = []
    for index in range(count):
        key = account_key(index, KEEPER_NAMESPACE)
        out.append(KeeperAccount(address=keys.PrivateKey(key).public_key.to_checksum_address(),
                                 private_key="0x" + key.hex()))
    return out


class Server:
    """Run ``scenario`` on a fresh anvil, block by block, with its JSON-RPC on ``host:port``.

    Blocks run every ``pace`` seconds, or (``pace`` None) on ``perpsim_step``. Use as a context
    manager: leaving it stops the endpoint and the node."""

    def __init__(self, scenario: Scenario, *, port: int, out_dir: Path,
                 pace: Optional[float] = None, host: str = "127.0.0.1", keepers: int = 2,
                 log: Callable[[str], None] = print):
        self.scenario = scenario
        self.out_dir = Path(out_dir)
        self.keepers = keeper_accounts(keepers)
        self._log = log
        self.session = ServeSession(scenario.blocks, pace, self._started, log)
        process, node_url = start_anvil()
        self.chain = RPCChain(node_url, process=process)
        try:
            self.proxy = RPCProxy(self.session, node_url, host, port)
        except OSError as exc:
            self.chain.close()
            reason = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise ServeError(f"cannot listen on {host}:{port}: {reason}") from None
        self.url = self.proxy.url.replace("://0.0.0.0:", "://127.0.0.1:")
        self.deployment_path = self.out_dir / DEPLOYMENT_FILE

    def __enter__(self) -> "Server":
        self.proxy.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.finish()
        self.proxy.close()
        self.chain.close()

    def run(self) -> tuple[RunResult, Path]:
        """Run every block of the scenario; write its outputs; return the result and the
        report's path. The endpoint keeps answering until :meth:`close`."""
        simulation = Simulation(self.scenario, backend="rpc", chain=self.chain,
                                external_bots=self.session)
        try:
            result = simulation.run(self.session.block_done)
            html = write_run(result, self.out_dir)
        except BaseException as exc:
            self.session.finish(failed=str(exc) or type(exc).__name__)
            raise
        self.session.finish()
        return result, html

    def _started(self, venue: Venue) -> None:
        for account in self.keepers:
            venue.chain.set_balance(account.address, KEEPER_ETHER)
        sc = self.scenario
        pace = self.session.pace
        blocks = Blocks(total=sc.blocks, block_time=sc.block_time, pace_seconds=pace,
                        step_method=None if pace is not None else STEP_METHOD,
                        status_method=STATUS_METHOD)
        artifacts = None
        if sc.venue.contracts:  # the user's own modules: their ABIs live in a compiled cache

            artifacts = prepare_modules(sc.venue.modules, sc.venue.contracts)
        write(describe(venue, rpc_url=self.url, scenario=sc.name, seed=sc.seed, blocks=blocks,
                       keepers=self.keepers, artifacts=artifacts), self.deployment_path)
        how = f"a block every {pace:g} s" if pace is not None else f"blocks on {STEP_METHOD}"
        self._log(f"serving {sc.name} on {self.url} ({how}); deployment: {self.deployment_path}")
