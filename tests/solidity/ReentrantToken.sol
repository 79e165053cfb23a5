// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Hostile collateral for reentrancy tests (6 decimals, public mint). `arm(target, data)`
/// makes the next `transfer`/`transferFrom` call `target` with `data` once, before moving the
/// tokens (as an ERC-777 sender hook would). The outcome is recorded, never bubbled up: the token
/// itself does not revert because the re-entrant call failed. Only for tests.
contract ReentrantToken is ERC20 {
    address public hookTarget;
    bytes public hookData;
    bool public armed;
    bool public lastCallOk;
    bytes public lastRevertData;
    bytes public lastReturnData;
    uint256 public hookCalls;

    constructor() ERC20("Reentrant USD", "rUSD") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target, bytes calldata data) external {
        hookTarget = target;
        hookData = data;
        armed = true;
    }

    function disarm() external {
        armed = false;
    }

    /// @notice Let the token's own address approve a spender (so it can deposit from a hook).
    function selfApprove(address spender, uint256 amount) external {
        _approve(address(this), spender, amount);
    }

    /// @notice Make the armed call now, outside any transfer: the control experiment showing
    /// the call would succeed when it is not re-entrant.
    function fire() external {
        _hook();
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        _hook();
        return super.transfer(to, value);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _hook();
        return super.transferFrom(from, to, value);
    }

    function _hook() internal {
        if (!armed) return;
        armed = false; // once: the nested transfer of a successful call does not fire again
        ++hookCalls;
        (bool ok, bytes memory ret) = hookTarget.call(hookData);
        lastCallOk = ok;
        if (ok) {
            lastReturnData = ret;
            delete lastRevertData;
        } else {
            lastRevertData = ret;
            delete lastReturnData;
        }
    }
}
