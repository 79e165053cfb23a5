"""The ``perpsim`` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from protocol.cli.bench import bench
from protocol.cli.fuzz import fuzz
from protocol.cli.run import run, scenarios
from protocol.cli.serve import serve
from protocol.cli.sweep import sweep
from protocol.cli.tour import tour


@click.group()
@click.version_option(package_name="perpsim")
def main() -> None:
    """perpsim: an on-chain perpetual-futures venue, simulated on in-process EVMs."""


@main.command()
@click.option("--force", is_flag=True, help="Recompile even if the artifacts are current.")
@click.option("--sizes", is_flag=True, help="Print every contract's runtime code size.")
@click.option("--contracts", "contracts_dir", type=click.Path(path_type=Path), default=None,
              help="A directory of your own .sol files, compiled with the project's.")
def compile(force: bool, sizes: bool, contracts_dir: Path | None) -> None:
    """Compile contracts/ with the pinned solc-js into protocol/artifacts (with --contracts,
    together with your own files, into a per-user cache)."""
    from protocol.build import main as build_main

    extra = ["--contracts", str(contracts_dir)] if contracts_dir is not None else []
    sys.exit(build_main(["--force"] * force + ["--sizes"] * sizes + extra))


main.add_command(bench)
main.add_command(run)
main.add_command(scenarios)
main.add_command(serve)
main.add_command(sweep)
main.add_command(fuzz)
main.add_command(tour)
