"""``perpsim attack``: search an attacker's parameters against a venue."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click
from rich.console import Console
from rich.table import Table

from protocol.cli.campaign import campaign_options, finish, resume_command, run_campaign
from protocol.sim.loader import parse_overrides
from protocol.sweep.attack import parse_budgets, parse_vary, plan_attack, replay, run_attack
from protocol.sweep.attack_page import COLUMNS, cells, write_attack

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
@campaign_options(seeds=1, set_help="Override a key of every run, e.g. --set "
                  "oracle.MNGO.max_deviation_bps=200 (repeatable): a defence turned on.",
                  out_help="Output folder (default: out/attack-SCENARIO); holds runs.jsonl "
                           "for resuming.")
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
    argv = ["perpsim", "attack", scenario, "--agent", agent, "--budget", budgets,
            "--seeds", str(seeds)]
    for v in vary:
        argv += ["--vary", v]
    resume = resume_command(argv, first_seed=first_seed, backend=backend, settings=settings,
                            out_dir=out_dir)
    result = run_campaign(console, "attack", len(plan.specs), resume, out_dir,
                          lambda tick: run_attack(plan, out_dir, workers=workers, progress=tick,
                                                  grace=grace))
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
    finish(console, runs=sum(p.runs for p in result.points),
           failed=sum(p.failed for p in result.points), skipped=result.skipped,
           wall_seconds=result.wall_seconds, out_dir=out_dir, csv_path=csv_path,
           html_path=html_path,
           errors=[(f"{p.params}:", e) for p in result.points for e in p.errors[:3]])
