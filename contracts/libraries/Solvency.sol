// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {MarginMath} from "./MarginMath.sol";
import {Env, VenueState} from "./VenueState.sol";

/// @title Solvency
/// @notice The pool is every trader's counterparty, so what winners may take out is bounded by
/// what it holds. Pending profit is the sum over markets and sides of each side's net PnL when
/// positive (GMX v2 nets a side; a side's losers back its winners with their margin). Above
/// `maxPnlFactorTraders` x the pool's assets, realised profit is paid pro rata to the cap, so a
/// close never depends on who closed first; above `maxPnlFactorAdl`, profitable positions may be
/// auto-deleveraged. Everything here reads the last price of every market with open interest.
library Solvency {
    uint256 internal constant FACTOR_ONE = 1e18; // a pnl factor of 100%, WAD

    /// @dev Pending trader profit, WAD USD, at each market's last price. Trader PnL rounds up
    /// here (longs' notional up, shorts' down), as the pool's value counts it.
    function pendingProfit(VenueState storage vs, Env memory env) internal view returns (uint256 profit, uint256 loss) {
        uint256 count = vs.marketCount;
        for (uint256 market; market < count; ++market) {
            IClearinghouse.MarketState storage s = vs.states[market];
            uint256 longSize = s.longSize;
            uint256 shortSize = s.shortSize;
            if (longSize == 0 && shortSize == 0) continue;
            (uint256 price,,) = env.oracle.latest(market);
            (profit, loss) = addMarketPnl(s, price, profit, loss);
        }
    }

    /// @dev Add a market's two sides' net PnL at `price` to the running profit and loss.
    function addMarketPnl(IClearinghouse.MarketState storage s, uint256 price, uint256 profit, uint256 loss)
        internal
        view
        returns (uint256, uint256)
    {
        (profit, loss) = _add(profit, loss, int256(MarginMath.notionalUp(s.longSize, price)) - int256(uint256(s.longEntry)));
        return _add(profit, loss, int256(uint256(s.shortEntry)) - int256(MarginMath.notionalDown(s.shortSize, price)));
    }

    function _add(uint256 profit, uint256 loss, int256 sidePnl) private pure returns (uint256, uint256) {
        return sidePnl > 0 ? (profit + uint256(sidePnl), loss) : (profit, loss + uint256(-sidePnl));
    }

    /// @dev The pool's assets in WAD, none when it is in deficit.
    function poolWad(VenueState storage vs, uint256 scale) internal view returns (uint256) {
        int256 assets = vs.poolAssets;
        return assets > 0 ? uint256(assets) * scale : 0;
    }

    /// @dev The most profit the pool pays out at once: `maxPnlFactorTraders` of its assets
    /// (everything there is to pay when the cap is off).
    function profitCap(VenueState storage vs, uint256 scale, uint256 profit) internal view returns (uint256) {
        uint256 factor = vs.maxPnlFactorTraders;
        return factor == 0 ? profit : poolWad(vs, scale) * factor / MarginMath.BPS;
    }

    /// @notice Pending profit / pool assets, WAD (1e18 = 100%); unbounded when the pool has none.
    function pnlFactor(VenueState storage vs, Env memory env) internal view returns (uint256) {
        (uint256 profit,) = pendingProfit(vs, env);
        return factorOf(vs, env.scale, profit);
    }

    /// @notice `profit` / pool assets, WAD; unbounded when the pool has none.
    function factorOf(VenueState storage vs, uint256 scale, uint256 profit) internal view returns (uint256) {
        uint256 pool = poolWad(vs, scale);
        if (pool == 0) return profit == 0 ? 0 : type(uint256).max;
        return Math.mulDiv(profit, FACTOR_ONE, pool);
    }

    /// @notice What the reserve rule keeps in the pool (tokens): over markets with open interest,
    /// the most that one market's reserve needs to back max(long notional now, short entry
    /// notional) and the entry notional open in all markets together; `market` and `oi` name
    /// that market and what it backs. The pool's assets may not go below `kept`.
    /// @dev Shorts can win at most their entry notional (the price going to zero): the rule
    /// reserves that, not today's notional, or a further fall could find the pool unable to pay.
    function reserveKept(VenueState storage vs, Env memory env)
        internal
        view
        returns (uint256 kept, uint256 market, uint256 oi)
    {
        uint256 count = vs.marketCount;
        uint256 total = vs.openEntry;
        for (uint256 m; m < count; ++m) {
            IClearinghouse.MarketState storage s = vs.states[m];
            (uint256 price,,) = env.oracle.latest(m);
            uint256 backed = Math.max(MarginMath.notionalUp(s.longSize, price), s.shortEntry);
            if (backed == 0) continue;
            backed = Math.max(backed, total);
            // The least assets whose reserve (assets x scale x factor / BPS, rounded down) backs it.
            uint256 needed = Math.ceilDiv(backed * MarginMath.BPS, env.scale * vs.configs[m].reserveFactorBps);
            if (needed > kept) (kept, market, oi) = (needed, m, backed);
        }
    }

    /// @notice Tokens a trader is credited for `realizedWad` of PnL. A loss is credited in full;
    /// a profit, when pending profit (this one included) is above the cap, pro rata:
    /// realised x cap / pending, rounded down. The pool never pays more than the cap.
    function capped(VenueState storage vs, Env memory env, int256 realizedWad) internal view returns (int256) {
        if (realizedWad <= 0 || vs.maxPnlFactorTraders == 0) return MarginMath.creditTokens(realizedWad, env.scale);
        (uint256 profit,) = pendingProfit(vs, env);
        profit = Math.max(profit, uint256(realizedWad));
        uint256 cap = profitCap(vs, env.scale, profit);
        if (profit <= cap) return MarginMath.creditTokens(realizedWad, env.scale);
        return MarginMath.creditTokens(int256(Math.mulDiv(uint256(realizedWad), cap, profit)), env.scale);
    }

    /// @notice `capped`, announcing a haircut (`ProfitCapped`) when there is one.
    function credit(VenueState storage vs, Env memory env, address account, uint256 market, int256 realizedWad)
        internal
        returns (int256 paid)
    {
        paid = capped(vs, env, realizedWad);
        int256 full = MarginMath.creditTokens(realizedWad, env.scale);
        if (paid != full) emit IClearinghouse.ProfitCapped(account, market, full, paid);
    }
}
