"""``perpsim serve``."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import Optional

import click

from protocol.cli.run import _summary_table, console
from protocol.errors import PerpsimError
from protocol.serve import Server
from protocol.sim.loader import ScenarioError, load_scenario, parse_overrides


@click.command()
@click.argument("scenario")
@click.option("--port", type=click.IntRange(0, 65535), default=8545, show_default=True,
              help="Port of the JSON-RPC endpoint (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, metavar="DIR", help="Folder for deployment.json and the run's outputs.")
@click.option("--pace", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Run a block every SECONDS of wall time.")
@click.option("--step", is_flag=True,
              help="Run blocks only on the perpsim_step JSON-RPC method (the default).")
@click.option("--keepers", type=click.IntRange(min=0), default=2, show_default=True,
              help="Accounts to fund for external bots (keys in deployment.json).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Run seed (default: the scenario's).")
@click.option("--blocks", type=click.IntRange(min=1), default=None, help="Blocks to simulate.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a scenario key (repeatable), as in perpsim run.")
@click.option("--exit-when-done", is_flag=True,
              help="Exit once the scenario's blocks are done, instead of serving reads until Ctrl-C.")
def serve(scenario: str, port: int, host: str, out_dir: Path, pace: Optional[float], step: bool,
          keepers: int, seed: Optional[int], blocks: Optional[int], settings: tuple[str, ...],
          exit_when_done: bool) -> None:
    """Run SCENARIO on a node (anvil) and expose its JSON-RPC on --port for bots outside perpsim.

    Writes DIR/deployment.json (addresses, ABIs, the keeper accounts' keys), then runs the
    scenario block by block: every --pace SECONDS, or with --step on each perpsim_step call.
    Transactions sent to the endpoint land in the next block. When the blocks are done it writes
    the run's outputs into DIR as perpsim run does, then keeps serving reads until Ctrl-C."""
    if step and pace is not None:
        raise click.UsageError("choose one of --pace SECONDS and --step")
    try:
        overrides = parse_overrides(list(settings))
        if blocks is not None:
            overrides["blocks"] = blocks
        sc = load_scenario(scenario, overrides or None)
    except (ScenarioError, ValueError, PerpsimError) as exc:
        raise click.ClickException(str(exc)) from None
    if sc.study or sc.study_modes:
        raise click.ClickException(f"{sc.name} is a study (several runs); serve runs one scenario")
    if seed is not None:
        sc = sc.with_(seed=seed)
    finished = False
    for stop in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: shells ignore it in `serve &`
        signal.signal(stop, _interrupt)
    try:
        with Server(sc, port=port, host=host, out_dir=out_dir, pace=pace, keepers=keepers,
                    log=_log) as server:
            result, html = server.run()
            finished = True
            console.print(_summary_table(result))
            console.print(f"report: {html}")
            if not exit_when_done:
                console.print(f"blocks done; still serving reads on {server.url} (Ctrl-C to stop)")
                while True:
                    time.sleep(3600)
    except KeyboardInterrupt:
        if not finished:
            raise click.ClickException("stopped before the scenario's blocks were done") from None
    except PerpsimError as exc:
        raise click.ClickException(str(exc)) from None


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt


def _log(message: str) -> None:
    console.print(message, soft_wrap=True, markup=False, highlight=False)
