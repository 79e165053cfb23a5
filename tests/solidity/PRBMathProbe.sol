// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PRBMathUD60x18} from "prb-math/contracts/PRBMathUD60x18.sol";

/// @notice prb-math 2.4.3's unsigned 60.18 functions that GMX's applyExponentFactor (and so
/// `ImpactPricing`) uses, exposed for the test that holds `protocol/margin/prbmath.py` to them.
contract PRBMathProbe {
    function pow(uint256 x, uint256 y) external pure returns (uint256) {
        return PRBMathUD60x18.pow(x, y);
    }

    function log2(uint256 x) external pure returns (uint256) {
        return PRBMathUD60x18.log2(x);
    }

    function exp2(uint256 x) external pure returns (uint256) {
        return PRBMathUD60x18.exp2(x);
    }

    function mul(uint256 x, uint256 y) external pure returns (uint256) {
        return PRBMathUD60x18.mul(x, y);
    }
}
