// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice Sample contract for the backend parity test: events, custom errors, time-dependent
/// logic and a revert inside a nested call. It is not part of the venue.
contract ParityProbe {
    error TooEarly(uint256 nowTs, uint256 readyAt);
    error NotPositive(int256 value);

    event Stored(address indexed who, uint256 value, uint256 at);
    event Nested(bool ok, bytes data);

    uint256 public value;
    uint256 public readyAt;
    ParityProbe public child;

    constructor(uint256 delay) {
        readyAt = block.timestamp + delay;
    }

    function setChild(ParityProbe c) external {
        child = c;
    }

    function store(uint256 v) external {
        value = v;
        emit Stored(msg.sender, v, block.timestamp);
    }

    function storeWhenReady(uint256 v) external {
        if (block.timestamp < readyAt) revert TooEarly(block.timestamp, readyAt);
        value = v;
        emit Stored(msg.sender, v, block.timestamp);
    }

    function check(int256 v) public pure returns (int256) {
        if (v <= 0) revert NotPositive(v);
        return v;
    }

    /// Calls the child; its custom error bubbles up unchanged.
    function nestedCheck(int256 v) external returns (int256) {
        int256 r = child.check(v);
        value = uint256(r);
        return r;
    }

    /// Calls the child and swallows its revert, emitting what came back.
    function tryNested(int256 v) external {
        try child.check(v) returns (int256 r) {
            emit Nested(true, abi.encode(r));
        } catch (bytes memory reason) {
            emit Nested(false, reason);
        }
    }

    function requireMessage(bool ok) external pure {
        require(ok, "probe: not ok");
    }

    function divide(uint256 a, uint256 b) external pure returns (uint256) {
        return a / b;
    }

    function now_() external view returns (uint256) {
        return block.timestamp;
    }
}
