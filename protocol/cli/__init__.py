"""The ``perpsim`` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from protocol.cli.bench import bench
from protocol.cli.fuzz import fuzz
from protocol.cli.mutate import mutate
from protocol.cli.report import report
from protocol.cli.run import run, scenarios
from protocol.cli.serve import serve
from protocol.cli.sweep import sweep
from protocol.cli.tour import tour


class PerpsimGroup(click.Group):
    """The ``perpsim`` group: an exception escaping any command ends it with one line
    (``Error: ...``) and exit code 1; the global ``--debug`` flag lets the traceback through
    instead. Click's own usage errors keep their usual form (exit code 2)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(one_line(exc)) from None


def one_line(exc: BaseException) -> str:
    """``exc`` as one line: the message alone for perpsim's errors and refused values (which
    name what failed: a revert carries its custom error, a scenario error its file, line and
    key), otherwise prefixed with the exception's type."""
    from protocol.errors import PerpsimError

    message = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    # A failed check (an invariant, a property, a replay that no longer fails) keeps its type's
    # name: it says which kind of check failed.
    if isinstance(exc, (PerpsimError, ValueError)) and not isinstance(exc, AssertionError) and message:
        return message
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@click.group(cls=PerpsimGroup)
@click.version_option(package_name="perpsim")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def main(debug: bool) -> None:
    """perpsim: an on-chain perpetual-futures venue, simulated on in-process EVMs.

    An error ends a command with one line and a non-zero exit code; --debug (before the
    command: perpsim --debug run ...) shows its traceback."""


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
main.add_command(report)
main.add_command(scenarios)
main.add_command(serve)
main.add_command(sweep)
main.add_command(fuzz)
main.add_command(mutate)
main.add_command(tour)
