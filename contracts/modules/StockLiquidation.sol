// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {ILiquidationModule, SliceInput} from "../interfaces/ILiquidationModule.sol";
import {StockRules} from "../libraries/StockRules.sol";

/// @title StockLiquidation
/// @notice The stock liquidation rule as a module: partial slices of large positions, a penalty
/// of the liquidation fee capped by what is left, the keeper's share from the configuration.
contract StockLiquidation is ILiquidationModule, ERC165 {
    function slice(SliceInput calldata p) public view virtual returns (uint256 closeAbs) {
        return StockRules.slice(p.sizeAbs, p.notional, p.equity, p.maintenance, p.partialThreshold, p.partialLiquidationBps);
    }

    function penalty(uint256, int256 equityLeft, uint256 maxPenalty, uint256 keeperShareBps)
        public
        view
        virtual
        returns (uint256, uint256)
    {
        return StockRules.penalty(equityLeft, maxPenalty, keeperShareBps);
    }

    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC165, IERC165) returns (bool) {
        return interfaceId == type(ILiquidationModule).interfaceId || super.supportsInterface(interfaceId);
    }
}
