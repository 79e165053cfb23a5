// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice Audit tooling, not part of the venue: many view calls in one message call, so that
/// perpsim's invariant checks (protocol/testing/batch.py) read a whole venue without paying a
/// top-level call per view. It holds no state and is never deployed by a transaction: the
/// fuzzer installs its code at a fixed address of its in-process chain.
/// Calldata: packed entries [20-byte target][4-byte length][calldata]. Each entry is a
/// STATICCALL with all the gas left; the answer packs [1-byte success][4-byte length][returndata]
/// per entry, in order.
contract ViewBatch {
    fallback() external {
        assembly {
            let out := mload(0x40)
            let w := out
            let i := 0
            let end := calldatasize()
            for {} lt(i, end) {} {
                let target := shr(96, calldataload(i))
                let len := shr(224, calldataload(add(i, 20)))
                calldatacopy(w, add(i, 24), len)
                let ok := staticcall(gas(), target, w, len, 0, 0)
                let size := returndatasize()
                mstore8(w, ok)
                mstore(add(w, 1), shl(224, size))
                returndatacopy(add(w, 5), 0, size)
                w := add(w, add(5, size))
                i := add(i, add(24, len))
            }
            return(out, sub(w, out))
        }
    }
}
