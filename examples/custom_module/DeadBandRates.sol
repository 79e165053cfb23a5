// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {RatesInput} from "contracts/interfaces/IRatesModule.sol";
import {StockRates} from "contracts/modules/StockRates.sol";

/// @title DeadBandRates
/// @notice Skew funding with a dead band: while the skew is under 20% of the open interest
/// nobody pays funding (a market that is nearly balanced is left alone); above it, the stock
/// rule applies. Borrowing is the stock flat rate.
contract DeadBandRates is StockRates {
    uint256 public constant DEAD_BAND_BPS = 2_000;

    function rates(RatesInput calldata m) public view override returns (int256 fundingRate, uint256 borrowRate) {
        (fundingRate, borrowRate) = super.rates(m);
        uint256 total = m.longSize + m.shortSize;
        uint256 skew = m.longSize > m.shortSize ? m.longSize - m.shortSize : m.shortSize - m.longSize;
        if (skew * 10_000 < total * DEAD_BAND_BPS) fundingRate = 0;
    }
}
