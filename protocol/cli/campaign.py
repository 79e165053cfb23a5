"""What the campaign commands (``perpsim stress``, ``perpsim attack``) share: their run options,
the progress bar, stopping on a signal with the command that resumes, and the closing line."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from protocol.sweep.interrupt import DEFAULT_GRACE, SweepInterrupted
from protocol.sweep.run import RunRecord

F = TypeVar("F", bound=Callable[..., object])
T = TypeVar("T")
#: The progress callback a campaign's runner takes: (record, finished, total).
Tick = Callable[[RunRecord, int, int], None]


def campaign_options(seeds: int, set_help: str, out_help: str) -> Callable[[F], F]:
    """The options every campaign command takes, after its own: --seeds (default ``seeds``),
    --first-seed, --workers, --backend, --set, --out and --grace."""
    options = [
        click.option("--seeds", type=click.IntRange(min=1), default=seeds, show_default=True,
                     help="Seeds per point."),
        click.option("--first-seed", type=click.IntRange(min=0), default=1, show_default=True),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Parallel runs (default: one per CPU)."),
        click.option("--backend", type=click.Choice(["revm", "pyevm"]), default=None),
        click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help=set_help),
        click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                     default=None, help=out_help),
        click.option("--grace", type=click.FloatRange(min=0), default=DEFAULT_GRACE,
                     show_default=True, metavar="SECONDS",
                     help="After Ctrl-C, SIGINT or SIGTERM: how long the runs in flight may "
                          "finish and be stored."),
    ]

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def resume_command(argv: Sequence[str], *, first_seed: int, backend: Optional[str],
                   settings: Sequence[str], out_dir: Path) -> str:
    """The command line that resumes a campaign: ``argv`` (the command and its own options)
    with the shared options that were given."""
    line = list(argv)
    if backend is not None:
        line += ["--backend", backend]
    if first_seed != 1:
        line += ["--first-seed", str(first_seed)]
    for setting in settings:
        line += ["--set", setting]
    return shlex.join([*line, "--out", str(out_dir)])


def run_campaign(console: Console, label: str, total: int, resume: str, out_dir: Path,
                 run: Callable[[Tick], T]) -> T:
    """``run(tick)`` under a progress bar of ``total`` runs. Stopped by a signal, it says how
    many runs were stored and the command that resumes, and exits with the signal's code."""
    progress = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("runs"), TimeElapsedColumn(), console=console, transient=True)
    task = progress.add_task(label, total=total)

    def tick(record: RunRecord, finished: int, left: int) -> None:
        progress.update(task, completed=finished + total - left)

    try:
        with progress:
            return run(tick)
    except SweepInterrupted as stopped:
        click.echo(f"interrupted by {stopped.signal_name}: {stopped.stored:,} of "
                   f"{stopped.total:,} runs stored in {out_dir}; resume with: {resume}", err=True)
        sys.exit(stopped.exit_code)


def finish(console: Console, *, runs: int, failed: int, skipped: int, wall_seconds: float,
           out_dir: Path, csv_path: Path, html_path: Path,
           errors: Sequence[tuple[str, str]]) -> None:
    """The closing line (runs ok and failed, resumed, time, the files), the first errors of
    each failing point (``(point, error)``), and the exit: the number of failed runs, at most
    255."""
    console.print(f"{runs:,} runs ok, {failed:,} failed, {skipped:,} resumed from "
                  f"{out_dir}/runs.jsonl, {wall_seconds:.1f} s; table: {csv_path}, "
                  f"page: {html_path}", markup=False, highlight=False)
    for point, error in errors:
        console.print(f"failed {point} {error}", markup=False, highlight=False)
    sys.exit(min(failed, 255))
