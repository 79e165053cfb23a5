// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {Clearinghouse} from "../core/Clearinghouse.sol";
import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {IClearinghouseViews} from "../interfaces/IClearinghouseViews.sol";

/// @title LiquidityPool
/// @notice ERC-4626 vault of LP shares. The pool is every trader's counterparty: its value is the
/// clearinghouse's pool bucket plus pending borrowing fees minus traders' unrealised PnL, so
/// shares mint and burn at a price that already counts open positions.
/// While any position is open, the share price moves with every oracle update, so a deposit
/// made just before a known update and redeemed just after it would take the move from the other
/// LPs. The ERC-4626 entry points (deposit, mint, withdraw, redeem) are therefore open to
/// everyone only while no position is open; otherwise only to the venue's executors (the
/// OrderBook), which run LP requests at a price newer than the request, as GMX v2 does.
/// While the profit cap binds (pending trader profit above what the pool pays out), a deposit
/// would be shared with the winners at once: deposits are refused (`ProfitCapBinds`), and no
/// withdrawal may make the cap bind (`maxWithdraw`, `maxRedeem` count it), as GMX v2 refuses
/// deposits and withdrawals above its pnl factors for them.
/// @dev The assets themselves stay in the Clearinghouse (single custody); deposits go straight
/// there and withdrawals are paid from there, subject to the open-interest reserve rule.
contract LiquidityPool is ERC4626 {
    using SafeERC20 for IERC20;

    Clearinghouse public immutable clearinghouse;

    /// @notice Positions are open: deposit and withdraw through the OrderBook's two-step LP
    /// requests (`requestDeposit`, `requestRedeem`), which a keeper executes at a newer price.
    error LpRequestRequired(address caller);

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

    /// @notice Whether the caller may use the ERC-4626 entry points now: while no position is
    /// open anyone may; otherwise only an executor of the Clearinghouse (the OrderBook).
    function directAccess(address caller) public view returns (bool) {
        return _views().openEntry() == 0 || clearinghouse.hasRole(clearinghouse.EXECUTOR_ROLE(), caller);
    }

    /// @notice What the caller can deposit for `receiver` now: nothing without `directAccess`
    /// or while the profit cap binds.
    function maxDeposit(address receiver) public view override returns (uint256) {
        return directAccess(msg.sender) && !_capBinds() ? super.maxDeposit(receiver) : 0;
    }

    /// @notice The shares the caller can mint for `receiver` now: none without `directAccess`
    /// or while the profit cap binds.
    function maxMint(address receiver) public view override returns (uint256) {
        return directAccess(msg.sender) && !_capBinds() ? super.maxMint(receiver) : 0;
    }

    /// @notice What the caller can withdraw from `owner` now: `maxWithdrawByRequest`, nothing
    /// without `directAccess`. Withdrawing it succeeds.
    function maxWithdraw(address owner) public view override returns (uint256) {
        return directAccess(msg.sender) ? maxWithdrawByRequest(owner) : 0;
    }

    /// @notice The shares the caller can redeem from `owner` now: `maxRedeemByRequest`, none
    /// without `directAccess`.
    function maxRedeem(address owner) public view override returns (uint256) {
        return directAccess(msg.sender) ? maxRedeemByRequest(owner) : 0;
    }

    /// @notice What a withdrawal of `owner`'s shares executed now could pay: their value, at
    /// most what the reserve rule lets leave the pool (`maxPoolWithdrawal`).
    function maxWithdrawByRequest(address owner) public view returns (uint256) {
        return Math.min(_convertToAssets(balanceOf(owner), Math.Rounding.Floor), _views().maxPoolWithdrawal());
    }

    /// @notice The most of `owner`'s shares a redemption executed now could take: the balance,
    /// at most the shares whose value (rounded down, as a redemption pays) the reserve rule
    /// lets leave the pool.
    function maxRedeemByRequest(address owner) public view returns (uint256) {
        return Math.min(balanceOf(owner), _convertToShares(_views().maxPoolWithdrawal(), Math.Rounding.Floor));
    }

    /// @dev What `maxDeposit` checks, each with its error; then ERC-4626's deposit.
    function deposit(uint256 assets, address receiver) public override returns (uint256 shares) {
        _checkDirect();
        _checkCap();
        shares = previewDeposit(assets);
        _deposit(_msgSender(), receiver, assets, shares);
    }

    /// @dev What `maxMint` checks, each with its error; then ERC-4626's mint.
    function mint(uint256 shares, address receiver) public override returns (uint256 assets) {
        _checkDirect();
        _checkCap();
        assets = previewMint(shares);
        _deposit(_msgSender(), receiver, assets, shares);
    }

    function withdraw(uint256 assets, address receiver, address owner) public override returns (uint256) {
        _checkDirect();
        return super.withdraw(assets, receiver, owner);
    }

    function redeem(uint256 shares, address receiver, address owner) public override returns (uint256) {
        _checkDirect();
        return super.redeem(shares, receiver, owner);
    }

    function _checkDirect() private view {
        if (!directAccess(msg.sender)) revert LpRequestRequired(msg.sender);
    }

    function _capBinds() private view returns (bool) {
        (uint256 profit, uint256 budget,) = _views().profitBudget();
        return profit > budget;
    }

    /// @dev A deposit while the profit cap binds would raise the winners' budget with it: it
    /// waits until the cap no longer binds (`ProfitCapBinds`).
    function _checkCap() private view {
        (uint256 profit, uint256 budget,) = _views().profitBudget();
        if (profit > budget) revert IClearinghouse.ProfitCapBinds(profit, budget);
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
