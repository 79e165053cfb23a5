"""``perpsim report``: rebuild a run's report from the files ``perpsim run`` wrote."""

from __future__ import annotations

from pathlib import Path

import click

from protocol.report.charts import write_pngs
from protocol.report.frames import load_run
from protocol.report.writer import run_html


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--png", is_flag=True,
              help="Also export each chart as a static PNG (matplotlib) into RUN_DIR/png/.")
def report(run_dir: Path, png: bool) -> None:
    """Rebuild RUN_DIR/report.html from RUN_DIR's run.json, summary.json and tables (CSV or
    Parquet); with --png also write PNG charts for papers."""
    result = load_run(run_dir)
    html = run_dir / "report.html"
    html.write_text(run_html(result), encoding="utf-8")
    click.echo(f"report: {html}")
    if png:
        paths = write_pngs(result, run_dir / "png")
        click.echo(f"png: {len(paths)} charts in {run_dir / 'png'}")
