// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {RatesInput} from "../interfaces/IRatesModule.sol";
import {StatefulRates} from "./StatefulRates.sol";

/// @title HyperliquidPremiumRates
/// @notice Hyperliquid's funding (docs, "Trading > Funding") as a stateful rates module:
///
///     F (per 8 hours) = P + clamp(interest - P, -0.05%, +0.05%), interest 0.01% per 8 hours
///     paid hourly at F / 8, capped at 4% per hour
///
/// where P is the premium index, the premium averaged over the hour. The venue has no order
/// book, so the premium is the mark's: premium = (mark - oracle) x 1e18 / oracle, with the
/// market's mark price (`RatesMemory.markPrice`, the EMA of the oracle price) in place of
/// Hyperliquid's impact prices; the average is an EMA kept in the word the core stores, over
/// `premiumWindow` seconds (Hyperliquid: an hour of 5-second samples):
///
///     P' = (P x window + premium x elapsed) / (window + elapsed)     (P' = P when elapsed is 0)
///
/// The rate applied over the interval is the one of P' (the index at the accrual's end): F / 8
/// per hour, clamped to +-maxHourlyRate, / 3600 per second, then clamped to the market's
/// configured maxFundingRate (ours: within the core's bound of 1e13 WAD per second, 3.6% per
/// hour, below Hyperliquid's 4%). All WAD, signed `/` truncating toward zero; positive: longs
/// pay shorts. A mark that lags a rising oracle gives a negative premium (shorts pay), unlike an
/// order book's premium. Borrowing: the market's configured flat rate.
/// @dev Parameters are immutable (constructor): interestRate and premiumClamp per 8 hours,
/// maxHourlyRate per hour (WAD; Hyperliquid: 1e14, 5e14, 4e16), premiumWindow in seconds.
contract HyperliquidPremiumRates is StatefulRates {
    using SafeCast for uint256;

    int256 internal constant UNIT = 1e18;

    error PremiumWindowZero();

    int256 public immutable interestRate;
    int256 public immutable premiumClamp;
    int256 public immutable maxHourlyRate;
    uint256 public immutable premiumWindow;

    constructor(uint256 interestRate_, uint256 premiumClamp_, uint256 maxHourlyRate_, uint256 premiumWindow_) {
        if (premiumWindow_ == 0) revert PremiumWindowZero();
        interestRate = interestRate_.toInt256();
        premiumClamp = premiumClamp_.toInt256();
        maxHourlyRate = maxHourlyRate_.toInt256();
        premiumWindow = premiumWindow_;
    }

    /// @notice (mark - oracle) / oracle, WAD; 0 without a price.
    function premium(uint256 mark, uint256 price) public pure returns (int256) {
        if (price == 0 || mark == 0) return 0;
        return (mark.toInt256() - price.toInt256()) * UNIT / price.toInt256();
    }

    /// @notice The premium index after `elapsed` seconds at `premium_` from `last`.
    function premiumIndex(int256 last, int256 premium_, uint256 elapsed) public view returns (int256) {
        int256 w = premiumWindow.toInt256();
        int256 e = elapsed.toInt256();
        return (last * w + premium_ * e) / (w + e);
    }

    /// @notice Hyperliquid's 8-hour funding rate of premium index `p`, WAD.
    function fundingRate8h(int256 p) public view returns (int256) {
        int256 adjustment = interestRate - p;
        if (adjustment > premiumClamp) adjustment = premiumClamp;
        else if (adjustment < -premiumClamp) adjustment = -premiumClamp;
        return p + adjustment;
    }

    /// @notice The rate per second of premium index `p`: F / 8 per hour capped, / 3600, capped.
    function fundingRatePerSecond(int256 p, uint256 maxFundingRate) public view returns (int256 rate) {
        int256 hourly = fundingRate8h(p) / 8;
        if (hourly > maxHourlyRate) hourly = maxHourlyRate;
        else if (hourly < -maxHourlyRate) hourly = -maxHourlyRate;
        rate = hourly / 1 hours;
        int256 cap = maxFundingRate.toInt256();
        if (rate > cap) rate = cap;
        else if (rate < -cap) rate = -cap;
    }

    /// @dev The word is the premium index; a fresh state (rates, the mark at the oracle) answers
    /// the interest leg alone.
    function _rates(RatesInput calldata m, int256 index, uint256 elapsed, uint256 markPrice)
        internal
        view
        override
        returns (int256 fundingRate, uint256 borrowRate, int256 state)
    {
        state = premiumIndex(index, premium(markPrice, m.price), elapsed);
        fundingRate = fundingRatePerSecond(state, m.maxFundingRate);
        borrowRate = m.borrowRate;
    }
}
