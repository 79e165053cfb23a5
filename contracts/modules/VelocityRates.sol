// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {RatesInput} from "../interfaces/IRatesModule.sol";
import {StatefulRates} from "./StatefulRates.sol";

/// @title VelocityRates
/// @notice Synthetix v3's funding velocity (perps-market, `storage/PerpsMarket.sol`:
/// `currentFundingRate`, `currentFundingVelocity`, `unrecordedFunding`) as a stateful rates
/// module: the funding rate drifts with the skew instead of following it.
///
///     velocity           = clamp(skew / skewScale, -1, 1) x maxFundingVelocity
///     currentFundingRate = lastFundingRate + velocity x elapsed / 1 day
///     funding over the interval at (lastFundingRate + currentFundingRate) / 2
///
/// in Synthetix's integer steps (WAD; `/` truncates toward zero): proportionalSkew =
/// skew x 1e18 / skewScale, clamped to +-1e18 (0 when skewScale is 0); velocity =
/// proportionalSkew x maxFundingVelocity / 1e18; proportionalElapsed = elapsed x 1e18 / 86400;
/// current = last + velocity x proportionalElapsed / 1e18; average = (last + current) / 2.
/// Units: Synthetix's rates are per day, so the word the core keeps for this module
/// (`RatesMemory.state`) is the last funding rate in WAD per day, and the rate the module
/// answers for the interval is the average per day / 86400 (truncated toward zero): WAD per
/// second of notional, positive: longs pay shorts (Synthetix: funding flows against the skew,
/// skew = long size - short size, base units). Ours, not Synthetix's: the current rate is
/// clamped to the market's configured `maxFundingRate` (x 86400), within the core's
/// MAX_FUNDING_RATE; in an interval in which it reaches the clamp the average of the two ends
/// applies. Borrowing: the market's configured flat rate, as the stock rule.
/// @dev Parameters are immutable (constructor): one deployment per (skewScale,
/// maxFundingVelocity); markets that share them may share the module.
contract VelocityRates is StatefulRates {
    using SafeCast for uint256;

    int256 internal constant UNIT = 1e18;

    /// @notice The skew (base units, WAD) at which the velocity reaches its maximum.
    int256 public immutable skewScale;
    /// @notice The largest velocity, WAD per day per day (Synthetix's `maxFundingVelocity`).
    int256 public immutable maxFundingVelocity;

    constructor(uint256 skewScale_, uint256 maxFundingVelocity_) {
        skewScale = skewScale_.toInt256();
        maxFundingVelocity = maxFundingVelocity_.toInt256();
    }

    /// @notice Synthetix's `currentFundingVelocity`, WAD per day per day.
    function velocity(uint256 longSize, uint256 shortSize) public view returns (int256) {
        int256 scale = skewScale;
        if (scale == 0) return 0;
        int256 proportional = (longSize.toInt256() - shortSize.toInt256()) * UNIT / scale;
        if (proportional > UNIT) proportional = UNIT;
        else if (proportional < -UNIT) proportional = -UNIT;
        return proportional * maxFundingVelocity / UNIT;
    }

    /// @notice Synthetix's `currentFundingRate` after `elapsed` seconds from `lastRate` (WAD per
    /// day), clamped to +-`maxFundingRate` (WAD per second) x 86400.
    function currentFundingRate(int256 lastRate, uint256 longSize, uint256 shortSize, uint256 elapsed, uint256 maxFundingRate)
        public
        view
        returns (int256 rate)
    {
        int256 proportionalElapsed = elapsed.toInt256() * UNIT / 1 days;
        rate = lastRate + velocity(longSize, shortSize) * proportionalElapsed / UNIT;
        int256 cap = maxFundingRate.toInt256() * 1 days;
        if (rate > cap) rate = cap;
        else if (rate < -cap) rate = -cap;
    }

    /// @dev The word is the last rate per day; a fresh state (rates) answers no funding yet.
    function _rates(RatesInput calldata m, int256 lastRate, uint256 elapsed, uint256)
        internal
        view
        override
        returns (int256 fundingRate, uint256 borrowRate, int256 state)
    {
        state = currentFundingRate(lastRate, m.longSize, m.shortSize, elapsed, m.maxFundingRate);
        fundingRate = (lastRate + state) / 2 / 1 days;
        borrowRate = m.borrowRate;
    }
}
