// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {AdlLogic} from "../libraries/AdlLogic.sol";
import {Health} from "../libraries/Health.sol";
import {ImpactLogic} from "../libraries/ImpactLogic.sol";
import {MarginMath} from "../libraries/MarginMath.sol";
import {Markets} from "../libraries/Markets.sol";
import {RatesLogic} from "../libraries/RatesLogic.sol";
import {Rules} from "../libraries/Rules.sol";
import {Solvency} from "../libraries/Solvency.sol";
import {Env, MarketMemory, StoredConfig, Tier, VenueState} from "../libraries/VenueState.sol";
import {PriceOracle} from "../oracle/PriceOracle.sol";
import {ADL_KEEPER_ROLE as ADL_KEEPER_ROLE_} from "../types/Constants.sol";
import {MarginMode} from "../types/MarginMode.sol";

/// @title ClearinghouseViews
/// @notice The Clearinghouse's views that no transaction of the venue needs, served through the
/// core's fallback by DELEGATECALL so their code does not count against the core's size. The
/// functions are the core's own (`IClearinghouseViews`): same names, arguments and results.
/// @dev Only views: the core's fallback runs whatever this library exposes on its storage. The
/// core appends its immutables (oracle, scale) to the calldata, where ABI decoding ignores them.
library ClearinghouseViews {
    /// @dev The core's `VenueState` slot: after AccessControl's role mapping (slot 0). A build
    /// test checks it against the core's storage layout.
    uint256 internal constant STATE_SLOT = 1;

    function _state() private pure returns (VenueState storage vs) {
        assembly ("memory-safe") {
            vs.slot := STATE_SLOT
        }
    }

    function _env() private pure returns (Env memory env) {
        address oracle;
        uint256 scale;
        assembly ("memory-safe") {
            oracle := calldataload(sub(calldatasize(), 64))
            scale := calldataload(sub(calldatasize(), 32))
        }
        return Env(PriceOracle(oracle), scale, 0);
    }

    function pool() external view returns (address) {
        return _state().pool;
    }

    /// @notice The role that may auto-deleverage (`autoDeleverage`), granted by the admin.
    function ADL_KEEPER_ROLE() external pure returns (bytes32) {
        return ADL_KEEPER_ROLE_;
    }

    function paused() external view returns (bool) {
        return _state().paused;
    }

    function instantTrading() external view returns (bool) {
        return _state().instantTrading;
    }

    function poolAssets() external view returns (int128) {
        return _state().poolAssets;
    }

    function fundingReserve() external view returns (int128) {
        return _state().fundingReserve;
    }

    function insuranceFund() external view returns (int256) {
        return _state().insuranceFund;
    }

    function marketSymbol(uint256 market) external view returns (bytes32) {
        return _state().marketSymbol[market];
    }

    function isOperator(address account, address operator) external view returns (bool) {
        return _state().isOperator[account][operator];
    }

    function orderLock(address account) external view returns (uint256 orderId, uint256 market, uint256 expiresAt) {
        uint256 lock = _state().orderLocks[account];
        return (uint64(lock), uint8(lock >> 128), uint64(lock >> 64));
    }

    /// @dev How many accounts hold a market-order lock, and how many of those name `market`.
    function lockedAccounts(uint256 market) external view returns (uint256 total, uint256 inMarket) {
        VenueState storage vs = _state();
        return (vs.lockedAccounts, vs.configs[market].lockedAccounts);
    }

    function isRegistered(address account) external view returns (bool) {
        return _state().isRegistered[account];
    }

    function lastPartialLiquidation(address account, uint256 market) external view returns (uint256) {
        return _state().lastPartialLiquidation[account][market];
    }

    function marketConfig(uint256 market) external view returns (IClearinghouse.MarketConfig memory) {
        StoredConfig storage c = _state().configs[market];
        return IClearinghouse.MarketConfig(
            c.mmf, c.fundingFactor, c.maxFundingRate, c.borrowRate, c.maxLeverage, c.takerFeeBps, c.liquidationFeeBps,
            c.keeperShareBps, c.reserveFactorBps, c.partialLiquidationBps, c.liquidationCooldown, c.minCollateral,
            c.maxLongOi, c.maxShortOi, c.partialThreshold, c.openBufferBps
        );
    }

    /// @notice A market's rule modules; address(0) is the stock rule of that kind.
    function marketModules(uint256 market) external view returns (address, address, address, address, address) {
        VenueState storage vs = _state();
        StoredConfig storage c = vs.configs[market];
        return (
            _module(vs, c.ratesModule), _module(vs, c.marginModule), _module(vs, c.liquidationModule), _module(vs, c.pricingModule),
            _module(vs, c.adlModule)
        );
    }

    /// @notice The auto-deleveraging round in progress, or the last one (`remaining` 0: none in
    /// progress): its id, the fraction each member is cut by (WAD), the members not cut yet and
    /// the module whose markets it covers (SPEC §8.1).
    function adlRound() external view returns (uint256 id, uint256 fraction, uint256 remaining, address module) {
        return AdlLogic.round(_state());
    }

    /// @notice A position's entry in the ADL rounds: the round it was last a member of (0:
    /// none), its size when that round began (base units WAD) and whether it was cut; and
    /// `entitled`, what one `autoDeleverage` of it may take now under the round in progress
    /// (0: not a member of it, or cut already).
    function adlRoundEntry(address account, uint256 market)
        external
        view
        returns (uint256 round, uint256 roundSize, bool cut, uint256 entitled)
    {
        VenueState storage vs = _state();
        uint256 entry = vs.adlRoundEntry[account][market];
        return (entry >> 192, uint128(entry), (entry >> 128) & 1 == 1, AdlLogic.entitlement(vs, account, market));
    }

    function _module(VenueState storage vs, uint8 id) private view returns (address) {
        return id == 0 ? address(0) : vs.modules[id - 1];
    }

    function marketState(uint256 market) external view returns (IClearinghouse.MarketState memory) {
        return _state().states[market];
    }

    /// @notice A market's tier `index`: (lower bound WAD USD, max leverage, deduction WAD USD);
    /// the market has `count` tiers (0: notional x mmf).
    function marketTier(uint256 market, uint256 index)
        external
        view
        returns (uint256 lowerBound, uint256 maxLeverage, uint256 deduction, uint256 count)
    {
        VenueState storage vs = _state();
        Tier storage t = vs.tiers[market][index];
        return (t.lowerBound, t.maxLeverage, t.deduction, vs.configs[market].tierCount);
    }

    /// @notice (equity, maintenance margin) of an isolated position at the current price, WAD.
    function positionHealth(address account, uint256 market) external view returns (int256 equity, uint256 mm) {
        VenueState storage vs = _state();
        IClearinghouse.Position storage p = vs.positions[account][market];
        if (p.size == 0) revert IClearinghouse.NoPosition(account, market);
        if (p.mode != MarginMode.Isolated) revert IClearinghouse.NotIsolated(market);
        Env memory env = _env();
        (equity, mm,,) = Health.isolated(vs, env.scale, market, p, env.oracle.freshPrice(market));
    }

    /// @notice (equity, maintenance, initial, transfer requirement) of the cross account, WAD.
    function accountHealth(address account) external view returns (int256, uint256, uint256, uint256) {
        return Health.cross(_state(), _env(), account);
    }

    function isLiquidatable(address account, uint256 market) external view returns (bool) {
        VenueState storage vs = _state();
        IClearinghouse.Position storage p = vs.positions[account][market];
        if (p.size == 0 || p.mode != MarginMode.Isolated) return false;
        Env memory env = _env();
        (int256 equity, uint256 mm,,) = Health.isolated(vs, env.scale, market, p, env.oracle.freshPrice(market));
        return equity < int256(mm);
    }

    /// @notice Whether `account`'s cross account can be liquidated now: below maintenance as
    /// `Health.crossForLiquidation` values it, with a position in at least one fresh market.
    function isAccountLiquidatable(address account) external view returns (bool) {
        VenueState storage vs = _state();
        if (vs.crossMarkets[account] == 0) return false;
        (int256 equity, uint256 mm, uint256 freshMask,,) = Health.crossForLiquidation(vs, _env(), account);
        return freshMask != 0 && equity < int256(mm);
    }

    /// @notice (equity, maintenance, fresh markets' bitmask) of `account`'s cross positions as
    /// a liquidation values them (`Health.crossForLiquidation`), WAD; what a keeper can watch
    /// while a market is stale (`accountHealth` then reverts).
    function accountLiquidationHealth(address account) external view returns (int256 equity, uint256 mm, uint256 freshMask) {
        (equity, mm, freshMask,,) = Health.crossForLiquidation(_state(), _env(), account);
    }

    /// @notice `market`'s mark price now, WAD. For a market that tracks memory (its rates module
    /// is stateful, or the admin set its window with `setMarkWindow`): the EMA of its oracle price
    /// (`RatesLogic.markAfter`, time constant the window, 150 s until set), stepped at the
    /// market's accruals and here to the oracle's latest price, started at the oracle price by
    /// the first accrual after the market began to track (the oracle price itself until then).
    /// For any other market: the oracle's latest price. Only rates modules that read it
    /// (`RatesMemory.markPrice`) use it: the core's rules use the oracle price.
    function markPrice(uint256 market) external view returns (uint256) {
        (uint256 price,,) = _env().oracle.latest(market);
        return RatesLogic.markNow(_state(), market, price);
    }

    /// @notice `market`'s memory as stored: its mark price at its last accrual while it tracks
    /// memory (0 while it does not track, and until its first accrual after it began to), the
    /// mark's time constant in seconds as set (0: not set, 150 s), whether its rates module is
    /// stateful (`IStatefulRatesModule`), and the word that module kept (0 for any other rule).
    /// The market tracks memory iff `statefulRates` or `markWindow != 0`; the accruals of any
    /// other market leave this slot untouched.
    function marketMemory(uint256 market)
        external
        view
        returns (uint256 markPrice_, uint256 markWindow, bool statefulRates, int256 ratesState)
    {
        MarketMemory storage mem = _state().marketMemory[market];
        return (mem.markPrice, mem.markWindow, mem.statefulRates, mem.ratesState);
    }

    /// @notice Pending (funding, borrowing) of a position in WAD at the current time.
    function pendingCharges(address account, uint256 market) external view returns (int256, uint256) {
        VenueState storage vs = _state();
        Env memory env = _env();
        IClearinghouse.MarketState storage s = vs.states[market];
        (uint256 price,,) = env.oracle.latest(market);
        (int256 longIdx, int256 shortIdx, uint256 borrowIdx) = Markets.indicesNow(vs, market, s, price, env.scale);
        (int256 funding, uint256 borrowing,) = Markets.pending(vs.positions[account][market], longIdx, shortIdx, borrowIdx);
        return (funding, borrowing);
    }

    /// @notice Pool value in tokens: assets + pending borrowing fees - traders' unrealised PnL,
    /// their pending profit counted up to the cap (`Solvency`), as it would be paid. A market
    /// whose rates module fails counts the borrowing accrued so far (`Markets.borrowIndexNow`).
    function poolValue() external view returns (int256) {
        VenueState storage vs = _state();
        Env memory env = _env();
        uint256 pendingBorrow;
        uint256 profit;
        uint256 loss;
        uint256 count = vs.marketCount;
        for (uint256 market; market < count; ++market) {
            IClearinghouse.MarketState storage s = vs.states[market];
            (uint256 price,,) = env.oracle.latest(market);
            uint256 borrowIndex = Markets.borrowIndexNow(vs, market, s, price, env.scale);
            pendingBorrow += MarginMath.pendingBorrowing(uint256(s.longEntry) + s.shortEntry, borrowIndex, s.borrowWeight);
            (profit, loss) = Solvency.addMarketPnl(s, price, profit, loss);
        }
        profit = Math.min(profit, Solvency.profitCap(vs, env.scale, profit));
        int256 wad = int256(pendingBorrow) + int256(loss) - int256(profit);
        return vs.poolAssets + MarginMath.creditTokens(wad, env.scale);
    }

    /// @notice The most LP assets (tokens) a withdrawal can take now: the pool's assets less what
    /// the reserve rule keeps for every market with open interest and what keeps pending profit
    /// within the profit cap's budget (`checkPoolWithdrawal`), none while the pool is in deficit.
    /// Withdrawing exactly this succeeds; one token more does not.
    function maxPoolWithdrawal() external view returns (uint256) {
        VenueState storage vs = _state();
        int256 assets = vs.poolAssets;
        if (assets <= 0) return 0;
        Env memory env = _env();
        (uint256 kept,,) = Solvency.reserveKept(vs, env);
        kept = Math.max(kept, Solvency.capKept(vs, env));
        return kept >= uint256(assets) ? 0 : uint256(assets) - kept;
    }

    /// @notice The market's impact pool in index tokens, WAD base units (GMX's
    /// positionImpactPoolAmount): what negative price impact paid in less the positive impact
    /// paid out, at the prices of the time; the cap on positive impact (`IPricingModule`).
    function impactPool(uint256 market) external view returns (int256) {
        return _state().impactPool[market];
    }

    /// @notice Collateral tokens of negative impact held for `account` (`ImpactHeld`): in the
    /// venue's custody, not its balance, until released (`releaseHeldImpact`).
    function heldImpact(address account) external view returns (uint256) {
        return _state().heldImpact[account];
    }

    /// @notice The execution price an increase of `sizeDelta` (+ buys) would get now against
    /// `oraclePrice` (the market's pricing rule: the oracle price under the stock rule). What an
    /// increase order's `acceptablePrice` is checked against.
    function quoteFill(uint256 market, int256 sizeDelta, uint256 oraclePrice) external view returns (uint256) {
        VenueState storage vs = _state();
        StoredConfig storage c = vs.configs[market];
        if (c.pricingModule == 0) return oraclePrice;
        return ImpactLogic.quoteIncrease(vs, market, sizeDelta, oraclePrice, _env().scale);
    }

    /// @notice The execution price a decrease of `sizeAbs` of `account`'s position would get now
    /// against `oraclePrice`: what a decrease order's `acceptablePrice` is checked against.
    function quoteDecrease(address account, uint256 market, uint256 sizeAbs, uint256 oraclePrice) external view returns (uint256) {
        VenueState storage vs = _state();
        StoredConfig storage c = vs.configs[market];
        IClearinghouse.Position storage p = vs.positions[account][market];
        if (c.pricingModule == 0 || p.size == 0) return oraclePrice;
        int256 sizeDelta = p.size > 0 ? -int256(sizeAbs) : int256(sizeAbs);
        return ImpactLogic.quoteDecrease(vs, p, market, sizeDelta, oraclePrice, _env().scale, false).executionPrice;
    }

    /// @notice What health counts of a position's price impact now (WAD USD, <= 0): for a
    /// position holding pending impact, that and the impact of closing it whole, as the
    /// market's pricing rule counts them (`Health`); 0 otherwise.
    function healthImpact(address account, uint256 market) external view returns (int256) {
        VenueState storage vs = _state();
        IClearinghouse.Position storage p = vs.positions[account][market];
        if (p.pendingImpact == 0) return 0;
        Env memory env = _env();
        (uint256 price,,) = env.oracle.latest(market);
        return ImpactLogic.health(vs, market, p, price, env.scale);
    }

    /// @notice Entry notional open in all markets, WAD USD: zero exactly when no position is open.
    function openEntry() external view returns (uint256) {
        return _state().openEntry;
    }

    /// @notice The time of the oldest price the pool's value depends on: the last price of every
    /// market with open interest; `type(uint256).max` when no market has any (the value then
    /// depends on no price). LP requests execute only once this is newer than the request.
    function valuationTime() external view returns (uint256 oldest) {
        VenueState storage vs = _state();
        Env memory env = _env();
        oldest = type(uint256).max;
        uint256 count = vs.marketCount;
        for (uint256 market; market < count; ++market) {
            IClearinghouse.MarketState storage s = vs.states[market];
            if (s.longSize == 0 && s.shortSize == 0) continue;
            (, uint256 time,) = env.oracle.latest(market);
            oldest = Math.min(oldest, time);
        }
    }

    /// @notice (pending profit, what the pool pays out now at most, what the current profit cap
    /// episode holds back), WAD (`Solvency.profitCap`). The cap binds while the first is above
    /// the second; with the cap off the budget is the pending profit itself.
    function profitBudget() external view returns (uint256 profit, uint256 budget, uint256 held) {
        VenueState storage vs = _state();
        Env memory env = _env();
        (profit,) = Solvency.pendingProfit(vs, env);
        return (profit, Solvency.profitCap(vs, env.scale, profit), vs.profitHeld);
    }

    /// @notice (pending profit WAD, pending profit / pool WAD, entry notional open in all
    /// markets WAD, the three pnl factors in bps: cap, ADL trigger, floor after ADL).
    function solvency() external view returns (uint256, uint256, uint256, uint256, uint256, uint256) {
        VenueState storage vs = _state();
        Env memory env = _env();
        (uint256 profit,) = Solvency.pendingProfit(vs, env);
        return (profit, Solvency.factorOf(vs, env.scale, profit), vs.openEntry, vs.maxPnlFactorTraders, vs.maxPnlFactorAdl, vs.minPnlFactorAfterAdl);
    }
}
