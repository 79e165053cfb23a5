"""``attack.html`` and ``attack.csv``: an attack search's page and its table."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any, Optional

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from protocol.pages.figures import PALETTE, Plot
from protocol.pages.shell import details, document, plots, table
from protocol.pages.units import usd
from protocol.sim.result import RunResult
from protocol.sweep.attack import AttackPoint, AttackResult
from protocol.values import to_float, write_csv

#: The per-budget table: the best attack of each budget.
COLUMNS = ("budget", "best parameters", "attacker profit", "worst seed", "venue loss",
           "LPs", "insurance", "bad debt", "stopped by")


def _money(value: Optional[Decimal]) -> str:
    return "—" if value is None else usd(value, cents=False)


def cells(point: AttackPoint) -> list[Any]:
    """One grid point as the page and the printed table show it."""
    params = ", ".join(f"{k}={v}" for k, v in point.params.items())
    return [usd(point.budget, cents=False), params, _money(point.profit),
            _money(point.profit_min), _money(point.venue_loss), _money(point.lp_loss),
            _money(point.insurance_loss), _money(point.bad_debt),
            "; ".join(point.stopped) or "—"]


def _series(rows: list[dict[str, Any]], key: str) -> list[float]:
    return [to_float(r.get(key)) for r in rows]


def timeline(run: RunResult, market: str) -> Plot:
    """The best attack, block by block: oracle vs external vs exogenous price; the attacker's
    venue notional, equity, external inventory and profit; the pool and the insurance fund."""
    rows = run.rows
    if not rows or "attack.profit" not in rows[-1]:
        return Plot("timeline", "The best attack", None, "the run has no attacker to follow")
    blocks = [r["block"] for r in rows]
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=(f"{market}: oracle, external market, exogenous path",
                                        "the attacker (USD)", "the venue (USD)"))
    for i, (key, name) in enumerate(((f"price.{market}", "oracle (on chain)"),
                                     (f"market.{market}", "external market"),
                                     (f"exogenous.{market}", "exogenous path"))):
        fig.add_trace(go.Scatter(x=blocks, y=_series(rows, key), name=name,
                                 line={"color": PALETTE[i], "dash": "dot" if i == 2 else None}),
                      row=1, col=1)
    for i, (key, name) in enumerate((("attack.notional", "venue position (notional)"),
                                     ("attack.equity", "venue equity"),
                                     ("attack.outside_value", "external book (value)"),
                                     ("attack.profit", "profit"))):
        fig.add_trace(go.Scatter(x=blocks, y=_series(rows, key), name=name,
                                 line={"color": PALETTE[3 + i]}), row=2, col=1)
    for i, (key, name) in enumerate((("pool_value", "pool value"),
                                     ("insurance_fund", "insurance fund"))):
        fig.add_trace(go.Scatter(x=blocks, y=_series(rows, key), name=name,
                                 line={"color": PALETTE[7 + i]}), row=3, col=1)
    refused = [b for b, r in zip(blocks, rows) if r.get("attack.pushes_refused")]
    if refused:
        by_block = dict(zip(blocks, _series(rows, f"price.{market}")))
        fig.add_trace(go.Scatter(x=refused, y=[by_block[b] for b in refused], mode="markers",
                                 name="update refused (deviation guard)",
                                 marker={"symbol": "x", "size": 9, "color": "#d62728"}),
                      row=1, col=1)
    fig.update_layout(height=820, margin={"l": 60, "r": 20, "t": 60, "b": 40},
                      legend={"orientation": "h", "y": -0.06})
    fig.update_xaxes(title_text="block", row=3, col=1)
    return Plot("timeline", "The best attack", fig)


def page(result: AttackResult, best_run: Optional[RunResult]) -> str:
    plan = result.plan
    seeds = (f"seeds {plan.seeds[0]}–{plan.seeds[-1]}" if len(plan.seeds) > 1
             else f"seed {plan.seeds[0]}")
    meta = (f"scenario: {plan.scenario}; attacker: {plan.agent}; {len(result.points)} grid points "
            f"× {len(plan.seeds)} seeds ({seeds}); {result.wall_seconds:.1f} s")
    sections = [f'<p class="warn" id="verdict">{escape(result.verdict())}</p>',
                table(COLUMNS, [cells(p) for p in result.by_budget()], "best",
                      "The best attack of each budget (means over seeds; USD)")]
    attack: dict[str, Any] = {}
    if best_run is not None:
        attack = best_run.summary.get("metrics", {}).get("attack", {})
        sections += plots([timeline(best_run, str(attack.get("market", plan.agent)))])
        actions = attack.get("actions", [])
        if actions:
            sections.append(table(("block", "what the attacker did"), actions, "actions",
                                  f"The best attack, seed {best_run.seed}"))
    sections.append(details(f"Every grid point ({len(result.points)})",
                            table(COLUMNS, [cells(p) for p in result.points], "points",
                                  "Means over seeds (USD)"), "all"))
    failures = [f"{p.params} budget {p.budget}: {e}" for p in result.points for e in p.errors]
    if failures:
        sections.append(details(f"Failed runs ({len(failures)})", "<ul>" + "".join(
            f"<li>{escape(f)}</li>" for f in failures) + "</ul>", "failures", open_=True))
    return document(f"perpsim attack: {plan.scenario}", sections, meta=meta)


def write_attack(result: AttackResult, best_run: Optional[RunResult], out: Path) -> tuple[Path, Path]:
    """Write ``attack.csv`` (every grid point, exact values) and ``attack.html`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    table_path = write_csv(out / "attack.csv", [p.row() for p in result.points], ("budget",))
    page_path = out / "attack.html"
    page_path.write_text(page(result, best_run), encoding="utf-8")
    return table_path, page_path
