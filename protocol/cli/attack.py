"""``perpsim attack``: search an attacker's parameters against a venue."""

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
from protocol.sweep.attack import parse_budgets, parse_vary, plan_attack, replay, run_attack
from protocol.sweep.attack_page import COLUMNS, cells, write_attack
from protocol.sweep.interrupt import DEFAULT_GRACE, SweepInterrupted
from protocol.sweep.run import RunRecord

console = Console(width=max(Console().width, 120))


@click.command()
@click.argument("scenario")
@click.option("--agent", default="manipulator", show_default=True,
              help="The attacker: manipulator, self_liquidator, margin_puller (the scenario "
                   "must hold one such [[agents]] entry).")
@click.option("--budget", "budgets", required=True, metavar="USD,USD,...",
              help="The budgets to try, e.g. 1e6,5e6,2e7.")
@click.option("--vary", multiple=True, metavar="PARAM=V1,V2",
              help="Replace the attacker's default search axis PARAM (repeatable); "
                   "e.g. --vary pump_blocks=1,3,10.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Seeds per grid point.")
@click.option("--first-seed", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parallel runs (default: one per CPU).")
@click.option("--backend", type=click.Choice(["revm", "pyevm"]), default=None)
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a key of every run, e.g. --set oracle.MNGO.max_deviation_bps=200 "
                   "(repeatable): a defence turned on.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: out/attack-SCENARIO); holds runs.jsonl for resuming.")
@click.option("--grace", type=click.FloatRange(min=0), default=DEFAULT_GRACE, show_default=True,
              metavar="SECONDS",
              help="After Ctrl-C, SIGINT or SIGTERM: how long the runs in flight may finish.")
def attack(scenario: str, agent: str, budgets: str, vary: tuple[str, ...], seeds: int,
           first_seed: int, workers: Optional[int], backend: Optional[str],
           settings: tuple[str, ...], out_dir: Optional[Path], grace: float) -> None:
    """Search an attacker's parameters against SCENARIO's venue: the best attack and what stopped a larger one.

    The grid is every --budget times the attacker's search axes (manipulator: venue_leg,
    pump_blocks, exit; --vary replaces one), each for --seeds seeds. It prints the best attack
    of each budget: the attacker's profit, the venue's loss (LPs, insurance, bad debt) and the
    defences that bound (oracle deviation guard, OI cap, profit cap, price impact); writes
    attack.csv and attack.html (the best attack's timeline). The exit code is the number of
    failed runs (at most 255); Ctrl-C stops as a sweep does and the same command resumes."""
    plan = plan_attack(scenario, agent, parse_budgets(budgets),
                       list(range(first_seed, first_seed + seeds)), backend=backend,
                       overrides=parse_overrides(settings), vary=parse_vary(vary) or None)
    out_dir = out_dir or Path("out") / f"attack-{Path(scenario).stem}"
    progress = Progress(TextColumn("[bold]attack"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("runs"), TimeElapsedColumn(), console=console, transient=True)
    task = progress.add_task("attack", total=len(plan.specs))

    def tick(record: RunRecord, finished: int, total: int) -> None:
        progress.update(task, completed=finished + len(plan.specs) - total)

    argv = ["perpsim", "attack", scenario, "--agent", agent, "--budget", budgets,
            "--seeds", str(seeds)]
    for v in vary:
        argv += ["--vary", v]
    for option, value in (("--backend", backend),):
        if value is not None:
            argv += [option, value]
    if first_seed != 1:
        argv += ["--first-seed", str(first_seed)]
    for setting in settings:
        argv += ["--set", setting]
    resume = shlex.join([*argv, "--out", str(out_dir)])
    try:
        with progress:
            result = run_attack(plan, out_dir, workers=workers, progress=tick, grace=grace)
    except SweepInterrupted as stopped:
        click.echo(f"interrupted by {stopped.signal_name}: {stopped.stored:,} of "
                   f"{stopped.total:,} runs stored in {out_dir}; resume with: {resume}", err=True)
        sys.exit(stopped.exit_code)
    view = Table(title=f"attack: {scenario} ({agent})")
    for header in COLUMNS:
        view.add_column(header, overflow="fold", no_wrap=header in ("budget", "best parameters"))
    for point in result.by_budget():
        view.add_row(*(str(c) for c in cells(point)))
    console.print(view)
    console.print(result.verdict(), markup=False, highlight=False)
    best = result.best()
    best_run = replay(plan, best) if best is not None else None
    csv_path, html_path = write_attack(result, best_run, out_dir)
    failed = sum(p.failed for p in result.points)
    console.print(f"{sum(p.runs for p in result.points):,} runs ok, {failed:,} failed, "
                  f"{result.skipped:,} resumed from {out_dir}/runs.jsonl, "
                  f"{result.wall_seconds:.1f} s; table: {csv_path}, page: {html_path}",
                  markup=False, highlight=False)
    for point in result.points:
        for error in point.errors[:3]:
            console.print(f"failed {point.params}: {error}", markup=False, highlight=False)
    sys.exit(min(failed, 255))
