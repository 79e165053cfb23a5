// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {StockLiquidation} from "../modules/StockLiquidation.sol";
import {OraclePricing} from "../modules/OraclePricing.sol";
import {ImpactInput, ImpactResult} from "../interfaces/IPricingModule.sol";

/// @notice Test modules that answer what the venue must refuse (ModuleResultOutOfBounds).
contract GreedyLiquidation is StockLiquidation {
    function penalty(uint256, int256 equityLeft, uint256 maxPenalty, uint256)
        public
        pure
        override
        returns (uint256, uint256)
    {
        uint256 left = equityLeft > 0 ? uint256(equityLeft) : 0;
        return (left + maxPenalty + 1, 0); // more than is left
    }
}

contract ZeroPricing is OraclePricing {
    function increaseImpact(ImpactInput calldata) public pure override returns (ImpactResult memory r) {
        return r; // an execution price of 0
    }
}

/// @notice A keeper share of 90% instead of the configured one: a module's effect, in tests.
contract GenerousLiquidation is StockLiquidation {
    function penalty(uint256 market, int256 equityLeft, uint256 maxPenalty, uint256)
        public
        view
        override
        returns (uint256, uint256)
    {
        return super.penalty(market, equityLeft, maxPenalty, 9_000);
    }
}
