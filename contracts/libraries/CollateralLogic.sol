// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {MarginMode} from "../types/MarginMode.sol";
import {Buckets} from "./Buckets.sol";
import {Health} from "./Health.sol";
import {MarginMath} from "./MarginMath.sol";
import {Markets} from "./Markets.sol";
import {Rules} from "./Rules.sol";
import {Env, VenueState} from "./VenueState.sol";

/// @title CollateralLogic
/// @notice Collateral coming in (deposits, insurance) and leaving the cross balance
/// (withdrawals, margin moved into an isolated position). An external library run by
/// DELEGATECALL on the core's storage: these paths have room in their gas targets.
library CollateralLogic {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    function deposit(VenueState storage vs, IERC20 collateral, address account, uint256 amount) external {
        if (amount == 0) revert IClearinghouse.ZeroAmount();
        collateral.safeTransferFrom(msg.sender, address(this), amount);
        Buckets.credit(vs, account, amount.toInt256());
        emit IClearinghouse.Deposited(account, amount);
    }

    function fundInsurance(VenueState storage vs, IERC20 collateral, uint256 amount) external {
        if (amount == 0) revert IClearinghouse.ZeroAmount();
        collateral.safeTransferFrom(msg.sender, address(this), amount);
        vs.insuranceFund += amount.toInt256();
        emit IClearinghouse.InsuranceFunded(msg.sender, amount);
    }

    function withdraw(VenueState storage vs, Env memory env, IERC20 collateral, address account, uint256 amount) external {
        if (amount == 0) revert IClearinghouse.ZeroAmount();
        // Circuit breaker: once bad debt has exhausted the insurance fund and the pool, balances
        // may be credited with money that is not there; nothing leaves until it is recapitalised.
        int256 assets = vs.poolAssets;
        if (assets < 0) revert IClearinghouse.PoolInsolvent(assets, amount.toInt256());
        Buckets.takeFromCross(vs, env, account, amount);
        collateral.safeTransfer(account, amount);
        emit IClearinghouse.Withdrawn(account, amount);
    }

    function updateLeverage(VenueState storage vs, Env memory env, address account, uint256 market, uint256 leverage)
        external
    {
        IClearinghouse.Position storage p = vs.positions[account][market];
        if (p.size == 0) revert IClearinghouse.NoPosition(account, market);
        uint256 maxLeverage = vs.configs[market].maxLeverage;
        if (leverage == 0 || leverage > maxLeverage) revert IClearinghouse.InvalidLeverage(leverage, maxLeverage);
        p.leverage = uint16(leverage);
        if (vs.configs[market].tierCount != 0) {
            uint256 notional = MarginMath.notionalUp(Markets.abs(p.size), env.oracle.freshPrice(market));
            uint256 cap = Rules.maxLeverage(vs, market, vs.configs[market], notional);
            if (leverage > cap) revert IClearinghouse.InvalidLeverage(leverage, cap);
        }
        if (p.mode == MarginMode.Isolated) {
            (int256 equity,, uint256 im,) = Health.isolated(vs, env.scale, market, p, env.oracle.freshPrice(market));
            if (equity < im.toInt256()) revert IClearinghouse.MarginBelowInitial(equity, im);
        } else {
            (int256 equity,, uint256 im,) = Health.cross(vs, env, account);
            if (equity < im.toInt256()) revert IClearinghouse.InsufficientFreeCollateral(equity, im);
        }
        emit IClearinghouse.LeverageUpdated(account, market, leverage);
    }

    function addMargin(VenueState storage vs, Env memory env, address account, uint256 market, uint256 amount) external {
        if (amount == 0) revert IClearinghouse.ZeroAmount();
        IClearinghouse.Position storage p = vs.positions[account][market];
        if (p.size == 0) revert IClearinghouse.NoPosition(account, market);
        if (p.mode != MarginMode.Isolated) revert IClearinghouse.NotIsolated(market);
        Buckets.takeFromCross(vs, env, account, amount);
        uint256 margin = p.margin + amount;
        p.margin = margin.toUint128();
        emit IClearinghouse.MarginChanged(account, market, amount.toInt256(), margin);
    }

    // ------------------------------------------------------------------ market-order locks
    /// @notice Lock `account` for its new market order (SPEC §10): `lock` is the order id (bits
    /// 0-63), when it expires (64-127) and its market (128-135). Refused while an earlier one is
    /// still live (one pending market order per account); an expired one's lock is replaced and
    /// its id returned, so the OrderBook drops that order. A `lock` with no expiry ends that
    /// order's lock instead (a lock already replaced by a later order's is left alone).
    function setOrderLock(VenueState storage vs, address account, uint256 lock) external returns (uint256 replaced) {
        uint256 orderId = uint64(lock);
        uint256 current = vs.orderLocks[account];
        uint64 expiresAt = uint64(lock >> 64);
        if (expiresAt == 0) {
            if (current == 0 || uint64(current) != orderId) return 0;
            delete vs.orderLocks[account];
            vs.lockedAccounts--;
            vs.configs[uint8(current >> 128)].lockedAccounts--;
            emit IClearinghouse.OrderLockReleased(account, orderId);
            return 0;
        }
        if (current != 0) {
            replaced = uint64(current);
            if (block.timestamp <= uint64(current >> 64)) revert IClearinghouse.PendingMarketOrder(account, replaced);
            vs.configs[uint8(current >> 128)].lockedAccounts--;
        } else {
            vs.lockedAccounts++;
        }
        uint8 market = uint8(lock >> 128);
        vs.configs[market].lockedAccounts++;
        vs.orderLocks[account] = lock;
        emit IClearinghouse.OrderLockSet(account, orderId, market, expiresAt);
    }
}
