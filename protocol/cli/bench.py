"""``perpsim bench``: the benchmark suite (gas, throughput, scaling, profile)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from protocol.bench import render, run_bench
from protocol.chain.rpc import anvil_path
from protocol.errors import ChainError


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/bench"),
              show_default=True, help="Directory for bench.json.")
@click.option("--quick", is_flag=True, help="Smaller workloads (about a minute).")
@click.option("--skip-anvil", is_flag=True, help="Skip the anvil (rpc) workload.")
@click.option("--skip-pyevm", is_flag=True, help="Skip the pyevm workload.")
def bench(out: Path, quick: bool, skip_anvil: bool, skip_pyevm: bool) -> None:
    """Gas per operation, tx/s on revm/pyevm/anvil, keeper and simulation scaling, profile."""
    if not skip_anvil:  # find (or set up) anvil now, not after a minute of other workloads
        try:
            anvil_path()
        except ChainError as exc:
            raise click.ClickException(f"{exc} (or pass --skip-anvil)") from None
    console = Console(stderr=True)
    report = run_bench(out, quick, skip_anvil=skip_anvil, skip_pyevm=skip_pyevm,
                       log=lambda s: console.print(f"[dim]{s}[/dim]"))
    out_console = Console()
    if not out_console.is_terminal:
        out_console = Console(width=150)
    out_console.print(render(report))
    click.echo(f"wrote {out / 'bench.json'}")
    over = [op for op, c in report["gas_checks"].items() if c["ok"] is False]
    mismatched = report["tps"].get("gas_parity", {}).get("mismatches", 0)
    sys.exit(1 if over or mismatched else 0)
