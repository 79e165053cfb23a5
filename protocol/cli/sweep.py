"""``perpsim sweep``: a scenario over a parameter grid and N seeds, locally or on Ray."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Optional

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from protocol.pages.units import param
from protocol.sweep import make_engine, parse_axes, run_sweep
from protocol.sweep.aggregate import STATISTIC, STATISTICS
from protocol.sweep.engines import Engine
from protocol.sweep.frontier import DEFAULT_FRONTIER, condition_keys, parse_conditions, parse_frontier
from protocol.sweep.interrupt import DEFAULT_GRACE, SweepInterrupted
from protocol.sweep.report import write_sweep_report
from protocol.sweep.run import RunRecord
from protocol.sweep.sweep import FORMATS, Estimate, SweepResult
from protocol.sweep.units import figure, too_few_seeds_note

console = Console(width=max(Console().width, 100))


@click.command()
@click.argument("scenario")
@click.option("--set", "settings", multiple=True, metavar="KEY=V1,V2,...",
              help="A swept key and its values (one value: a fixed override). Repeatable.")
@click.option("--seeds", type=click.IntRange(min=1), default=10, show_default=True,
              help="Seeds per grid point.")
@click.option("--first-seed", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parallel runs (default: one per CPU).")
@click.option("--address", default=None, help="Ray cluster address (ray engine; default: local).")
@click.option("--backend", type=click.Choice(["revm", "pyevm"]), default=None)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: out/sweep-SCENARIO); holds runs.jsonl for resuming.")
@click.option("--format", "data_format", type=click.Choice(FORMATS), default=FORMATS[0],
              show_default=True,
              help="Tables: aggregates.csv, or aggregates.parquet and runs.parquet (pyarrow).")
@click.option("--frontier", default=",".join(DEFAULT_FRONTIER), show_default=True, metavar="X,Y",
              help="The two objectives of sweep.html's frontier (aggregates.csv columns, e.g. "
                   "var95_bad_debt, bad_debt_mean, fees_paid_mean, lp_return_mean, "
                   "keeper_profit_mean.NAME).")
@click.option("--conditions", default=None, metavar="KEY,...",
              help="The swept keys that are conditions, not design choices: one frontier per "
                   "combination of their values (keys, dotted prefixes or fnmatch patterns; "
                   "'none': every key is a design parameter). Default: prices, liquidity, "
                   "keepers, agents, oracle delays and outages, blocks.")
@click.option("--yes", "-y", "assume_yes", is_flag=True,
              help="Start without asking when the estimated time is over 10 minutes.")
@click.option("--grace", type=click.FloatRange(min=0), default=DEFAULT_GRACE, show_default=True,
              metavar="SECONDS",
              help="After Ctrl-C, SIGINT or SIGTERM: how long the runs in flight may finish "
                   "and be stored (a second Ctrl-C stops at once).")
def sweep(scenario: str, settings: tuple[str, ...], seeds: int, first_seed: int, engine: str,
          workers: Optional[int], address: Optional[str], backend: Optional[str],
          out_dir: Optional[Path], data_format: str, frontier: str, conditions: Optional[str],
          assume_yes: bool, grace: float) -> None:
    """Run SCENARIO over every combination of the --set values, --seeds times each.

    Finished runs are stored one by one; the same command again skips them (a failed run is
    retried). The exit code is the number of failed runs (at most 255). Before starting it
    prints the estimated time (from the first run, timed, or from stored runs when resuming);
    above 10 minutes on an interactive terminal it asks first, unless --yes. Ctrl-C, SIGINT or
    SIGTERM cancels the queued runs, stores the runs in flight that finish within --grace
    seconds and exits 128 + the signal's number (130 for Ctrl-C); the same command resumes."""
    # errors end the command in one line (protocol.cli.PerpsimGroup)
    try:
        objectives = parse_frontier(frontier)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--frontier") from None
    axes = parse_axes(list(settings))
    swept = [a for a in axes if len(a.values) > 1]
    condition_names = parse_conditions(conditions)
    try:
        condition_keys([a.key for a in swept], condition_names)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--conditions") from None
    fixed = {a.key: a.values[0] for a in axes if len(a.values) == 1}
    out_dir = out_dir or Path("out") / f"sweep-{Path(scenario).stem}"
    seed_list = list(range(first_seed, first_seed + seeds))
    progress = Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("runs"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console, transient=True)
    task = None

    def tick(record: RunRecord, finished: int, total: int) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task("sweep", total=total)
        progress.update(task, completed=finished)

    def stopping(cancelled: int, in_flight: int) -> None:
        if not in_flight:
            return
        line = (f"stopping: {cancelled:,} queued runs cancelled; waiting up to {grace:g} s "
                f"for the {in_flight} in flight (Ctrl-C again to stop now)")
        if console.is_terminal:  # above the progress bar, which stays until the runs end
            console.print(line, soft_wrap=True, markup=False, highlight=False)
        else:
            click.echo(line, err=True)

    def before(estimate: Estimate) -> None:
        progress.stop()
        console.print(estimate.describe())
        if estimate.seconds > CONFIRM_ABOVE and not assume_yes and _interactive():
            if not click.confirm("Start the sweep?", default=False):
                raise click.ClickException(
                    f"not started ({estimate.describe()}); finished runs are stored in "
                    f"{out_dir}/runs.jsonl; pass --yes to start without asking")
        progress.start()

    resume = _resume_command(scenario, settings, seeds, first_seed, engine, workers, address,
                             backend, out_dir, data_format, frontier, conditions)
    runner = None
    try:
        try:
            runner = make_engine(engine, workers, address)
        except (RuntimeError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        with progress:
            result = run_sweep(scenario, swept, seed_list, runner, out_dir, backend=backend,
                               fixed=fixed, progress=tick, data_format=data_format,
                               grace=grace, on_stop=stopping, conditions=condition_names,
                               before=before, parallel=_parallel(runner))
        console.print(_table(result))
        note = _too_few_seeds(result)
        if note:
            console.print(f"[yellow]{note}[/yellow]")
        report = _write_report(result, out_dir, scenario, objectives)
    except SweepInterrupted as stopped:
        click.echo(f"interrupted by {stopped.signal_name}: {stopped.stored:,} of "
                   f"{stopped.total:,} runs stored in {out_dir}; resume with: {resume}", err=True)
        sys.exit(stopped.exit_code)
    except KeyboardInterrupt:  # while Ray starts, the first run is timed, or the tables are written
        if runner is not None:
            runner.close()
        click.echo(f"interrupted: finished runs are stored in {out_dir}; resume with: {resume}",
                   err=True)
        sys.exit(130)
    tables = (f"{out_dir}/aggregates.csv" if data_format == "csv"
              else f"{out_dir}/aggregates.parquet, {out_dir}/runs.parquet")
    console.print(f"{len(result.records) - len(result.failed):,} runs ok, {len(result.failed):,} failed, "
                  f"{result.skipped:,} resumed from {out_dir}/runs.jsonl, "
                  f"{result.wall_seconds:.1f} s; aggregates: {tables}, report: {report}")
    for record in result.failed[:5]:
        console.print(f"[red]failed[/red] {record.params} seed {record.seed}: {record.error}")
    sys.exit(min(len(result.failed), 255))


def _resume_command(scenario: str, settings: tuple[str, ...], seeds: int, first_seed: int,
                    engine: str, workers: Optional[int], address: Optional[str],
                    backend: Optional[str], out_dir: Path, data_format: str,
                    frontier: str, conditions: Optional[str]) -> str:
    """The command that resumes this sweep: the options that make its runs and output."""
    argv = ["perpsim", "sweep", scenario]
    for setting in settings:
        argv += ["--set", setting]
    argv += ["--seeds", str(seeds)]
    if first_seed != 1:
        argv += ["--first-seed", str(first_seed)]
    if engine != "local":
        argv += ["--engine", engine]
    if workers is not None:
        argv += ["--workers", str(workers)]
    for option, value in (("--address", address), ("--backend", backend)):
        if value is not None:
            argv += [option, value]
    if data_format != FORMATS[0]:
        argv += ["--format", data_format]
    if frontier != ",".join(DEFAULT_FRONTIER):
        argv += ["--frontier", frontier]
    if conditions is not None:
        argv += ["--conditions", conditions]
    return shlex.join([*argv, "--out", str(out_dir)])


CONFIRM_ABOVE = 600  # seconds: a longer sweep asks before starting on an interactive terminal


def _interactive() -> bool:
    """Whether someone can answer a question: stdin and stdout are terminals."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _parallel(runner: Engine) -> int:
    """Runs at a time on the engine: its workers, else the Ray cluster's CPUs, else this host's."""
    workers: Optional[int] = getattr(runner, "workers", None)
    if workers:
        return workers
    ray = getattr(runner, "_ray", None)
    if ray is not None and ray.is_initialized():
        return max(int(ray.cluster_resources().get("CPU", 1)), 1)
    return os.cpu_count() or 1


def _too_few_seeds(result: SweepResult) -> str:
    return too_few_seeds_note(result.aggregates, STATISTICS)


def _write_report(result: SweepResult, out_dir: Path, scenario: str, frontier: tuple[str, str]) -> Path:
    return write_sweep_report(result, out_dir, scenario=scenario, frontier=frontier)


def _table(result: SweepResult) -> Table:
    table = Table(title="Sweep aggregates (per grid point, over seeds)")
    keys = [a.key for a in result.axes]
    # a narrow terminal folds a figure onto two lines rather than cutting digits off
    for key in keys:
        table.add_column(key, justify="right", overflow="fold")
    table.add_column("runs", justify="right", overflow="fold")
    for col in CLI_COLUMNS:
        table.add_column(col, justify="right", overflow="fold")
    for a in result.aggregates:
        # a tail quantile from too few seeds reads "n too small for VaR95", not a number
        table.add_row(*(param(a.params[k]) for k in keys), f"{a.runs}",
                      *(figure(STATISTIC[name], a) for name in CLI_COLUMNS.values()))
    return table


# CLI column -> statistic
CLI_COLUMNS = {"VaR95 bad debt $": "var95_bad_debt", "bad debt mean $": "bad_debt_mean",
               "LaR95 liq. volume $": "lar95_liquidation_volume",
               "SaR95 impact $": "sar95_liquidation_impact",
               "insurance max DD": "insurance_max_drawdown", "LP return mean": "lp_return_mean",
               "LP return p5": "lp_return_p5", "wiped out": "wiped_out_share_mean"}
