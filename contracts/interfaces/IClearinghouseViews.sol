// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IClearinghouse} from "./IClearinghouse.sol";

/// @title IClearinghouseViews
/// @notice The Clearinghouse's views served by its fallback (`ClearinghouseViews`): call them on
/// the Clearinghouse's address. A build test checks that the library implements exactly these.
interface IClearinghouseViews {
    function pool() external view returns (address);
    /// @notice The role that may auto-deleverage (`autoDeleverage`), granted by the admin.
    function ADL_KEEPER_ROLE() external pure returns (bytes32);
    function paused() external view returns (bool);
    function instantTrading() external view returns (bool);
    function poolAssets() external view returns (int128);
    function fundingReserve() external view returns (int128);
    function insuranceFund() external view returns (int256);
    function marketSymbol(uint256 market) external view returns (bytes32);
    function isOperator(address account, address operator) external view returns (bool);
    function isRegistered(address account) external view returns (bool);
    /// @notice The account's pending market order (SPEC §10): its id (0: none), market and
    /// expiry. While `block.timestamp <= expiresAt` the account is locked (`PendingMarketOrder`).
    function orderLock(address account) external view returns (uint256 orderId, uint256 market, uint256 expiresAt);
    /// @notice How many accounts hold a market-order lock (expired ones included until the
    /// order leaves the book), and how many of those are in `market`.
    function lockedAccounts(uint256 market) external view returns (uint256 total, uint256 inMarket);
    function lastPartialLiquidation(address account, uint256 market) external view returns (uint256);
    function marketConfig(uint256 market) external view returns (IClearinghouse.MarketConfig memory);
    /// @notice A market's rule modules (rates, margin, liquidation, pricing, adl); address(0)
    /// is the stock rule of that kind.
    function marketModules(uint256 market) external view returns (address, address, address, address, address);
    /// @notice The auto-deleveraging round in progress, or the last one (`remaining` 0: none in
    /// progress): id, fraction (WAD), members not cut yet, module (SPEC §8.1).
    function adlRound() external view returns (uint256 id, uint256 fraction, uint256 remaining, address module);
    /// @notice A position's ADL round entry: last round it was a member of, its size then,
    /// whether it was cut, and what `autoDeleverage` may take of it now under the round.
    function adlRoundEntry(address account, uint256 market)
        external
        view
        returns (uint256 round, uint256 roundSize, bool cut, uint256 entitled);
    function marketState(uint256 market) external view returns (IClearinghouse.MarketState memory);
    /// @notice The market's mark price now, WAD. For a market that tracks memory (a stateful
    /// rates module, or a window set with `setMarkWindow`): the EMA of its oracle price (time
    /// constant the window, 150 s until set), stepped at its accruals and started at the oracle
    /// price by its first accrual after it began to track (the oracle price until then). For any
    /// other market: the oracle's latest price. Read by rates modules that choose to
    /// (`RatesMemory.markPrice`); the core's rules use the oracle price.
    function markPrice(uint256 market) external view returns (uint256);
    /// @notice The market's memory as stored: the mark price at its last accrual while it tracks
    /// memory (0 while it does not, and until its first accrual after it began to), its time
    /// constant as set (0: not set, 150 s), whether its rates module is stateful
    /// (`IStatefulRatesModule`), and the word that module kept (0 for any other rule). The market
    /// tracks memory iff `statefulRates` or `markWindow != 0`.
    function marketMemory(uint256 market)
        external
        view
        returns (uint256 markPrice_, uint256 markWindow, bool statefulRates, int256 ratesState);
    function marketTier(uint256 market, uint256 index)
        external
        view
        returns (uint256 lowerBound, uint256 maxLeverage, uint256 deduction, uint256 count);
    /// @notice (equity, maintenance margin) of an isolated position at the current price, WAD.
    function positionHealth(address account, uint256 market) external view returns (int256 equity, uint256 mm);
    /// @notice (equity, maintenance, initial, transfer requirement) of the cross account, WAD.
    function accountHealth(address account) external view returns (int256, uint256, uint256, uint256);
    function isLiquidatable(address account, uint256 market) external view returns (bool);
    function isAccountLiquidatable(address account) external view returns (bool);
    /// @notice (equity, maintenance, markets a liquidation can close as a bitmask) of the cross
    /// account as a liquidation values it, WAD: a stale market's position counts its loss and
    /// none of its profit at its last price (SPEC §6). Needs no fresh price.
    function accountLiquidationHealth(address account) external view returns (int256, uint256, uint256);
    /// @notice Pending (funding, borrowing) of a position in WAD at the current time.
    function pendingCharges(address account, uint256 market) external view returns (int256, uint256);
    /// @notice Pool value in tokens, trader profit counted up to the cap.
    function poolValue() external view returns (int256);
    /// @notice The most LP assets (tokens) a withdrawal can take now under the reserve rule.
    function maxPoolWithdrawal() external view returns (uint256);
    /// @notice The market's impact pool in index tokens, WAD base units (`IPricingModule`); the
    /// cap on positive impact.
    function impactPool(uint256 market) external view returns (int256);
    /// @notice Collateral tokens of negative impact held for `account` (above the pricing
    /// module's cap) until the admin releases them into its cross balance.
    function heldImpact(address account) external view returns (uint256);
    /// @notice The execution price an increase of `sizeDelta` (+ buys) would get now against
    /// `oraclePrice` (the market's pricing rule).
    function quoteFill(uint256 market, int256 sizeDelta, uint256 oraclePrice) external view returns (uint256);
    /// @notice The execution price a decrease of `sizeAbs` of `account`'s position would get now.
    function quoteDecrease(address account, uint256 market, uint256 sizeAbs, uint256 oraclePrice)
        external
        view
        returns (uint256);
    /// @notice What health counts of a position's price impact now, WAD USD (<= 0).
    function healthImpact(address account, uint256 market) external view returns (int256);
    /// @notice Entry notional open in all markets, WAD USD: zero exactly when no position is open.
    function openEntry() external view returns (uint256);
    /// @notice The oldest last-price time among markets with open interest (max when none).
    function valuationTime() external view returns (uint256);
    /// @notice (pending profit, the pool's payout budget, the cap episode's hold), WAD: the
    /// profit cap binds while pending profit is above the budget.
    function profitBudget() external view returns (uint256 profit, uint256 budget, uint256 held);
    /// @notice (pending profit WAD, pending profit / pool WAD, open entry notional WAD, cap bps,
    /// ADL trigger bps, floor after ADL bps).
    function solvency() external view returns (uint256, uint256, uint256, uint256, uint256, uint256);
}
