// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MarginMode, ModuleKind} from "../types/MarginMode.sol";

/// @title IClearinghouse
/// @notice The venue's core: custody, positions in isolated or cross margin, funding and
/// borrowing, liquidation, the insurance fund and bad debt. Every refusal is a named error and
/// every change of state an event, declared here once for the core and its libraries.
interface IClearinghouse {
    // ------------------------------------------------------------------ types
    /// @notice A market's parameters as the admin sets them (`configureMarket`).
    struct MarketConfig {
        uint64 mmf; // WAD fraction: maintenance margin of the stock margin rule
        uint64 fundingFactor; // WAD per second at full skew (stock rates rule)
        uint64 maxFundingRate; // WAD per second (stock rates rule)
        uint64 borrowRate; // WAD per second of entry notional (stock rates rule)
        uint16 maxLeverage;
        uint16 takerFeeBps;
        uint16 liquidationFeeBps;
        uint16 keeperShareBps;
        uint16 reserveFactorBps;
        uint16 partialLiquidationBps;
        uint32 liquidationCooldown;
        uint64 minCollateral; // tokens
        uint128 maxLongOi; // WAD USD
        uint128 maxShortOi; // WAD USD
        uint128 partialThreshold; // WAD USD notional; 0 disables partial liquidation
        uint16 openBufferBps; // of the notional: an open or increase must leave MM plus this
    }

    /// @notice A market's open interest and accrual indices.
    struct MarketState {
        uint96 longSize;
        uint96 shortSize;
        uint64 borrowIndex;
        int112 longFunding;
        int112 shortFunding;
        uint32 lastUpdate;
        uint128 longEntry;
        uint128 shortEntry;
        uint256 borrowWeight; // sum of entryNotional x borrowIndex at each position's snapshot
    }

    /// @notice One account's position in one market.
    struct Position {
        int96 size;
        uint128 entryNotional;
        uint16 leverage;
        MarginMode mode;
        int112 fundingIndex;
        uint64 borrowIndex;
        // Price impact held until a decrease realises it (GMX's pendingImpactAmount), WAD base
        // units; beside the indices every trade already reads and writes, so it costs no storage
        // access of its own (`IPricingModule`).
        int80 pendingImpact;
        uint128 margin; // tokens, isolated only
    }

    /// @notice An isolated position (`market`) or a cross account (`market == CROSS_ACCOUNT`).
    struct LiquidationTarget {
        address account;
        uint256 market;
    }

    // ------------------------------------------------------------------ errors
    /// @notice The market id was never configured.
    error UnknownMarket(uint256 market);
    /// @notice A trade of size zero.
    error ZeroSize();
    /// @notice A transfer of zero tokens.
    error ZeroAmount();
    /// @notice The mode is neither ISOLATED (1) nor CROSS (2).
    error InvalidMode(uint8 mode);
    /// @notice Leverage is zero or above the market's maximum.
    error InvalidLeverage(uint256 leverage, uint256 maxLeverage);
    /// @notice A position cannot change margin mode while open.
    error ModeMismatch(uint256 market, MarginMode openMode, uint8 requested);
    /// @notice An increase must use the open position's leverage: a different one would reprice
    /// the margin required for the size already held. Change it first (`updateLeverage`).
    error LeverageMismatch(uint256 market, uint256 current, uint256 requested);
    /// @notice An increase must go the way of the open position; close it to flip.
    error DirectionMismatch(uint256 market, int256 size, int256 delta);
    /// @notice The account has no position in the market (or no cross positions).
    error NoPosition(address account, uint256 market);
    /// @notice Isolated-only operation on a cross position.
    error NotIsolated(uint256 market);
    /// @notice A decrease larger than the position.
    error SizeExceedsPosition(uint256 requested, uint256 size);
    /// @notice The margin put up does not cover the initial margin.
    error MarginBelowInitial(int256 equity, uint256 required);
    /// @notice After its taker fee (and price impact) the position, or the cross account, would
    /// be left below `maintenance`: its maintenance margin plus the market's open buffer
    /// (`openBufferBps` of the traded position's notional), so the next accrual could make it
    /// liquidatable. Put up more margin (or lower the leverage).
    error MarginBelowMaintenance(int256 equity, uint256 maintenance);
    /// @notice An isolated position's margin below the market's minimum collateral.
    error BelowMinCollateral(uint256 margin, uint256 minimum);
    /// @notice A position's notional below the minimum (dust would break funding indices).
    error PositionTooSmall(uint256 notional, uint256 minimum);
    /// @notice The cross balance cannot pay the amount.
    error InsufficientBalance(int256 available, uint256 required);
    /// @notice The cross account's equity does not cover its initial margin after the trade.
    error InsufficientFreeCollateral(int256 equity, uint256 required);
    /// @notice Collateral leaving a position or the cross account must leave max(IM, 10%).
    error TransferRuleViolated(int256 equity, uint256 required);
    /// @notice Charges would leave an isolated position with negative margin.
    error InsufficientMargin(int256 margin);
    /// @notice The trade takes a side's open interest above its cap or the pool's reserve, or
    /// the entry notional open in all markets together above the pool's reserve.
    error OpenInterestCap(uint256 market, bool isLong, uint256 openInterest, uint256 cap);
    /// @notice The position is above maintenance.
    error PositionHealthy(address account, uint256 market);
    /// @notice The cross account is above maintenance.
    error AccountHealthy(address account);
    /// @notice A partial liquidation of this position is cooling down.
    error LiquidationCooldown(uint256 market, uint256 until);
    /// @notice The pool cannot pay this profit (only with the profit cap off), or is below
    /// zero (withdrawals stop).
    error PoolInsolvent(int256 poolAssets, int256 payout);
    /// @notice An LP withdrawal would leave a market's open interest, or the entry notional open
    /// in all markets together, above the pool's reserve.
    error ReserveExceeded(uint256 market, uint256 openInterest, uint256 reserve);
    /// @notice The caller may not act for this account.
    error Unauthorized(address caller, address account);
    /// @notice Only the LiquidityPool calls the pool hooks.
    error OnlyPool(address caller);
    /// @notice The pool is set once.
    error PoolAlreadySet();
    /// @notice Opening and increasing are paused.
    error TradingPaused();
    /// @notice Positions change only through orders while instant trading is off.
    error InstantTradingDisabled();
    /// @notice The account's market order `orderId` is pending (SPEC §10): until it executes,
    /// fails, is cancelled or expires, its owner and operators may do nothing that could make it
    /// fail (withdraw, move margin, change leverage, trade directly; removing margin only from
    /// the order's market). Otherwise seeing the execution price and then failing the order for
    /// a full refund would be a free option. Deposits are always allowed.
    error PendingMarketOrder(address account, uint256 orderId);
    /// @notice No room for another market (MAX_MARKETS).
    error TooManyMarkets();
    /// @notice A parameter outside its hard bound (the name says which).
    error ParamOutOfBounds(bytes32 param, uint256 value);
    /// @notice The contract does not declare (ERC-165) the interface of that module kind.
    error ModuleInterfaceMissing(ModuleKind kind, address module);
    /// @notice Tiers must start at 0 and rise, with the market's max leverage first and none
    /// rising after (`index` names the first offending tier), and at most 16.
    error InvalidTiers(uint256 index);
    /// @notice A risk-increasing market change was scheduled and its delay has not passed.
    error MarketChangeNotReady(uint256 market, uint256 readyAt);
    /// @notice No room for another registered module (MAX_MODULES).
    error TooManyModules();
    /// @notice Auto-deleveraging is for when pending profit is above `maxPnlFactorAdl` of the
    /// pool (both WAD, 1e18 = 100%); it is not.
    error AdlNotRequired(uint256 pnlFactor, uint256 threshold);
    /// @notice Only a position in profit at the oracle price can be auto-deleveraged.
    error AdlNotProfitable(address account, uint256 market);
    /// @notice Auto-deleveraging must lower the pnl factor; this close would not.
    error AdlFactorNotLowered(uint256 before, uint256 afterAdl);
    /// @notice Auto-deleveraging may not take the pnl factor below `minPnlFactorAfterAdl`:
    /// close less.
    error AdlOvershoot(uint256 afterAdl, uint256 minimum);
    /// @notice Auto-deleveraging closes the highest-ranked position first (SPEC §8.1): the
    /// position of `account` in `market`, ADL could close now, ranks above the target with
    /// `score` (WAD).
    error AdlNotHighestRanked(address account, uint256 market, uint256 score);
    /// @notice A round rule's close (`IAdlModule` ADL_ROUND, SPEC §8.1) may only take a member
    /// of the current round `round`: a winner of the round's markets when it began. This
    /// position was not one (it opened later, was not in profit, its side netted to a loss, its
    /// market was stale, or its market has another module).
    error AdlNotInRound(address account, uint256 market, uint256 round);
    /// @notice A round cuts each member once; this one was cut in round `round` already.
    error AdlAlreadyCut(address account, uint256 market, uint256 round);
    /// @notice The market's ADL module allows closing `allowed` now (exactly that, for a rule
    /// whose close is exact, such as a pro-rata cut); `requested` is not that.
    error AdlSizeNotAllowed(uint256 requested, uint256 allowed);
    /// @notice `endAdlRound` needs a round in progress.
    error AdlNoRound();
    /// @notice An ADL keeper may end a round early only once the pnl factor is at or below the
    /// ADL trigger (both WAD); until then its members may still be cut.
    error AdlRoundStillNeeded(uint256 pnlFactor, uint256 threshold);
    /// @notice Pending trader profit (WAD) is above what the pool pays out (`budget`, WAD): the
    /// profit cap binds, so LP deposits wait (a deposit would be shared with the winners), and
    /// no LP withdrawal may make it bind.
    error ProfitCapBinds(uint256 pendingProfit, uint256 budget);
    /// @notice A module answered something the venue cannot apply (a penalty above what is
    /// left, a keeper reward above the penalty, a slice above the position, a zero price, a
    /// funding rate beyond +-1e13 or a borrow rate above 1e11 WAD per second: `value` is the
    /// rate, a negative one as the uint256 of its two's complement; a stateful rates module's
    /// word beyond +-(2^103 - 1), likewise; a rates answer shorter than two words, three for a
    /// stateful module: `value` is its length in bytes).
    error ModuleResultOutOfBounds(ModuleKind kind, uint256 value);
    /// @notice The admin released more of an account's held impact than it holds.
    error ReleaseExceedsHeld(address account, uint256 held, uint256 amount);
    /// @notice A mark price time constant (`setMarkWindow`) of 0 seconds or above `max`: an EMA
    /// with no memory, or one too slow to follow the oracle.
    error MarkWindowOutOfBounds(uint256 window, uint256 max);

    // ------------------------------------------------------------------ events
    /// @notice A market was added or its parameters changed (within the hard bounds).
    event MarketConfigured(uint256 indexed market, bytes32 symbol, MarketConfig config);
    /// @notice A market's maintenance-margin tiers changed (empty: notional x mmf again).
    event MarketTiersSet(uint256 indexed market, uint256[] lowerBounds, uint256[] maxLeverages);
    /// @notice A risk-increasing change (more maintenance charged or less leverage allowed at
    /// some notional, by mmf, max leverage or tiers: SPEC §2) was
    /// scheduled instead of applied: the same call at or after `readyAt` applies it, so traders
    /// see it coming and can reduce their positions first.
    event MarketChangeScheduled(uint256 indexed market, bytes32 change, uint256 readyAt);
    /// @notice How long risk-increasing market changes wait (0: they apply at once).
    event RiskChangeDelaySet(uint256 delay);
    /// @notice A market's rule module changed; address(0) is the stock rule.
    event MarketModuleSet(uint256 indexed market, ModuleKind indexed kind, address module);
    /// @notice `setMarketModule` found the market's rates module `module` failing (a revert, or
    /// an answer the venue cannot apply): nothing accrued for the seconds from `since` (the
    /// market's last accrual) to now. `reason` is the module's revert data (or the
    /// `ModuleResultOutOfBounds` the venue refused its answer with).
    event RatesModuleFailed(uint256 indexed market, address indexed module, uint256 since, bytes reason);
    /// @notice Collateral entered an account's cross balance.
    event Deposited(address indexed account, uint256 amount);
    /// @notice Collateral left an account's cross balance for its wallet.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice A position opened or grew at `price`; `fee` went to the pool, pending funding
    /// and borrowing were settled.
    event PositionIncreased(
        address indexed account,
        uint256 indexed market,
        MarginMode mode,
        int256 sizeDelta,
        uint256 price,
        uint256 fee,
        uint256 marginAdded,
        int256 fundingPaid,
        uint256 borrowingPaid
    );
    /// @notice A position shrank or closed at `price`, realising `realizedPnl` (tokens).
    event PositionDecreased(
        address indexed account,
        uint256 indexed market,
        int256 sizeDelta,
        uint256 price,
        int256 realizedPnl,
        uint256 fee,
        int256 fundingPaid,
        uint256 borrowingPaid
    );
    /// @notice A position's leverage changed (its initial margin at the new leverage covered).
    event LeverageUpdated(address indexed account, uint256 indexed market, uint256 leverage);
    /// @notice Collateral moved between the cross balance and an isolated position.
    event MarginChanged(address indexed account, uint256 indexed market, int256 delta, uint256 margin);
    /// @notice A position (or a cross account's position) was liquidated, in whole or a slice.
    event PositionLiquidated(
        address indexed account,
        uint256 indexed market,
        address indexed keeper,
        int256 sizeClosed,
        uint256 price,
        int256 realizedPnl,
        uint256 penalty,
        uint256 keeperReward,
        uint256 badDebt
    );
    /// @notice A cross account was liquidated: its cross positions closed, one penalty taken.
    event AccountLiquidated(
        address indexed account, address indexed keeper, uint256 positions, uint256 penalty, uint256 keeperReward, uint256 badDebt
    );
    /// @notice A shortfall neither the margin nor the account's held impact covered, paid by
    /// the insurance fund first, then the pool.
    event BadDebt(address indexed account, uint256 amount, uint256 fromInsurance, uint256 fromPool);
    /// @notice Pending profit was above the cap, so this profit was paid pro rata: `paid` of
    /// `full` tokens (`Solvency`).
    event ProfitCapped(address indexed account, uint256 indexed market, int256 full, int256 paid);
    /// @notice A trade in a market with a pricing module: `sizeDelta` (+ bought) executed at
    /// `fillPrice` (the execution price) against `oraclePrice`; its own impact was `impactUsd`
    /// (WAD USD, + in the trader's favour); the position's pending impact moved by
    /// `pendingDelta` and the market's impact pool by `poolDelta` (both WAD base units); the
    /// trader was paid `realized` tokens (negative: paid them).
    event PriceImpact(
        address indexed account,
        uint256 indexed market,
        int256 sizeDelta,
        uint256 oraclePrice,
        uint256 fillPrice,
        int256 poolDelta,
        int256 impactUsd,
        int256 pendingDelta,
        int256 realized
    );
    /// @notice Of the price impact `account` paid in `market`, `amount` collateral tokens (the
    /// negative impact above the pricing module's cap) went not to the pool but into the
    /// account's held impact, where nobody can collect it as positive impact.
    event ImpactHeld(address indexed account, uint256 indexed market, uint256 amount);
    /// @notice The admin released `amount` of the account's held impact into its cross balance.
    event HeldImpactReleased(address indexed account, uint256 amount);
    /// @notice A profitable position was closed by auto-deleveraging at the oracle price with no
    /// fee. `score` is its rank (higher first), the factors pending profit / pool before and
    /// after (WAD).
    event AutoDeleveraged(
        address indexed account,
        uint256 indexed market,
        address indexed caller,
        int256 sizeDelta,
        uint256 price,
        int256 realizedPnl,
        uint256 score,
        uint256 factorBefore,
        uint256 factorAfter
    );
    /// @notice An auto-deleveraging round began (SPEC §8.1): `members` winners of the markets
    /// whose ADL module is `module`, with `winnersProfit` of the venue's `pendingProfit` (WAD),
    /// each to be cut by `fraction` (WAD) of its size now.
    event AdlRoundStarted(
        uint256 indexed round, address indexed module, uint256 fraction, uint256 members, uint256 pendingProfit, uint256 winnersProfit
    );
    /// @notice An auto-deleveraging round ended: every member cut (`uncut` 0), or ended early by
    /// `endAdlRound` with `uncut` members left.
    event AdlRoundEnded(uint256 indexed round, uint256 uncut);
    /// @notice The profit cap and auto-deleveraging thresholds changed (basis points of the pool).
    event PnlFactorsSet(uint256 maxPnlFactorTraders, uint256 maxPnlFactorAdl, uint256 minPnlFactorAfterAdl);
    /// @notice A market's funding and borrow indices accrued up to now.
    /// @notice The admin set the time constant of a market's mark price (`setMarkWindow`).
    event MarkWindowSet(uint256 indexed market, uint256 window);
    event FundingUpdated(uint256 indexed market, int256 longIndex, int256 shortIndex, uint256 borrowIndex);
    /// @notice The insurance fund received collateral.
    event InsuranceFunded(address indexed from, uint256 amount);
    /// @notice LP assets entered the pool bucket (through the LiquidityPool).
    event PoolDeposited(uint256 amount);
    /// @notice LP assets left the pool bucket (through the LiquidityPool).
    event PoolWithdrawn(address indexed receiver, uint256 amount);
    /// @notice Opening and increasing were paused or resumed.
    event PausedSet(bool paused);
    /// @notice Direct trading was switched on or off (off: orders only).
    event InstantTradingSet(bool enabled);
    /// @notice An account got its first cross balance: keepers scan it from now on.
    event AccountRegistered(address indexed account, uint256 index);
    /// @notice An account allowed or disallowed an operator to act for it.
    event OperatorSet(address indexed account, address indexed operator, bool approved);
    /// @notice The OrderBook locked `account` for its pending market order `orderId` in
    /// `market` until `expiresAt` (SPEC §10).
    event OrderLockSet(address indexed account, uint256 indexed orderId, uint256 market, uint256 expiresAt);
    /// @notice The lock of market order `orderId` ended: it executed, failed or was cancelled.
    event OrderLockReleased(address indexed account, uint256 indexed orderId);

    // ------------------------------------------------------------------ trading
    function increasePosition(address account, uint256 market, int256 sizeDelta, uint256 leverage, uint8 mode, uint256 margin)
        external;
    function decreasePosition(address account, uint256 market, uint256 sizeAbs) external;

    // ------------------------------------------------------------------ views keepers use
    function accountCount() external view returns (uint256);
    function accounts(uint256 index) external view returns (address);
    function marketCount() external view returns (uint8);
    function crossMarkets(address account) external view returns (uint256);
    function crossBalance(address account) external view returns (int256);
    function position(address account, uint256 market) external view returns (Position memory);
}
