"""The ``perpsim`` command line."""

from __future__ import annotations

import sys

import click

from protocol.cli.bench import bench
from protocol.cli.fuzz import fuzz
from protocol.cli.run import run, scenarios
from protocol.cli.sweep import sweep
from protocol.cli.tour import tour


@click.group()
@click.version_option(package_name="perpsim")
def main() -> None:
    """perpsim: an on-chain perpetual-futures venue, simulated on in-process EVMs."""


@main.command()
@click.option("--force", is_flag=True, help="Recompile even if the artifacts are current.")
def compile(force: bool) -> None:
    """Compile contracts/ with the pinned solc-js into protocol/artifacts."""
    from protocol.build import main as build_main

    sys.exit(build_main(["--force"] if force else []))


main.add_command(bench)
main.add_command(run)
main.add_command(scenarios)
main.add_command(sweep)
main.add_command(fuzz)
main.add_command(tour)
