// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {ADL_RANKED, ADL_ROUND, IAdlModule} from "../interfaces/IAdlModule.sol";
import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {ADL_KEEPER_ROLE, CLOSE_ALL} from "../types/Constants.sol";
import {MarginMode} from "../types/MarginMode.sol";
import {AdlLogic} from "./AdlLogic.sol";
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

    /// @notice Auto-deleverage `sizeAbs` (CLOSE_ALL: what the rule allows) of a profitable
    /// position at the oracle price with no fee, by an ADL keeper (`ADL_KEEPER_ROLE`; never on
    /// its own position, nor one it operates), under the ADL rule of the position's market
    /// (`IAdlModule`, SPEC §8.1; none: the stock rule). The venue-wide checks are the core's:
    /// pending profit above `maxPnlFactorAdl` of the pool (a round rule: to begin a round; its
    /// members are cut while it lasts), the target in profit, the close lowering the pnl factor
    /// and leaving it at or above `minPnlFactorAfterAdl`. A ranked rule (the stock one) closes
    /// the highest-ranked position first (`AdlNotHighestRanked` names one ranked above it).
    function autoDeleverage(VenueState storage vs, Env memory env, address account, uint256 market, uint256 sizeAbs)
        external
    {
        if (
            msg.sender == account || vs.isOperator[account][msg.sender]
                || !IAccessControl(address(this)).hasRole(ADL_KEEPER_ROLE, msg.sender)
        ) revert IClearinghouse.Unauthorized(msg.sender, account);
        IClearinghouse.Position storage p = vs.positions[account][market];
        int256 size = p.size;
        bool all = sizeAbs == CLOSE_ALL;
        sizeAbs = _checkSize(account, market, size, sizeAbs);
        uint256 price = env.oracle.freshPrice(market);
        uint256 before = Solvency.pnlFactor(vs, env);
        (IAdlModule module, uint256 flags) = AdlLogic.rule(vs, market);
        bool round = flags & ADL_ROUND != 0;
        uint256 trigger = uint256(vs.maxPnlFactorAdl) * Solvency.FACTOR_ONE / MarginMath.BPS;
        if (before <= trigger && !(round && AdlLogic.roundActive(vs))) revert IClearinghouse.AdlNotRequired(before, trigger);
        if (MarginMath.pnl(size, p.entryNotional, price) <= 0) revert IClearinghouse.AdlNotProfitable(account, market);
        uint256 score = adlScore(vs, env, account, market, price);
        if (flags & ADL_RANKED != 0) _checkRank(vs, env, account, market, score);
        if (round) sizeAbs = AdlLogic.roundClose(vs, env, module, account, market, Markets.abs(size), sizeAbs, all);
        else if (address(module) != address(0)) sizeAbs = AdlLogic.limit(module, market, Markets.abs(size), sizeAbs, all);
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
        return _score(p.size, p.entryNotional, price, equity);
    }

    function _score(int256 size, uint256 entry, uint256 price, int256 equity) private pure returns (uint256) {
        if (equity <= 0) return type(uint256).max;
        if (size < 0) return Math.mulDiv(entry, MarginMath.WAD, uint256(equity));
        uint256 notional = MarginMath.notionalUp(uint256(size), price);
        return Math.mulDiv(Math.mulDiv(notional, MarginMath.WAD, entry), notional, uint256(equity));
    }

    /// @dev What the rank check knows of each market with open interest: its price (0 while
    /// stale) and accrual indices now, and, one bit per market, whose longs and shorts are in
    /// profit net of their losers (the sides pending profit counts), which are stale, and which
    /// have an ADL rule that is not ranked (their positions are not ranked).
    struct Book {
        uint256[] price;
        int256[] longIdx;
        int256[] shortIdx;
        uint256[] borrowIdx;
        uint256 longs;
        uint256 shorts;
        uint256 stale;
        uint256 unranked; // markets whose ADL rule is not ranked: not in the ranking
    }

    /// @dev Revert `AdlNotHighestRanked` naming the first position of the registered accounts
    /// that ADL could close now and that ranks above `score`: profitable at its market's fresh
    /// price, on a side in profit net (closing a winner of a side its losers net to a loss
    /// would raise the pnl factor), and valued (a cross account needs every market fresh).
    /// Its score is `adlScore`'s, from the same equity.
    function _checkRank(VenueState storage vs, Env memory env, address target, uint256 targetMarket, uint256 score)
        private
        view
    {
        Book memory b = _book(vs, env);
        uint256 sides = (b.longs | b.shorts) & ~b.unranked;
        if (sides == 0) return;
        uint256 scale = env.scale;
        uint256 count = vs.accounts.length;
        for (uint256 i; i < count; ++i) {
            address account = vs.accounts[i];
            uint256 crossState; // 0: not valued yet, 1: valued, 2: a market is stale
            int256 crossEquity;
            for (uint256 m; sides >> m != 0; ++m) {
                if ((sides >> m) & 1 == 0) continue;
                IClearinghouse.Position storage p = vs.positions[account][m];
                int256 size = p.size;
                if (size == 0 || ((size > 0 ? b.longs : b.shorts) >> m) & 1 == 0) continue;
                uint256 price = b.price[m];
                uint256 entry = p.entryNotional;
                int256 pnl = MarginMath.pnl(size, entry, price);
                if (pnl <= 0 || (account == target && m == targetMarket)) continue;
                int256 equity;
                if (p.mode == MarginMode.Isolated) {
                    equity = int256(uint256(p.margin)) * int256(scale) + pnl - _charges(vs, p, b, m, scale);
                } else {
                    if (crossState == 0) (crossState, crossEquity) = _crossEquity(vs, b, account, scale);
                    if (crossState == 2) continue;
                    equity = crossEquity;
                }
                uint256 other = _score(size, entry, price, equity);
                if (other > score) revert IClearinghouse.AdlNotHighestRanked(account, m, other);
            }
        }
    }

    function _book(VenueState storage vs, Env memory env) private view returns (Book memory b) {
        uint256 count = vs.marketCount;
        b.price = new uint256[](count);
        b.longIdx = new int256[](count);
        b.shortIdx = new int256[](count);
        b.borrowIdx = new uint256[](count);
        for (uint256 m; m < count; ++m) {
            IClearinghouse.MarketState storage s = vs.states[m];
            uint256 longSize = s.longSize;
            uint256 shortSize = s.shortSize;
            if (longSize == 0 && shortSize == 0) continue;
            (uint256 price, bool fresh) = env.oracle.valuationPrice(m);
            if (!fresh) {
                b.stale |= 1 << m;
                continue;
            }
            b.price[m] = price;
            if (vs.configs[m].adlModule != 0) {
                (, uint256 flags) = AdlLogic.rule(vs, m);
                if (flags & ADL_RANKED == 0) b.unranked |= 1 << m;
            }
            (b.longIdx[m], b.shortIdx[m], b.borrowIdx[m]) = Markets.indicesNow(vs, m, s, price, env.scale);
            if (MarginMath.notionalUp(longSize, price) > s.longEntry) b.longs |= 1 << m;
            if (s.shortEntry > MarginMath.notionalDown(shortSize, price)) b.shorts |= 1 << m;
        }
    }

    /// @dev A position's pending funding plus borrowing, less the price impact health counts
    /// for it (`Health.impact`), WAD, at the book's indices: what `Health` takes off its equity.
    function _charges(VenueState storage vs, IClearinghouse.Position storage p, Book memory b, uint256 m, uint256 scale)
        private
        view
        returns (int256 charges)
    {
        uint256 held;
        {
            uint256 borrowing;
            (charges, borrowing, held) = Markets.pending(p, b.longIdx[m], b.shortIdx[m], b.borrowIdx[m]);
            charges += int256(borrowing);
        }
        if (held != 0) charges -= Health.impact(vs, m, p, b.price[m], scale);
    }

    /// @dev (1, equity) of a cross account as `Health.cross` values it, or (2, 0) when one of
    /// its markets is stale.
    function _crossEquity(VenueState storage vs, Book memory b, address account, uint256 scale)
        private
        view
        returns (uint256, int256 equity)
    {
        uint256 mask = vs.crossMarkets[account];
        if (mask & b.stale != 0) return (2, 0);
        equity = vs.crossBalance[account] * int256(scale);
        for (uint256 m; mask != 0; ++m) {
            if (mask & 1 != 0) {
                IClearinghouse.Position storage p = vs.positions[account][m];
                equity += MarginMath.pnl(p.size, p.entryNotional, b.price[m]) - _charges(vs, p, b, m, scale);
            }
            mask >>= 1;
        }
        return (1, equity);
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
        int256 realized;
        (fill, realized) = Rules.decreaseImpact(
            vs, account, market, vs.configs[market], size > 0 ? -int256(sizeAbs) : int256(sizeAbs), price, scale, false, st
        );
        // Impact moves the pool like the fee: the cap's hold keeps f of it, paid in or out (§8.1).
        // Profit is judged at the oracle price; impact comes on top, uncapped.
        st.pnl = Solvency.credit(
            vs, env, account, market, p, sizeAbs, price, st.borrowing + int256(fee) + Buckets.impactInflow(realized, st)
        ) + realized;
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
