// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {CLOSE_ALL} from "../types/Constants.sol";
import {MarginMode} from "../types/MarginMode.sol";
import {Buckets} from "./Buckets.sol";
import {Health} from "./Health.sol";
import {MarginMath} from "./MarginMath.sol";
import {Markets} from "./Markets.sol";
import {Rules} from "./Rules.sol";
import {Solvency} from "./Solvency.sol";
import {Env, Settlement, StoredConfig, VenueState} from "./VenueState.sol";

/// @title TradeLogic
/// @notice Reducing and closing positions, by their owner or by auto-deleveraging. An external
/// library run by DELEGATECALL on the core's storage: closes have room in their gas target, and
/// the core none in its size.
library TradeLogic {
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @notice Reduce a position by `sizeAbs` (all of it, or CLOSE_ALL, closes it) at the oracle
    /// price. Realised PnL (after the profit cap), the price impact the market's pricing module
    /// realises and every pending charge settle into the margin (isolated) or the cross balance.
    function decrease(VenueState storage vs, Env memory env, address account, uint256 market, uint256 sizeAbs) external {
        uint256 scale = env.scale;
        IClearinghouse.Position storage p = vs.positions[account][market];
        int256 size = p.size;
        sizeAbs = _checkSize(account, market, size, sizeAbs);
        uint256 price = env.oracle.closePrice(market); // usable past the heartbeat for the grace period
        Markets.accrue(vs, market, price, scale);
        uint256 fee = Buckets.feeTokens(MarginMath.notionalUp(sizeAbs, price), vs.configs[market].takerFeeBps, scale);
        (int256 sizeDelta, Settlement memory st, uint256 fill) = _close(vs, env, account, market, sizeAbs, price, fee);
        emit IClearinghouse.PositionDecreased(account, market, sizeDelta, fill, st.pnl, fee, st.funding, uint256(st.borrowing));
    }

    /// @notice Auto-deleverage: while pending profit is above `maxPnlFactorAdl` of the pool,
    /// anyone may close `sizeAbs` of a profitable position at the oracle price with no fee. The
    /// close must lower the pnl factor and leave it at or above `minPnlFactorAfterAdl`.
    function autoDeleverage(VenueState storage vs, Env memory env, address account, uint256 market, uint256 sizeAbs)
        external
    {
        IClearinghouse.Position storage p = vs.positions[account][market];
        int256 size = p.size;
        sizeAbs = _checkSize(account, market, size, sizeAbs);
        uint256 price = env.oracle.freshPrice(market);
        uint256 before = Solvency.pnlFactor(vs, env);
        uint256 trigger = uint256(vs.maxPnlFactorAdl) * Solvency.FACTOR_ONE / MarginMath.BPS;
        if (before <= trigger) revert IClearinghouse.AdlNotRequired(before, trigger);
        if (MarginMath.pnl(size, p.entryNotional, price) <= 0) revert IClearinghouse.AdlNotProfitable(account, market);
        uint256 score = adlScore(vs, env, account, market, price);
        Markets.accrue(vs, market, price, env.scale);
        (int256 sizeDelta, Settlement memory st,) = _close(vs, env, account, market, sizeAbs, price, 0);
        uint256 afterAdl = Solvency.pnlFactor(vs, env);
        if (afterAdl >= before) revert IClearinghouse.AdlFactorNotLowered(before, afterAdl);
        uint256 floor = uint256(vs.minPnlFactorAfterAdl) * Solvency.FACTOR_ONE / MarginMath.BPS;
        if (afterAdl < floor) revert IClearinghouse.AdlOvershoot(afterAdl, floor);
        emit IClearinghouse.AutoDeleveraged(account, market, msg.sender, sizeDelta, price, st.pnl, score, before, afterAdl);
    }

    /// @notice A position's auto-deleveraging rank (Hyperliquid): (mark / entry price) x
    /// (notional / account value), mirrored for shorts (entry / mark), WAD. The account value is
    /// the isolated position's equity or the cross account's; none left ranks first.
    function adlScore(VenueState storage vs, Env memory env, address account, uint256 market, uint256 price)
        internal
        view
        returns (uint256)
    {
        IClearinghouse.Position storage p = vs.positions[account][market];
        int256 equity;
        if (p.mode == MarginMode.Isolated) (equity,,,) = Health.isolated(vs, env.scale, market, p, price);
        else (equity,,,) = Health.cross(vs, env, account);
        if (equity <= 0) return type(uint256).max;
        uint256 entry = p.entryNotional;
        if (p.size < 0) return Math.mulDiv(entry, MarginMath.WAD, uint256(equity));
        uint256 notional = MarginMath.notionalUp(uint256(int256(p.size)), price);
        return Math.mulDiv(Math.mulDiv(notional, MarginMath.WAD, entry), notional, uint256(equity));
    }

    function _checkSize(address account, uint256 market, int256 size, uint256 sizeAbs) private pure returns (uint256)
    {
        if (sizeAbs == 0) revert IClearinghouse.ZeroSize();
        if (size == 0) revert IClearinghouse.NoPosition(account, market);
        uint256 currentAbs = Markets.abs(size);
        if (sizeAbs == CLOSE_ALL) return currentAbs;
        if (sizeAbs > currentAbs) revert IClearinghouse.SizeExceedsPosition(sizeAbs, currentAbs);
        return sizeAbs;
    }

    /// @dev Close `sizeAbs` of an accrued market's position at the oracle `price`, charging `fee`
    /// tokens and realising its price impact (`Rules.decreaseImpact`); returns the execution price.
    function _close(VenueState storage vs, Env memory env, address account, uint256 market, uint256 sizeAbs, uint256 price, uint256 fee)
        private
        returns (int256 sizeDelta, Settlement memory st, uint256 fill)
    {
        uint256 scale = env.scale;
        IClearinghouse.Position storage p = vs.positions[account][market];
        int256 size = p.size;
        uint256 currentAbs = Markets.abs(size);
        bool closed = sizeAbs == currentAbs;
        if (!closed) Markets.checkMinNotional(vs.configs[market], scale, MarginMath.notionalUp(currentAbs - sizeAbs, price));
        IClearinghouse.MarketState storage s = vs.states[market];
        st = Markets.settleIndices(s, p, size > 0, scale);
        st.pnl = Solvency.credit(vs, env, account, market, Markets.closingPnl(p, size, sizeAbs, price));
        int256 realized;
        (fill, realized) = Rules.decreaseImpact(
            vs, account, market, vs.configs[market], size > 0 ? -int256(sizeAbs) : int256(sizeAbs), price, scale, false
        );
        st.pnl += realized;
        sizeDelta = Markets.reduce(vs, s, p, size, sizeAbs);
        int256 traderDelta = st.pnl - st.funding - st.borrowing - int256(fee);

        if (p.mode == MarginMode.Isolated) {
            int256 newMargin = int256(uint256(p.margin)) + traderDelta;
            if (closed) {
                p.margin = 0;
                if (newMargin >= 0) vs.crossBalance[account] += newMargin;
                else Buckets.coverBadDebt(vs, account, uint256(-newMargin));
            } else {
                if (newMargin < 0) revert IClearinghouse.InsufficientMargin(newMargin);
                p.margin = uint256(newMargin).toUint128();
            }
        } else {
            int256 balance = vs.crossBalance[account] + traderDelta;
            if (closed) vs.crossMarkets[account] &= ~(1 << market);
            if (balance < 0 && vs.crossMarkets[account] == 0) {
                vs.crossBalance[account] = 0;
                Buckets.coverBadDebt(vs, account, uint256(-balance));
            } else {
                vs.crossBalance[account] = balance;
            }
        }
        if (closed) Markets.clear(p);
        Buckets.payPool(vs, st, fee);
    }
}
