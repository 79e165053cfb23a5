// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {CLOSE_ALL} from "../types/Constants.sol";
import {MarginMode} from "../types/MarginMode.sol";
import {Buckets} from "./Buckets.sol";
import {MarginMath} from "./MarginMath.sol";
import {Markets} from "./Markets.sol";
import {Rules} from "./Rules.sol";
import {Env, Settlement, StoredConfig, VenueState} from "./VenueState.sol";

/// @title TradeLogic
/// @notice Reducing and closing positions. An external library run by DELEGATECALL on the
/// core's storage: closes have room in their gas target, and the core none in its size.
library TradeLogic {
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @notice Reduce a position by `sizeAbs` (all of it, or CLOSE_ALL, closes it) at the fill
    /// price. Realised PnL and every pending charge settle into the margin (isolated) or the
    /// cross balance.
    function decrease(VenueState storage vs, Env memory env, address account, uint256 market, uint256 sizeAbs) external {
        uint256 scale = env.scale;
        if (sizeAbs == 0) revert IClearinghouse.ZeroSize();
        IClearinghouse.Position storage p = vs.positions[account][market];
        int256 size = p.size;
        if (size == 0) revert IClearinghouse.NoPosition(account, market);
        uint256 currentAbs = Markets.abs(size);
        if (sizeAbs == CLOSE_ALL) sizeAbs = currentAbs;
        if (sizeAbs > currentAbs) revert IClearinghouse.SizeExceedsPosition(sizeAbs, currentAbs);
        uint256 price = env.oracle.closePrice(market); // usable past the heartbeat for the grace period
        StoredConfig storage c = vs.configs[market];
        IClearinghouse.MarketState storage s = Markets.accrue(vs, market, price, scale);
        price = Rules.fillPrice(vs, market, c, size > 0 ? -int256(sizeAbs) : int256(sizeAbs), price);
        if (sizeAbs != currentAbs) Markets.checkMinNotional(c, scale, MarginMath.notionalUp(currentAbs - sizeAbs, price));

        Settlement memory st = Markets.settleIndices(s, p, size > 0, scale);
        uint256 fee = Buckets.feeTokens(MarginMath.notionalUp(sizeAbs, price), c.takerFeeBps, scale);
        (int256 realizedWad, int256 sizeDelta) = Markets.reduce(s, p, size, sizeAbs, price);
        st.pnl = MarginMath.creditTokens(realizedWad, scale);
        int256 traderDelta = st.pnl - st.funding - st.borrowing - int256(fee);
        bool closed = sizeAbs == currentAbs;

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
        emit IClearinghouse.PositionDecreased(account, market, sizeDelta, price, st.pnl, fee, st.funding, uint256(st.borrowing));
    }
}
