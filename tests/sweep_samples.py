"""A synthetic sweep (no simulation runs): a grid of points whose runs' metrics follow a rule,
one run failed; the sweep report's tests and its browser test draw it."""

from __future__ import annotations

from decimal import Decimal

from protocol.sweep.aggregate import aggregate
from protocol.sweep.grid import Axis, points
from protocol.sweep.run import RunRecord
from protocol.sweep.sweep import SweepResult

SEEDS = range(5)
TRACEBACK = ('Traceback (most recent call last):\n  File "engine.py", line 1, in run\n'
             "ValueError: pool <empty> & drained\nsecond line of the message")
AXES2 = [Axis("markets.ETH.max_leverage", (10, 50)), Axis("keepers.latency", (0, 2))]


def metrics(i: int, seed: int) -> dict:
    return {
        "bad_debt": str(Decimal("125.5") * i * seed),
        "liquidated_notional": str(Decimal(10_000 * (i + 1) + 1_000 * seed)),
        "liquidations": seed,
        "fees_paid": str(Decimal(1_000 + 100 * i - 10 * seed)),
        "insurance_max_drawdown": str(Decimal("0.0425") * (seed + i)),
        "lp_return": str(Decimal("0.012") - Decimal("0.004") * seed + Decimal("0.001") * i),
        "keeper_profit": {"fast": str(Decimal("3.5") * seed), "slow": str(Decimal(i))},
        "wiped_out_share": str(Decimal("0.05") * (seed % 3)),
        "transactions": 100 + seed,
    }


def make_result(axes: list[Axis], fail: bool = True, seeds=SEEDS) -> SweepResult:
    grid = points(axes)
    records = []
    for i, params in enumerate(grid):
        for seed in seeds:
            key = f"k{i}s{seed}"
            if fail and i == len(grid) - 1 and seed == 3:
                records.append(RunRecord(key, dict(params), seed, "error",
                                         error="ValueError: pool <empty> & drained\nsecond line",
                                         traceback=TRACEBACK, seconds=0.5))
            else:
                records.append(RunRecord(key, dict(params), seed, "ok", metrics(i, seed),
                                         seconds=1.25))
    failed = [r for r in records if r.status != "ok"]
    return SweepResult(axes, grid, records, aggregate(grid, records), skipped=3, failed=failed,
                       wall_seconds=12.345, scenario="eth_crash",
                       fixed={"blocks": 240, "venue.instant_trading": True})
