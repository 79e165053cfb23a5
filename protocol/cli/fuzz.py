"""``perpsim fuzz``: a long stateful fuzzing campaign against the venue's invariants."""

from __future__ import annotations

import sys
from typing import Optional

import click
from rich.console import Console

console = Console()


@click.command()
@click.option("--steps", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Total steps (runs of --run-length steps each).")
@click.option("--run-length", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--backend", type=click.Choice(["revm", "pyevm"]), default="revm", show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Random seed (default: derandomized, the same campaign every time).")
def fuzz(steps: int, run_length: int, backend: str, seed: Optional[int]) -> None:
    """Fuzz every user, keeper, LP and admin action with SPEC §12 checked after each step.

    A failure is shrunk to the shortest sequence and printed as a pytest function; the exit
    code is then 1."""
    try:
        from protocol.testing.fuzz import run_campaign
    except ModuleNotFoundError as exc:
        if exc.name != "hypothesis":
            raise
        raise click.ClickException("perpsim fuzz needs hypothesis: pip install 'perpsim[fuzz]'") from None

    runs = max(1, steps // run_length)
    console.print(f"fuzzing {runs:,} runs of up to {run_length} steps on {backend} ...")
    result = run_campaign(runs, backend=backend, steps_per_run=run_length, seed=seed)
    ok = sum(v for k, v in result.outcomes.items() if ":" not in k)
    refused = sum(v for k, v in result.outcomes.items() if ":" in k)
    console.print(f"{result.steps:,} steps in {result.seconds:.1f} s = "
                  f"{result.steps_per_second:,.0f} steps/s ({ok:,} actions went through, "
                  f"{refused:,} refused with a named error)")
    if result.failure:
        console.print("[red]invariant broken[/red]; shortest reproduction:")
        print(result.failure)
        sys.exit(1)
    console.print("no invariant broken")
