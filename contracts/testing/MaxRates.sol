// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {StockRates} from "../modules/StockRates.sol";
import {RatesInput} from "../interfaces/IRatesModule.sol";

/// @notice Audit module (an adversarial rates module the fuzzer installs): the market's caps whatever the skew, longs paying funding at
/// `maxFundingRate` and everyone borrowing at `borrowRate` (the highest rates a market may be
/// configured with are the highest a position can be charged: SPEC §5's open buffer). No
/// funding while a side is empty: nobody would receive it.
contract MaxRates is StockRates {
    function rates(RatesInput calldata m) public pure override returns (int256 fundingRate, uint256 borrowRate) {
        if (m.longSize == 0 || m.shortSize == 0) return (0, m.borrowRate);
        return (int256(m.maxFundingRate), m.borrowRate);
    }
}
