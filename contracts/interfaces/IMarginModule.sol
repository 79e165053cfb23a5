// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @title IMarginModule
/// @notice Initial and maintenance margin of one position. The venue derives every other
/// requirement from these two (the transfer rule keeps max(initial, 10% of notional)).
interface IMarginModule is IERC165 {
    /// @param notional the position's notional at the current price, WAD USD (rounded up)
    /// @param leverage the position's leverage
    /// @param mmf the market's configured maintenance fraction (WAD), for rules that want it
    /// @return initialMargin WAD USD
    /// @return maintenanceMargin WAD USD; a position below it can be liquidated
    function requirements(uint256 market, uint256 notional, uint256 leverage, uint256 mmf)
        external
        view
        returns (uint256 initialMargin, uint256 maintenanceMargin);
}
