// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {AdlInput, AdlRoundInput, IAdlModule} from "../interfaces/IAdlModule.sol";

/// @title GmxAdl
/// @notice GMX v2's rule: the ADL keeper chooses the position and the size. gmx-synthetics'
/// `AdlHandler.executeAdl` checks only the keeper role, that ADL is enabled and required (the
/// pnl factor above MAX_PNL_FACTOR_FOR_ADL), a size within the position
/// (`AdlUtils.createAdlOrder`), and after the decrease that the factor fell (`InvalidAdl`) and
/// stays at or above MIN_PNL_FACTOR_AFTER_ADL (`PnlOvercorrected`): no rank. The venue's core
/// keeps the same checks. Which position to take is the keeper's: perpsim's takes the largest
/// pnl-to-size factor first (`protocol.keepers.AdlKeeper`).
contract GmxAdl is IAdlModule, ERC165 {
    function rule(uint256) public view virtual returns (uint256) {
        return 0;
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
