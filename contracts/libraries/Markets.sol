// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {MarginMode} from "../types/MarginMode.sol";
import {MarginMath} from "./MarginMath.sol";
import {RatesLogic} from "./RatesLogic.sol";
import {Rules} from "./Rules.sol";
import {MarketMemory, Settlement, StoredConfig, VenueState} from "./VenueState.sol";

/// @title Markets
/// @notice A market's open interest and its funding and borrow indices, and a position's place
/// in them: accrual, settlement of a position's charges, reducing a position.
library Markets {
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @dev A floor on every position's notional (the market's minimum collateral, in USD). The
    /// small side of a market receives funding in proportion to how outnumbered it is, so dust
    /// positions would let its funding index run away.
    function checkMinNotional(StoredConfig storage c, uint256 scale, uint256 notional) internal view {
        uint256 minimum = uint256(c.minCollateral) * scale;
        if (notional < minimum) revert IClearinghouse.PositionTooSmall(notional, minimum);
    }

    function abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    /// @dev Funding and borrow indices as they would be after accruing up to now.
    function indicesNow(VenueState storage vs, uint256 market, IClearinghouse.MarketState storage s, uint256 price, uint256 scale)
        internal
        view
        returns (int256 longIdx, int256 shortIdx, uint256 borrowIdx)
    {
        (longIdx, shortIdx, borrowIdx,) = _indicesNow(vs, market, vs.configs[market], s, price, scale);
    }

    /// @dev `indicesNow`, and the word a stateful rates module keeps from now (0 for any other
    /// rule; unused when no time has elapsed, as `accrue` then stores nothing).
    function _indicesNow(
        VenueState storage vs,
        uint256 market,
        StoredConfig storage c,
        IClearinghouse.MarketState storage s,
        uint256 price,
        uint256 scale
    )
        private
        view
        returns (int256 longIdx, int256 shortIdx, uint256 borrowIdx, int256 ratesState)
    {
        longIdx = s.longFunding;
        shortIdx = s.shortFunding;
        borrowIdx = s.borrowIndex;
        uint256 elapsed = block.timestamp - s.lastUpdate;
        if (elapsed == 0) return (longIdx, shortIdx, borrowIdx, 0);
        // Read once, before the rates: a module's answer comes through a library call, after
        // which the compiler would read the sizes again.
        (uint256 longSize, uint256 shortSize) = (s.longSize, s.shortSize);
        int256 rate;
        uint256 borrowRate;
        (rate, borrowRate, ratesState) = Rules.rates(vs, market, c, longSize, shortSize, price, scale);
        borrowIdx += MarginMath.borrowIndexGrowth(borrowRate, elapsed);
        if (rate != 0) {
            uint256 payerDelta = Math.mulDiv(price * elapsed, abs(rate), MarginMath.WAD, Math.Rounding.Ceil);
            (uint256 payerSize, uint256 receiverSize) = rate > 0 ? (longSize, shortSize) : (shortSize, longSize);
            uint256 receiverDelta = Math.mulDiv(payerDelta, payerSize, receiverSize);
            if (rate > 0) {
                longIdx += int256(payerDelta);
                shortIdx -= int256(receiverDelta);
            } else {
                shortIdx += int256(payerDelta);
                longIdx -= int256(receiverDelta);
            }
        }
    }

    /// @dev The indices after `elapsed` seconds at rates already asked: `indicesNow`'s
    /// arithmetic (the payers' index rises by price x elapsed x |rate|, up; the receivers' falls
    /// by that share of the payers' size, down), for `accrueOrSkip`, which asks a module once so
    /// that no second answer can differ from the one checked. A rate is never applied with
    /// either side empty (`Rules`).
    function _advance(IClearinghouse.MarketState storage s, uint256 price, uint256 elapsed, int256 rate, uint256 borrowRate)
        private
        view
        returns (int256 longIdx, int256 shortIdx, uint256 borrowIdx)
    {
        longIdx = s.longFunding;
        shortIdx = s.shortFunding;
        borrowIdx = s.borrowIndex + MarginMath.borrowIndexGrowth(borrowRate, elapsed);
        if (rate != 0) {
            uint256 payerDelta = Math.mulDiv(price * elapsed, abs(rate), MarginMath.WAD, Math.Rounding.Ceil);
            (uint256 payerSize, uint256 receiverSize) = rate > 0 ? (s.longSize, s.shortSize) : (s.shortSize, s.longSize);
            uint256 receiverDelta = Math.mulDiv(payerDelta, payerSize, receiverSize);
            if (rate > 0) {
                longIdx += int256(payerDelta);
                shortIdx -= int256(receiverDelta);
            } else {
                shortIdx += int256(payerDelta);
                longIdx -= int256(receiverDelta);
            }
        }
    }

    /// @dev The borrow index as it would be after accruing up to now, for the pool's value: a
    /// market whose rates module fails counts what has accrued, so no module can make the
    /// pool's value (`totalAssets`, LP requests) revert.
    function borrowIndexNow(VenueState storage vs, uint256 market, IClearinghouse.MarketState storage s, uint256 price, uint256 scale)
        internal
        view
        returns (uint256 borrowIdx)
    {
        borrowIdx = s.borrowIndex;
        uint256 elapsed = block.timestamp - s.lastUpdate;
        if (elapsed == 0) return borrowIdx;
        (bool ok,, uint256 borrowRate,,) = Rules.tryRates(vs, market, vs.configs[market], s, price, scale);
        if (ok) borrowIdx += MarginMath.borrowIndexGrowth(borrowRate, elapsed);
    }

    function accrue(VenueState storage vs, uint256 market, uint256 price, uint256 scale)
        internal
        returns (IClearinghouse.MarketState storage s)
    {
        s = vs.states[market];
        uint256 last = s.lastUpdate;
        if (last == block.timestamp) return s;
        StoredConfig storage c = vs.configs[market];
        (int256 longIdx, int256 shortIdx, uint256 borrowIdx, int256 ratesState) = _indicesNow(vs, market, c, s, price, scale);
        _store(market, s, longIdx, shortIdx, borrowIdx);
        // In the config slot the rates rule has just read: a market that does not track memory
        // pays a warm read here, and its `marketMemory` slot is left alone.
        if (c.tracksMemory) _remember(vs.marketMemory[market], price, block.timestamp - last, ratesState);
    }

    /// @dev `accrue` for the admin's `setMarketModule`: a rates module that fails (reverts, or
    /// answers what `Rules` refuses) accrues nothing for the seconds since the last accrual, which
    /// `RatesModuleFailed` reports with the module's revert data; so a failing module can always
    /// be replaced. The mark price of a market that tracks memory moves on either way; a failing
    /// module's word is kept.
    function accrueOrSkip(VenueState storage vs, uint256 market, uint256 price, uint256 scale) internal {
        IClearinghouse.MarketState storage s = vs.states[market];
        uint256 last = s.lastUpdate;
        if (last == block.timestamp) return;
        StoredConfig storage c = vs.configs[market];
        MarketMemory storage mem = vs.marketMemory[market];
        (bool ok, int256 rate, uint256 borrowRate, int256 ratesState, bytes memory reason) = Rules.tryRates(vs, market, c, s, price, scale);
        if (!ok) {
            s.lastUpdate = uint32(block.timestamp);
            if (c.tracksMemory) _remember(mem, price, block.timestamp - last, mem.ratesState);
            emit IClearinghouse.RatesModuleFailed(market, vs.modules[c.ratesModule - 1], last, reason);
            return;
        }
        (int256 longIdx, int256 shortIdx, uint256 borrowIdx) = _advance(s, price, block.timestamp - last, rate, borrowRate);
        _store(market, s, longIdx, shortIdx, borrowIdx);
        if (c.tracksMemory) _remember(mem, price, block.timestamp - last, ratesState);
    }

    function _store(uint256 market, IClearinghouse.MarketState storage s, int256 longIdx, int256 shortIdx, uint256 borrowIdx)
        private
    {
        s.longFunding = longIdx.toInt112();
        s.shortFunding = shortIdx.toInt112();
        s.borrowIndex = borrowIdx.toUint64();
        s.lastUpdate = uint32(block.timestamp);
        emit IClearinghouse.FundingUpdated(market, longIdx, shortIdx, borrowIdx);
    }

    /// @dev At an accrual of a market that tracks memory (`StoredConfig.tracksMemory`),
    /// `elapsed` seconds after the last: the mark price's EMA step at the oracle `price`
    /// (`RatesLogic.markAfter`, which starts a mark of 0 at `price`; it stays within the
    /// oracle's 128 bits) and the rates module's word (already bounded by `RatesLogic`).
    function _remember(MarketMemory storage mem, uint256 price, uint256 elapsed, int256 ratesState) private {
        mem.markPrice = uint128(RatesLogic.markAfter(mem.markPrice, mem.markWindow, price, elapsed));
        mem.ratesState = int104(ratesState);
    }

    /// @dev A position's pending funding and borrowing (WAD) at the given indices, and
    /// `heldImpact`, non-zero iff it holds price impact (`pendingImpact`, which shares the slot
    /// of its index snapshots: health asks about it at no extra storage read).
    function pending(IClearinghouse.Position storage p, int256 longIdx, int256 shortIdx, uint256 borrowIdx)
        internal
        view
        returns (int256 funding, uint256 borrowing, uint256 heldImpact)
    {
        int256 size = p.size;
        if (size == 0) return (0, 0, 0);
        funding = MarginMath.funding(abs(size), size > 0 ? longIdx : shortIdx, p.fundingIndex);
        borrowing = MarginMath.borrowing(p.entryNotional, borrowIdx, p.borrowIndex);
        heldImpact = uint80(p.pendingImpact);
    }

    /// @dev Turn a position's pending charges into token amounts and move its snapshots to the
    /// market's (already accrued) indices, keeping the market's borrow weight in step.
    function settleIndices(IClearinghouse.MarketState storage s, IClearinghouse.Position storage p, bool isLong, uint256 scale)
        internal
        returns (Settlement memory st)
    {
        uint256 borrowIdx = s.borrowIndex;
        uint256 entry = p.entryNotional;
        if (p.size != 0) {
            (int256 fundingWad, uint256 borrowWad,) = pending(p, s.longFunding, s.shortFunding, borrowIdx);
            st.funding = MarginMath.chargeTokens(fundingWad, scale);
            st.borrowing = MarginMath.chargeTokens(int256(borrowWad), scale);
            s.borrowWeight += entry * (borrowIdx - p.borrowIndex);
        }
        p.borrowIndex = uint64(borrowIdx);
        p.fundingIndex = isLong ? s.longFunding : s.shortFunding;
    }

    /// @dev Like `delete`, but leaves a cross position's margin slot alone: it is always zero,
    /// and touching the cold slot would cost 2.2k gas per closed cross position.
    function clear(IClearinghouse.Position storage p) internal {
        bool isolated = p.mode == MarginMode.Isolated;
        assembly ("memory-safe") {
            sstore(p.slot, 0)
            sstore(add(p.slot, 1), 0)
            if isolated { sstore(add(p.slot, 2), 0) }
        }
    }

    function removeFromMarket(IClearinghouse.MarketState storage s, IClearinghouse.Position storage p, int256 size) internal {
        if (size == 0) return;
        uint256 entry = p.entryNotional;
        if (size > 0) {
            s.longSize -= uint96(uint256(size));
            s.longEntry -= uint128(entry);
        } else {
            s.shortSize -= uint96(uint256(-size));
            s.shortEntry -= uint128(entry);
        }
        s.borrowWeight -= entry * p.borrowIndex;
    }

    function addToMarket(IClearinghouse.MarketState storage s, IClearinghouse.Position storage p, int256 size) internal {
        if (size == 0) return;
        uint256 entry = p.entryNotional;
        if (size > 0) {
            s.longSize += uint256(size).toUint96();
            s.longEntry += entry.toUint128();
        } else {
            s.shortSize += uint256(-size).toUint96();
            s.shortEntry += entry.toUint128();
        }
        s.borrowWeight += entry * p.borrowIndex;
    }

    /// @dev What closing `closeAbs` of a position at `price` realises (WAD), before any cap.
    function closingPnl(IClearinghouse.Position storage p, int256 size, uint256 closeAbs, uint256 price)
        internal
        view
        returns (int256)
    {
        bool isLong = size > 0;
        uint256 closedEntry = MarginMath.closedEntry(p.entryNotional, closeAbs, abs(size), isLong);
        return MarginMath.pnl(isLong ? int256(closeAbs) : -int256(closeAbs), closedEntry, price);
    }

    /// @dev Close `closeAbs` of a position at `price`; returns the signed size change. The closed
    /// share of the entry notional rounds so the trader never gains (`closingPnl` is its PnL),
    /// and leaves the venue's open entry notional. When the last open position closes, a profit
    /// cap episode ends with it (`Solvency`: the hold goes back to 0).
    function reduce(
        VenueState storage vs,
        IClearinghouse.MarketState storage s,
        IClearinghouse.Position storage p,
        int256 size,
        uint256 closeAbs
    ) internal returns (int256 sizeDelta) {
        uint256 entry = p.entryNotional;
        bool isLong = size > 0;
        uint256 closedEntry = MarginMath.closedEntry(entry, closeAbs, abs(size), isLong);
        sizeDelta = isLong ? -int256(closeAbs) : int256(closeAbs);
        removeFromMarket(s, p, size);
        int256 newSize = size + sizeDelta;
        p.size = newSize.toInt96();
        p.entryNotional = (entry - closedEntry).toUint128();
        addToMarket(s, p, newSize);
        uint256 open = vs.openEntry - closedEntry;
        vs.openEntry = uint128(open);
        if (open == 0 && vs.profitHeld != 0) vs.profitHeld = 0;
    }
}
