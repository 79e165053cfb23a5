#!/usr/bin/env python
"""Mutation testing of the Solidity contracts against the revm test suite.

Each mutant is one hand-written edit of one contract: (id, file, exact original snippet,
replacement, description). The snippet must occur exactly once in its file, so a mutation never
silently stops applying when the code changes (the script stops with an error instead).

The working tree is never touched: the repository (tracked and untracked, non-ignored files) is
copied once per job into a temporary directory, with ``node_modules`` symlinked, and every mutant
is compiled (``python -m protocol.build``) and tested there with ``PYTHONPATH`` pointing at the
copy, so ``import protocol`` resolves to the copy (checked before anything runs). After each
mutant the original file is restored in the copy. A first, unmutated run records tests that
already fail (they are deselected for the mutants, so a failure always means the mutant).

Results: killed (some test failed), survived, invalid (does not compile), timeout.

    .venv/bin/python scripts/mutants.py                 # all mutants, one job
    .venv/bin/python scripts/mutants.py --jobs 2 --json out/mutants.json
    .venv/bin/python scripts/mutants.py --only liq-iso-boundary,oracle-no-stale
    .venv/bin/python scripts/mutants.py --list
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from protocol.mutate.workspace import Workspace as _Workspace  # noqa: E402

PYTHON = sys.executable

CH = "contracts/core/Clearinghouse.sol"
MM = "contracts/libraries/MarginMath.sol"
LIQ = "contracts/libraries/LiquidationLogic.sol"
BUCKETS = "contracts/libraries/Buckets.sol"
MARKETS = "contracts/libraries/Markets.sol"
STOCK = "contracts/libraries/StockRules.sol"
ADMIN = "contracts/libraries/AdminLogic.sol"
COLLATERAL = "contracts/libraries/CollateralLogic.sol"
ORACLE = "contracts/oracle/PriceOracle.sol"
OB = "contracts/orders/OrderBook.sol"
SOLVENCY = "contracts/libraries/Solvency.sol"
TRADE = "contracts/libraries/TradeLogic.sol"
VIEWS = "contracts/core/ClearinghouseViews.sol"
POOL = "contracts/pool/LiquidityPool.sol"
IMPACT = "contracts/modules/ImpactPricing.sol"
RULES = "contracts/libraries/Rules.sol"
IMPACT_LOGIC = "contracts/libraries/ImpactLogic.sol"

# Test files run against every mutant (those that exist in the snapshot).
TEST_FILES = [
    "tests/test_margin_rules.py",
    "tests/test_differential.py",
    "tests/test_liquidation_boundary.py",
    "tests/test_rounding.py",
    "tests/test_orders.py",
    "tests/test_keepers.py",
    "tests/test_attacks.py",
    "tests/test_fuzz.py",
    "tests/test_profit_cap.py",
    "tests/test_solvency.py",
    "tests/test_keeper_views.py",
    "tests/test_lp_requests.py",
    "tests/test_price_impact.py",
    "tests/test_gmx_price_impact.py",
    "tests/test_review_impact.py",
]


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    original: str
    replacement: str
    description: str


MUTANTS: list[Mutant] = [
    # ---------------------------------------------------------------- liquidation checks
    Mutant(
        "liq-iso-boundary", LIQ,
        "if (equity >= mm.toInt256()) {\n            if (skip) return false;\n            revert IClearinghouse.PositionHealthy",
        "if (equity > mm.toInt256()) {\n            if (skip) return false;\n            revert IClearinghouse.PositionHealthy",
        "isolated liquidation check >= -> > (liquidatable at equity == MM)",
    ),
    Mutant(
        "liq-iso-inverted", LIQ,
        "if (equity >= mm.toInt256()) {\n            if (skip) return false;\n            revert IClearinghouse.PositionHealthy",
        "if (equity < mm.toInt256()) {\n            if (skip) return false;\n            revert IClearinghouse.PositionHealthy",
        "isolated liquidation check >= -> < (healthy liquidatable, unhealthy not)",
    ),
    Mutant(
        "liq-cross-boundary", LIQ,
        "if (equity >= mm.toInt256()) {\n            if (skip) return false;\n            revert IClearinghouse.AccountHealthy",
        "if (equity > mm.toInt256()) {\n            if (skip) return false;\n            revert IClearinghouse.AccountHealthy",
        "cross liquidation check >= -> > (liquidatable at equity == MM)",
    ),
    Mutant(
        "liq-cross-inverted", LIQ,
        "if (equity >= mm.toInt256()) {\n            if (skip) return false;\n            revert IClearinghouse.AccountHealthy",
        "if (equity < mm.toInt256()) {\n            if (skip) return false;\n            revert IClearinghouse.AccountHealthy",
        "cross liquidation check >= -> <",
    ),
    Mutant(
        "penalty-no-insurance", BUCKETS,
        "        vs.insuranceFund += int256(penalty - reward);\n",
        "",
        "_payPenalty: insurance fund share of the penalty not paid",
    ),
    Mutant(
        "keeper-no-reward", BUCKETS,
        "        if (reward != 0) credit(vs, msg.sender, int256(reward));\n",
        "",
        "_payPenalty: keeper reward not credited",
    ),
    Mutant(
        "penalty-uncapped", STOCK,
        "taken = equityLeft > 0 ? Math.min(uint256(equityLeft), maxPenalty) : 0;",
        "taken = maxPenalty;",
        "stock liquidation penalty not capped by the remaining equity",
    ),
    Mutant(
        "bad-debt-iso-uncovered", LIQ,
        "        Buckets.payPenalty(vs, penalty, reward);\n        if (badDebt != 0) Buckets.coverBadDebt(vs, account, badDebt);\n"
        "        emit IClearinghouse.PositionLiquidated",
        "        Buckets.payPenalty(vs, penalty, reward);\n        emit IClearinghouse.PositionLiquidated",
        "isolated liquidation: bad debt not covered (_coverBadDebt skipped)",
    ),
    Mutant(
        "bad-debt-cross-uncovered", LIQ,
        "        Buckets.payPenalty(vs, penalty, reward);\n        if (badDebt != 0) Buckets.coverBadDebt(vs, account, badDebt);\n"
        "        emit IClearinghouse.AccountLiquidated",
        "        Buckets.payPenalty(vs, penalty, reward);\n        emit IClearinghouse.AccountLiquidated",
        "cross liquidation: bad debt not covered (_coverBadDebt skipped)",
    ),
    Mutant(
        "partial-slice-half", STOCK,
        "return sizeAbs * partialLiquidationBps / MarginMath.BPS;",
        "return sizeAbs * partialLiquidationBps / (2 * MarginMath.BPS);",
        "partial liquidation slice wrong (bps math: half the configured slice)",
    ),
    Mutant(
        "cooldown-removed", LIQ,
        "if (last != 0 && block.timestamp < until) {",
        "if (false && last != 0 && block.timestamp < until) {",
        "partial liquidation cooldown check removed",
    ),
    # ---------------------------------------------------------------- funding / fees / rounding
    Mutant(
        "funding-sign", MARKETS,
        "                longIdx += int256(payerDelta);\n                shortIdx -= int256(receiverDelta);",
        "                longIdx -= int256(payerDelta);\n                shortIdx += int256(receiverDelta);",
        "_indicesNow: payer/receiver swapped when longs pay (rate > 0)",
    ),
    Mutant(
        "borrow-not-charged", MARKETS,
        "st.borrowing = MarginMath.chargeTokens(int256(borrowWad), scale);",
        "st.borrowing = 0;",
        "_settleIndices: borrow fee not charged",
    ),
    Mutant(
        "mm-notional-down", "contracts/libraries/Health.sol",
        "        notional = MarginMath.notionalUp(Markets.abs(size), price);\n        (im, mm)",
        "        notional = MarginMath.notionalDown(Markets.abs(size), price);\n        (im, mm)",
        "isolated MM from notionalDown (rounding in the trader's favour)",
    ),
    Mutant(
        "fee-notional-down", CH,
        "uint256 fee = Buckets.feeTokens(MarginMath.notionalUp(deltaAbs, price), c.takerFeeBps, scale);",
        "uint256 fee = Buckets.feeTokens(MarginMath.notionalDown(deltaAbs, price), c.takerFeeBps, scale);",
        "open fee from notionalDown (rounding in the trader's favour)",
    ),
    Mutant(
        "charge-tokens-floor", MM,
        "if (wad >= 0) return int256(Math.ceilDiv(uint256(wad), scale));",
        "if (wad >= 0) return int256(uint256(wad) / scale);",
        "chargeTokens rounds charges down (ceil -> floor)",
    ),
    Mutant(
        "closed-entry-rounding", MM,
        "isLong ? Math.Rounding.Ceil : Math.Rounding.Floor",
        "isLong ? Math.Rounding.Floor : Math.Rounding.Ceil",
        "closedEntry rounds in the trader's favour",
    ),
    # ---------------------------------------------------------------- trading rules
    Mutant(
        "mode-mismatch-removed", CH,
        "            if (uint8(p.mode) != mode) revert ModeMismatch(market, p.mode, mode);\n",
        "",
        "increasePosition: ModeMismatch check dropped (switch mode of an open position)",
    ),
    Mutant(
        "oi-cap-removed", CH,
        "if (oi > cap) revert OpenInterestCap(market, isLong, oi, cap);",
        "",
        "open-interest cap check dropped",
    ),
    Mutant(
        "min-notional-removed", MARKETS,
        "if (notional < minimum) revert IClearinghouse.PositionTooSmall(notional, minimum);",
        "",
        "minimum position notional check dropped",
    ),
    Mutant(
        "iso-im-removed", CH,
        "if (withFee < required.toInt256()) revert MarginBelowInitial(withFee, required);",
        "",
        "isolated open: initial-margin check dropped",
    ),
    Mutant(
        "open-buffer-removed", CH,
        "maintenance += (notional * c.openBufferBps + MarginMath.BPS - 1) / MarginMath.BPS;",
        "",
        "open/increase: the open buffer above maintenance dropped (SPEC §5)",
    ),
    Mutant(
        "tier-im-below-mm", RULES,
        "return (Math.max(MarginMath.initial(notional, leverage), maintenanceMargin), maintenanceMargin);",
        "return (MarginMath.initial(notional, leverage), maintenanceMargin);",
        "tiered initial margin no longer at least the tier's maintenance (SPEC §4)",
    ),
    Mutant(
        "risk-slope-ignored", ADMIN,
        "return nextSlope > slope;",
        "return false;",
        "a change raising maintenance past the last bound (tiers <-> mmf) applies at once",
    ),
    Mutant(
        "cross-im-removed", CH,
        "if (equity < int256(im)) revert InsufficientFreeCollateral(equity, im);",
        "",
        "cross open: initial-margin (free collateral) check dropped",
    ),
    Mutant(
        "leverage-cap-removed", CH,
        "if (leverage == 0 || leverage > c.maxLeverage) revert",
        "if (leverage == 0) revert",
        "max leverage check dropped",
    ),
    Mutant(
        "pause-removed", CH,
        "        if (vs.paused) revert TradingPaused();\n",
        "",
        "increasePosition ignores the pause",
    ),
    Mutant(
        "remove-margin-no-transfer-rule", CH,
        "if (equity < required.toInt256()) revert TransferRuleViolated(equity, required);",
        "",
        "removeMargin: transfer rule max(IM, 10%) dropped",
    ),
    Mutant(
        "cross-transfer-rule-removed", BUCKETS,
        "if (equity < transferReq.toInt256()) revert IClearinghouse.TransferRuleViolated(equity, transferReq);",
        "",
        "_takeFromCross (withdraw / isolated margin): transfer rule dropped",
    ),
    Mutant(
        "withdraw-no-reentrancy-guard", CH,
        "function withdraw(address account, uint256 amount) external nonReentrant onlyAccount(account) {",
        "function withdraw(address account, uint256 amount) external onlyAccount(account) {",
        "withdraw without nonReentrant",
    ),
    Mutant(
        "only-account-open", CH,
        "        if (msg.sender != account && !_s.isOperator[account][msg.sender] && !hasRole(EXECUTOR_ROLE, msg.sender)) {\n"
        "            revert Unauthorized(msg.sender, account);\n        }\n",
        "",
        "onlyAccount allows anyone (withdraw / add / remove margin for others)",
    ),
    # ---------------------------------------------------------------- oracle
    Mutant(
        "oracle-no-stale", ORACLE,
        "        if (block.timestamp > uint256(f.timestamp) + f.maxPriceAge) revert StalePrice(market, f.timestamp, f.maxPriceAge);\n",
        "",
        "freshPrice: stale-price check dropped",
    ),
    Mutant(
        "oracle-ts-equal", ORACLE,
        "if (u.timestamp <= f.timestamp) revert OutdatedPrice",
        "if (u.timestamp < f.timestamp) revert OutdatedPrice",
        "pushPrices accepts a price with the same timestamp (<= -> <)",
    ),
    Mutant(
        "oracle-no-deviation", ORACLE,
        "if (move * 10_000 > uint256(f.price) * guard) revert PriceDeviation(u.market, u.price, f.price, guard);",
        "",
        "pushPrices: deviation guard dropped",
    ),
    Mutant(
        "oracle-future-allowed", ORACLE,
        "if (u.timestamp > block.timestamp) revert FuturePrice(u.market, u.timestamp, block.timestamp);",
        "",
        "pushPrices accepts future timestamps",
    ),
    # ---------------------------------------------------------------- price impact
    Mutant(
        "impact-crossover-no-negative", IMPACT,
        "return int256(_applyImpactFactor(initial, fp, ep)) - int256(_applyImpactFactor(next, c.factorNegative, c.exponentNegative));",
        "return int256(_applyImpactFactor(initial, fp, ep));",
        "a crossover gets only the positive part",
    ),
    Mutant(
        "impact-pool-cap-removed", IMPACT,
        "uint256 paidOut = Math.min(uint256(total), pool);",
        "uint256 paidOut = uint256(total);",
        "positive impact paid beyond the impact pool",
    ),
    Mutant(
        "impact-factor-clamp-removed", IMPACT,
        "uint256 fp = Math.min(c.factorPositive, c.factorNegative);",
        "uint256 fp = c.factorPositive;",
        "the positive factor not lowered to the negative one (GMX's clamp)",
    ),
    Mutant(
        "impact-exponent-clamp-removed", IMPACT,
        "uint256 ep = Math.min(c.exponentPositive, c.exponentNegative);",
        "uint256 ep = c.exponentPositive;",
        "the positive exponent not lowered to the negative one",
    ),
    Mutant(
        "impact-positive-uncapped", IMPACT,
        "if (impact < 0) return impact;\n        uint256 cap",
        "return impact;\n        uint256 cap",
        "positive impact not capped per trade",
    ),
    Mutant(
        "impact-negative-total-uncapped", IMPACT,
        "if (total < floor) total = floor;",
        "",
        "a decrease's negative total impact not capped",
    ),
    Mutant(
        "impact-health-uncapped", IMPACT,
        "return _floatToWad(impact < floor ? floor : impact);",
        "return _floatToWad(impact);",
        "health counts a position's negative impact without the liquidation cap",
    ),
    Mutant(
        "impact-health-ignored", IMPACT_LOGIC,
        "return _health(vs, market, p, price, scale);",
        "return 0;",
        "an isolated position's health counts no price impact: an open need not cover it",
    ),
    Mutant(
        "impact-pool-not-booked", IMPACT_LOGIC,
        "if (r.poolDelta != 0) vs.impactPool[market] += r.poolDelta;",
        "",
        "decreases never move the impact pool",
    ),
    Mutant(
        "impact-pending-not-held", IMPACT_LOGIC,
        "if (r.pendingDelta != 0) p.pendingImpact = (int256(p.pendingImpact) + r.pendingDelta).toInt80();",
        "",
        "increases hold no pending impact (and decreases release none)",
    ),
    # ---------------------------------------------------------------- LP requests
    Mutant(
        "lp-price-not-newer-removed", OB,
        "if (priceTime <= r.createdAt) revert PriceNotNewer(id, priceTime, r.createdAt);",
        "",
        "LP requests execute at a price the requester already saw",
    ),
    Mutant(
        "lp-newer-boundary", OB,
        "if (priceTime <= r.createdAt) revert PriceNotNewer",
        "if (priceTime < r.createdAt) revert PriceNotNewer",
        "LP requests execute at a price of the request's own second",
    ),
    Mutant(
        "lp-direct-always", POOL,
        "return _views().openEntry() == 0 || clearinghouse.hasRole",
        "return true || clearinghouse.hasRole",
        "the pool's ERC-4626 entry points open to anyone while positions are open",
    ),
    Mutant(
        "lp-cancel-lock-boundary", OB,
        "if (block.timestamp <= unlocksAt) revert LpRequestLocked(id, unlocksAt);",
        "if (block.timestamp < unlocksAt) revert LpRequestLocked(id, unlocksAt);",
        "an LP request cancelled at the very second its lock ends",
    ),
    Mutant(
        "lp-valuation-counts-idle-markets", VIEWS,
        "if (s.longSize == 0 && s.shortSize == 0) continue;\n            (, uint256 time,) = env.oracle.latest(market);",
        "(, uint256 time,) = env.oracle.latest(market);",
        "a market with no open interest holds LP requests back",
    ),
    Mutant(
        "lp-min-out-removed", OB,
        "if (out < r.minOut) revert MinOutNotMet(out, r.minOut);",
        "",
        "an LP request pays less than its minimum",
    ),
    # ---------------------------------------------------------------- order book
    Mutant(
        "ob-trigger-flipped", OB,
        "bool wantsBelow = (t == OrderType.LimitIncrease || t == OrderType.StopLoss) == o.isLong;",
        "bool wantsBelow = (t == OrderType.LimitIncrease || t == OrderType.StopLoss) != o.isLong;",
        "OrderBook trigger direction flipped",
    ),
    Mutant(
        "ob-price-not-newer-removed", OB,
        "if (priceTime <= o.createdAt) revert PriceNotNewer(id, priceTime, o.createdAt);",
        "",
        "OrderBook executes on a price not newer than the order",
    ),
    Mutant(
        "ob-expiry-removed", OB,
        "if (expiresAt != 0 && block.timestamp > expiresAt) revert OrderExpired(id, expiresAt);",
        "",
        "OrderBook executes expired market orders",
    ),
    Mutant(
        "ob-refund-to-keeper", OB,
        "_sendEth(msg.sender, keeperFee);\n        _sendEth(account, refund);",
        "_sendEth(msg.sender, keeperFee);\n        _sendEth(msg.sender, refund);",
        "execution fee refund sent to the keeper instead of the owner",
    ),
    Mutant(
        "ob-acceptable-flipped", OB,
        "(buying ? execution > acceptable : execution < acceptable)",
        "(buying ? execution < acceptable : execution > acceptable)",
        "OrderBook acceptable-price (slippage) check flipped",
    ),
    # ---------------------------------------------------------------- solvency (issue 14: cap, ADL, reserves)
    Mutant(
        "cap-not-applied", SOLVENCY,
        "return MarginMath.creditTokens(int256(Math.mulDiv(uint256(realizedWad), cap, profit)), env.scale);",
        "return MarginMath.creditTokens(realizedWad, env.scale);",
        "profit above the cap paid in full",
    ),
    Mutant(
        "cap-without-own-profit", SOLVENCY,
        "        profit = Math.max(profit, uint256(realizedWad));\n",
        "",
        "the cap's pending profit may be below the profit being paid",
    ),
    Mutant(
        "pending-profit-no-shorts", SOLVENCY,
        "return _add(profit, loss, int256(uint256(s.shortEntry)) - int256(MarginMath.notionalDown(s.shortSize, price)));",
        "return (profit, loss);",
        "pending profit ignores the short side",
    ),
    Mutant(
        "pool-value-uncapped", VIEWS,
        "        profit = Math.min(profit, Solvency.profitCap(vs, env.scale, profit));\n",
        "",
        "pool value counts trader profit above the cap",
    ),
    Mutant(
        "open-entry-unchecked", CH,
        "if (openEntry > reserve) revert OpenInterestCap(market, isLong, openEntry, reserve);",
        "",
        "reserves not counted across markets",
    ),
    Mutant(
        "open-entry-not-released", MARKETS,
        "        vs.openEntry -= uint128(closedEntry);\n",
        "",
        "a close leaves its entry notional reserved",
    ),
    Mutant(
        "adl-trigger-inclusive", TRADE,
        "if (before <= trigger) revert IClearinghouse.AdlNotRequired(before, trigger);",
        "if (before < trigger) revert IClearinghouse.AdlNotRequired(before, trigger);",
        "ADL allowed exactly at the trigger",
    ),
    Mutant(
        "adl-floor-removed", TRADE,
        "if (afterAdl < floor) revert IClearinghouse.AdlOvershoot(afterAdl, floor);",
        "",
        "ADL may take the pnl factor below its floor",
    ),
    Mutant(
        "adl-charges-fee", TRADE,
        "_close(vs, env, account, market, sizeAbs, price, 0);",
        "_close(vs, env, account, market, sizeAbs, price, 1);",
        "ADL charges a fee",
    ),
    Mutant(
        "adl-score-long-unsquared", TRADE,
        "return Math.mulDiv(Math.mulDiv(notional, MarginMath.WAD, entry), notional, uint256(equity));",
        "return Math.mulDiv(MarginMath.WAD, notional, uint256(equity));",
        "ADL score of a long ignores mark / entry",
    ),
    Mutant(
        "borrow-index-floor", MM,
        "return Math.ceilDiv(rate * elapsed, BORROW_INDEX_UNIT);",
        "return rate * elapsed / BORROW_INDEX_UNIT;",
        "borrow index growth rounded down (in the trader's favour)",
    ),
    Mutant(
        "reserve-kept-ignored", SOLVENCY,
        "            if (needed > kept) (kept, market, oi) = (needed, m, backed);\n",
        "",
        "the reserve rule keeps nothing (maxWithdraw and withdrawals ignore open interest)",
    ),
]

# ---------------------------------------------------------------------------- results
@dataclass
class Result:
    id: str
    description: str
    result: str  # killed / survived / invalid / timeout
    killer: str = ""
    seconds: float = 0.0
    detail: str = ""


# ---------------------------------------------------------------------------- scratch copies
class Workspace(_Workspace):
    """A copy of the repository where mutants are applied, compiled and tested (the copy itself
    is :class:`protocol.mutate.workspace.Workspace`, which ``perpsim mutate`` uses too)."""

    @classmethod
    def create(cls, base: Path, name: str) -> "Workspace":
        ws = super().create(ROOT, base / name)
        out = subprocess.run([PYTHON, "-c", "import protocol; print(protocol.__file__)"],
                             cwd=ws.path, env=ws.env, capture_output=True, text=True, check=True)
        where = Path(out.stdout.strip()).resolve()
        if not where.is_relative_to(ws.path.resolve()):
            raise SystemExit(f"protocol resolves to {where}, not to the copy {ws.path}")
        print(f"[{name}] protocol.__file__ = {where}", flush=True)
        return ws

    def compile(self, timeout: float = 300) -> tuple[bool, str]:
        rc, out = self.run([PYTHON, "-m", "protocol.build"], timeout)
        return rc == 0, out

    def pytest(self, files: list[str], deselect: list[str], timeout: float, stop_first: bool = True):
        extra = ["--backend", "revm"] + [arg for d in deselect for arg in ("--deselect", d)]
        return super().pytest(files, extra, timeout, stop_first)


_FAIL_RE = re.compile(r"^(FAILED|ERROR) (\S+)", re.M)


def failing_tests(output: str) -> list[str]:
    return [m.group(2) for m in _FAIL_RE.finditer(output)]


def check_snippets(ws_path: Path, mutants: list[Mutant]) -> None:
    problems = []
    for m in mutants:
        text = (ws_path / m.file).read_text()
        n = text.count(m.original)
        if n != 1:
            problems.append(f"{m.id}: snippet occurs {n} times in {m.file}")
        if m.original == m.replacement:
            problems.append(f"{m.id}: replacement equals the original")
    if problems:
        raise SystemExit("mutations do not apply:\n  " + "\n  ".join(problems))


def run_mutant(ws: Workspace, m: Mutant, files: list[str], deselect: list[str], timeout: float) -> Result:
    start = time.monotonic()
    path = ws.path / m.file
    original = path.read_text()
    assert original.count(m.original) == 1, m.id
    try:
        path.write_text(original.replace(m.original, m.replacement, 1))
        ok, out = ws.compile()
        if not ok:
            lines = [line for line in out.splitlines() if "rror" in line]
            return Result(m.id, m.description, "invalid", seconds=time.monotonic() - start,
                          detail=(lines[0] if lines else out[-300:]).strip())
        rc, out = ws.pytest(files, deselect, timeout)
        secs = time.monotonic() - start
        if rc is None:
            return Result(m.id, m.description, "timeout", seconds=secs, detail=f"> {timeout:.0f} s")
        if rc == 0:
            return Result(m.id, m.description, "survived", seconds=secs)
        failed = failing_tests(out)
        if rc in (1,) or failed:
            return Result(m.id, m.description, "killed", killer=failed[0] if failed else "?",
                          seconds=secs)
        # pytest itself broke (usage error, collection crash...): a failure of the suite too.
        return Result(m.id, m.description, "killed", killer=f"pytest exit {rc}", seconds=secs,
                      detail=out[-300:])
    finally:
        path.write_text(original)


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated mutant ids")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--jobs", type=int, default=1, help="parallel jobs (one repository copy each)")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--timeout", type=float, default=300, help="pytest timeout per mutant, seconds")
    ap.add_argument("--tests", help="comma-separated test files instead of the default subset")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copies")
    args = ap.parse_args(argv)

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=200)
    ids = [m.id for m in MUTANTS]
    assert len(ids) == len(set(ids)), "duplicate mutant ids"
    if args.list:
        table = Table(title=f"{len(MUTANTS)} mutants")
        for col in ("id", "file", "description"):
            table.add_column(col)
        for m in MUTANTS:
            table.add_row(m.id, m.file, m.description)
        console.print(table)
        return 0
    selected = MUTANTS
    if args.only:
        wanted = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = set(wanted) - set(ids)
        if unknown:
            raise SystemExit(f"unknown mutant ids: {', '.join(sorted(unknown))}")
        selected = [m for m in MUTANTS if m.id in wanted]

    base = Path(tempfile.mkdtemp(prefix="perpsim-mutants-"))
    console.print(f"scratch copies in {base}")
    results: list[Result] = []
    try:
        jobs = max(1, min(args.jobs, len(selected)))
        workspaces = [Workspace.create(base, f"job{i}") for i in range(jobs)]
        check_snippets(workspaces[0].path, selected)
        wanted_files = args.tests.split(",") if args.tests else TEST_FILES
        files = [f for f in wanted_files if (workspaces[0].path / f).is_file()]
        console.print(f"test files: {' '.join(files)}")

        # Baseline: compile every copy, run the unmutated suite once and deselect what fails.
        for ws in workspaces:
            ok, out = ws.compile()
            if not ok:
                raise SystemExit(f"the unmutated contracts do not compile:\n{out[-2000:]}")
        t0 = time.monotonic()
        rc, out = workspaces[0].pytest(files, [], timeout=max(args.timeout, 900), stop_first=False)
        baseline_secs = time.monotonic() - t0
        if rc is None:
            raise SystemExit("the unmutated suite timed out")
        deselect = failing_tests(out)
        if rc not in (0, 1) and not deselect:
            raise SystemExit(f"the unmutated suite does not run (exit {rc}):\n{out[-3000:]}")
        summary = out.strip().splitlines()[-1] if out.strip() else ""
        console.print(f"baseline: {escape(summary)} ({baseline_secs:.0f} s)", soft_wrap=True)
        if deselect:
            console.print(f"[yellow]deselected (fail unmutated): {escape(', '.join(deselect))}[/yellow]",
                          soft_wrap=True)

        pool: queue.Queue[Workspace] = queue.Queue()
        for ws in workspaces:
            pool.put(ws)
        lock = threading.Lock()

        def task(m: Mutant) -> Result:
            ws = pool.get()
            try:
                r = run_mutant(ws, m, files, deselect, args.timeout)
            finally:
                pool.put(ws)
            with lock:
                results.append(r)
                colour = {"killed": "green", "survived": "red", "invalid": "yellow", "timeout": "cyan"}[r.result]
                console.print(f"\\[{len(results)}/{len(selected)}] {m.id}: [{colour}]{r.result}[/{colour}]"
                              f" {escape(r.killer or r.detail)} ({r.seconds:.0f} s)", highlight=False,
                              soft_wrap=True)
            return r

        with ThreadPoolExecutor(max_workers=jobs) as ex:
            list(ex.map(task, selected))
    except KeyboardInterrupt:
        console.print("[red]interrupted; partial results below[/red]")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    order = {m.id: i for i, m in enumerate(MUTANTS)}
    results.sort(key=lambda r: order[r.id])
    table = Table(title="Mutation testing (revm)")
    for col, kw in (("id", {}), ("description", {}), ("result", {}), ("killed by", {}),
                    ("s", {"justify": "right"})):
        table.add_column(col, **kw)
    colours = {"killed": "green", "survived": "bold red", "invalid": "yellow", "timeout": "cyan"}
    for r in results:
        table.add_row(r.id, r.description, f"[{colours[r.result]}]{r.result}[/]",
                      escape(r.killer or r.detail), f"{r.seconds:.0f}")
    console.print(table)
    counts = {k: sum(r.result == k for r in results) for k in ("killed", "survived", "invalid", "timeout")}
    valid = counts["killed"] + counts["survived"] + counts["timeout"]
    killed_total = counts["killed"] + counts["timeout"]
    rate = killed_total / valid if valid else 0.0
    console.print(
        f"killed {counts['killed']} + timeout {counts['timeout']}, survived {counts['survived']}, "
        f"invalid {counts['invalid']}; kill rate {killed_total}/{valid} = {rate:.0%} of valid mutants"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "results": [asdict(r) for r in results],
            "counts": counts,
            "kill_rate": rate,
        }, indent=2))
        console.print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
