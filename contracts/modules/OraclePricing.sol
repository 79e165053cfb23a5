// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {IPricingModule, ImpactInput, ImpactResult} from "../interfaces/IPricingModule.sol";

/// @title OraclePricing
/// @notice The stock pricing rule as a module: every trade and liquidation executes at the
/// oracle price; no impact is held, realised or counted.
contract OraclePricing is IPricingModule, ERC165 {
    function increaseImpact(ImpactInput calldata t) public view virtual returns (ImpactResult memory r) {
        r.executionPrice = t.price;
    }

    function decreaseImpact(ImpactInput calldata t, bool) public view virtual returns (ImpactResult memory r) {
        r.executionPrice = t.price;
    }

    function healthImpact(ImpactInput calldata) public view virtual returns (int256) {
        return 0;
    }

    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC165, IERC165) returns (bool) {
        return interfaceId == type(IPricingModule).interfaceId || super.supportsInterface(interfaceId);
    }
}
