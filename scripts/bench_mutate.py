"""Mutation score of the project's suite: ``perpsim mutate`` over contracts/libraries and
contracts/modules (not CI: every mutant that compiles to new code runs the tests).

The tests are every file of tests/contracts, the revm suite ``scripts/mutants.py`` uses besides
(the keepers' tests and the fuzz campaign), on revm with ``-x`` and the files :data:`FIRST` maps
the mutated file to first. With ``--sample N`` only every k-th mutant runs (N spread evenly over
the files), and the script estimates the full run's wall time from the sample's seconds per
mutant. Run:
    .venv/bin/python scripts/bench_mutate.py [--jobs 2] [--file contracts/libraries/MarginMath.sol]
        [--sample 40] [--json out/mutate.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402

from protocol.cli.mutate import COLOURS, _project_files  # noqa: E402
from protocol.mutate import Target, load_equivalents, run  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from mutants import TEST_FILES  # noqa: E402  (the hand-written mutants' suite, one list)

#: Every contract test file, the keepers' and the fuzz campaign's (the hand-written mutants'
#: list is older than the ADL and stateful-rates modules: their tests were missing from it).
TESTS = sorted({*TEST_FILES, *(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "contracts").glob("test_*.py"))})

#: The test files that run first for each file's mutants (``-x`` stops at the first failure).
_LIB, _MOD = "contracts/libraries/", "contracts/modules/"
FIRST = {
    _LIB + "MarginMath.sol": ["tests/contracts/test_rounding.py", "tests/contracts/test_margin_rules.py"],
    _LIB + "Solvency.sol": ["tests/contracts/test_solvency.py", "tests/contracts/test_profit_cap.py",
                            "tests/contracts/test_review_solvency.py"],
    _LIB + "TradeLogic.sol": ["tests/contracts/test_profit_cap.py", "tests/contracts/test_solvency.py"],
    _LIB + "LiquidationLogic.sol": ["tests/contracts/test_liquidation_boundary.py", "tests/keepers/test_keepers.py"],
    _LIB + "StockRules.sol": ["tests/contracts/test_liquidation_boundary.py", "tests/contracts/test_margin_rules.py"],
    _LIB + "Buckets.sol": ["tests/contracts/test_liquidation_boundary.py", "tests/contracts/test_solvency.py"],
    _LIB + "Health.sol": ["tests/contracts/test_margin_rules.py", "tests/contracts/test_liquidation_boundary.py"],
    _LIB + "Rules.sol": ["tests/contracts/test_margin_rules.py", "tests/contracts/test_modules.py"],
    _LIB + "Markets.sol": ["tests/contracts/test_margin_rules.py", "tests/contracts/test_rounding.py"],
    _LIB + "RatesLogic.sol": ["tests/contracts/test_modules.py", "tests/contracts/test_margin_rules.py"],
    _LIB + "CollateralLogic.sol": ["tests/contracts/test_margin_rules.py", "tests/contracts/test_attacks.py"],
    _LIB + "AdminLogic.sol": ["tests/contracts/test_margin_rules.py", "tests/contracts/test_modules.py"],
    _LIB + "AdlLogic.sol": ["tests/contracts/test_adl_modules.py", "tests/contracts/test_review_solvency.py"],
    _LIB + "ImpactLogic.sol": ["tests/contracts/test_price_impact.py", "tests/contracts/test_review_impact.py"],
    _MOD + "ImpactPricing.sol": ["tests/contracts/test_price_impact.py", "tests/contracts/test_gmx_price_impact.py",
                                 "tests/contracts/test_review_impact.py"],
    _MOD + "StockLiquidation.sol": ["tests/contracts/test_liquidation_boundary.py", "tests/contracts/test_modules.py"],
    _MOD + "StockMargin.sol": ["tests/contracts/test_modules.py", "tests/contracts/test_margin_rules.py"],
    _MOD + "StockRates.sol": ["tests/contracts/test_modules.py"],
    _MOD + "StockAdl.sol": ["tests/contracts/test_adl_modules.py"],
    _MOD + "ProRataAdl.sol": ["tests/contracts/test_adl_modules.py"],
    _MOD + "GmxAdl.sol": ["tests/contracts/test_adl_modules.py"],
    _MOD + "VelocityRates.sol": ["tests/contracts/test_velocity_rates.py"],
    _MOD + "GmxAdaptiveRates.sol": ["tests/contracts/test_gmx_adaptive_rates.py"],
    _MOD + "HyperliquidPremiumRates.sol": ["tests/contracts/test_premium_rates.py"],
    _MOD + "StatefulRates.sol": ["tests/contracts/test_velocity_rates.py", "tests/contracts/test_mark_price.py"],
    _MOD + "OraclePricing.sol": ["tests/contracts/test_modules.py"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", action="append", default=None,
                        help="file or directory to mutate (default contracts/libraries and contracts/modules)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sample", type=int, default=None, help="run N mutants spread evenly")
    parser.add_argument("--operator", action="append", default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    console = Console()

    files = _project_files(ROOT, args.file or ["contracts/libraries", "contracts/modules"])
    tests = [t for t in TESTS if (ROOT / t).is_file()]
    target = Target.repository(ROOT, files, tests, ["--backend", "revm"])
    target.first = {f: [t for t in first if t in tests] for f, first in FIRST.items()}
    mutants = target.mutants(args.operator)
    chosen = mutants
    if args.sample and args.sample < len(mutants):
        step = len(mutants) / args.sample
        chosen = [mutants[int(i * step)] for i in range(args.sample)]
    console.print(f"{len(mutants)} mutants of {len(files)} files; running {len(chosen)} "
                  f"on {args.jobs} job(s)")

    def progress(o, done, total):
        m = o.mutant
        console.print(f"\\[{done}/{total}] {m.id} {m.file}:{m.line}:{m.col} {m.operator} "
                      f"{escape(m.describe())}: [{COLOURS[o.status]}]{o.status}[/] "
                      f"{escape(o.killer or o.detail)[:80]} ({o.seconds:.0f} s)", highlight=False,
                      soft_wrap=True)

    started = time.monotonic()
    report = run(target, chosen, jobs=args.jobs, progress=progress,
                 equivalents=load_equivalents(ROOT / "mutants" / "equivalent.toml"))
    wall = time.monotonic() - started
    if args.json:
        report.write_json(args.json)
    for o in report.outcomes:
        if o.status in ("survived", "timeout"):
            console.rule(f"{o.status}: {o.mutant.id} {o.mutant.file}:{o.mutant.line} ({o.mutant.operator})")
            console.print(escape(o.diff), highlight=False, soft_wrap=True)
    counts = report.counts()
    score = report.score()
    console.print(f"counts {counts}; score {'-' if score is None else f'{score:.1%}'}")
    by_status = {s: [o.seconds for o in report.outcomes if o.status == s] for s in counts}
    for status, secs in by_status.items():
        if secs:
            console.print(f"  {status}: {len(secs)} mutants, mean {sum(secs) / len(secs):.1f} s")
    console.print(f"wall {wall:.0f} s for {len(chosen)} mutants on {report.jobs} job(s) "
                  f"(unmutated tests {report.baseline_seconds:.0f} s)")
    if len(chosen) < len(mutants):
        per = (wall - report.baseline_seconds) / len(chosen)
        console.print(f"estimated full run: {len(mutants)} mutants x {per:.0f} s / mutant "
                      f"= {len(mutants) * per / 3600:.1f} h on {report.jobs} job(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
