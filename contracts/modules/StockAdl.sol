// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {ADL_RANKED, AdlInput, AdlRoundInput, IAdlModule} from "../interfaces/IAdlModule.sol";

/// @title StockAdl
/// @notice The stock auto-deleveraging rule as a module: the queue by Hyperliquid score. The
/// highest-ranked position first (the core checks the rank), any size up to the position.
contract StockAdl is IAdlModule, ERC165 {
    function rule(uint256) public view virtual returns (uint256) {
        return ADL_RANKED;
    }

    function roundFraction(AdlRoundInput calldata) public view virtual returns (uint256) {
        return 0;
    }

    function closeLimit(AdlInput calldata p) public view virtual returns (uint256, bool) {
        return (p.sizeAbs, false);
    }

    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC165, IERC165) returns (bool) {
        return interfaceId == type(IAdlModule).interfaceId || super.supportsInterface(interfaceId);
    }
}
