"""``perpsim stress``: a venue's rules through every historical crisis."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click
from rich.console import Console
from rich.table import Table

from protocol.cli.campaign import campaign_options, finish, resume_command, run_campaign
from protocol.sim.loader import parse_overrides
from protocol.sweep import make_engine
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
@campaign_options(seeds=5, set_help="Override a key of every crisis run, after the venue's "
                  "tables, e.g. --set agents.count=20 (repeatable).",
                  out_help="Output folder (default: out/stress-VENUE_SCENARIO); holds runs.jsonl "
                           "for resuming.")
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
    argv = ["perpsim", "stress", venue_scenario, "--crises", crises, "--seeds", str(seeds)]
    if preset is not None:
        argv += ["--preset", preset]
    resume = resume_command(argv, first_seed=first_seed, backend=backend, settings=settings,
                            out_dir=out_dir)
    result = run_campaign(console, "stress", len(plan.runs), resume, out_dir,
                          lambda tick: run_stress(plan, make_engine("local", workers), out_dir,
                                                  progress=tick, grace=grace))
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
    finish(console, runs=sum(r.runs for r in result.rows),
           failed=sum(r.failed for r in result.rows), skipped=result.skipped,
           wall_seconds=result.wall_seconds, out_dir=out_dir, csv_path=csv_path,
           html_path=html_path, errors=[(r.crisis, e) for r in result.rows for e in r.errors[:3]])
