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
from typing import Optional

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
    "tests/contracts/test_margin_rules.py",
    "tests/contracts/test_differential.py",
    "tests/contracts/test_liquidation_boundary.py",
    "tests/contracts/test_rounding.py",
    "tests/contracts/test_orders.py",
    "tests/keepers/test_keepers.py",
    "tests/contracts/test_attacks.py",
    "tests/testing/test_fuzz.py",
    "tests/contracts/test_profit_cap.py",
    "tests/contracts/test_solvency.py",
    "tests/contracts/test_keeper_views.py",
    "tests/contracts/test_lp_requests.py",
    "tests/contracts/test_price_impact.py",
    "tests/contracts/test_gmx_price_impact.py",
    "tests/contracts/test_review_impact.py",
    "tests/contracts/test_review_solvency.py",
]


@dataclass(frozen=True)
class Mutant:
    """One mutant: an edit of ``file`` (``original`` -> ``replacement``), or, when ``extra`` is
    given, several edits applied together, each (file, original, replacement) with an original
    that occurs exactly once in its file."""

    id: str
    file: str
    original: str
    replacement: str
    description: str
    extra: tuple[tuple[str, str, str], ...] = ()

    @property
    def edits(self) -> tuple[tuple[str, str, str], ...]:
        """Every (file, original, replacement) of the mutant, the first edit first."""
        return ((self.file, self.original, self.replacement), *self.extra)

    @property
    def group(self) -> str:
        """The mutant's group: ``known-bad`` for ``known-bad-N``, else its id."""
        return "known-bad" if self.id.startswith("known-bad-") else self.id


def known_bad(number: int, description: str, *edits: tuple[str, str, str]) -> Mutant:
    """Issue 23's finding ``number`` as it was before its fix, restored on today's code by
    ``edits`` (each (file, original, replacement)): a venue known to be bad."""
    (file, original, replacement), *extra = edits
    return Mutant(f"known-bad-{number}", file, original, replacement, description, tuple(extra))


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
        "else if (remaining < 0) badDebt = Buckets.coverBadDebt(vs, account, uint256(-remaining));",
        "else if (remaining < 0) badDebt = uint256(-remaining);",
        "isolated liquidation: bad debt not covered (_coverBadDebt skipped)",
    ),
    Mutant(
        "bad-debt-cross-uncovered", LIQ,
        "        Buckets.payPenalty(vs, penalty, reward);\n        if (badDebt != 0) badDebt = Buckets.coverBadDebt(vs, account, badDebt);\n"
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
        "? (longSize, shortSize) : (shortSize, longSize);\n"
        "            uint256 receiverDelta = Math.mulDiv(payerDelta, payerSize, receiverSize);\n"
        "            if (rate > 0) {\n                longIdx += int256(payerDelta);\n"
        "                shortIdx -= int256(receiverDelta);",
        "? (longSize, shortSize) : (shortSize, longSize);\n"
        "            uint256 receiverDelta = Math.mulDiv(payerDelta, payerSize, receiverSize);\n"
        "            if (rate > 0) {\n                longIdx -= int256(payerDelta);\n"
        "                shortIdx += int256(receiverDelta);",
        "indicesNow: payer/receiver swapped when longs pay (rate > 0)",
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
        "        if (!hasRole(EXECUTOR_ROLE, msg.sender)) revert Unauthorized(msg.sender, account);\n",
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
        "if (move * MarginMath.BPS > uint256(f.price) * guard) revert PriceDeviation(u.market, u.price, f.price, guard);",
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
        "            if (total < floor) {\n",
        "            if (false) {\n",
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
        "return (MarginMath.creditTokens(int256(Math.mulDiv(realized, budget, profit)), env.scale), true);",
        "return (MarginMath.creditTokens(int256(realized), env.scale), true);",
        "profit above the cap paid in full",
    ),
    Mutant(
        "cap-episode-never-ends", SOLVENCY,
        "        } else if (factor != 0 && vs.profitHeld != 0) {\n            vs.profitHeld = 0;\n",
        "        } else if (factor != 0 && vs.profitHeld != 0) {\n",
        "a profit paid in full leaves the episode's hold: later closes stay cut",
    ),
    Mutant(
        "cap-without-own-profit", SOLVENCY,
        "        profit = Math.max(profit, whole);\n",
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
        "        uint256 open = vs.openEntry - closedEntry;\n",
        "        uint256 open = vs.openEntry;\n",
        "a close leaves its entry notional reserved",
    ),
    Mutant(
        "adl-trigger-inclusive", TRADE,
        "if (before <= trigger && !(round && AdlLogic.roundActive(vs))) revert IClearinghouse.AdlNotRequired(",
        "if (before < trigger && !(round && AdlLogic.roundActive(vs))) revert IClearinghouse.AdlNotRequired(",
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

# ---------------------------------------------------------------- known-bad venues (issue 24 §2)
# Issue 23's eleven findings, each as it was before its fix (cb8b2bc), restored on today's code
# with as few edits as bring the old behaviour back. Each is killed by its regression test
# (tests/contracts/test_review_*.py); `--by fuzz` asks whether the fuzz campaign alone finds it.
RATES_LOGIC = "contracts/libraries/RatesLogic.sol"

KNOWN_BAD: list[Mutant] = [
    known_bad(
        1, "finding 1: a liquidation with stale markets writes the debt off while positions stay open",
        (LIQ, "if (balance < 0 && vs.crossMarkets[account] == 0) {", "if (balance < 0) {"),
    ),
    known_bad(
        2, "finding 2: tiers <-> mmf changes compared on leverage only (maintenance raised at once)",
        (ADMIN,
         "    function _raisesRisk(MarginRule memory current, MarginRule memory next, bool module) private pure returns (bool) {\n"
         "        if (module && next.mmf > current.mmf) return true;\n",
         "    function _raisesRisk(MarginRule memory current, MarginRule memory next, bool module) private pure returns (bool) {\n"
         "        if (next.mmf > current.mmf) return true;\n        module = true;\n"),
    ),
    known_bad(
        3, "finding 3: tiered IM below the tier's MM; a cross open ignores the account's maintenance",
        (RULES,
         "return (Math.max(MarginMath.initial(notional, leverage), maintenanceMargin), maintenanceMargin);",
         "return (MarginMath.initial(notional, leverage), maintenanceMargin);"),
        (CH,
         "            if (equity < int256(im)) revert InsufficientFreeCollateral(equity, im);\n        }\n",
         "            if (equity < int256(im)) revert InsufficientFreeCollateral(equity, im);\n            maintenance = 0;\n        }\n"),
    ),
    known_bad(
        4, "finding 4: positive impact capped only by the impact pool (no per-trade cap, no factor clamp)",
        (IMPACT, "if (impact < 0) return impact;\n        uint256 cap", "return impact;\n        uint256 cap"),
        (IMPACT, "uint256 fp = Math.min(c.factorPositive, c.factorNegative);", "uint256 fp = c.factorPositive;"),
        (IMPACT, "uint256 ep = Math.min(c.exponentPositive, c.exponentNegative);", "uint256 ep = c.exponentPositive;"),
        # the open's impact capped at maxNegativeImpactBps on its own (as when it was paid at the
        # open), the close's own positive impact then added in full
        (IMPACT,
         "int256 total = _signed(_tokensToUsd(_abs(proportional), t.price, proportional < 0), proportional < 0) + impact;\n",
         "int256 total = _signed(_tokensToUsd(_abs(proportional), t.price, proportional < 0), proportional < 0);\n"),
        (IMPACT, "                total = floor;\n            }\n        }\n        total = _capPositive",
         "                total = floor;\n            }\n        }\n        total += impact;\n        total = _capPositive"),
    ),
    known_bad(
        5, "finding 5: rates answers unchecked, funding divides by an empty side, a failing module "
           "blocks its swap and the pool's value",
        (RATES_LOGIC, "                if (longSize == 0 || shortSize == 0) fundingRate = 0;\n", ""),
        (RATES_LOGIC, "if (fundingRate > MAX_FUNDING_RATE || fundingRate < -MAX_FUNDING_RATE) {", "if (false) {"),
        (RATES_LOGIC, "} else if (borrowRate > MAX_BORROW_RATE) {", "} else if (false) {"),
        (ADMIN, "Markets.accrueOrSkip(vs, market, price, env.scale);", "Markets.accrue(vs, market, price, env.scale);"),
        (VIEWS, "uint256 borrowIndex = Markets.borrowIndexNow(vs, market, s, price, env.scale);",
         "(,, uint256 borrowIndex) = Markets.indicesNow(vs, market, s, price, env.scale);"),
    ),
    known_bad(
        6, "finding 6: a pending market order does not lock its account (its owner can make it fail)",
        (CH,
         "if (lock != 0 && block.timestamp <= uint64(lock >> 64) && (market == ANY_MARKET || uint8(lock >> 128) == market)) {",
         "if (false && lock != 0 && block.timestamp <= uint64(lock >> 64) && (market == ANY_MARKET || uint8(lock >> 128) == market)) {"),
    ),
    known_bad(
        7, "finding 7: a slice assumed to pay the fee, not the module's penalty; a bad target reverts the batch",
        (LIQ,
         "(uint256 penalty,) = Rules.penalty(vs, market, c, left, maxPenalty);\n        return left > int256(penalty);",
         "return left > int256(maxPenalty);"),
        (LIQ,
         "ok := delegatecall(sub(left, reserve), self, add(data, 32), mload(data), 0, 32)\n",
         "ok := delegatecall(sub(left, reserve), self, add(data, 32), mload(data), 0, 32)\n"
         "                    if iszero(ok) {\n                        returndatacopy(0, 0, returndatasize())\n"
         "                        revert(0, returndatasize())\n                    }\n"),
    ),
    known_bad(
        8, "finding 8: anyone may auto-deleverage, in any order",
        (TRADE,
         "if (\n            msg.sender == account || vs.isOperator[account][msg.sender]\n"
         "                || !IAccessControl(address(this)).hasRole(ADL_KEEPER_ROLE, msg.sender)\n        ) revert",
         "if (false) revert"),
        (TRADE, "        if (flags & ADL_RANKED != 0) _checkRank(vs, env, account, market, score);\n", ""),
    ),
    known_bad(
        9, "finding 9: a capped close judged against its own piece, no episode hold (splitting pays more)",
        (SOLVENCY, "int256 whole = closeAbs == sizeAbs ? realized : Markets.closingPnl(p, size, sizeAbs, price);",
         "int256 whole = realized;"),
        (SOLVENCY, "                + int256(MarginMath.BPS - factor) * paid * scale + int256(factor) * inflow * scale;",
         "                ;"),
    ),
    known_bad(
        10, "finding 10: LP deposits and redemptions run while the profit cap binds",
        (POOL, "return profit > budget;", "return false;"),
        (POOL, "        if (profit > budget) revert IClearinghouse.ProfitCapBinds(profit, budget);\n    }\n\n    function _views",
         "    }\n\n    function _views"),
        (VIEWS, "        kept = Math.max(kept, Solvency.capKept(vs, env));\n", ""),
        (ADMIN, "        Solvency.checkNotBinding(vs, env);\n", ""),
    ),
    known_bad(
        11, "finding 11: no open buffer: an open at the smallest margin is liquidatable a second later",
        (CH, "maintenance += (notional * c.openBufferBps + MarginMath.BPS - 1) / MarginMath.BPS;", ""),
    ),
]

# The regression test file of each finding (tests/contracts/test_review_*.py), run by the unit-test mode.
KNOWN_BAD_TESTS = {
    1: "tests/contracts/test_review_liquidation.py", 2: "tests/contracts/test_review_margin.py",
    3: "tests/contracts/test_review_margin.py", 4: "tests/contracts/test_review_impact.py",
    5: "tests/contracts/test_review_rates.py", 6: "tests/contracts/test_review_orders.py",
    7: "tests/contracts/test_review_liquidation.py", 8: "tests/contracts/test_review_solvency.py",
    9: "tests/contracts/test_review_solvency.py", 10: "tests/contracts/test_review_solvency.py",
    11: "tests/contracts/test_review_margin.py",
}
MUTANTS += KNOWN_BAD

# ---------------------------------------------------------------------------- results
@dataclass
class Result:
    id: str
    description: str
    result: str  # killed / survived / invalid / timeout
    killer: str = ""
    seconds: float = 0.0
    detail: str = ""
    fuzz: Optional[dict] = None  # --by fuzz: steps / seconds to the first failure, shrunk length


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

    compile_timeout: float = 900  # seconds; a loaded 2-core machine takes 5 minutes and more

    def compile(self, timeout: Optional[float] = None) -> tuple[bool, str]:
        rc, out = self.run([PYTHON, "-m", "protocol.build"], timeout or self.compile_timeout)
        if rc is None:
            return False, f"compile timed out after {timeout or self.compile_timeout:.0f} s\n{out}"
        return rc == 0, out

    def pytest(self, files: list[str], deselect: list[str], timeout: float, stop_first: bool = True):
        extra = ["--backend", "revm"] + [arg for d in deselect for arg in ("--deselect", d)]
        return super().pytest(files, extra, timeout, stop_first)


_FAIL_RE = re.compile(r"^(FAILED|ERROR) (\S+)", re.M)


def failing_tests(output: str) -> list[str]:
    return [m.group(2) for m in _FAIL_RE.finditer(output)]


def check_snippets(ws_path: Path, mutants: list[Mutant]) -> None:
    """Stop unless every edit of every mutant applies: its snippet occurs exactly once in its
    file (after the mutant's earlier edits of the same file) and changes something."""
    problems = []
    for m in mutants:
        texts: dict[str, str] = {}
        for file, original, replacement in m.edits:
            text = texts.setdefault(file, (ws_path / file).read_text())
            n = text.count(original)
            if n != 1:
                problems.append(f"{m.id}: snippet occurs {n} times in {file}: {original[:60]!r}")
            elif original == replacement:
                problems.append(f"{m.id}: replacement equals the original in {file}")
            else:
                texts[file] = text.replace(original, replacement, 1)
    if problems:
        raise SystemExit("mutations do not apply:\n  " + "\n  ".join(problems))


class Applied:
    """A mutant's edits applied to a workspace, every file restored on exit."""

    def __init__(self, ws: "Workspace", m: Mutant):
        self.ws, self.m = ws, m
        self.saved: dict[Path, str] = {}

    def __enter__(self) -> "Applied":
        for file, original, replacement in self.m.edits:
            path = self.ws.path / file
            if path not in self.saved:
                self.saved[path] = path.read_text()
            text = path.read_text()
            assert text.count(original) == 1, (self.m.id, file)
            path.write_text(text.replace(original, replacement, 1))
        return self

    def __exit__(self, *exc: object) -> None:
        for path, text in self.saved.items():
            path.write_text(text)


def _compile_or_invalid(ws: "Workspace", m: Mutant, start: float) -> Optional[Result]:
    ok, out = ws.compile()
    if ok:
        return None
    lines = [line for line in out.splitlines() if "rror" in line]
    return Result(m.id, m.description, "invalid", seconds=time.monotonic() - start,
                  detail=(lines[0] if lines else out[-300:]).strip())


def _judge_tests(ws: "Workspace", m: Mutant, files: list[str], deselect: list[str], timeout: float,
                 start: float) -> Result:
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


def run_mutant(ws: Workspace, m: Mutant, files: list[str], deselect: list[str], timeout: float) -> Result:
    """Judge ``m`` by the unit tests ``files`` (the first failure kills it)."""
    start = time.monotonic()
    with Applied(ws, m):
        return _compile_or_invalid(ws, m, start) or _judge_tests(ws, m, files, deselect, timeout, start)


# ---------------------------------------------------------------------------- judged by the fuzzer
_FUZZ_TAG = "FUZZ-RESULT "


def fuzz_until_failure(seconds: float, runs_per_batch: int = 25, backend: str = "revm") -> dict:
    """Run fuzz campaigns (seeds 0, 1, ...) until one fails or ``seconds`` have passed; the
    steps and seconds up to the first failure (before hypothesis shrinks it), the shrunk
    sequence's length and the broken property's name. Runs in the mutant's copy."""
    from protocol.testing import fuzz
    from protocol.testing.adversarial import AdversarialViolation
    from protocol.testing.invariants import InvariantViolation
    from protocol.testing.properties import PropertyViolation

    first: dict = {}
    base_steps = 0
    started = time.perf_counter()
    current: dict = {"world": None}
    violations = (InvariantViolation, PropertyViolation, AdversarialViolation)
    originals = {cls: cls.__init__ for cls in violations}

    def recording(cls):
        def recording_init(self, name, message, **details):  # the first violation, before shrinking
            if not first:
                w = current["world"]
                first.update(name=name, steps=base_steps + (w.steps if w else 0),
                             seconds=time.perf_counter() - started)
            originals[cls](self, name, message, **details)
        return recording_init

    for cls in violations:
        cls.__init__ = recording(cls)  # type: ignore[method-assign]
    seed, steps = 0, 0
    try:
        try:
            current["world"] = fuzz.world(backend)
        except violations as error:  # the world's launch itself breaks a property
            return {"killed": True, "property": error.name, "first_steps": 0, "first_seconds":
                    round(time.perf_counter() - started, 1), "first_property": error.name,
                    "shrunk_steps": 0, "seconds": round(time.perf_counter() - started, 1),
                    "seed": None, "message": str(error).splitlines()[0][:300]}
        while time.perf_counter() - started < seconds:
            result = fuzz.run_campaign(runs_per_batch, backend=backend, seed=seed)
            if result.error is not None:
                error = result.error
                # several distinct failures come as a group: name each, count the first's steps
                errors = list(getattr(error, "exceptions", None) or [error])
                name = ", ".join(getattr(e, "name", type(e).__name__) for e in errors)
                if not first:  # failed with something other than a named violation
                    first.update(name=name, steps=base_steps + result.steps,
                                 seconds=time.perf_counter() - started)
                steps_taken = result.steps_taken or fuzz.falsifying_steps(
                    "\n".join(getattr(errors[0], "__notes__", [])))
                return {"killed": True, "property": name, "first_steps": first["steps"],
                        "first_seconds": round(first["seconds"], 1), "first_property": first["name"],
                        "shrunk_steps": sum(1 for line in steps_taken if not _is_check(line)),
                        "seconds": round(time.perf_counter() - started, 1), "seed": seed,
                        "message": str(error).splitlines()[0][:300] if str(error) else ""}
            base_steps += result.steps
            steps = base_steps
            seed += 1
            first.clear()  # a violation raised and shrunk away inside hypothesis does not count
    finally:
        for cls, init in originals.items():
            cls.__init__ = init  # type: ignore[method-assign]
    return {"killed": False, "steps": steps, "seconds": round(time.perf_counter() - started, 1),
            "seeds": seed}


def _is_check(line: str) -> bool:
    """Hypothesis lists the invariant checks between rules; they are not steps."""
    return line.startswith("state.spec_invariants(") or line.startswith("state.check_")


def _judge_fuzz(ws: "Workspace", m: Mutant, seconds: float, start: float) -> Result:
    code = (f"import json, sys; sys.path.insert(0, 'scripts'); import mutants; "
            f"print({_FUZZ_TAG!r} + json.dumps(mutants.fuzz_until_failure({seconds!r})))")
    rc, out = ws.run([PYTHON, "-c", code], timeout=seconds + 600)
    secs = time.monotonic() - start
    line = next((line for line in out.splitlines() if line.startswith(_FUZZ_TAG)), None)
    if rc is None or line is None:
        return Result(m.id, m.description, "timeout" if rc is None else "error", seconds=secs,
                      detail=out[-300:].strip())
    info = json.loads(line[len(_FUZZ_TAG):])
    if not info["killed"]:
        return Result(m.id, m.description, "survived", seconds=secs,
                      detail=f"{info['steps']} steps in {info['seconds']} s, no property broken",
                      fuzz=info)
    return Result(m.id, m.description, "killed", killer=info["property"], seconds=secs,
                  detail=info["message"], fuzz=info)


def run_mutant_by_fuzz(ws: Workspace, m: Mutant, seconds: float) -> Result:
    """Judge ``m`` by the fuzz campaign alone: killed when it breaks a property within
    ``seconds`` of fuzzing."""
    start = time.monotonic()
    with Applied(ws, m):
        return _compile_or_invalid(ws, m, start) or _judge_fuzz(ws, m, seconds, start)


# ---------------------------------------------------------------------------- main
def _files_for(m: Mutant, default: list[str], explicit: bool) -> list[str]:
    """The unit tests that judge ``m``: ``--tests`` when given; a known-bad venue's own
    regression test file; else the default subset."""
    if not explicit and m.group == "known-bad":
        return [KNOWN_BAD_TESTS[int(m.id.rsplit("-", 1)[1])]]
    return default


def select(only: Optional[str]) -> list[Mutant]:
    """The mutants named by ``--only``: ids, or a group (``known-bad``)."""
    if not only:
        return list(MUTANTS)
    wanted = [s.strip() for s in only.split(",") if s.strip()]
    groups = {m.group for m in MUTANTS}
    unknown = set(wanted) - {m.id for m in MUTANTS} - groups
    if unknown:
        raise SystemExit(f"unknown mutant ids: {', '.join(sorted(unknown))}")
    return [m for m in MUTANTS if m.id in wanted or m.group in wanted]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated mutant ids, or a group: known-bad")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--jobs", type=int, default=1, help="parallel jobs (one repository copy each)")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--timeout", type=float, default=300, help="pytest timeout per mutant, seconds")
    ap.add_argument("--tests", help="comma-separated test files instead of the default subset")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copies")
    ap.add_argument("--by", choices=("tests", "fuzz", "both"), default="tests",
                    help="judge each mutant by the unit tests, by the fuzz campaign alone, or both "
                         "(compiled once)")
    ap.add_argument("--fuzz-seconds", type=float, default=600,
                    help="--by fuzz: fuzzing budget per mutant, seconds")
    ap.add_argument("--baseline-seconds", type=float, default=None,
                    help="--by fuzz: fuzz the unmutated venue this long first (default: "
                         "--fuzz-seconds; 0 skips it)")
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
            files = sorted({file for file, _, _ in m.edits})
            table.add_row(m.id, ", ".join(files), m.description)
        console.print(table)
        return 0
    selected = select(args.only)
    by_tests, by_fuzz = args.by in ("tests", "both"), args.by in ("fuzz", "both")

    base = Path(tempfile.mkdtemp(prefix="perpsim-mutants-"))
    console.print(f"scratch copies in {base}")
    results: list[Result] = []
    fuzz_results: list[Result] = []
    baseline_fuzz: Optional[dict] = None
    try:
        jobs = max(1, min(args.jobs, len(selected)))
        workspaces = [Workspace.create(base, f"job{i}") for i in range(jobs)]
        check_snippets(workspaces[0].path, selected)
        wanted_files = args.tests.split(",") if args.tests else TEST_FILES
        default_files = [f for f in wanted_files if (workspaces[0].path / f).is_file()]
        files_of = {m.id: _files_for(m, default_files, bool(args.tests)) for m in selected}
        union = list(dict.fromkeys(f for m in selected for f in files_of[m.id]))

        # Baseline: compile every copy, run the unmutated suite once and deselect what fails.
        for ws in workspaces:
            ok, out = ws.compile()
            if not ok:
                raise SystemExit(f"the unmutated contracts do not compile:\n{out[-2000:]}")
        deselect: list[str] = []
        if by_tests:
            console.print(f"test files: {' '.join(union)}")
            t0 = time.monotonic()
            rc, out = workspaces[0].pytest(union, [], timeout=max(args.timeout, 900), stop_first=False)
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
        if by_fuzz:
            seconds = args.fuzz_seconds if args.baseline_seconds is None else args.baseline_seconds
            if seconds > 0:
                code = (f"import json, sys; sys.path.insert(0, 'scripts'); import mutants; "
                        f"print({_FUZZ_TAG!r} + json.dumps(mutants.fuzz_until_failure({seconds!r})))")
                rc, out = workspaces[0].run([PYTHON, "-c", code], timeout=seconds + 600)
                line = next((x for x in out.splitlines() if x.startswith(_FUZZ_TAG)), None)
                if line is None:
                    raise SystemExit(f"the fuzz campaign does not run on the unmutated venue:\n{out[-3000:]}")
                baseline_fuzz = json.loads(line[len(_FUZZ_TAG):])
                if baseline_fuzz["killed"]:
                    console.print(f"[bold red]the unmutated venue fails the fuzz campaign: "
                                  f"{escape(str(baseline_fuzz))}[/]", soft_wrap=True)
                else:
                    console.print(f"fuzz baseline: {baseline_fuzz['steps']} steps in "
                                  f"{baseline_fuzz['seconds']} s, no property broken")

        pool: queue.Queue[Workspace] = queue.Queue()
        for ws in workspaces:
            pool.put(ws)
        lock = threading.Lock()
        colours_ = {"killed": "green", "survived": "red", "invalid": "yellow", "timeout": "cyan",
                    "error": "magenta"}

        def report(r: Result, into: list[Result], how: str) -> None:
            with lock:
                into.append(r)
                colour = colours_[r.result]
                console.print(f"\\[{len(into)}/{len(selected)}] {r.id} ({how}): [{colour}]{r.result}[/{colour}]"
                              f" {escape(r.killer or r.detail)} ({r.seconds:.0f} s)", highlight=False,
                              soft_wrap=True)

        def task(m: Mutant) -> None:
            ws = pool.get()
            try:
                start = time.monotonic()
                with Applied(ws, m):
                    invalid = _compile_or_invalid(ws, m, start)
                    if by_tests:
                        report(invalid or _judge_tests(ws, m, files_of[m.id], deselect, args.timeout, start),
                               results, "tests")
                    if by_fuzz:
                        start = time.monotonic()
                        report(invalid or _judge_fuzz(ws, m, args.fuzz_seconds, start), fuzz_results, "fuzz")
            finally:
                pool.put(ws)

        with ThreadPoolExecutor(max_workers=jobs) as ex:
            list(ex.map(task, selected))
    except KeyboardInterrupt:
        console.print("[red]interrupted; partial results below[/red]")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    out_json: dict = {}
    if by_tests:
        out_json.update(_summarise(console, results, "Mutation testing (revm): unit tests"))
    if by_fuzz:
        fuzz_json = _summarise(console, fuzz_results, "Mutation testing (revm): fuzz campaign alone",
                               fuzz=True, budget=args.fuzz_seconds)
        out_json["fuzz"] = {**fuzz_json, "baseline": baseline_fuzz, "fuzz_seconds": args.fuzz_seconds}
        if by_tests:
            console.print(f"kill rate: unit tests {out_json['kill_rate']:.0%}, "
                          f"fuzz alone {fuzz_json['kill_rate']:.0%}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out_json, indent=2))
        console.print(f"results written to {args.json}")
    return 0


def _summarise(console, results: list[Result], title: str, fuzz: bool = False,
               budget: float = 0.0) -> dict:
    """Print the results' table and kill rate; their JSON."""
    from rich.markup import escape
    from rich.table import Table

    order = {m.id: i for i, m in enumerate(MUTANTS)}
    results.sort(key=lambda r: order[r.id])
    table = Table(title=title)
    columns = ["id", "description", "result", "property broken" if fuzz else "killed by"]
    if fuzz:
        columns += ["steps to 1st failure", "s to 1st failure", "shrunk steps"]
    for col in [*columns, "s"]:
        table.add_column(col, justify="left" if col in ("id", "description", "result") or "by" in col or "broken" in col else "right")
    colours = {"killed": "green", "survived": "bold red", "invalid": "yellow", "timeout": "cyan",
               "error": "magenta"}
    for r in results:
        row = [r.id, r.description, f"[{colours[r.result]}]{r.result}[/]", escape(r.killer or r.detail)]
        if fuzz:
            f = r.fuzz or {}
            row += [str(f.get("first_steps", f.get("steps", ""))), str(f.get("first_seconds", f.get("seconds", ""))),
                    str(f.get("shrunk_steps", ""))]
        table.add_row(*row, f"{r.seconds:.0f}")
    console.print(table)
    counts = {k: sum(r.result == k for r in results) for k in ("killed", "survived", "invalid", "timeout", "error")}
    if fuzz:  # a campaign that hangs or crashes has not found anything
        valid = counts["killed"] + counts["survived"] + counts["timeout"] + counts["error"]
        killed_total = counts["killed"]
        console.print(f"fuzz ({budget:.0f} s per mutant): killed {counts['killed']}, survived "
                      f"{counts['survived']}, timeout {counts['timeout']}, error {counts['error']}, "
                      f"invalid {counts['invalid']}")
    else:
        valid = counts["killed"] + counts["survived"] + counts["timeout"]
        killed_total = counts["killed"] + counts["timeout"]
        console.print(f"killed {counts['killed']} + timeout {counts['timeout']}, survived {counts['survived']}, "
                      f"invalid {counts['invalid']}")
    rate = killed_total / valid if valid else 0.0
    console.print(f"kill rate {killed_total}/{valid} = {rate:.0%} of valid mutants")
    return {"results": [asdict(r) for r in results], "counts": counts, "kill_rate": rate}


if __name__ == "__main__":
    sys.exit(main())
