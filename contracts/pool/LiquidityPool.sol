// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {Clearinghouse} from "../core/Clearinghouse.sol";
import {IClearinghouseViews} from "../interfaces/IClearinghouseViews.sol";

/// @title LiquidityPool
/// @notice ERC-4626 vault of LP shares. The pool is every trader's counterparty: its value is the
/// clearinghouse's pool bucket plus pending borrowing fees minus traders' unrealised PnL, so
/// shares mint and burn at a price that already counts open positions.
/// @dev The assets themselves stay in the Clearinghouse (single custody); deposits go straight
/// there and withdrawals are paid from there, subject to the open-interest reserve rule.
contract LiquidityPool is ERC4626 {
    using SafeERC20 for IERC20;

    Clearinghouse public immutable clearinghouse;

    constructor(IERC20 asset_, Clearinghouse clearinghouse_)
        ERC20("perpsim LP", "perpLP")
        ERC4626(asset_)
    {
        clearinghouse = clearinghouse_;
    }

    /// @notice Pool value in tokens, never below zero (a negative value means LPs are wiped out).
    function totalAssets() public view override returns (uint256) {
        int256 value = _views().poolValue();
        return value > 0 ? uint256(value) : 0;
    }

    /// @notice What `owner` can withdraw now: its shares' value, at most what the reserve rule
    /// lets leave the pool (`maxPoolWithdrawal`). Withdrawing it succeeds.
    function maxWithdraw(address owner) public view override returns (uint256) {
        return Math.min(super.maxWithdraw(owner), _views().maxPoolWithdrawal());
    }

    /// @notice The shares `owner` can redeem now: its balance, at most the shares whose value
    /// (rounded down, as a redemption pays) the reserve rule lets leave the pool.
    function maxRedeem(address owner) public view override returns (uint256) {
        return Math.min(balanceOf(owner), _convertToShares(_views().maxPoolWithdrawal(), Math.Rounding.Floor));
    }

    function _views() private view returns (IClearinghouseViews) {
        return IClearinghouseViews(address(clearinghouse));
    }

    /// @dev Virtual shares make the first-depositor inflation attack unprofitable.
    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        IERC20(asset()).safeTransferFrom(caller, address(clearinghouse), assets);
        clearinghouse.poolDeposit(assets);
        _mint(receiver, shares);
        emit Deposit(caller, receiver, assets, shares);
    }

    function _withdraw(address caller, address receiver, address owner, uint256 assets, uint256 shares)
        internal
        override
    {
        if (caller != owner) _spendAllowance(owner, caller, shares);
        _burn(owner, shares);
        clearinghouse.poolWithdraw(receiver, assets);
        emit Withdraw(caller, receiver, owner, assets, shares);
    }
}
