// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice Sample for the coverage tests (tests/testing/test_coverage.py): the lines and branches a
/// known sequence of transactions reaches are known one by one, in a contract and in the
/// external library it calls by DELEGATECALL. It is not part of the venue.
library CoverageProbeMath {
    function half(uint256 x) external pure returns (uint256) {
        if (x % 2 == 1) {
            return (x - 1) / 2;
        }
        return x / 2;
    }
}

contract CoverageProbe {
    uint256 public total;
    uint256 public misses;

    function add(uint256 amount) external {
        if (amount > 10) {
            total += CoverageProbeMath.half(amount);
        } else {
            misses += 1;
        }
    }

    function reset() external {
        total = 0;
    }
}
