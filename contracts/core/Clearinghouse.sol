// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {Buckets} from "../libraries/Buckets.sol";
import {CollateralLogic} from "../libraries/CollateralLogic.sol";
import {AdminLogic} from "../libraries/AdminLogic.sol";
import {ClearinghouseViews} from "./ClearinghouseViews.sol";
import {AdlLogic} from "../libraries/AdlLogic.sol";
import {Health} from "../libraries/Health.sol";
import {TradeLogic} from "../libraries/TradeLogic.sol";
import {ImpactLogic} from "../libraries/ImpactLogic.sol";
import {LiquidationLogic} from "../libraries/LiquidationLogic.sol";
import {MarginMath} from "../libraries/MarginMath.sol";
import {Markets} from "../libraries/Markets.sol";
import {Rules} from "../libraries/Rules.sol";
import {Env, Settlement, StoredConfig, Tier, VenueState} from "../libraries/VenueState.sol";
import {PriceOracle} from "../oracle/PriceOracle.sol";
import {CLOSE_ALL as CLOSE_ALL_, CROSS_ACCOUNT as CROSS_ACCOUNT_, MAX_MARKETS as MAX_MARKETS_} from "../types/Constants.sol";
import {MarginMode, ModuleKind} from "../types/MarginMode.sol";

/// @title Clearinghouse
/// @notice The venue's core: custody, cross balances, positions in ISOLATED or CROSS mode,
/// funding and borrowing, and the pool's bookkeeping. It orchestrates; the rules it applies
/// live in libraries (`libraries/`) and, per market, in swappable rule modules (`Rules`);
/// liquidation runs in the external `LiquidationLogic` library on this contract's storage.
/// @dev All collateral sits here, in buckets whose sum is this contract's token balance exactly:
/// cross balances + isolated margins + pool assets + insurance fund + funding reserve. The
/// LiquidityPool (ERC-4626) only keeps LP shares; its assets are the `poolAssets` bucket, so a
/// trade settles PnL by bookkeeping instead of a token transfer.
contract Clearinghouse is IClearinghouse, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    uint8 public constant ISOLATED = uint8(MarginMode.Isolated);
    uint8 public constant CROSS = uint8(MarginMode.Cross);
    uint256 public constant MAX_MARKETS = MAX_MARKETS_;
    bytes32 public constant EXECUTOR_ROLE = keccak256("EXECUTOR_ROLE");
    /// @notice `decreasePosition` size meaning "the whole position", so a close needs no read.
    uint256 public constant CLOSE_ALL = CLOSE_ALL_;
    /// @notice The `market` of a liquidation target that means the account's cross positions.
    uint256 public constant CROSS_ACCOUNT = CROSS_ACCOUNT_;

    /// @dev `_checkOrderLock`'s market meaning "whichever market the order is in".
    uint256 private constant ANY_MARKET = type(uint256).max;

    IERC20 public immutable collateral;
    PriceOracle public immutable oracle;
    uint256 public immutable scale; // 10 ** (18 - collateral decimals)

    VenueState internal _s;

    constructor(IERC20 collateral_, PriceOracle oracle_, address admin) {
        uint8 decimals = IERC20Metadata(address(collateral_)).decimals();
        if (decimals > 18) revert ParamOutOfBounds("decimals", decimals);
        collateral = collateral_;
        oracle = oracle_;
        scale = 10 ** (18 - decimals);
        _s.instantTrading = true;
        _s.fundingSlotMarker = 1;
        (_s.maxPnlFactorTraders, _s.maxPnlFactorAdl, _s.minPnlFactorAfterAdl) = (9000, 8500, 7700); // GMX v2's defaults
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    function _env() internal view returns (Env memory) {
        return Env(oracle, scale, 0);
    }

    // ------------------------------------------------------------------ modifiers
    /// @dev The account itself or its operator (only while no market order of the account is
    /// pending, SPEC §10), or an executor such as the OrderBook.
    modifier onlyAccount(address account) {
        _authorize(account, ANY_MARKET);
        _;
    }

    /// @dev Trading calls: the account itself or its operator (only while instant trading is
    /// on and no market order of the account is pending), or an executor such as the OrderBook.
    /// The lock is looked up only while some account holds one (`lockedAccounts`, in the slot
    /// read here anyway).
    modifier onlyTrading(address account) {
        _authorizeTrade(account);
        _;
    }

    modifier knownMarket(uint256 market) {
        if (market >= _s.marketCount) revert UnknownMarket(market);
        _;
    }

    // ------------------------------------------------------------------ admin
    /// @notice Add a market (market == marketCount) or change one, within hard bounds. A
    /// market's rule modules are kept: `setMarketModule` changes them.
    function configureMarket(uint256 market, bytes32 symbol, MarketConfig calldata c) external onlyRole(DEFAULT_ADMIN_ROLE) {
        AdminLogic.configureMarket(_s, _env(), market, symbol, c);
    }

    function setRiskChangeDelay(uint256 delay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        AdminLogic.setRiskChangeDelay(_s, delay);
    }

    /// @notice The profit cap and auto-deleveraging thresholds, in basis points of the pool's
    /// assets (`Solvency`); a cap of 0 turns the cap off.
    function setPnlFactors(uint256 maxTraders, uint256 maxAdl, uint256 minAfterAdl) external onlyRole(DEFAULT_ADMIN_ROLE) {
        AdminLogic.setPnlFactors(_s, maxTraders, maxAdl, minAfterAdl);
    }

    /// @notice Make `module` a market's rule of kind `kind` (address(0): the stock rule). The
    /// module must declare the kind's interface (ERC-165). Accrual first, so the old rates rule
    /// applies up to now and the new one from now; an old rule that fails accrues nothing for
    /// that time (`RatesModuleFailed`), so the admin can always replace it.
    function setMarketModule(uint256 market, ModuleKind kind, address module)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        knownMarket(market)
    {
        AdminLogic.setMarketModule(_s, _env(), market, kind, module);
    }

    /// @notice The time constant of `market`'s mark price (the EMA of its oracle price that
    /// `markPrice` reports and stateful rates modules see), seconds in [1, 3600]
    /// (`MarkWindowOutOfBounds`); 150 until set. Setting it makes the market track memory: its
    /// accruals step the mark from then on, starting at the oracle price at the next one. No
    /// rule of the core reads the mark price.
    function setMarkWindow(uint256 market, uint256 window) external onlyRole(DEFAULT_ADMIN_ROLE) knownMarket(market) {
        AdminLogic.setMarkWindow(_s, _env(), market, window);
    }

    /// @notice Release `amount` of the negative impact held for `account` (GMX's claimable
    /// collateral, released by its config keeper) into its cross balance: the admin's call,
    /// once the impact it paid above the cap is judged not to be a manipulation's.
    function releaseHeldImpact(address account, uint256 amount) external onlyRole(DEFAULT_ADMIN_ROLE) {
        AdminLogic.releaseHeldImpact(_s, account, amount);
    }

    function setPool(address pool_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_s.pool != address(0)) revert PoolAlreadySet();
        _s.pool = pool_;
    }

    /// @notice Pause opening and increasing. Closing, adding margin and liquidation go on.
    function setPaused(bool paused_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _s.paused = paused_;
        emit PausedSet(paused_);
    }

    function setInstantTrading(bool enabled) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _s.instantTrading = enabled;
        emit InstantTradingSet(enabled);
    }

    /// @notice The OrderBook's lock of `account` while its market order is pending (SPEC §10):
    /// `lock` is the order id (bits 0-63), when it expires (64-127) and its market (128-135).
    /// An earlier order's lock that has expired is replaced and its id returned. A lock with
    /// no expiry ends order `lock`'s lock (executed, failed or cancelled). Executors only.
    function setOrderLock(address account, uint256 lock) external returns (uint256 replaced) {
        _requireExecutor(account);
        return CollateralLogic.setOrderLock(_s, account, lock);
    }

    function setOperator(address operator, bool approved) external {
        _s.isOperator[msg.sender][operator] = approved;
        emit OperatorSet(msg.sender, operator, approved);
    }

    // ------------------------------------------------------------------ collateral
    function deposit(address account, uint256 amount) external nonReentrant {
        CollateralLogic.deposit(_s, collateral, account, amount);
    }

    /// @notice Withdraw from the cross balance; with cross positions open the account must keep
    /// max(IM, 10% of notional) of each (Hyperliquid's transfer rule). Refused while the pool
    /// is insolvent.
    function withdraw(address account, uint256 amount) external nonReentrant onlyAccount(account) {
        CollateralLogic.withdraw(_s, _env(), collateral, account, amount);
    }

    function fundInsurance(uint256 amount) external nonReentrant {
        CollateralLogic.fundInsurance(_s, collateral, amount);
    }

    // ------------------------------------------------------------------ trading
    /// @notice Open or increase a position at the oracle price; a market's pricing module holds
    /// the trade's price impact as the position's pending impact (the event reports its
    /// execution price). `margin` (tokens) moves from the cross balance into an isolated
    /// position; cross positions take none.
    function increasePosition(address account, uint256 market, int256 sizeDelta, uint256 leverage, uint8 mode, uint256 margin)
        external
        onlyTrading(account)
        knownMarket(market)
    {
        VenueState storage vs = _s;
        if (vs.paused) revert TradingPaused();
        if (sizeDelta == 0) revert ZeroSize();
        if (mode != uint8(MarginMode.Isolated) && mode != uint8(MarginMode.Cross)) revert InvalidMode(mode);
        StoredConfig storage c = vs.configs[market];
        if (leverage == 0 || leverage > c.maxLeverage) revert InvalidLeverage(leverage, c.maxLeverage);
        uint256 price = oracle.freshPrice(market);
        MarketState storage s = Markets.accrue(vs, market, price, scale);
        Position storage p = vs.positions[account][market];
        // Everything at the oracle price (GMX v2.2); a pricing module holds the trade's impact
        // as the position's pending impact, which health counts.
        (uint256 fill, int256 realized) =
            c.pricingModule == 0 ? (price, int256(0)) : ImpactLogic.increase(vs, account, market, sizeDelta, price, scale);
        int256 size = p.size;
        if (size != 0) {
            if (uint8(p.mode) != mode) revert ModeMismatch(market, p.mode, mode);
            if ((size > 0) != (sizeDelta > 0)) revert DirectionMismatch(market, size, sizeDelta);
            if (p.leverage != leverage) revert LeverageMismatch(market, p.leverage, leverage);
        } else {
            p.mode = MarginMode(mode);
            if (mode == uint8(MarginMode.Cross)) vs.crossMarkets[account] |= 1 << market;
        }

        bool isLong = sizeDelta > 0;
        uint256 deltaAbs = Markets.abs(sizeDelta);
        uint256 fee = Buckets.feeTokens(MarginMath.notionalUp(deltaAbs, price), c.takerFeeBps, scale);
        Settlement memory st = Markets.settleIndices(s, p, isLong, scale);
        st.pnl = realized;
        int256 traderDelta = realized - st.funding - st.borrowing - int256(fee);

        Markets.removeFromMarket(s, p, size);
        int256 newSize = size + sizeDelta;
        p.size = newSize.toInt96();
        uint256 addedEntry = MarginMath.entryNotional(isLong, deltaAbs, price);
        p.entryNotional = (uint256(p.entryNotional) + addedEntry).toUint128();
        p.leverage = uint16(leverage);
        Markets.addToMarket(s, p, newSize);
        uint256 openEntry = vs.openEntry + addedEntry;
        _checkOpenInterest(market, c, s, isLong, price, openEntry);
        uint256 notional = MarginMath.notionalUp(Markets.abs(newSize), price);
        Markets.checkMinNotional(c, scale, notional);
        if (c.tierCount != 0) {
            uint256 cap = Rules.maxLeverage(vs, market, c, notional);
            if (leverage > cap) revert InvalidLeverage(leverage, cap);
        }

        int256 equity;
        uint256 maintenance;
        if (mode == uint8(MarginMode.Isolated)) {
            if (margin > 0) {
                Buckets.takeFromCross(vs, _env(), account, margin);
            }
            int256 newMargin = int256(uint256(p.margin)) + margin.toInt256() + traderDelta;
            if (newMargin < 0) revert InsufficientMargin(newMargin);
            p.margin = uint256(newMargin).toUint128();
            if (newMargin < int256(uint256(c.minCollateral))) revert BelowMinCollateral(uint256(newMargin), c.minCollateral);
            // SPEC §5: the margin put up must cover IM; the taker fee then comes out of it, and
            // what is left counts the position's price impact (pending, as it would close).
            equity = newMargin * int256(scale) + MarginMath.pnl(newSize, p.entryNotional, price);
            if (p.pendingImpact != 0) equity += Health.impact(vs, market, p, price, scale);
            uint256 required;
            (required, maintenance) = Rules.requirements(vs, market, c, notional, leverage);
            int256 withFee = equity + int256(fee * scale);
            if (withFee < required.toInt256()) revert MarginBelowInitial(withFee, required);
        } else {
            vs.crossBalance[account] += traderDelta;
            uint256 im;
            // the price just checked fresh, so the oracle is not asked twice
            (equity, maintenance, im,) = Health.cross(vs, Env(oracle, scale, (market + 1) << 128 | price), account);
            if (equity < int256(im)) revert InsufficientFreeCollateral(equity, im);
        }
        // SPEC §5: what is left keeps maintenance (the account's, for cross) plus the open
        // buffer of this position's notional, so the next block's accrual cannot liquidate it.
        // Unchecked: notional < 2^200 and the buffer <= 1,000 bps, so nothing here can overflow.
        unchecked {
            maintenance += (notional * c.openBufferBps + MarginMath.BPS - 1) / MarginMath.BPS;
        }
        if (equity < int256(maintenance)) revert MarginBelowMaintenance(equity, maintenance);
        Buckets.payPool(vs, st, fee);
        vs.openEntry = openEntry.toUint128();
        emit PositionIncreased(account, market, MarginMode(mode), sizeDelta, fill, fee, margin, st.funding, uint256(st.borrowing));
    }

    /// @notice Reduce a position by `sizeAbs` (all of it, or CLOSE_ALL, closes it) at the fill
    /// price. Realised PnL and every pending charge settle into the margin (isolated) or the
    /// cross balance.
    function decreasePosition(address account, uint256 market, uint256 sizeAbs) external onlyTrading(account) {
        TradeLogic.decrease(_s, _env(), account, market, sizeAbs);
    }

    /// @notice Auto-deleverage `sizeAbs` (CLOSE_ALL: what the market's ADL rule allows, the
    /// whole position under the stock rule) of a profitable position while pending profit is
    /// above `maxPnlFactorAdl` of the pool, under its market's ADL rule (`IAdlModule`; stock:
    /// the highest-ranked first): ADL keepers only (`ADL_KEEPER_ROLE`), never on their own
    /// positions (`TradeLogic`).
    function autoDeleverage(address account, uint256 market, uint256 sizeAbs) external {
        TradeLogic.autoDeleverage(_s, _env(), account, market, sizeAbs);
    }

    /// @notice End the auto-deleveraging round in progress (SPEC §8.1): an ADL keeper once the
    /// pnl factor is at or below the ADL trigger, the admin at any time (`AdlLogic`).
    function endAdlRound() external {
        AdlLogic.endRound(_s, _env());
    }

    /// @notice Move collateral from the cross balance into an isolated position. Works while
    /// paused and needs no price of this market; only the transfer rule of the account's cross
    /// positions, if it has any, limits how much the cross balance can give.
    function addMargin(address account, uint256 market, uint256 amount) external onlyAccount(account) {
        CollateralLogic.addMargin(_s, _env(), account, market, amount);
    }

    /// @notice Set a market's maintenance-margin tiers (Hyperliquid): `lowerBounds` (WAD USD of
    /// notional, the first 0, ascending) and each tier's `maxLeverages` (the first the
    /// market's maximum, none rising). Empty: back to notional x mmf.
    function setMarketTiers(uint256 market, uint256[] calldata lowerBounds, uint256[] calldata maxLeverages)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        knownMarket(market)
    {
        AdminLogic.setMarketTiers(_s, market, lowerBounds, maxLeverages);
    }

    /// @notice Change an open position's leverage. Its initial margin at the new leverage must be
    /// covered: by the position's equity (isolated) or the cross account's (cross).
    function updateLeverage(address account, uint256 market, uint256 leverage)
        external
        onlyAccount(account)
        knownMarket(market)
    {
        CollateralLogic.updateLeverage(_s, _env(), account, market, leverage);
    }

    /// @notice Move collateral out of an isolated position, keeping max(IM, 10% of notional).
    function removeMargin(address account, uint256 market, uint256 amount) external {
        // Only a pending market order in this market can fail for less isolated margin here.
        _authorize(account, market);
        if (amount == 0) revert ZeroAmount();
        Position storage p = _s.positions[account][market];
        if (p.size == 0) revert NoPosition(account, market);
        if (p.mode != MarginMode.Isolated) revert NotIsolated(market);
        uint256 price = oracle.freshPrice(market);
        if (amount > p.margin) revert InsufficientMargin(int256(uint256(p.margin)) - amount.toInt256());
        uint256 margin = p.margin - amount;
        uint256 minimum = _s.configs[market].minCollateral;
        if (margin < minimum) revert BelowMinCollateral(margin, minimum);
        p.margin = uint128(margin);
        (int256 equity,, uint256 im, uint256 notional) = Health.isolated(_s, scale, market, p, price);
        uint256 required = Health.transferRequirement(notional, im);
        if (equity < required.toInt256()) revert TransferRuleViolated(equity, required);
        _s.crossBalance[account] += amount.toInt256();
        emit MarginChanged(account, market, -amount.toInt256(), margin);
    }

    /// @notice Accrue funding and borrowing of a market up to now (anyone may call).
    function updateFunding(uint256 market) external knownMarket(market) {
        (uint256 price,,) = oracle.latest(market);
        Markets.accrue(_s, market, price, scale);
    }

    // ------------------------------------------------------------------ liquidation
    /// @notice Liquidate an unhealthy isolated position. Only that position changes; what equity
    /// is left after the penalty returns to the trader's cross balance.
    function liquidatePosition(address account, uint256 market) external {
        LiquidationLogic.liquidatePosition(_s, _env(), account, market);
    }

    /// @notice Liquidate a cross account whose equity is below the maintenance margin of its
    /// cross positions: every cross position closes; isolated positions are untouched.
    function liquidateAccount(address account) external {
        LiquidationLogic.liquidateAccount(_s, _env(), account);
    }

    /// @notice Liquidate many isolated positions and cross accounts in one transaction
    /// (`market == CROSS_ACCOUNT` names a cross account). A target that cannot be liquidated,
    /// whatever the reason (healthy, gone, cooling down, a stale price, its market's module
    /// reverting or answering out of bounds, out of gas), is skipped and undone alone, never
    /// reverting the batch, so keepers racing for the same targets lose only the work already
    /// done; `done[i]` says which were liquidated. Give it the gas every target needs: a target
    /// that runs out is skipped too.
    function liquidateBatch(LiquidationTarget[] calldata targets) external returns (bool[] memory done) {
        return LiquidationLogic.liquidateBatch(_s, _env(), targets, address(LiquidationLogic));
    }

    // ------------------------------------------------------------------ pool hooks
    function poolDeposit(uint256 amount) external {
        if (msg.sender != _s.pool) revert OnlyPool(msg.sender);
        _s.poolAssets += amount.toInt256().toInt128();
        emit PoolDeposited(amount);
    }

    /// @notice Pay LP assets out, keeping every market's open interest within the reserve.
    function poolWithdraw(address receiver, uint256 amount) external nonReentrant {
        if (msg.sender != _s.pool) revert OnlyPool(msg.sender);
        AdminLogic.checkPoolWithdrawal(_s, _env(), amount);
        collateral.safeTransfer(receiver, amount);
        emit PoolWithdrawn(receiver, amount);
    }

    // ------------------------------------------------------------------ views
    function marketCount() external view returns (uint8) {
        return _s.marketCount;
    }

    function crossBalance(address account) external view returns (int256) {
        return _s.crossBalance[account];
    }

    function crossMarkets(address account) external view returns (uint256) {
        return _s.crossMarkets[account];
    }

    function accounts(uint256 index) external view returns (address) {
        return _s.accounts[index];
    }

    function accountCount() external view returns (uint256) {
        return _s.accounts.length;
    }

    function position(address account, uint256 market) external view returns (Position memory) {
        return _s.positions[account][market];
    }

    /// @notice Every other view (`IClearinghouseViews`: health, pool value, solvency, market
    /// configuration and the plain getters) is served by `ClearinghouseViews`, run on this
    /// contract's storage by DELEGATECALL with the oracle and scale appended to the calldata.
    /// Nothing else reaches it: that library has only views.
    fallback() external {
        address views = address(ClearinghouseViews);
        address oracle_ = address(oracle);
        uint256 scale_ = scale;
        // Memory-safe: it only uses memory past the free pointer and never returns to Solidity.
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, 0, calldatasize())
            mstore(add(ptr, calldatasize()), oracle_)
            mstore(add(ptr, add(calldatasize(), 32)), scale_)
            let ok := delegatecall(gas(), views, ptr, add(calldatasize(), 64), 0, 0)
            returndatacopy(ptr, 0, returndatasize())
            if iszero(ok) { revert(ptr, returndatasize()) }
            return(ptr, returndatasize())
        }
    }

    // ------------------------------------------------------------------ internals
    /// @dev The account itself or its operator while none of its market orders that the call
    /// could make fail (in `market`, or in any) is pending; or an executor. A lock in one market
    /// is looked up only while one names it (`lockedAccounts`, in the config slot a margin
    /// move reads anyway).
    function _authorize(address account, uint256 market) internal view {
        if (msg.sender == account || _s.isOperator[account][msg.sender]) {
            if (market == ANY_MARKET || _s.configs[market].lockedAccounts != 0) _checkOrderLock(account, market);
        } else {
            _requireExecutor(account);
        }
    }

    function _authorizeTrade(address account) internal view {
        if (msg.sender == account || _s.isOperator[account][msg.sender]) {
            if (!_s.instantTrading) revert InstantTradingDisabled();
            if (_s.lockedAccounts != 0) _checkOrderLock(account, ANY_MARKET);
        } else {
            _requireExecutor(account);
        }
    }

    function _requireExecutor(address account) internal view {
        if (!hasRole(EXECUTOR_ROLE, msg.sender)) revert Unauthorized(msg.sender, account);
    }

    /// @dev Refuse while `account`'s market order (in `market`, or any) is pending and live.
    function _checkOrderLock(address account, uint256 market) internal view {
        uint256 lock = _s.orderLocks[account];
        if (lock != 0 && block.timestamp <= uint64(lock >> 64) && (market == ANY_MARKET || uint8(lock >> 128) == market)) {
            revert PendingMarketOrder(account, uint64(lock));
        }
    }

    function _checkOpenInterest(
        uint256 market,
        StoredConfig storage c,
        MarketState storage s,
        bool isLong,
        uint256 price,
        uint256 openEntry
    )
        internal
        view
    {
        uint256 oi = MarginMath.notionalUp(isLong ? s.longSize : s.shortSize, price);
        uint256 reserve = Buckets.reserve(_s, c, scale);
        uint256 cap = Math.min(isLong ? c.maxLongOi : c.maxShortOi, reserve);
        if (oi > cap) revert OpenInterestCap(market, isLong, oi, cap);
        if (openEntry > reserve) revert OpenInterestCap(market, isLong, openEntry, reserve);
    }
}
