// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MockUSDC} from "contracts/tokens/MockUSDC.sol";

/// @notice MockUSDC with 18 decimals, for tests that the venue reads decimals from its token.
contract MockDAI is MockUSDC {
    function decimals() public pure override returns (uint8) {
        return 18;
    }
}
