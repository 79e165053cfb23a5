// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @notice What a rates rule sees of a market when its indices accrue.
struct RatesInput {
    uint256 market;
    uint256 longSize; // base units, WAD
    uint256 shortSize;
    uint256 longOpenInterest; // entry notional, WAD USD
    uint256 shortOpenInterest;
    uint256 price; // oracle price, WAD
    int256 poolAssets; // the pool's tokens, WAD USD: utilisation = open interest / this
    uint256 fundingFactor; // the market's configured parameters, for rules that want them
    uint256 maxFundingRate;
    uint256 borrowRate;
}

/// @title IRatesModule
/// @notice Funding and borrowing rates of a market. The venue accrues them between two updates
/// of the market, so a rate may depend only on what stays constant in between: sizes, open
/// interest, configuration. Called with STATICCALL.
interface IRatesModule is IERC165 {
    /// @return fundingRate WAD per second of notional; positive: longs pay shorts
    /// @return borrowRate WAD per second of entry notional, paid to the pool by both sides
    function rates(RatesInput calldata m) external view returns (int256 fundingRate, uint256 borrowRate);
}
