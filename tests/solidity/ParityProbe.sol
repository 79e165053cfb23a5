// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice Sample contract for the backend parity test: events, custom errors, time-dependent
/// logic, a revert inside a nested call, and every storage and account-access pattern whose gas
/// depends on what a transaction touched before (EIP-2929 warm/cold, EIP-2200/3529 original
/// values and refunds) or on ether moving. It is not part of the venue.
contract ParityProbe {
    error TooEarly(uint256 nowTs, uint256 readyAt);
    error NotPositive(int256 value);

    event Stored(address indexed who, uint256 value, uint256 at);
    event Nested(bool ok, bytes data);

    uint256 public value;
    uint256 public readyAt;
    ParityProbe public child;
    mapping(uint256 => uint256) public cells;

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

    /// Writes a cell: a fresh slot the first time, a re-touched one later, a clearing (refund)
    /// when `v` is 0, a no-op SSTORE when `v` equals what is there.
    function setCell(uint256 k, uint256 v) external {
        cells[k] = v;
    }

    /// Writes a cell and restores it in the same transaction (EIP-2200's restore refund).
    function setAndRestore(uint256 k, uint256 v) external {
        uint256 before = cells[k];
        cells[k] = v;
        cells[k] = before;
    }

    /// Reads the same cells twice (cold, then warm) and reports their sum.
    function sumCells(uint256 a, uint256 b) external returns (uint256 s) {
        s = cells[a] + cells[b] + cells[a] + cells[b];
        emit Stored(msg.sender, s, block.timestamp);
    }

    /// Writes a cell here and in the child, then reverts inside the child only: the child's
    /// write is undone, its slot access stays paid for.
    function writeBothChildReverts(uint256 k, uint256 v) external {
        cells[k] = v;
        try child.setCellThenRevert(k, v) {} catch {}
    }

    function setCellThenRevert(uint256 k, uint256 v) external {
        cells[k] = v;
        revert NotPositive(0);
    }

    /// Touches accounts: balance of a cold address, code size of another (warm the second time).
    function touch(address a, address b) external returns (uint256 n) {
        n = a.balance + b.code.length + b.code.length;
        emit Stored(msg.sender, n, block.timestamp);
    }

    receive() external payable {}

    /// Sends ether out of this contract: balances change without the sender's value.
    function pay(address payable to, uint256 amount) external {
        (bool ok,) = to.call{value: amount}("");
        require(ok, "probe: pay failed");
    }
}

/// @notice Creates contracts from a contract (CREATE), for the backend parity test.
contract ParitySpawner {
    event Spawned(address child);

    function spawn(uint256 delay) external returns (ParityProbe p) {
        p = new ParityProbe(delay);
        p.setCell(1, delay);
        emit Spawned(address(p));
    }

    /// Creates a contract that destroys itself in the same transaction (EIP-6780: it is gone).
    function spawnAndDestroy() external {
        new SelfDestructing();
    }
}

/// @notice Self-destructs in its constructor.
contract SelfDestructing {
    constructor() payable {
        selfdestruct(payable(msg.sender));
    }
}
