"""``perpsim report``: rebuild a run's report from the files ``perpsim run`` wrote."""

from __future__ import annotations

from pathlib import Path

import click

from protocol.report.frames import load_run
from protocol.report.writer import run_html


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report(run_dir: Path) -> None:
    """Rebuild RUN_DIR/report.html from RUN_DIR's run.json, summary.json and tables (CSV or
    Parquet). Each chart's toolbar saves it as a PNG (the camera icon)."""
    result = load_run(run_dir)
    html = run_dir / "report.html"
    html.write_text(run_html(result), encoding="utf-8")
    click.echo(f"report: {html}")
