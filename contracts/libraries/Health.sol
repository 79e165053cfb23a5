// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {MarginMath} from "./MarginMath.sol";
import {Markets} from "./Markets.sol";
import {ImpactLogic} from "./ImpactLogic.sol";
import {Rules} from "./Rules.sol";
import {Env, VenueState} from "./VenueState.sol";

/// @title Health
/// @notice Equity and margin requirements of an isolated position and of a cross account, at
/// the current price with every pending charge and, in a market with a pricing module, the
/// price impact health counts (`ImpactLogic.health`, for positions holding pending impact), in
/// WAD USD.
library Health {
    /// @notice What a transfer out must leave: max(IM, 10% of notional) (Hyperliquid's rule).
    function transferRequirement(uint256 notional, uint256 initialMargin) internal pure returns (uint256) {
        return Math.max(initialMargin, Math.ceilDiv(notional, 10));
    }

    function isolated(VenueState storage vs, uint256 scale, uint256 market, IClearinghouse.Position storage p, uint256 price)
        internal
        view
        returns (int256 equity, uint256 mm, uint256 im, uint256 notional)
    {
        IClearinghouse.MarketState storage s = vs.states[market];
        (int256 longIdx, int256 shortIdx, uint256 borrowIdx) = Markets.indicesNow(vs, market, s, price, scale);
        (int256 funding, uint256 borrowing, uint256 held) = Markets.pending(p, longIdx, shortIdx, borrowIdx);
        int256 size = p.size;
        equity = int256(uint256(p.margin)) * int256(scale) + MarginMath.pnl(size, p.entryNotional, price) - funding
            - int256(borrowing);
        notional = MarginMath.notionalUp(Markets.abs(size), price);
        (im, mm) = Rules.requirements(vs, market, vs.configs[market], notional, p.leverage);
        if (held != 0) equity += impact(vs, market, p, price, scale);
    }

    /// @notice The cross account as a liquidation sees it. A position in a market whose price is
    /// past its maxPriceAge counts at its last price with its loss but none of its profit, and
    /// its whole maintenance margin: a stopped feed can neither shield the account nor help it.
    /// `freshMask` names the markets a liquidation can close; `largest` is the fresh market with
    /// the largest position by notional (the lowest on a tie), the one a slice takes from.
    function crossForLiquidation(VenueState storage vs, Env memory env, address account)
        internal
        view
        returns (int256 equity, uint256 mm, uint256 freshMask, uint256 largest, uint256 largestNotional)
    {
        equity = vs.crossBalance[account] * int256(env.scale);
        uint256 mask = vs.crossMarkets[account];
        for (uint256 market; mask != 0; ++market) {
            if (mask & 1 != 0) {
                IClearinghouse.Position storage p = vs.positions[account][market];
                (uint256 price, bool fresh) = env.oracle.valuationPrice(market);
                IClearinghouse.MarketState storage s = vs.states[market];
                (int256 longIdx, int256 shortIdx, uint256 borrowIdx) = Markets.indicesNow(vs, market, s, price, env.scale);
                (int256 funding, uint256 borrowing, uint256 held) = Markets.pending(p, longIdx, shortIdx, borrowIdx);
                int256 value = MarginMath.pnl(p.size, p.entryNotional, price) - funding - int256(borrowing);
                if (held != 0) value += ImpactLogic.health(vs, market, p, price, env.scale);
                uint256 notional = MarginMath.notionalUp(Markets.abs(p.size), price);
                if (fresh) {
                    freshMask |= 1 << market;
                    if (notional > largestNotional) (largest, largestNotional) = (market, notional);
                } else if (value > 0) {
                    value = 0;
                }
                equity += value;
                (, uint256 positionMm) = Rules.requirements(vs, market, vs.configs[market], notional, p.leverage);
                mm += positionMm;
            }
            mask >>= 1;
        }
    }

    /// @notice The cross account at fresh prices; the market named in `env.known` (a trade's,
    /// whose price it has just checked) is valued at that price without asking the oracle again.
    function cross(VenueState storage vs, Env memory env, address account)
        internal
        view
        returns (int256 equity, uint256 mm, uint256 im, uint256 transferReq)
    {
        equity = vs.crossBalance[account] * int256(env.scale);
        uint256 mask = vs.crossMarkets[account];
        uint256 anyHeld; // non-zero when some position holds price impact: the terms after the loop
        for (uint256 market; mask != 0; ++market) {
            if (mask & 1 != 0) {
                IClearinghouse.Position storage p = vs.positions[account][market];
                uint256 price = env.known >> 128 == market + 1 ? uint128(env.known) : env.oracle.freshPrice(market);
                IClearinghouse.MarketState storage s = vs.states[market];
                (int256 longIdx, int256 shortIdx, uint256 borrowIdx) = Markets.indicesNow(vs, market, s, price, env.scale);
                (int256 funding, uint256 borrowing, uint256 held) = Markets.pending(p, longIdx, shortIdx, borrowIdx);
                int256 size = p.size;
                equity += MarginMath.pnl(size, p.entryNotional, price) - funding - int256(borrowing);
                anyHeld |= held;
                uint256 notional = MarginMath.notionalUp(Markets.abs(size), price);
                (uint256 positionIm, uint256 positionMm) = Rules.requirements(vs, market, vs.configs[market], notional, p.leverage);
                mm += positionMm;
                im += positionIm;
                transferReq += transferRequirement(notional, positionIm);
            }
            mask >>= 1;
        }
        if (anyHeld != 0) equity += ImpactLogic.crossHealth(vs, env, account);
    }

    /// @notice A position's impact term (`ImpactLogic.health`), for one that holds pending impact;
    /// one internal function so the core carries the library call once.
    function impact(VenueState storage vs, uint256 market, IClearinghouse.Position storage p, uint256 price, uint256 scale)
        internal
        view
        returns (int256)
    {
        return ImpactLogic.health(vs, market, p, price, scale);
    }
}
