// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {StockAdl} from "./StockAdl.sol";

/// @title GmxAdl
/// @notice GMX v2's rule: the ADL keeper chooses the position and the size. gmx-synthetics'
/// `AdlHandler.executeAdl` checks only the keeper role, that ADL is enabled and required (the
/// pnl factor above MAX_PNL_FACTOR_FOR_ADL), a size within the position
/// (`AdlUtils.createAdlOrder`), and after the decrease that the factor fell (`InvalidAdl`) and
/// stays at or above MIN_PNL_FACTOR_AFTER_ADL (`PnlOvercorrected`): no rank. The venue's core
/// keeps the same checks. Which position to take is the keeper's: perpsim's takes the largest
/// pnl-to-size factor first (`protocol.keepers.AdlKeeper`). The stock rule (`StockAdl`: any
/// size up to the position, no round) without its rank.
contract GmxAdl is StockAdl {
    function rule(uint256) public view virtual override returns (uint256) {
        return 0;
    }
}
