// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title MarginMath
/// @notice Pure valuation math of the venue, mirrored line for line by `protocol/margin/math.py`.
/// @dev Every amount is a WAD (1e18) of USD unless it says "tokens". Each function rounds against
/// the trader (requirements and charges up, credits down), so no rounding can create collateral.
library MarginMath {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;
    /// @notice The borrow index counts borrowing per unit of entry notional in steps of 1e-15
    /// (1e3 WAD-wei), so its uint64 lasts 5,800 years at the highest allowed rate (1e11 WAD per
    /// second), where WAD steps overflowed in under six. Accrual rounds the step up: at most
    /// 1e-15 of entry notional per accrual, against the trader.
    uint256 internal constant BORROW_INDEX_UNIT = 1e3;

    /// @notice |size| x price, rounded down (value a trader is credited with).
    function notionalDown(uint256 sizeAbs, uint256 price) internal pure returns (uint256) {
        return Math.mulDiv(sizeAbs, price, WAD);
    }

    /// @notice |size| x price, rounded up (value a trader is charged or required to back).
    function notionalUp(uint256 sizeAbs, uint256 price) internal pure returns (uint256) {
        return Math.mulDiv(sizeAbs, price, WAD, Math.Rounding.Ceil);
    }

    /// @notice Entry notional added by a fill: longs round up, shorts down (both worse entries).
    function entryNotional(bool isLong, uint256 sizeAbs, uint256 price) internal pure returns (uint256) {
        return isLong ? notionalUp(sizeAbs, price) : notionalDown(sizeAbs, price);
    }

    /// @notice The share of a position's entry notional that closing `closeAbs` of `sizeAbs`
    /// releases; rounded so the closed part's PnL is never in the trader's favour.
    function closedEntry(uint256 entry, uint256 closeAbs, uint256 sizeAbs, bool isLong) internal pure returns (uint256) {
        if (closeAbs == sizeAbs) return entry;
        return Math.mulDiv(entry, closeAbs, sizeAbs, isLong ? Math.Rounding.Ceil : Math.Rounding.Floor);
    }

    /// @notice Unrealised PnL of a position at `price`, rounded against the trader.
    function pnl(int256 size, uint256 entry, uint256 price) internal pure returns (int256) {
        if (size >= 0) return int256(notionalDown(uint256(size), price)) - int256(entry);
        return int256(entry) - int256(notionalUp(uint256(-size), price));
    }

    /// @notice Funding owed since the position's snapshot (+ owed by the trader, - received).
    function funding(uint256 sizeAbs, int256 indexNow, int256 indexAtEntry) internal pure returns (int256) {
        int256 delta = indexNow - indexAtEntry;
        if (delta >= 0) return int256(Math.mulDiv(sizeAbs, uint256(delta), WAD, Math.Rounding.Ceil));
        return -int256(Math.mulDiv(sizeAbs, uint256(-delta), WAD));
    }

    /// @notice Borrowing fee owed: entry notional x growth of the borrow index, rounded up.
    function borrowing(uint256 entry, uint256 indexNow, uint256 indexAtEntry) internal pure returns (uint256) {
        return Math.mulDiv(entry, indexNow - indexAtEntry, WAD / BORROW_INDEX_UNIT, Math.Rounding.Ceil);
    }

    /// @notice Growth of the borrow index over `elapsed` seconds at `rate` (WAD per second),
    /// in index steps, rounded up.
    function borrowIndexGrowth(uint256 rate, uint256 elapsed) internal pure returns (uint256) {
        return Math.ceilDiv(rate * elapsed, BORROW_INDEX_UNIT);
    }

    /// @notice Borrowing owed by a market's open positions, WAD, from its totals: entry notional
    /// x index - the weight of each position's snapshot, rounded down (what the pool counts).
    function pendingBorrowing(uint256 entries, uint256 index, uint256 weight) internal pure returns (uint256) {
        return (entries * index - weight) / (WAD / BORROW_INDEX_UNIT);
    }

    /// @notice Maintenance margin = notional x mmf, rounded up.
    function maintenance(uint256 notional, uint256 mmf) internal pure returns (uint256) {
        return Math.mulDiv(notional, mmf, WAD, Math.Rounding.Ceil);
    }

    /// @notice Initial margin at leverage L = notional / L, rounded up.
    function initial(uint256 notional, uint256 leverage) internal pure returns (uint256) {
        return Math.ceilDiv(notional, leverage);
    }

    /// @notice What a transfer out of a position must leave: max(IM, 10% of notional).
    function transferRequirement(uint256 notional, uint256 leverage) internal pure returns (uint256) {
        return Math.max(initial(notional, leverage), Math.ceilDiv(notional, 10));
    }

    /// @notice A fee in WAD from notional and basis points, rounded up.
    function feeWad(uint256 notional, uint256 bps) internal pure returns (uint256) {
        return Math.mulDiv(notional, bps, BPS, Math.Rounding.Ceil);
    }

    /// @notice WAD to tokens, rounded towards minus infinity (what a trader is credited).
    function creditTokens(int256 wad, uint256 scale) internal pure returns (int256) {
        if (wad >= 0) return int256(uint256(wad) / scale);
        return -int256(Math.ceilDiv(uint256(-wad), scale));
    }

    /// @notice WAD to tokens, rounded towards plus infinity (what a trader is charged).
    function chargeTokens(int256 wad, uint256 scale) internal pure returns (int256) {
        if (wad >= 0) return int256(Math.ceilDiv(uint256(wad), scale));
        return -int256(uint256(-wad) / scale);
    }

    /// @notice Funding rate per second from the skew, capped: factor x (L - S) / (L + S).
    /// @dev Zero when either side is empty: there is nobody to pay or to be paid.
    function fundingRate(uint256 longSize, uint256 shortSize, uint256 factor, uint256 maxRate)
        internal
        pure
        returns (int256)
    {
        if (longSize == 0 || shortSize == 0) return 0;
        uint256 total = longSize + shortSize;
        uint256 skew = longSize > shortSize ? longSize - shortSize : shortSize - longSize;
        uint256 rate = Math.min(Math.mulDiv(factor, skew, total), maxRate);
        return longSize >= shortSize ? int256(rate) : -int256(rate);
    }
}
