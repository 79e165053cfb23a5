// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {MarginMath} from "./MarginMath.sol";

/// @title StockRules
/// @notice The venue's stock rules, written once: the core applies them inline to a market that
/// names no module (so they cost no call), and the stock module contracts in `modules/` wrap
/// them for anyone who deploys or extends a module.
library StockRules {
    /// @notice Skew funding (factor x skew / open interest, capped) and a flat borrow rate.
    function rates(uint256 longSize, uint256 shortSize, uint256 fundingFactor, uint256 maxFundingRate, uint256 borrowRate)
        internal
        pure
        returns (int256 fundingRate, uint256 borrow)
    {
        return (MarginMath.fundingRate(longSize, shortSize, fundingFactor, maxFundingRate), borrowRate);
    }

    /// @notice Initial margin = notional / leverage; maintenance = notional x mmf (both up).
    function requirements(uint256 notional, uint256 leverage, uint256 mmf)
        internal
        pure
        returns (uint256 initialMargin, uint256 maintenanceMargin)
    {
        return (MarginMath.initial(notional, leverage), MarginMath.maintenance(notional, mmf));
    }

    /// @notice A tier's maintenance fraction: 1 / (2 x its max leverage), WAD, rounded up.
    function tierFraction(uint256 maxLeverage) internal pure returns (uint256) {
        return Math.ceilDiv(MarginMath.WAD, 2 * maxLeverage);
    }

    /// @notice Maintenance in a tier: notional x the tier's fraction (up) - its deduction.
    function tieredMaintenance(uint256 notional, uint256 maxLeverage, uint256 deduction) internal pure returns (uint256) {
        return MarginMath.maintenance(notional, tierFraction(maxLeverage)) - deduction;
    }

    /// @notice Large positions (notional above the threshold) still at 2/3 of maintenance or
    /// more lose a `partialLiquidationBps` slice; everything else closes whole.
    function slice(
        uint256 sizeAbs,
        uint256 notional,
        int256 equity,
        uint256 maintenance,
        uint256 partialThreshold,
        uint256 partialLiquidationBps
    ) internal pure returns (uint256) {
        if (partialThreshold != 0 && notional > partialThreshold && equity * 3 >= int256(maintenance) * 2) {
            return sizeAbs * partialLiquidationBps / MarginMath.BPS;
        }
        return sizeAbs;
    }

    /// @notice The penalty is the fee, capped by the equity left; the keeper gets its share.
    function penalty(int256 equityLeft, uint256 maxPenalty, uint256 keeperShareBps)
        internal
        pure
        returns (uint256 taken, uint256 keeperReward)
    {
        taken = equityLeft > 0 ? Math.min(uint256(equityLeft), maxPenalty) : 0;
        keeperReward = taken * keeperShareBps / MarginMath.BPS;
    }
}
