// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {CROSS_ACCOUNT} from "../types/Constants.sol";
import {MarginMode} from "../types/MarginMode.sol";
import {Buckets} from "./Buckets.sol";
import {Health} from "./Health.sol";
import {ImpactLogic} from "./ImpactLogic.sol";
import {MarginMath} from "./MarginMath.sol";
import {Markets} from "./Markets.sol";
import {Rules} from "./Rules.sol";
import {Solvency} from "./Solvency.sol";
import {Env, Settlement, StoredConfig, VenueState} from "./VenueState.sol";

/// @title LiquidationLogic
/// @notice Liquidation of isolated positions and cross accounts. An external library: the core
/// calls it by DELEGATECALL on its own storage, so its code does not count against the core's
/// size, and only liquidations pay for the call. What a liquidation takes (slice, penalty,
/// keeper share) is the market's liquidation rule (`Rules`).
library LiquidationLogic {
    using SafeCast for uint256;
    using SafeCast for int256;

    // What a cross account's slice check decided.
    uint256 private constant WHOLE = 0;
    uint256 private constant SLICED = 1;
    uint256 private constant COOLING_DOWN = 2;

    /// @dev Gas the batch keeps back from each target's call, per target still to go and once
    /// for returning: a target that burns every unit it is given (a module's INVALID, an
    /// endless loop) cannot starve the rest of the batch.
    uint256 private constant TARGET_GAS_RESERVE = 5_000;
    uint256 private constant BATCH_GAS_RESERVE = 50_000;

    /// @notice Liquidate many targets. Each runs on its own, in a DELEGATECALL of
    /// `liquidateTarget` (`self` is this library's address, from the core): one that cannot be
    /// liquidated, for whatever reason (healthy, gone, cooling down, a stale price, a module
    /// that reverts or answers out of bounds, out of gas), is undone alone and reported false;
    /// the others stand and pay the keeper (msg.sender throughout).
    function liquidateBatch(
        VenueState storage vs,
        Env memory env,
        IClearinghouse.LiquidationTarget[] calldata targets,
        address self
    ) external returns (bool[] memory done) {
        uint256 n = targets.length;
        done = new bool[](n);
        uint256 slot;
        assembly ("memory-safe") {
            slot := vs.slot
        }
        // (selector, slot, env, account, market): account and market, the last two words, change
        // per target (their offsets follow from the length, whatever Env holds).
        bytes memory data = abi.encodeWithSelector(LiquidationLogic.liquidateTarget.selector, slot, env, address(0), 0);
        for (uint256 i; i < n; ++i) {
            IClearinghouse.LiquidationTarget calldata t = targets[i];
            uint256 reserve = BATCH_GAS_RESERVE + (n - i) * TARGET_GAS_RESERVE;
            bool ok;
            assembly ("memory-safe") {
                let end := add(data, add(mload(data), 32))
                mstore(sub(end, 64), calldataload(t))
                mstore(sub(end, 32), calldataload(add(t, 32)))
                let left := gas()
                if gt(left, reserve) {
                    ok := delegatecall(sub(left, reserve), self, add(data, 32), mload(data), 0, 32)
                    ok := and(ok, eq(mload(0), 1))
                }
            }
            done[i] = ok;
        }
    }

    /// @notice One target of `liquidateBatch`, DELEGATECALLed by it so that a revert undoes
    /// that target alone: true when liquidated, false when there is nothing to do (healthy,
    /// gone, cooling down). Reached only from the batch.
    function liquidateTarget(VenueState storage vs, Env memory env, address account, uint256 market)
        external
        returns (bool)
    {
        return market == CROSS_ACCOUNT ? _account(vs, env, account, true) : _position(vs, env, account, market, true);
    }

    function liquidatePosition(VenueState storage vs, Env memory env, address account, uint256 market) external {
        _position(vs, env, account, market, false);
    }

    function liquidateAccount(VenueState storage vs, Env memory env, address account) external {
        _account(vs, env, account, false);
    }

    /// @dev With `skip`, a target with nothing to do returns false instead of reverting (any
    /// other failure reverts, and the batch skips it).
    function _position(VenueState storage vs, Env memory env, address account, uint256 market, bool skip)
        private
        returns (bool)
    {
        IClearinghouse.Position storage p = vs.positions[account][market];
        int256 size = p.size;
        if (size == 0) {
            if (skip) return false;
            revert IClearinghouse.NoPosition(account, market);
        }
        if (p.mode != MarginMode.Isolated) {
            if (skip) return false;
            revert IClearinghouse.NotIsolated(market);
        }
        uint256 price = env.oracle.freshPrice(market);
        StoredConfig storage c = vs.configs[market];
        (int256 equity, uint256 mm,, uint256 notional) = Health.isolated(vs, env.scale, market, p, price);
        if (equity >= mm.toInt256()) {
            if (skip) return false;
            revert IClearinghouse.PositionHealthy(account, market);
        }
        uint256 sizeAbs = Markets.abs(size);
        uint256 closeAbs = sizeAbs;
        uint256 part = Rules.slice(vs, market, c, sizeAbs, notional, equity, mm);
        // Decided before anything changes, so a target skipped here leaves no trace.
        if (part != 0 && part < sizeAbs && _sliceLeavesMargin(vs, env, market, p, c, int256(uint256(p.margin)), part, price)) {
            uint256 last = vs.lastPartialLiquidation[account][market];
            uint256 until = last + c.liquidationCooldown;
            if (last != 0 && block.timestamp < until) {
                if (skip) return false;
                revert IClearinghouse.LiquidationCooldown(market, until);
            }
            closeAbs = part;
        }
        IClearinghouse.MarketState storage s = Markets.accrue(vs, market, price, env.scale);
        Settlement memory st = Markets.settleIndices(s, p, size > 0, env.scale);
        (uint256 fill, int256 realized) = Rules.decreaseImpact(
            vs, account, market, c, size > 0 ? -int256(closeAbs) : int256(closeAbs), price, env.scale, true, st
        );
        // Judged at the oracle price; the cap's hold keeps f of what impact moves into the pool.
        st.pnl = Solvency.credit(
            vs, env, account, market, p, closeAbs, price, st.borrowing + Buckets.impactInflow(realized, st)
        ) + realized;
        int256 sizeDelta = Markets.reduce(vs, s, p, size, closeAbs);
        int256 remaining = int256(uint256(p.margin)) + st.pnl - st.funding - st.borrowing;
        uint256 maxPenalty = Buckets.feeTokens(MarginMath.notionalUp(closeAbs, price), c.liquidationFeeBps, env.scale);
        (uint256 penalty, uint256 reward) = Rules.penalty(vs, market, c, remaining, maxPenalty);
        remaining -= int256(penalty);
        uint256 badDebt;
        if (closeAbs == sizeAbs) {
            Markets.clear(p);
            if (remaining > 0) vs.crossBalance[account] += remaining;
            else if (remaining < 0) badDebt = Buckets.coverBadDebt(vs, account, uint256(-remaining)); // no penalty then
        } else {
            // A slice leaves margin > 0 (_sliceLeavesMargin), and the penalty never exceeds the
            // stock fee by more than the rule allows: what is left stays the position's margin.
            if (remaining <= 0) revert IClearinghouse.InsufficientMargin(remaining);
            p.margin = uint128(uint256(remaining));
            vs.lastPartialLiquidation[account][market] = block.timestamp;
        }
        Buckets.payPool(vs, st, 0);
        Buckets.payPenalty(vs, penalty, reward);
        emit IClearinghouse.PositionLiquidated(account, market, msg.sender, sizeDelta, fill, st.pnl, penalty, reward, badDebt);
        return true;
    }

    /// @dev Whether `margin` (an isolated position's, or the cross balance) left after a slice's
    /// PnL (after the profit cap) and realised price impact, the position's pending charges and
    /// the penalty the market's liquidation rule takes for the slice is positive; if not, the
    /// position (or the cross account) is liquidated whole (its unrealised profit, not its margin,
    /// was carrying it). A view: the charges and the penalty are what the slice would settle.
    function _sliceLeavesMargin(
        VenueState storage vs,
        Env memory env,
        uint256 market,
        IClearinghouse.Position storage p,
        StoredConfig storage c,
        int256 margin,
        uint256 part,
        uint256 price
    ) private view returns (bool) {
        uint256 scale = env.scale;
        int256 charges;
        {
            (int256 longIdx, int256 shortIdx, uint256 borrowIdx) = Markets.indicesNow(vs, market, vs.states[market], price, scale);
            (int256 fundingWad, uint256 borrowWad,) = Markets.pending(p, longIdx, shortIdx, borrowIdx);
            charges = MarginMath.chargeTokens(fundingWad, scale) + MarginMath.chargeTokens(int256(borrowWad), scale);
        }
        (, int256 partPnl,) = Solvency.quote(vs, env, p, part, price);
        if (c.pricingModule != 0) {
            partPnl += ImpactLogic.quoteDecrease(vs, p, market, p.size > 0 ? -int256(part) : int256(part), price, scale, true)
                .realized;
        }
        int256 left = margin + partPnl - charges;
        if (left <= 0) return false;
        uint256 maxPenalty = Buckets.feeTokens(MarginMath.notionalUp(part, price), c.liquidationFeeBps, scale);
        (uint256 penalty,) = Rules.penalty(vs, market, c, left, maxPenalty);
        return left > int256(penalty);
    }

    /// @dev What the account can pay of its markets' fees (at most its balance) is split across
    /// them in proportion to each one's fee (the last takes the rounding); each market's
    /// liquidation rule takes its part and pays its own keeper share.
    function _crossPenalty(VenueState storage vs, uint256 positions, uint256[64] memory fees, uint256 maxPenalty, int256 balance)
        private
        view
        returns (uint256 penalty, uint256 reward)
    {
        uint256 payable_ = balance > 0 ? Math.min(uint256(balance), maxPenalty) : 0;
        if (payable_ == 0) return (0, 0);
        uint256 allocated;
        for (uint256 market; positions != 0; ++market) {
            if (positions & 1 != 0) {
                uint256 part = positions == 1 ? payable_ - allocated : payable_ * fees[market] / maxPenalty;
                allocated += part;
                (uint256 taken, uint256 keeperReward) = Rules.penalty(vs, market, vs.configs[market], int256(part), fees[market]);
                penalty += taken;
                reward += keeperReward;
            }
            positions >>= 1;
        }
    }

    /// @dev A large cross account loses a slice of its largest position, as an isolated position
    /// would: the market's liquidation rule decides the slice from that position's notional and
    /// the account's equity and maintenance margin. The slice's PnL, charges and penalty settle
    /// against the cross balance, which must stay positive; otherwise the whole account goes.
    /// Decided before anything changes, so a target skipped for its cooldown leaves no trace.
    function _crossSlice(
        VenueState storage vs,
        Env memory env,
        address account,
        uint256 market,
        uint256 notional,
        int256 equity,
        uint256 mm
    ) private returns (uint256) {
        IClearinghouse.Position storage p = vs.positions[account][market];
        StoredConfig storage c = vs.configs[market];
        int256 size = p.size;
        uint256 sizeAbs = Markets.abs(size);
        uint256 part = Rules.slice(vs, market, c, sizeAbs, notional, equity, mm);
        if (part == 0 || part >= sizeAbs) return WHOLE;
        uint256 price = env.oracle.freshPrice(market);
        int256 balance = vs.crossBalance[account];
        if (!_sliceLeavesMargin(vs, env, market, p, c, balance, part, price)) return WHOLE;
        uint256 last = vs.lastPartialLiquidation[account][market];
        if (last != 0 && block.timestamp < last + c.liquidationCooldown) return COOLING_DOWN;

        IClearinghouse.MarketState storage s = Markets.accrue(vs, market, price, env.scale);
        Settlement memory st = Markets.settleIndices(s, p, size > 0, env.scale);
        (uint256 fill, int256 realized) =
            Rules.decreaseImpact(vs, account, market, c, size > 0 ? -int256(part) : int256(part), price, env.scale, true, st);
        st.pnl = Solvency.credit(
            vs, env, account, market, p, part, price, st.borrowing + Buckets.impactInflow(realized, st)
        ) + realized;
        int256 sizeDelta = Markets.reduce(vs, s, p, size, part);
        balance += st.pnl - st.funding - st.borrowing;
        uint256 maxPenalty = Buckets.feeTokens(MarginMath.notionalUp(part, price), c.liquidationFeeBps, env.scale);
        (uint256 penalty, uint256 reward) = Rules.penalty(vs, market, c, balance, maxPenalty);
        balance -= int256(penalty);
        if (balance <= 0) revert IClearinghouse.InsufficientMargin(balance);
        vs.crossBalance[account] = balance;
        vs.lastPartialLiquidation[account][market] = block.timestamp;
        Buckets.payPool(vs, st, 0);
        Buckets.payPenalty(vs, penalty, reward);
        emit IClearinghouse.PositionLiquidated(account, market, msg.sender, sizeDelta, fill, st.pnl, penalty, reward, 0);
        return SLICED;
    }

    function _lowest(uint256 mask) private pure returns (uint256 market) {
        while (mask & 1 == 0) {
            mask >>= 1;
            ++market;
        }
    }

    function _account(VenueState storage vs, Env memory env, address account, bool skip) private returns (bool) {
        uint256 mask = vs.crossMarkets[account];
        if (mask == 0) {
            if (skip) return false;
            revert IClearinghouse.NoPosition(account, CROSS_ACCOUNT);
        }
        (int256 equity, uint256 mm, uint256 positions, uint256 largest, uint256 notional) =
            Health.crossForLiquidation(vs, env, account);
        if (equity >= mm.toInt256()) {
            if (skip) return false;
            revert IClearinghouse.AccountHealthy(account);
        }
        // Nothing can be closed while every market is stale: the oracle says why.
        if (positions == 0) env.oracle.freshPrice(_lowest(mask));
        uint256 outcome = _crossSlice(vs, env, account, largest, notional, equity, mm);
        if (outcome == COOLING_DOWN) {
            if (skip) return false;
            revert IClearinghouse.LiquidationCooldown(largest, vs.lastPartialLiquidation[account][largest] + vs.configs[largest].liquidationCooldown);
        }
        if (outcome == SLICED) return true;

        int256 balance = vs.crossBalance[account];
        vs.crossMarkets[account] = mask & ~positions; // stale markets' positions stay open
        mask = positions;
        uint256[64] memory fees; // each market's liquidation fee on its closed notional, tokens
        uint256 maxPenalty;
        uint256 count;
        for (uint256 market; mask != 0; ++market) {
            if (mask & 1 != 0) {
                uint256 price = env.oracle.freshPrice(market);
                IClearinghouse.MarketState storage s = Markets.accrue(vs, market, price, env.scale);
                IClearinghouse.Position storage p = vs.positions[account][market];
                int256 size = p.size;
                Settlement memory st = Markets.settleIndices(s, p, size > 0, env.scale);
                (uint256 fill, int256 realized) =
                    Rules.decreaseImpact(vs, account, market, vs.configs[market], -size, price, env.scale, true, st);
                st.pnl = Solvency.credit(
                    vs, env, account, market, p, Markets.abs(size), price,
                    st.borrowing + Buckets.impactInflow(realized, st)
                ) + realized;
                int256 sizeDelta = Markets.reduce(vs, s, p, size, Markets.abs(size));
                balance += st.pnl - st.funding - st.borrowing;
                fees[market] = Buckets.feeTokens(
                    MarginMath.notionalUp(Markets.abs(size), price), vs.configs[market].liquidationFeeBps, env.scale
                );
                maxPenalty += fees[market];
                Buckets.payPool(vs, st, 0);
                Markets.clear(p);
                ++count;
                emit IClearinghouse.PositionLiquidated(account, market, msg.sender, sizeDelta, fill, st.pnl, 0, 0, 0);
            }
            mask >>= 1;
        }
        (uint256 penalty, uint256 reward) = _crossPenalty(vs, positions, fees, maxPenalty, balance);
        balance -= int256(penalty);
        uint256 badDebt;
        // A debt stays on the account while it holds cross positions (in stale markets): what
        // they realise pays it first; it is written off when the last one closes (SPEC §6).
        if (balance < 0 && vs.crossMarkets[account] == 0) {
            badDebt = uint256(-balance);
            balance = 0;
        }
        vs.crossBalance[account] = balance;
        Buckets.payPenalty(vs, penalty, reward);
        if (badDebt != 0) badDebt = Buckets.coverBadDebt(vs, account, badDebt);
        emit IClearinghouse.AccountLiquidated(account, msg.sender, count, penalty, reward, badDebt);
        return true;
    }
}
