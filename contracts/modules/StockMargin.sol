// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {IMarginModule} from "../interfaces/IMarginModule.sol";
import {StockRules} from "../libraries/StockRules.sol";

/// @title StockMargin
/// @notice The stock margin rule as a module: initial margin = notional / leverage, maintenance
/// = notional x the market's mmf.
contract StockMargin is IMarginModule, ERC165 {
    function requirements(uint256, uint256 notional, uint256 leverage, uint256 mmf)
        public
        view
        virtual
        returns (uint256 initialMargin, uint256 maintenanceMargin)
    {
        return StockRules.requirements(notional, leverage, mmf);
    }

    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC165, IERC165) returns (bool) {
        return interfaceId == type(IMarginModule).interfaceId || super.supportsInterface(interfaceId);
    }
}
