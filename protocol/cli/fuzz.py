"""``perpsim fuzz``: a long stateful fuzzing campaign against the venue's invariants."""

from __future__ import annotations

from pathlib import Path
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
@click.option("--contracts", "contracts_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="A directory of your own .sol files (rule modules), compiled with "
                                 "the project's; choose them with --module.")
@click.option("--module", "module_choices", multiple=True, metavar="KIND=CONTRACT",
              help="Fuzz a venue whose KIND rule (rates, margin, liquidation, pricing) is CONTRACT "
                   "(repeatable).")
@click.option("--crash-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out/fuzz/crash"), show_default=True,
              help="Where a failure's crash bundle is written.")
@click.option("--coverage", "coverage_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, metavar="DIR",
              help="Write line and branch coverage of the contracts into DIR (lcov.info and "
                   "index.html). Nearly free on pyevm; on revm about 2 ms an opcode step.")
def fuzz(steps: int, run_length: int, backend: str, seed: Optional[int], contracts_dir: Optional[Path],
         module_choices: tuple[str, ...], crash_dir: Path, coverage_dir: Optional[Path]) -> None:
    """Fuzz every user, keeper, LP and admin action with SPEC §12 checked after each step.

    A failure is shrunk to the shortest sequence and written as a crash bundle (crash.json and
    test_replay.py, which calls the same rules in order); its path and the error are printed and
    the exit code is 1."""
    try:
        from protocol.testing.fuzz import run_campaign, write_fuzz_bundle
    except ModuleNotFoundError as exc:
        if exc.name != "hypothesis":
            raise
        raise click.ClickException("perpsim fuzz needs hypothesis: pip install 'perpsim[fuzz]'") from None
    from protocol.errors import PerpsimError
    from protocol.cli import one_line
    from protocol.testing.crash import REPLAY_FILE

    modules = {}
    for choice in module_choices:
        kind, sep, name = choice.partition("=")
        if not sep or not kind.strip() or not name.strip():
            raise click.ClickException(f"--module {choice}: expected KIND=CONTRACT")
        modules[kind.strip()] = name.strip()
    if modules or contracts_dir is not None:
        from protocol.venue.modules import prepare_modules

        try:
            prepare_modules(modules, contracts_dir)  # refuse bad modules up front
        except PerpsimError as exc:
            raise click.ClickException(str(exc)) from None

    runs = max(1, steps // run_length)
    console.print(f"fuzzing {runs:,} runs of up to {run_length} steps on {backend} ...")
    if coverage_dir is None:
        result = run_campaign(runs, backend=backend, steps_per_run=run_length, seed=seed,
                              modules=modules, contracts=contracts_dir)
    else:
        result = _with_coverage(coverage_dir, runs, backend=backend, steps_per_run=run_length,
                                seed=seed, modules=modules, contracts=contracts_dir)
    ok = sum(v for k, v in result.outcomes.items() if ":" not in k)
    refused = sum(v for k, v in result.outcomes.items() if ":" in k)
    console.print(f"{result.steps:,} steps in {result.seconds:.1f} s = "
                  f"{result.steps_per_second:,.0f} steps/s ({ok:,} actions went through, "
                  f"{refused:,} refused with a named error)")
    if result.error is not None:
        error = one_line(result.error)
        try:
            bundle = write_fuzz_bundle(result, crash_dir)
        except OSError as exc:
            raise click.ClickException(f"{error} (no crash bundle: {exc})") from None
        click.echo(f"crash bundle: {bundle} (replay: pytest {bundle / REPLAY_FILE})")
        raise click.ClickException(f"after {len(result.steps_taken)} steps: {error}")
    console.print("no invariant or property broken")


def _with_coverage(directory: Path, runs: int, **campaign):
    """Run the campaign while collecting coverage of the contracts (the venue's launch is not
    counted: it happens first), then write ``directory`` and print the per-file table."""
    from protocol.errors import PerpsimError
    from protocol.testing.coverage import collecting
    from protocol.testing.fuzz import run_campaign, world

    if campaign["backend"] == "revm":
        console.print("coverage on revm runs every transaction under pyrevm's EIP-3155 tracer "
                      "(about 2 ms an opcode step): --backend pyevm is far faster")
    contracts = campaign["contracts"]
    world(campaign["backend"], campaign["modules"],
          None if contracts is None else str(Path(contracts).resolve()))
    with collecting() as collector:
        result = run_campaign(runs, **campaign)
    try:
        report = collector.report(user_dir=contracts)
        index = report.write(directory)
    except (OSError, PerpsimError) as exc:
        raise click.ClickException(f"coverage: {exc}") from None
    console.print(report.table(f"Solidity coverage of {result.steps:,} steps"))
    console.print(f"coverage: {directory / 'lcov.info'} and {index}")
    return result
