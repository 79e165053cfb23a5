"""``perpsim fuzz``: a long stateful fuzzing campaign against the venue's invariants."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, cast

import click
from rich.console import Console
from rich.table import Table

from protocol.cli.oneline import one_line
from protocol.errors import PerpsimError
from protocol.testing.campaigns import run_parallel
from protocol.testing.coverage import collecting
from protocol.testing.crash import REPLAY_FILE
from protocol.testing.fuzz import (  # hypothesis: the fuzz extra
    CampaignResult,
    run_campaign,
    world,
    write_fuzz_bundle,
)
from protocol.venue.modules import prepare_modules
from protocol.venue.rules import mirrors

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
@click.option("--mirror", "mirror_choices", multiple=True, metavar="KIND=MIRROR",
              help="Judge the KIND module by a Python mirror instead of its own answers: 'stock' "
                   "(it is meant to be the stock rule) or 'package.module:Class' / "
                   "'file.py:Class' (repeatable).")
@click.option("--crash-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out/fuzz/crash"), show_default=True,
              help="Where a failure's crash bundle is written.")
@click.option("--coverage", "coverage_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, metavar="DIR",
              help="Write line and branch coverage of the contracts into DIR (lcov.info and "
                   "index.html). Nearly free on pyevm; on revm about 2 ms an opcode step.")
@click.option("--db", "database", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".perpsim/fuzz-db"), show_default=True,
              help="Example database: a failure is saved here and replayed first by every later "
                   "campaign of the same venue.")
@click.option("--no-db", is_flag=True, help="Use no example database.")
@click.option("--replay", is_flag=True,
              help="Only replay the failures saved in the database (exit 0: all fixed).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Independent seeds in parallel (worker i: seed + i; no seed: 0 + i).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where --workers run: processes on this machine, or Ray.")
@click.option("--address", default=None, help="A Ray cluster to join (with --engine ray).")
def fuzz(steps: int, run_length: int, backend: str, seed: Optional[int], contracts_dir: Optional[Path],
         module_choices: tuple[str, ...], mirror_choices: tuple[str, ...], crash_dir: Path,
         coverage_dir: Optional[Path], database: Path, no_db: bool, replay: bool, workers: int,
         engine: str, address: Optional[str]) -> None:
    """Fuzz every user, keeper, LP and admin action with SPEC §12 and the economic properties
    checked after each step.

    A failure is shrunk to the shortest sequence, saved in the example database and written as
    a crash bundle (crash.json and test_replay.py, which calls the same rules in order); its
    path and the error are printed and the exit code is 1."""
    modules = _pairs("--module", module_choices, "KIND=CONTRACT")
    chosen_mirrors = _pairs("--mirror", mirror_choices, "KIND=MIRROR")
    if chosen_mirrors:
        try:
            mirrors(chosen_mirrors)  # refuse bad mirrors up front
        except PerpsimError as exc:
            raise click.ClickException(str(exc)) from None
    if modules or contracts_dir is not None:
        try:
            prepare_modules(modules, contracts_dir)  # refuse bad modules up front
        except PerpsimError as exc:
            raise click.ClickException(str(exc)) from None

    if no_db and replay:
        raise click.ClickException("--replay replays the example database: drop --no-db")
    if workers > 1 and (coverage_dir is not None or replay):
        raise click.ClickException("--workers runs new sequences without coverage: drop "
                                   + ("--coverage" if coverage_dir is not None else "--replay"))
    db = None if no_db else database
    runs = max(1, steps // run_length)
    campaign: dict[str, Any] = dict(backend=backend, steps_per_run=run_length, modules=modules,
                                    contracts=contracts_dir, mirrors=chosen_mirrors, database=db)
    if workers > 1:
        return _parallel(runs, workers, engine, address, seed, crash_dir, campaign)
    if replay:
        console.print(f"replaying the failures saved in {db} on {backend} ...")
    else:
        console.print(f"fuzzing {runs:,} runs of up to {run_length} steps on {backend} ...")
    if coverage_dir is None:
        result = run_campaign(runs, seed=seed, replay=replay, **campaign)
    else:
        result = _with_coverage(coverage_dir, runs, seed=seed, **campaign)
    if replay and result.steps == 0:
        raise click.ClickException(f"nothing to replay: {db} holds no failure of this campaign's "
                                   "venue (backend, modules, contracts, mirrors)")
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
    console.print("no invariant or property broken" + (" (the saved failures are fixed)" if replay else ""))


def _parallel(runs: int, workers: int, engine: str, address: Optional[str], seed: Optional[int],
              crash_dir: Path, campaign: dict[str, Any]) -> None:
    """``--workers N``: the seeds in parallel, a table of what each ran, every failure's bundle."""
    console.print(f"fuzzing {runs:,} runs of up to {campaign['steps_per_run']} steps on "
                  f"{campaign['backend']}, {workers} workers ({engine}) ...")
    try:
        result = run_parallel(runs, workers, engine=engine, seed=seed, crash_dir=crash_dir,
                              address=address, **campaign)
    except PerpsimError as exc:
        raise click.ClickException(str(exc)) from None
    table = Table("seed", "runs", "steps", "seconds", "result")
    for w in result.workers:
        table.add_row(str(w.seed), f"{w.runs:,}", f"{w.steps:,}", f"{w.seconds:.1f}",
                      "ok" if w.error is None else f"failed after {len(w.steps_taken)} steps")
    console.print(table)
    console.print(f"{result.steps:,} steps in {result.seconds:.1f} s wall = "
                  f"{result.steps_per_second:,.0f} steps/s")
    for w in result.failed:
        bundle = cast(str, w.bundle)  # a failed worker wrote one
        click.echo(f"crash bundle: {bundle} (replay: pytest {Path(bundle) / 'test_replay.py'})")
    if result.failed:
        first = result.failed[0]
        raise click.ClickException(f"{len(result.failed)} of {len(result.workers)} workers failed; "
                                   f"seed {first.seed} after {len(first.steps_taken)} steps: {first.error}")
    console.print("no invariant or property broken")


def _pairs(option: str, choices: tuple[str, ...], form: str) -> dict[str, str]:
    """``KIND=NAME`` choices as a dict; a malformed one is refused in one line."""
    pairs = {}
    for choice in choices:
        kind, sep, name = choice.partition("=")
        if not sep or not kind.strip() or not name.strip():
            raise click.ClickException(f"{option} {choice}: expected {form}")
        pairs[kind.strip()] = name.strip()
    return pairs


def _with_coverage(directory: Path, runs: int, **campaign: Any) -> CampaignResult:
    """Run the campaign while collecting coverage of the contracts (the venue's launch is not
    counted: it happens first), then write ``directory`` and print the per-file table."""
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
