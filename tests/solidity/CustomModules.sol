// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {StockMargin} from "contracts/modules/StockMargin.sol";

/// @notice A correct custom margin rule, in tests: the stock rule with 10% more maintenance (and
/// initial margin at least that), so a position between the stock maintenance and this one is
/// liquidatable here and would not be under the stock rule.
contract TenPercentMoreMargin is StockMargin {
    function requirements(uint256 market, uint256 notional, uint256 leverage, uint256 mmf)
        public
        view
        override
        returns (uint256 initialMargin, uint256 maintenanceMargin)
    {
        (initialMargin, maintenanceMargin) = super.requirements(market, notional, leverage, mmf);
        maintenanceMargin += maintenanceMargin / 10;
        if (initialMargin < maintenanceMargin) initialMargin = maintenanceMargin;
    }
}
