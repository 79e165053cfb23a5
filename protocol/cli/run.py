"""``perpsim run`` and ``perpsim scenarios``."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from protocol.chain import Chain, connect
from protocol.cli.oneline import one_line
from protocol.errors import PerpsimError
from protocol.report import write_run, write_study
from protocol.sim.crash import write_crash_bundle
from protocol.sim.engine import Simulation, run_study
from protocol.sim.loader import builtin_scenarios, load_scenario, parse_overrides
from protocol.sim.overrides import PRESET_KEY
from protocol.sim.result import CrashPoint, RunResult, StudyResult
from protocol.sim.scenario import Scenario
from protocol.testing.crash import REPLAY_FILE
from protocol.venue.modules import prepare_modules
from protocol.venue.presets import PRESETS

console = Console(width=max(Console().width, 100))


@click.command()
def scenarios() -> None:
    """List the built-in scenarios."""
    table = Table(title="Built-in scenarios (perpsim run NAME)")
    table.add_column("name")
    table.add_column("description")
    for name, description in builtin_scenarios().items():
        table.add_row(name, description)
    console.print(table)


@click.command()
@click.argument("scenario", default="default")
@click.option("--backend", type=click.Choice(["revm", "pyevm", "rpc"]), default=None,
              help="EVM to run on (default: the scenario's, usually revm); rpc: a node, "
                   "anvil started for the run unless --rpc-url is given.")
@click.option("--rpc-url", envvar="PERPSIM_RPC_URL", default=None, metavar="URL",
              help="With --backend rpc: a fresh node of your own (env PERPSIM_RPC_URL).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Run seed (default: the scenario's).")
@click.option("--blocks", type=click.IntRange(min=1), default=None, help="Blocks to simulate.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: out/SCENARIO).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a scenario key, e.g. --set markets.ETH.max_leverage=10 (repeatable).")
@click.option("--preset", "venue_preset", type=click.Choice(sorted(PRESETS)), default=None,
              help="Configure the markets with a real venue's published parameters (ETH, BTC; "
                   "see README, Venue presets): it replaces the parameters the scenario states "
                   "for them, and --set applies after it.")
@click.option("--contracts", "contracts_dir", type=click.Path(path_type=Path), default=None,
              help="A directory of your own .sol files (rule modules), compiled with the "
                   "project's; choose them with --set venue.modules.KIND=CONTRACT.")
@click.option("--check-invariants", "check_every", type=click.IntRange(min=0), default=0,
              metavar="N", help="Check SPEC §12 invariants after every Nth block (default 0: never; "
                                "each check reads the whole venue, see README).")
@click.option("--verify-index", "verify_every", type=click.IntRange(min=1), default=None,
              metavar="N", help="Compare the keepers' event index with a full chain scan after "
                                "every Nth block and stop on any difference (scenario key "
                                "verify_index).")
@click.option("--format", "table_format", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True, help="How the run's tables are written: CSV, or Parquet for "
                                      "large runs (report.html and the JSON files either way).")
@click.option("--crash-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where a failing run writes its crash bundle (default: OUT/crash).")
def run(scenario: str, backend: Optional[str], seed: Optional[int], blocks: Optional[int],
        out_dir: Optional[Path], settings: tuple[str, ...], venue_preset: Optional[str],
        contracts_dir: Optional[Path], check_every: int, crash_dir: Optional[Path],
        rpc_url: Optional[str], table_format: str, verify_every: Optional[int]) -> None:
    """Run SCENARIO (a built-in name or a TOML file) and write its report.

    A scenario with study_modes (such as isolated-vs-cross) runs once per margin mode, and one
    with study = "solvency" (such as adl) once without the profit cap and ADL and once with
    them, and one with study = "feedback" (such as cascade) once with the oracle reporting the
    exogenous path and once the price its liquidations moved, and one with study = "adl" (such
    as adl-modules) once per ADL module; all write a side-by-side study.

    If an exception escapes or (with --check-invariants) an invariant breaks, the run writes a
    crash bundle (scenario, seed, block, error, a pytest file replaying it), prints its path and
    the error, and exits 1."""
    # errors end the command in one line (protocol.cli.PerpsimGroup)
    overrides = parse_overrides(list(settings))
    if venue_preset is not None:  # over the file, under --set (protocol.sim.overrides)
        overrides[PRESET_KEY] = venue_preset
    if blocks is not None:
        overrides["blocks"] = blocks
    if verify_every is not None:
        overrides["verify_index"] = verify_every
    if contracts_dir is not None:
        overrides["venue.contracts"] = str(contracts_dir.resolve())
    sc = load_scenario(scenario, overrides or None)
    if sc.venue.modules or sc.venue.contracts:
        prepare_modules(sc.venue.modules, sc.venue.contracts)  # refuse bad modules up front
    out_dir = out_dir or Path("out") / sc.name
    studied = bool(sc.study or sc.study_modes)
    chain = _node(rpc_url, backend or sc.backend, studied)
    runs = 2 if sc.study else len(sc.study_modes) or 1
    try:
        with _progress() as progress:
            task = progress.add_task(sc.name, total=sc.blocks * runs)
            done = [0]

            def tick(block: int, total: int) -> None:
                done[0] += 1
                progress.update(task, completed=done[0])

            if studied:
                study = run_study(sc, backend=backend, seed=seed, progress=tick,
                                  check_invariants=check_every)
            else:
                result = Simulation(sc, backend=backend, seed=seed, chain=chain,
                                    check_invariants=check_every).run(tick)
    except Exception as exc:
        _crash(exc, crash_dir or out_dir / "crash", sc, overrides, backend, seed, check_every)
    html = (write_study(study, out_dir, table_format) if studied
            else write_run(result, out_dir, table_format))
    if studied:
        console.print(_study_table(study))
        seconds = sum(r.wall_seconds for r in study.runs.values())
    else:
        console.print(_summary_table(result))
        seconds = result.wall_seconds
    console.print(f"report: {html}  ({seconds:.1f} s)")


def _crash(exc: Exception, crash_dir: Path, sc: Scenario, overrides: dict[str, Any], backend: Optional[str],
           seed: Optional[int], check_every: int) -> None:
    """Write the crash bundle of a failed run, print its path, and end with the error (one line,
    or with --debug the original exception and its traceback)."""
    point = getattr(exc, "perpsim_crash", None) or CrashPoint(0)
    where = f"block {point.block}" + (f" ({point.variant})" if point.variant else "")
    try:
        bundle = write_crash_bundle(crash_dir, sc, exc, overrides=overrides, backend=backend,
                                    seed=seed, check_invariants=check_every)
    except OSError as err:
        raise click.ClickException(f"{where}: {one_line(exc)} (no crash bundle: {err})") from None
    click.echo(f"crash bundle: {bundle} (replay: pytest {bundle / REPLAY_FILE})")
    if click.get_current_context().find_root().params.get("debug"):
        raise exc
    raise click.ClickException(f"{where}: {one_line(exc)}") from None


def _node(rpc_url: Optional[str], backend: str, studied: bool) -> Optional[Chain]:
    """The chain at ``--rpc-url``, or None for a fresh one of the backend per run."""
    if rpc_url is None:
        return None

    if backend != "rpc":
        raise click.ClickException(f"--rpc-url needs --backend rpc (the run is on {backend})")
    if studied:
        raise click.ClickException("a study runs several times, each on a fresh node: "
                                   "leave out --rpc-url and perpsim starts anvil for each")
    try:
        return connect("rpc", url=rpc_url)
    except (PerpsimError, OSError, ValueError) as exc:
        raise click.ClickException(f"cannot reach the node at {rpc_url}: {exc}") from None


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("blocks"), TimeRemainingColumn(), console=console, transient=True)


def _fmt(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def _summary_table(result: RunResult) -> Table:
    s = result.summary
    table = Table(title=f"{result.scenario} (seed {result.seed}, {result.backend}, "
                        f"{s['blocks']} blocks of {result.block_time} s)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [("transactions", s["transactions"]),
            ("liquidations (isolated / cross)",
             f"{s['liquidations']:,} ({s['liquidations_isolated']:,} / {s['liquidations_cross']:,})"),
            ("liquidated notional $", s["liquidated_notional"]), ("bad debt $", s["bad_debt"]),
            ("fees paid $", s["fees_paid"]), ("funding paid $", s["funding_paid"]),
            ("insurance fund $ (start -> end)",
             f"{_fmt(s['insurance_fund']['start'])} -> {_fmt(s['insurance_fund']['end'])}"),
            ("LP return (share price)", f"{s['pool']['lp_return'] * 100:.2f}%"),
            ("traders wiped out / survivors", f"{s['wiped_out']:,} / {s['survivors']:,}")]
    for name, keeper in s["keepers"].items():
        rows.append((f"keeper {name} net profit $", keeper["net_profit_usd"]))
    for name, cohort in s["cohorts"].items():
        rows.append((f"cohort {name} return (equity)", f"{cohort['return'] * 100:.2f}%"))
    for name, value in rows:
        table.add_row(name, _fmt(value))
    return table


def _study_table(study: StudyResult) -> Table:
    modes = list(study.runs)
    if set(modes) <= {"isolated", "cross"}:
        by = "by margin mode"
    elif "with feedback" in modes:
        by = "with and without liquidation feedback"
    elif "pro-rata haircut" in modes:
        by = "under each ADL module"
    else:
        by = "with and without the profit cap and ADL"
    table = Table(title=f"{study.scenario}: the same traders and prices, {by}")
    table.add_column("metric")
    for mode in modes:
        table.add_column(mode, justify="right")
    for metric, by_mode in study.comparison.items():
        table.add_row(metric, *(_fmt(by_mode[m]) for m in modes))
    return table
