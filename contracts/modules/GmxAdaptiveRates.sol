// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {PRBMathUD60x18} from "prb-math/contracts/PRBMathUD60x18.sol";

import {RatesInput} from "../interfaces/IRatesModule.sol";
import {StatefulRates} from "./StatefulRates.sol";

/// @title GmxAdaptiveRates
/// @notice GMX v2's adaptive funding (gmx-synthetics `market/MarketUtils.sol`:
/// `getNextFundingFactorPerSecond`, `getNextFundingAmountPerSize`) as a stateful rates module.
/// The word the core keeps is GMX's `savedFundingFactorPerSecond` (signed, 30 decimals as GMX:
/// positive, longs pay). At each accrual, in GMX's integer steps (30-decimal factors, `Math.mulDiv`
/// rounding down, signed `/` truncating toward zero):
///
///     diffUsd = |longOI - shortOI|, total = longOI + shortOI   (entry notional, to 30 decimals)
///     f = toFactor(applyExponentFactor(diffUsd, fundingExponentFactor), total)
///     Increase when the skew is against the saved factor's sign (or it is 0), or with it and
///       f > thresholdForStableFunding: saved += applyFactor(f, fundingIncreaseFactorPerSecond)
///       x elapsed, toward the heavier side
///     Decrease when with it and f < thresholdForDecreaseFunding: |saved| -= fundingDecrease
///       FactorPerSecond x elapsed, kept at 1 unit of its sign when that would reach 0
///     next  = boundMagnitude(saved', 0, maxFundingFactorPerSecond)       (the word kept)
///     applied = boundMagnitude(next, minFundingFactorPerSecond, max)     (0 counts as +)
///
/// GMX pays the whole elapsed interval at the next factor `applied` (`getNextFundingAmountPerSize`
/// passes `durationInSeconds` to `getNextFundingFactorPerSecond` and charges
/// `sizeOfPayingSide x duration x fundingFactorPerSecond`), and so does this module: the rate
/// answered is `applied` / 1e12 (30 decimals to WAD, truncated toward zero), WAD per second of
/// notional, positive: longs pay. With either side's open interest 0, GMX returns before asking
/// the factor and saves 0: so does this module (rate 0, word 0). Ours, not GMX's: the exponent
/// is in WAD (GMX's 30-decimal value / 1e12); the adaptive branch only (fundingIncrease
/// FactorPerSecond > 0: GMX's static branch is the stock rule's skew funding); open interest is
/// entry notional (GMX's USD open interest; `useOpenInterestInTokens` not modelled); the
/// constructor keeps maxFundingFactorPerSecond within the core's bound (1e13 WAD per second),
/// so the answer and the word stay in bounds. Borrowing: the market's configured flat rate.
/// @dev Parameters are immutable (constructor), GMX's datastore values for the market.
contract GmxAdaptiveRates is StatefulRates {
    using SafeCast for uint256;

    uint256 internal constant FLOAT = 1e30; // GMX's Precision.FLOAT_PRECISION
    uint256 internal constant FLOAT_TO_WEI = 1e12; // GMX's FLOAT_TO_WEI_DIVISOR; WAD -> 30 decimals
    uint256 internal constant WAD = 1e18;
    /// @notice The largest maxFundingFactorPerSecond: the core's MAX_FUNDING_RATE x 1e12.
    uint256 public constant MAX_FACTOR = 1e25;

    error GmxFundingParameterOutOfBounds(uint256 fundingIncreaseFactorPerSecond, uint256 maxFundingFactorPerSecond);

    uint256 public immutable fundingIncreaseFactorPerSecond;
    uint256 public immutable fundingDecreaseFactorPerSecond;
    uint256 public immutable thresholdForStableFunding;
    uint256 public immutable thresholdForDecreaseFunding;
    uint256 public immutable minFundingFactorPerSecond;
    uint256 public immutable maxFundingFactorPerSecond;
    /// @notice WAD (GMX's fundingExponentFactor / 1e12): 1e18 is linear.
    uint256 public immutable fundingExponentFactor;

    constructor(
        uint256 increase,
        uint256 decrease,
        uint256 stableThreshold,
        uint256 decreaseThreshold,
        uint256 minFactor,
        uint256 maxFactor,
        uint256 exponent
    ) {
        if (increase == 0 || maxFactor > MAX_FACTOR) revert GmxFundingParameterOutOfBounds(increase, maxFactor);
        fundingIncreaseFactorPerSecond = increase;
        fundingDecreaseFactorPerSecond = decrease;
        thresholdForStableFunding = stableThreshold;
        thresholdForDecreaseFunding = decreaseThreshold;
        minFundingFactorPerSecond = minFactor;
        maxFundingFactorPerSecond = maxFactor;
        fundingExponentFactor = exponent;
    }

    /// @notice GMX's diffUsdToOpenInterestFactor (30 decimals) of open interest in WAD USD.
    function openInterestFactor(uint256 longOi, uint256 shortOi) public view returns (uint256) {
        uint256 diff = (longOi > shortOi ? longOi - shortOi : shortOi - longOi) * FLOAT_TO_WEI;
        // Precision.applyExponentFactor: 0 below $1, the value at exponent 1, else prb-math's pow.
        if (diff < FLOAT) return 0;
        if (fundingExponentFactor != WAD) {
            diff = PRBMathUD60x18.pow(diff / FLOAT_TO_WEI, fundingExponentFactor) * FLOAT_TO_WEI;
        }
        return Math.mulDiv(diff, FLOAT, (longOi + shortOi) * FLOAT_TO_WEI); // Precision.toFactor
    }

    /// @notice GMX's getNextFundingFactorPerSecond from `saved` after `elapsed` seconds.
    /// @return applied the factor charged over the interval (min-bounded), 30 decimals
    /// @return next the factor to save (nextSavedFundingFactorPerSecond)
    function nextFundingFactorPerSecond(int256 saved, uint256 longOi, uint256 shortOi, uint256 elapsed)
        public
        view
        returns (int256 applied, int256 next)
    {
        if (longOi == 0 || shortOi == 0) return (0, 0);
        uint256 f = openInterestFactor(longOi, shortOi);
        uint256 magnitude = saved < 0 ? uint256(-saved) : uint256(saved);
        next = saved;
        if ((saved > 0 && longOi > shortOi) || (saved < 0 && shortOi > longOi)) {
            if (f > thresholdForStableFunding) {
                next = saved + _increase(f, longOi, shortOi, elapsed);
            } else if (f < thresholdForDecreaseFunding && magnitude != 0) {
                uint256 decrease = fundingDecreaseFactorPerSecond * elapsed;
                int256 sign = saved / magnitude.toInt256();
                next = magnitude <= decrease ? sign : (magnitude - decrease).toInt256() * sign;
            }
        } else {
            next = saved + _increase(f, longOi, shortOi, elapsed);
        }
        next = _boundMagnitude(next, 0, maxFundingFactorPerSecond);
        applied = _boundMagnitude(next, minFundingFactorPerSecond, maxFundingFactorPerSecond);
    }

    /// @dev The word is GMX's saved factor; a fresh state (rates) answers the min factor.
    function _rates(RatesInput calldata m, int256 saved, uint256 elapsed, uint256)
        internal
        view
        override
        returns (int256 fundingRate, uint256 borrowRate, int256 state)
    {
        int256 applied;
        (applied, state) = nextFundingFactorPerSecond(saved, m.longOpenInterest, m.shortOpenInterest, elapsed);
        fundingRate = applied / int256(FLOAT_TO_WEI);
        borrowRate = m.borrowRate;
    }

    function _increase(uint256 f, uint256 longOi, uint256 shortOi, uint256 elapsed) private view returns (int256 value) {
        value = Math.mulDiv(f, fundingIncreaseFactorPerSecond, FLOAT).toInt256() * elapsed.toInt256();
        if (longOi < shortOi) value = -value;
    }

    /// @dev GMX's Calc.boundMagnitude: 0 takes the sign +.
    function _boundMagnitude(int256 value, uint256 min, uint256 max) private pure returns (int256) {
        uint256 magnitude = value < 0 ? uint256(-value) : uint256(value);
        if (magnitude < min) magnitude = min;
        if (magnitude > max) magnitude = max;
        return value < 0 ? -magnitude.toInt256() : magnitude.toInt256();
    }
}
