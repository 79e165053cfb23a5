// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @title IPricingModule
/// @notice The price a trade fills at, from the oracle price and the trade (price impact).
interface IPricingModule is IERC165 {
    /// @param sizeDelta the trade's signed size change (+ buys, - sells), WAD base units
    /// @param oraclePrice WAD USD per unit
    /// @return fillPrice WAD USD per unit
    function fillPrice(uint256 market, int256 sizeDelta, uint256 oraclePrice) external view returns (uint256 fillPrice);
}
