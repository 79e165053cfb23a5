// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {MarginMath} from "./MarginMath.sol";
import {Markets} from "./Markets.sol";
import {Env, VenueState} from "./VenueState.sol";

/// @title Solvency
/// @notice The pool is every trader's counterparty, so what winners may take out is bounded by
/// what it holds. Pending profit is the sum over markets and sides of each side's net PnL when
/// positive (GMX v2 nets a side; a side's losers back its winners with their margin). Above
/// `maxPnlFactorTraders` x the pool's assets, realised profit is paid pro rata to the cap's
/// budget, and a cap episode keeps that fraction for every later close (`credit`), so a close
/// never depends on who closed first nor on how it was split; above `maxPnlFactorAdl`,
/// profitable positions may be auto-deleveraged. Everything here reads the last price of every
/// market with open interest.
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

    /// @dev The most profit the pool pays out now, its budget (WAD): `maxPnlFactorTraders` of its
    /// assets less what the current cap episode holds back (`profitHeld`), none below zero;
    /// everything there is to pay (`profit`) when the cap is off.
    function profitCap(VenueState storage vs, uint256 scale, uint256 profit) internal view returns (uint256) {
        uint256 factor = vs.maxPnlFactorTraders;
        if (factor == 0) return profit;
        uint256 cap = poolWad(vs, scale) * factor / MarginMath.BPS;
        uint256 held = vs.profitHeld;
        return cap > held ? cap - held : 0;
    }

    /// @notice The least pool assets (tokens) that keep pending profit within the budget
    /// (`profitCap`): an LP withdrawal may not make the cap bind. None while no profit is pending
    /// or the cap is off.
    function capKept(VenueState storage vs, Env memory env) internal view returns (uint256) {
        uint256 factor = vs.maxPnlFactorTraders;
        if (factor == 0) return 0;
        (uint256 profit,) = pendingProfit(vs, env);
        if (profit == 0) return 0;
        return Math.ceilDiv(Math.ceilDiv((profit + vs.profitHeld) * MarginMath.BPS, factor), env.scale);
    }

    /// @notice Refuse (`ProfitCapBinds`) while pending profit is above the budget.
    function checkNotBinding(VenueState storage vs, Env memory env) internal view {
        if (vs.maxPnlFactorTraders == 0) return;
        (uint256 profit,) = pendingProfit(vs, env);
        uint256 budget = profitCap(vs, env.scale, profit);
        if (profit > budget) revert IClearinghouse.ProfitCapBinds(profit, budget);
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

    /// @notice What closing `closeAbs` of `p` at `price` realises (WAD) and credits
    /// (tokens), and whether the cap cut it. A loss is credited in full. A profit r is judged
    /// against P' = max(pending profit, the whole position's profit at `price`): paid r x B / P'
    /// (rounded down) while P' is above the budget B (`profitCap`), in full otherwise. Judging
    /// the whole position, not the piece, gives a piece the fraction closing it all gets.
    function quote(
        VenueState storage vs,
        Env memory env,
        IClearinghouse.Position storage p,
        uint256 closeAbs,
        uint256 price
    ) internal view returns (int256 realized, int256 paid, bool cut) {
        int256 size = p.size;
        realized = Markets.closingPnl(p, size, closeAbs, price);
        if (realized <= 0 || vs.maxPnlFactorTraders == 0) {
            return (realized, MarginMath.creditTokens(realized, env.scale), false);
        }
        uint256 sizeAbs = Markets.abs(size);
        int256 whole = closeAbs == sizeAbs ? realized : Markets.closingPnl(p, size, sizeAbs, price);
        (paid, cut) = _cap(vs, env, uint256(realized), uint256(whole));
    }

    function _cap(VenueState storage vs, Env memory env, uint256 realized, uint256 whole)
        private
        view
        returns (int256, bool)
    {
        (uint256 profit,) = pendingProfit(vs, env);
        profit = Math.max(profit, whole);
        uint256 budget = profitCap(vs, env.scale, profit);
        if (profit <= budget) return (MarginMath.creditTokens(int256(realized), env.scale), false);
        return (MarginMath.creditTokens(int256(Math.mulDiv(realized, budget, profit)), env.scale), true);
    }

    /// @notice `quote`, applied. A close the cap cut (paying x, and moving `inflow` tokens into
    /// the pool besides: fee, borrowing, negative impact paid in, less positive impact paid out)
    /// adds (1 - f) x + f x inflow to the episode's hold, f = `maxPnlFactorTraders`, which stays
    /// at least 0: the budget then falls by exactly x, so every later close of the episode is
    /// paid the same fraction (a haircut emits `ProfitCapped`). A profit paid in full ends the
    /// episode: the hold goes back to 0.
    function credit(
        VenueState storage vs,
        Env memory env,
        address account,
        uint256 market,
        IClearinghouse.Position storage p,
        uint256 closeAbs,
        uint256 price,
        int256 inflow
    ) internal returns (int256 paid) {
        int256 realized;
        bool cut;
        (realized, paid, cut) = quote(vs, env, p, closeAbs, price);
        if (realized <= 0) return paid;
        uint256 factor = vs.maxPnlFactorTraders;
        if (cut) {
            int256 scale = int256(env.scale);
            int256 hold = int256(uint256(vs.profitHeld) * MarginMath.BPS)
                + int256(MarginMath.BPS - factor) * paid * scale + int256(factor) * inflow * scale;
            vs.profitHeld = hold <= 0 ? 0 : SafeCast.toUint120(Math.ceilDiv(uint256(hold), MarginMath.BPS));
            int256 full = MarginMath.creditTokens(realized, env.scale);
            if (paid != full) emit IClearinghouse.ProfitCapped(account, market, full, paid);
        } else if (factor != 0 && vs.profitHeld != 0) {
            vs.profitHeld = 0;
        }
    }
}
