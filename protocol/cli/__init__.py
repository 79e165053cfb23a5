"""The ``perpsim`` command line."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from typing import Any, Optional

import click

from protocol.build import main as build_main
from protocol.cli.oneline import one_line

#: Each command's module, loaded when the command runs (``click``'s lazy subcommands): a command
#: imports what it needs at its module's top, and ``perpsim run`` does not load the fuzzer, Ray
#: or the mutation tester. ``extras`` names the pip extra behind an optional import.
COMMANDS: dict[str, tuple[str, dict[str, str]]] = {
    "attack": ("protocol.cli.attack", {}),
    "bench": ("protocol.cli.bench", {}),
    "fuzz": ("protocol.cli.fuzz", {"hypothesis": "fuzz"}),
    "mutate": ("protocol.cli.mutate", {}),
    "report": ("protocol.cli.report", {}),
    "run": ("protocol.cli.run", {}),
    "scenarios": ("protocol.cli.run", {}),
    "serve": ("protocol.cli.serve", {}),
    "stress": ("protocol.cli.stress", {}),
    "sweep": ("protocol.cli.sweep", {}),
    "tour": ("protocol.cli.tour", {}),
}


class PerpsimGroup(click.Group):
    """The ``perpsim`` group: an exception escaping any command ends it with one line
    (``Error: ...``) and exit code 1; the global ``--debug`` flag lets the traceback through
    instead. Click's own usage errors keep their usual form (exit code 2).

    The commands of :data:`COMMANDS` load on first use; ``perpsim --help`` reads their one-line
    help from their source without importing them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> Optional[click.Command]:
        if name not in COMMANDS:
            return super().get_command(ctx, name)
        module_name, extras = COMMANDS[name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name not in extras:
                raise
            raise click.ClickException(f"perpsim {name} needs {exc.name}: "
                                       f"pip install 'perpsim[{extras[exc.name]}]'") from None
        command: click.Command = getattr(module, name)  # each module's command is its name
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)  # as click's own
        rows = [(name, _short_help(name, limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(one_line(exc)) from None


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
    extra = ["--contracts", str(contracts_dir)] if contracts_dir is not None else []
    sys.exit(build_main(["--force"] * force + ["--sizes"] * sizes + extra))


def _short_help(name: str, limit: int) -> str:
    """A command's one-line help as ``--help`` lists it, read from its function's docstring in
    its module's source (or from the command itself, for the commands defined here)."""
    command = main.commands.get(name)
    if command is not None:
        return command.get_short_help_str(limit)
    module_name, _ = COMMANDS[name]
    path = Path(__file__).with_name(module_name.rsplit(".", 1)[1] + ".py")
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return click.Command(name, help=ast.get_docstring(node)).get_short_help_str(limit)
    return ""
