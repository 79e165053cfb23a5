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
}
