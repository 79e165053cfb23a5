"""``perpsim stress``: a venue's rules through every historical crisis."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from protocol.sim.loader import parse_overrides
from protocol.sweep import make_engine
from protocol.sweep.interrupt import DEFAULT_GRACE, SweepInterrupted
from protocol.sweep.run import RunRecord
from protocol.sweep.stress import parse_crises, plan_stress, run_stress
from protocol.sweep.stress_page import COLUMNS, TERMINAL, cells, write_stress
from protocol.venue.presets import PRESETS

console = Console(width=max(Console().width, 100))


@click.command()
@click.argument("venue_scenario")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=None,
              help="A real venue's published market parameters over the venue scenario's "
                   "(see README, Venue presets).")
@click.option("--crises", default="all", show_default=True, metavar="all|NAME,...",
              help="The crises to run (perpsim scenarios lists them: crisis-*).")
@click.option("--seeds", type=click.IntRange(min=1), default=5, show_default=True,
              help="Seeds per crisis.")
@click.option("--first-seed", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parallel runs (default: one per CPU).")
@click.option("--backend", type=click.Choice(["revm", "pyevm"]), default=None)
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a key of every crisis run, after the venue's tables, e.g. "
                   "--set agents.count=20 (repeatable).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: out/stress-VENUE_SCENARIO); holds runs.jsonl for "
                   "resuming.")
@click.option("--grace", type=click.FloatRange(min=0), default=DEFAULT_GRACE, show_default=True,
              metavar="SECONDS",
              help="After Ctrl-C, SIGINT or SIGTERM: how long the runs in flight may finish "
                   "and be stored.")
def stress(venue_scenario: str, preset: Optional[str], crises: str, seeds: int, first_seed: int,
           workers: Optional[int], backend: Optional[str], settings: tuple[str, ...],
           out_dir: Optional[Path], grace: float) -> None:
    """Run VENUE_SCENARIO's rules ([venue] and [markets]) through every historical crisis.

    Each crisis (docs/CRISES.md) brings its prices, market depth, oracle, traders and keepers;
    each runs --seeds times. It prints and writes one row per crisis (stress.csv, stress.html):
    bad debt (mean, VaR95, worst seed), insurance-fund drawdown, ADL volume, liquidated
    notional, LP return, keeper profit, the worst block and the limit that bound first; then
    the crisis that hurt most. The exit code is the number of failed runs (at most 255);
    Ctrl-C stops as a sweep does and the same command resumes."""
    names = parse_crises(crises)
    seed_list = list(range(first_seed, first_seed + seeds))
    plan = plan_stress(venue_scenario, names, seed_list, preset=preset, backend=backend,
                       overrides=parse_overrides(settings))
    for note in plan.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    out_dir = out_dir or Path("out") / f"stress-{Path(venue_scenario).stem}"
    progress = Progress(TextColumn("[bold]stress"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("runs"), TimeElapsedColumn(), console=console, transient=True)
    task = progress.add_task("stress", total=len(plan.runs))

    def tick(record: RunRecord, finished: int, total: int) -> None:
        progress.update(task, completed=finished + len(plan.runs) - total)

    argv = ["perpsim", "stress", venue_scenario, "--crises", crises, "--seeds", str(seeds)]
    for option, value in (("--preset", preset), ("--backend", backend)):
        if value is not None:
            argv += [option, value]
    if first_seed != 1:
        argv += ["--first-seed", str(first_seed)]
    for setting in settings:
        argv += ["--set", setting]
    resume = shlex.join([*argv, "--out", str(out_dir)])
    try:
        with progress:
            result = run_stress(plan, make_engine("local", workers), out_dir, progress=tick,
                                grace=grace)
    except SweepInterrupted as stopped:
        click.echo(f"interrupted by {stopped.signal_name}: {stopped.stored:,} of "
                   f"{stopped.total:,} runs stored in {out_dir}; resume with: {resume}", err=True)
        sys.exit(stopped.exit_code)
    view = Table(title=f"stress: {venue_scenario}" + (f" (preset {preset})" if preset else ""))
    shown = [COLUMNS.index(header) for header in TERMINAL]
    for header in TERMINAL:
        view.add_column(header, overflow="fold")
    for row in result.rows:
        values = cells(row)
        view.add_row(*(str(values[i]) for i in shown))
    console.print(view)
    console.print(f"all columns: {out_dir}/stress.html", markup=False, highlight=False)
    console.print(result.verdict(), markup=False, highlight=False)
    csv_path, html_path = write_stress(result, out_dir)
    failed = sum(r.failed for r in result.rows)
    console.print(f"{sum(r.runs for r in result.rows):,} runs ok, {failed:,} failed, "
                  f"{result.skipped:,} resumed from {out_dir}/runs.jsonl, "
                  f"{result.wall_seconds:.1f} s; table: {csv_path}, page: {html_path}",
                  markup=False, highlight=False)
    for row in result.rows:
        for error in row.errors[:3]:
            console.print(f"failed {row.crisis} {error}", markup=False, highlight=False)
    sys.exit(min(failed, 255))
