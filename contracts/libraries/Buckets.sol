// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {Health} from "./Health.sol";
import {MarginMath} from "./MarginMath.sol";
import {Env, Settlement, StoredConfig, VenueState} from "./VenueState.sol";

/// @title Buckets
/// @notice Where collateral sits: cross balances, isolated margins, pool assets, insurance fund
/// and funding reserve, whose sum is the core's token balance exactly. Moves between them.
library Buckets {
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @dev A fee in tokens from a WAD notional and basis points, rounded up.
    function feeTokens(uint256 notional, uint256 bps, uint256 scale) internal pure returns (uint256) {
        return uint256(MarginMath.chargeTokens(int256(MarginMath.feeWad(notional, bps)), scale));
    }

    /// @dev The open interest the pool backs in a market: its assets x the reserve factor.
    function reserve(VenueState storage vs, StoredConfig storage c, uint256 scale) internal view returns (uint256) {
        int256 assets = vs.poolAssets;
        if (assets <= 0) return 0;
        return uint256(assets) * scale * c.reserveFactorBps / MarginMath.BPS;
    }

    /// @dev Credit a cross balance from outside the account's trading (deposit, keeper reward),
    /// registering the account the first time. A non-zero balance implies registration, so a
    /// returning depositor pays no extra storage read.
    function credit(VenueState storage vs, address account, int256 amount) internal {
        int256 balance = vs.crossBalance[account];
        if (balance == 0 && !vs.isRegistered[account]) {
            vs.isRegistered[account] = true;
            vs.accounts.push(account);
            emit IClearinghouse.AccountRegistered(account, vs.accounts.length - 1);
        }
        vs.crossBalance[account] = balance + amount;
    }

    /// @dev Debit the cross balance for a withdrawal or for isolated margin. Collateral leaving
    /// the cross balance obeys the transfer rule whichever way it goes, so funding an isolated
    /// position cannot push the account's cross positions towards liquidation.
    function takeFromCross(VenueState storage vs, Env memory env, address account, uint256 amount) internal {
        int256 balance = vs.crossBalance[account];
        if (balance < amount.toInt256()) revert IClearinghouse.InsufficientBalance(balance, amount);
        vs.crossBalance[account] = balance - amount.toInt256();
        if (vs.crossMarkets[account] != 0) {
            (int256 equity,,, uint256 transferReq) = Health.cross(vs, env, account);
            if (equity < transferReq.toInt256()) revert IClearinghouse.TransferRuleViolated(equity, transferReq);
        }
    }

    /// @dev Move settled charges and fees into their buckets; trader profit comes from the pool.
    /// Under the profit cap (`Solvency`) a profit never exceeds the pool's assets; without it a
    /// profit the pool cannot pay reverts.
    function payPool(VenueState storage vs, Settlement memory st, uint256 fee) internal {
        int256 assets = vs.poolAssets - st.pnl - int256(st.held) + st.borrowing + int256(fee);
        if (st.pnl > 0 && assets < 0) revert IClearinghouse.PoolInsolvent(vs.poolAssets, st.pnl);
        vs.poolAssets = assets.toInt128();
        if (st.funding != 0) vs.fundingReserve += st.funding.toInt128();
    }

    /// @dev What a decrease's price impact moves into the pool (`realized` tokens, + to the
    /// trader): negative impact paid in, the part held for the trader left out, or minus positive
    /// impact paid out. The profit cap's hold keeps f of it, so impact does not move the budget.
    function impactInflow(int256 realized, Settlement memory st) internal pure returns (int256) {
        return realized < 0 ? int256(uint256(-realized) - st.held) : -realized;
    }

    function payPenalty(VenueState storage vs, uint256 penalty, uint256 reward) internal {
        if (penalty == 0) return;
        if (reward != 0) credit(vs, msg.sender, int256(reward));
        vs.insuranceFund += int256(penalty - reward);
    }

    /// @dev Bad debt waterfall: the account's held impact pays first (it is the account's own
    /// payment, so nothing is paid out of nothing), the insurance fund next, the pool the rest.
    /// Returns what was written off.
    function coverBadDebt(VenueState storage vs, address account, uint256 amount) internal returns (uint256) {
        uint256 held = vs.heldImpact[account];
        if (held != 0) {
            uint256 fromHeld = Math.min(held, amount);
            vs.heldImpact[account] = held - fromHeld;
            amount -= fromHeld;
            if (amount == 0) return 0;
        }
        int256 fund = vs.insuranceFund;
        uint256 fromInsurance = fund > 0 ? Math.min(uint256(fund), amount) : 0;
        vs.insuranceFund = fund - int256(fromInsurance);
        uint256 fromPool = amount - fromInsurance;
        vs.poolAssets -= fromPool.toInt256().toInt128();
        emit IClearinghouse.BadDebt(account, amount, fromInsurance, fromPool);
        return amount;
    }
}
