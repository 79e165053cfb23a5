// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {IPricingModule} from "../interfaces/IPricingModule.sol";

/// @title OraclePricing
/// @notice The stock pricing rule as a module: every trade and liquidation fills at the oracle
/// price.
contract OraclePricing is IPricingModule, ERC165 {
    function fillPrice(uint256, int256, uint256 oraclePrice) public view virtual returns (uint256) {
        return oraclePrice;
    }

    function liquidationFillPrice(uint256, int256, uint256 oraclePrice) public view virtual returns (uint256) {
        return oraclePrice;
    }

    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC165, IERC165) returns (bool) {
        return interfaceId == type(IPricingModule).interfaceId || super.supportsInterface(interfaceId);
    }
}
