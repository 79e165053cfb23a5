"""A long fuzz campaign: N steps of the stateful fuzzer (default 1,000,000), its wall time and
steps/s, and "0 properties broken" or the failure (issue 24 §3, benchmark suite, not CI).

The campaign is run in chunks of sequences (30 steps each at most, as the CI campaign), each
chunk on fresh seeds (chunk k, worker i: seed ``--seed + k * workers + i``), until N steps ran or
something broke; every SPEC §12 invariant and economic property is checked as in
``perpsim fuzz``. One worker runs in this process; more go through
``protocol.testing.campaigns.run_parallel`` (local processes). Run:
    .venv/bin/python scripts/bench_fuzz.py [--steps 1000000] [--workers 2] [--backend revm] [--json]
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import click  # noqa: E402

STEPS_PER_RUN = 30
#: Steps a sequence takes on average (the CI campaign: 4,170 steps in 200 sequences); used only
#: to size the chunks, the loop runs until N steps are done.
MEAN_STEPS = 20
MAX_CHUNK_RUNS = 2_000  # sequences per chunk and worker (a worker's hypothesis state stays small)


def campaign(steps: int, workers: int, backend: str, seed: int,
             progress: bool = False) -> dict:
    """Run chunks until ``steps`` steps ran or one broke something; the summary as a dict."""
    from protocol.testing.campaigns import run_parallel
    from protocol.testing.fuzz import run_campaign, world

    if workers == 1:
        world(backend)  # launch outside the timing, as a worker's process does before its chunk
    done = runs = chunk = 0
    failure: Optional[str] = None
    failing_seed: Optional[int] = None
    started = time.perf_counter()
    while done < steps and failure is None:
        per_worker = min(MAX_CHUNK_RUNS, max(1, math.ceil((steps - done) / MEAN_STEPS / workers)))
        base = seed + chunk * workers
        if workers == 1:
            result = run_campaign(per_worker, backend=backend, steps_per_run=STEPS_PER_RUN, seed=base)
            done, runs = done + result.steps, runs + per_worker
            if result.error is not None:
                from protocol.testing.crash import Failure

                failure, failing_seed = Failure.of(result.error).one_line(), base
        else:
            result = run_parallel(per_worker * workers, workers, seed=base, backend=backend,
                                  steps_per_run=STEPS_PER_RUN)
            done, runs = done + result.steps, runs + per_worker * workers
            if result.failed:
                failure, failing_seed = result.failed[0].error, result.failed[0].seed
        chunk += 1
        if progress:
            rate = done / (time.perf_counter() - started)
            click.echo(f"  {done:,} steps, {rate:,.0f} steps/s", err=True)
    seconds = time.perf_counter() - started
    return {"steps": done, "runs": runs, "workers": workers, "backend": backend, "seed": seed,
            "seconds": round(seconds, 2), "steps_per_second": round(done / seconds, 1) if seconds else 0.0,
            "properties_broken": 0 if failure is None else 1, "failure": failure,
            "failing_seed": failing_seed}


@click.command(help=__doc__.splitlines()[0])
@click.option("--steps", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--backend", type=click.Choice(["revm", "pyevm"]), default="revm", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the first chunk's first worker")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.option("--progress", is_flag=True, help="a line on stderr after every chunk")
def main(steps: int, workers: int, backend: str, seed: int, as_json: bool, progress: bool) -> None:
    summary = campaign(steps, workers, backend, seed, progress)
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"steps: {summary['steps']:,} in {summary['runs']:,} sequences "
                   f"({workers} worker{'s' if workers > 1 else ''}, {backend})")
        click.echo(f"wall time: {summary['seconds']:.1f} s")
        click.echo(f"steps/s: {summary['steps_per_second']:,.0f}")
        click.echo("0 properties broken" if summary["failure"] is None else
                   f"BROKEN (seed {summary['failing_seed']}): {summary['failure']}")
    if summary["failure"] is not None:
        sys.exit(1)


if __name__ == "__main__":
    main()
