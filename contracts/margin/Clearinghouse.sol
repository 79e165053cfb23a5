// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {PriceOracle} from "../oracle/PriceOracle.sol";
import {MarginMath} from "./MarginMath.sol";

/// @title Clearinghouse
/// @notice Custody and rules of the venue: cross balances, positions in ISOLATED or CROSS mode,
/// funding and borrowing, liquidation with keeper rewards, insurance fund and bad debt.
/// @dev All collateral sits here, in buckets whose sum is this contract's token balance exactly:
/// cross balances + isolated margins + pool assets + insurance fund + funding reserve. The
/// LiquidityPool (ERC-4626) only keeps LP shares; its assets are the `poolAssets` bucket, so a
/// trade settles PnL by bookkeeping instead of a token transfer.
contract Clearinghouse is AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    uint8 public constant ISOLATED = 1;
    uint8 public constant CROSS = 2;
    uint256 public constant MAX_MARKETS = 64;
    bytes32 public constant EXECUTOR_ROLE = keccak256("EXECUTOR_ROLE");
    /// @notice `decreasePosition` size meaning "the whole position", so a close needs no read.
    uint256 public constant CLOSE_ALL = type(uint256).max;
    /// @notice The `market` of a liquidation target that means the account's cross positions.
    uint256 public constant CROSS_ACCOUNT = type(uint256).max;

    // ------------------------------------------------------------------ types
    /// @dev Field order follows access: slot 0 is all that valuation and accrual read, slot 1
    /// what a trade reads, slot 2 the open-interest caps, slot 3 only liquidation.
    struct MarketConfig {
        uint64 mmf; // WAD fraction
        uint64 fundingFactor; // WAD per second at full skew
        uint64 maxFundingRate; // WAD per second
        uint64 borrowRate; // WAD per second of entry notional
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
    }

    /// @dev Valuation reads slots 0 and 1 only; entries and the borrow weight (slots 2 and 3)
    /// change with open interest. Widths: sizes up to 7.9e10 base units per side (list
    /// micro-priced assets in 1000s, as kPEPE), the borrow index to 1800% of notional (over five
    /// years at the highest allowed borrow rate), funding indices to 2.6e15 USD per unit, which
    /// the minimum position notional keeps out of reach (the small side's index grows with the
    /// ratio of the two sides), and times to 2106.
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

    /// @dev The margin slot is only written for isolated positions, so a cross open writes two
    /// fresh slots and an isolated one three.
    struct Position {
        int96 size;
        uint128 entryNotional;
        uint16 leverage;
        uint8 mode;
        int112 fundingIndex;
        uint64 borrowIndex;
        uint128 margin; // tokens, isolated only
    }

    struct LiquidationTarget {
        address account;
        uint256 market; // CROSS_ACCOUNT for the whole cross account
    }

    /// @dev Token amounts one settlement moves between the trader and the other buckets.
    struct Settlement {
        int256 pnl; // credited to the trader, taken from the pool
        int256 funding; // charged to the trader, into the funding reserve
        int256 borrowing; // charged to the trader, into the pool
    }

    // ------------------------------------------------------------------ errors
    error UnknownMarket(uint256 market);
    error ZeroSize();
    error ZeroAmount();
    error InvalidMode(uint8 mode);
    error InvalidLeverage(uint256 leverage, uint256 maxLeverage);
    error ModeMismatch(uint256 market, uint8 openMode, uint8 requested);
    error DirectionMismatch(uint256 market, int256 size, int256 delta);
    error NoPosition(address account, uint256 market);
    error NotIsolated(uint256 market);
    error SizeExceedsPosition(uint256 requested, uint256 size);
    error MarginBelowInitial(int256 equity, uint256 required);
    error BelowMinCollateral(uint256 margin, uint256 minimum);
    error PositionTooSmall(uint256 notional, uint256 minimum);
    error InsufficientBalance(int256 available, uint256 required);
    error InsufficientFreeCollateral(int256 equity, uint256 required);
    error TransferRuleViolated(int256 equity, uint256 required);
    error InsufficientMargin(int256 margin);
    error OpenInterestCap(uint256 market, bool isLong, uint256 openInterest, uint256 cap);
    error PositionHealthy(address account, uint256 market);
    error AccountHealthy(address account);
    error LiquidationCooldown(uint256 market, uint256 until);
    error PoolInsolvent(int256 poolAssets, int256 payout);
    error ReserveExceeded(uint256 market, uint256 openInterest, uint256 reserve);
    error Unauthorized(address caller, address account);
    error OnlyPool(address caller);
    error PoolAlreadySet();
    error TradingPaused();
    error InstantTradingDisabled();
    error TooManyMarkets();
    error ParamOutOfBounds(bytes32 param, uint256 value);

    // ------------------------------------------------------------------ events
    event MarketConfigured(uint256 indexed market, bytes32 symbol, MarketConfig config);
    event Deposited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);
    event PositionIncreased(
        address indexed account,
        uint256 indexed market,
        uint8 mode,
        int256 sizeDelta,
        uint256 price,
        uint256 fee,
        uint256 marginAdded,
        int256 fundingPaid,
        uint256 borrowingPaid
    );
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
    event MarginChanged(address indexed account, uint256 indexed market, int256 delta, uint256 margin);
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
    event AccountLiquidated(
        address indexed account, address indexed keeper, uint256 positions, uint256 penalty, uint256 keeperReward, uint256 badDebt
    );
    event BadDebt(address indexed account, uint256 amount, uint256 fromInsurance, uint256 fromPool);
    event FundingUpdated(uint256 indexed market, int256 longIndex, int256 shortIndex, uint256 borrowIndex);
    event InsuranceFunded(address indexed from, uint256 amount);
    event PoolDeposited(uint256 amount);
    event PoolWithdrawn(address indexed receiver, uint256 amount);
    event PausedSet(bool paused);
    event InstantTradingSet(bool enabled);
    event AccountRegistered(address indexed account, uint256 index);
    event OperatorSet(address indexed account, address indexed operator, bool approved);

    // ------------------------------------------------------------------ state
    IERC20 public immutable collateral;
    PriceOracle public immutable oracle;
    uint256 public immutable scale; // 10 ** (18 - collateral decimals)

    // Read by every trade, so packed: one cold load each instead of three and two.
    address public pool;
    bool public paused;
    uint8 public marketCount;
    /// @notice Whether traders may trade directly at the oracle price; when off, only the
    /// OrderBook (EXECUTOR_ROLE) opens and closes positions, with its two-step latency.
    bool public instantTrading = true;
    int128 public poolAssets;
    int128 public fundingReserve;
    int256 public insuranceFund;

    mapping(uint256 market => bytes32) public marketSymbol;
    mapping(uint256 market => MarketConfig) internal configs;
    mapping(uint256 market => MarketState) internal states;
    mapping(address account => int256) public crossBalance;
    mapping(address account => uint256) public crossMarkets; // bitmask of CROSS positions
    mapping(address account => mapping(uint256 market => Position)) internal positions;
    mapping(address account => mapping(address operator => bool)) public isOperator;
    /// @notice Every account that ever held a cross balance, in order of arrival: keepers scan it.
    address[] public accounts;
    mapping(address account => bool) public isRegistered;
    /// @notice When a large position of the account was last liquidated in part; the cooldown
    /// runs per (account, market), so reopening does not reset it.
    mapping(address account => mapping(uint256 market => uint256)) public lastPartialLiquidation;

    constructor(IERC20 collateral_, PriceOracle oracle_, address admin) {
        uint8 decimals = IERC20Metadata(address(collateral_)).decimals();
        if (decimals > 18) revert ParamOutOfBounds("decimals", decimals);
        collateral = collateral_;
        oracle = oracle_;
        scale = 10 ** (18 - decimals);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------ modifiers
    modifier onlyAccount(address account) {
        if (msg.sender != account && !isOperator[account][msg.sender] && !hasRole(EXECUTOR_ROLE, msg.sender)) {
            revert Unauthorized(msg.sender, account);
        }
        _;
    }

    /// @dev Trading calls: the account itself or its operator (only while instant trading is
    /// on), or an executor such as the OrderBook.
    modifier onlyTrading(address account) {
        if (msg.sender == account || isOperator[account][msg.sender]) {
            if (!instantTrading) revert InstantTradingDisabled();
        } else if (!hasRole(EXECUTOR_ROLE, msg.sender)) {
            revert Unauthorized(msg.sender, account);
        }
        _;
    }

    modifier knownMarket(uint256 market) {
        if (market >= marketCount) revert UnknownMarket(market);
        _;
    }

    // ------------------------------------------------------------------ admin
    /// @notice Add a market (market == marketCount) or change one, within hard bounds.
    function configureMarket(uint256 market, bytes32 symbol, MarketConfig calldata c) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (market > marketCount) revert UnknownMarket(market);
        if (c.maxLeverage == 0 || c.maxLeverage > 200) revert ParamOutOfBounds("maxLeverage", c.maxLeverage);
        // mmf < 1 / maxLeverage, so an opened position always starts above maintenance.
        if (c.mmf == 0 || uint256(c.mmf) * c.maxLeverage >= MarginMath.WAD) revert ParamOutOfBounds("mmf", c.mmf);
        if (c.takerFeeBps > 100) revert ParamOutOfBounds("takerFeeBps", c.takerFeeBps);
        if (c.liquidationFeeBps > 500) revert ParamOutOfBounds("liquidationFeeBps", c.liquidationFeeBps);
        if (c.keeperShareBps > 10_000) revert ParamOutOfBounds("keeperShareBps", c.keeperShareBps);
        if (c.reserveFactorBps == 0 || c.reserveFactorBps > 50_000) {
            revert ParamOutOfBounds("reserveFactorBps", c.reserveFactorBps);
        }
        if (c.partialLiquidationBps == 0 || c.partialLiquidationBps > 10_000) {
            revert ParamOutOfBounds("partialLiquidationBps", c.partialLiquidationBps);
        }
        // Rate caps keep the packed indices of MarketState far from overflow: 3.6%/hour funding
        // and 315%/year borrowing.
        if (c.maxFundingRate > 1e13) revert ParamOutOfBounds("maxFundingRate", c.maxFundingRate);
        if (c.fundingFactor > 1e13) revert ParamOutOfBounds("fundingFactor", c.fundingFactor);
        if (c.borrowRate > 1e11) revert ParamOutOfBounds("borrowRate", c.borrowRate);
        if (c.minCollateral == 0) revert ParamOutOfBounds("minCollateral", 0);
        if (c.liquidationCooldown > 1 days) revert ParamOutOfBounds("liquidationCooldown", c.liquidationCooldown);
        if (market == marketCount) {
            if (market == MAX_MARKETS) revert TooManyMarkets();
            marketCount = uint8(market + 1);
            states[market].lastUpdate = uint32(block.timestamp);
        } else {
            (uint256 price,,) = oracle.latest(market);
            _accrue(market, price);
        }
        configs[market] = c;
        marketSymbol[market] = symbol;
        emit MarketConfigured(market, symbol, c);
    }

    function setPool(address pool_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (pool != address(0)) revert PoolAlreadySet();
        pool = pool_;
    }

    /// @notice Pause opening and increasing. Closing, adding margin and liquidation go on.
    function setPaused(bool paused_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        paused = paused_;
        emit PausedSet(paused_);
    }

    function setInstantTrading(bool enabled) external onlyRole(DEFAULT_ADMIN_ROLE) {
        instantTrading = enabled;
        emit InstantTradingSet(enabled);
    }

    function setOperator(address operator, bool approved) external {
        isOperator[msg.sender][operator] = approved;
        emit OperatorSet(msg.sender, operator, approved);
    }

    // ------------------------------------------------------------------ collateral
    function deposit(address account, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        collateral.safeTransferFrom(msg.sender, address(this), amount);
        _credit(account, amount.toInt256());
        emit Deposited(account, amount);
    }

    /// @notice Withdraw from the cross balance; with cross positions open the account must keep
    /// max(IM, 10% of notional) of each (Hyperliquid's transfer rule). Refused while the pool
    /// is insolvent.
    function withdraw(address account, uint256 amount) external nonReentrant onlyAccount(account) {
        if (amount == 0) revert ZeroAmount();
        // Circuit breaker: once bad debt has exhausted the insurance fund and the pool, balances
        // may be credited with money that is not there; nothing leaves until it is recapitalised.
        if (poolAssets < 0) revert PoolInsolvent(poolAssets, amount.toInt256());
        _takeFromCross(account, amount);
        collateral.safeTransfer(account, amount);
        emit Withdrawn(account, amount);
    }

    function fundInsurance(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        collateral.safeTransferFrom(msg.sender, address(this), amount);
        insuranceFund += amount.toInt256();
        emit InsuranceFunded(msg.sender, amount);
    }

    // ------------------------------------------------------------------ trading
    /// @notice Open or increase a position at the oracle price. `margin` (tokens) moves from the
    /// cross balance into an isolated position; cross positions take none.
    function increasePosition(address account, uint256 market, int256 sizeDelta, uint256 leverage, uint8 mode, uint256 margin)
        external
        onlyTrading(account)
        knownMarket(market)
    {
        if (paused) revert TradingPaused();
        if (sizeDelta == 0) revert ZeroSize();
        if (mode != ISOLATED && mode != CROSS) revert InvalidMode(mode);
        MarketConfig storage c = configs[market];
        if (leverage == 0 || leverage > c.maxLeverage) revert InvalidLeverage(leverage, c.maxLeverage);
        uint256 price = oracle.freshPrice(market);
        MarketState storage s = _accrue(market, price);
        Position storage p = positions[account][market];
        int256 size = p.size;
        if (size != 0) {
            if (p.mode != mode) revert ModeMismatch(market, p.mode, mode);
            if ((size > 0) != (sizeDelta > 0)) revert DirectionMismatch(market, size, sizeDelta);
        } else {
            p.mode = mode;
            if (mode == CROSS) crossMarkets[account] |= 1 << market;
        }

        bool isLong = sizeDelta > 0;
        uint256 deltaAbs = _abs(sizeDelta);
        uint256 fee = _feeTokens(MarginMath.notionalUp(deltaAbs, price), c.takerFeeBps);
        Settlement memory st = _settleIndices(s, p, isLong);
        int256 traderDelta = -st.funding - st.borrowing - int256(fee);

        _removeFromMarket(s, p, size);
        int256 newSize = size + sizeDelta;
        p.size = newSize.toInt96();
        p.entryNotional = (uint256(p.entryNotional) + MarginMath.entryNotional(isLong, deltaAbs, price)).toUint128();
        p.leverage = uint16(leverage);
        _addToMarket(s, p, newSize);
        _checkOpenInterest(market, c, s, isLong, price);
        uint256 notional = MarginMath.notionalUp(_abs(newSize), price);
        _checkMinNotional(c, notional);

        if (mode == ISOLATED) {
            if (margin > 0) {
                _takeFromCross(account, margin);
            }
            int256 newMargin = int256(uint256(p.margin)) + margin.toInt256() + traderDelta;
            if (newMargin < 0) revert InsufficientMargin(newMargin);
            p.margin = uint256(newMargin).toUint128();
            if (newMargin < int256(uint256(c.minCollateral))) revert BelowMinCollateral(uint256(newMargin), c.minCollateral);
            // SPEC §5: the margin put up must cover IM; the taker fee then comes out of it.
            int256 equity = (newMargin + int256(fee)) * int256(scale) + MarginMath.pnl(newSize, p.entryNotional, price);
            uint256 required = MarginMath.initial(notional, leverage);
            if (equity < required.toInt256()) revert MarginBelowInitial(equity, required);
        } else {
            crossBalance[account] += traderDelta;
            (int256 equity,, uint256 im,) = _crossHealth(account);
            if (equity < im.toInt256()) revert InsufficientFreeCollateral(equity, im);
        }
        _payPool(st, fee);
        emit PositionIncreased(account, market, mode, sizeDelta, price, fee, margin, st.funding, uint256(st.borrowing));
    }

    /// @notice Reduce a position by `sizeAbs` (all of it, or CLOSE_ALL, closes it) at the oracle price. Realised
    /// PnL and every pending charge settle into the margin (isolated) or the cross balance.
    function decreasePosition(address account, uint256 market, uint256 sizeAbs) external onlyTrading(account) {
        if (sizeAbs == 0) revert ZeroSize();
        Position storage p = positions[account][market];
        int256 size = p.size;
        if (size == 0) revert NoPosition(account, market);
        uint256 currentAbs = _abs(size);
        if (sizeAbs == CLOSE_ALL) sizeAbs = currentAbs;
        if (sizeAbs > currentAbs) revert SizeExceedsPosition(sizeAbs, currentAbs);
        uint256 price = oracle.closePrice(market); // usable past the heartbeat for the grace period
        MarketConfig storage c = configs[market];
        if (sizeAbs != currentAbs) _checkMinNotional(c, MarginMath.notionalUp(currentAbs - sizeAbs, price));
        MarketState storage s = _accrue(market, price);

        Settlement memory st = _settleIndices(s, p, size > 0);
        uint256 fee = _feeTokens(MarginMath.notionalUp(sizeAbs, price), c.takerFeeBps);
        int256 realizedWad;
        int256 sizeDelta;
        (realizedWad, sizeDelta) = _reduce(s, p, size, sizeAbs, price);
        st.pnl = MarginMath.creditTokens(realizedWad, scale);
        int256 traderDelta = st.pnl - st.funding - st.borrowing - int256(fee);
        bool closed = sizeAbs == currentAbs;

        if (p.mode == ISOLATED) {
            int256 newMargin = int256(uint256(p.margin)) + traderDelta;
            if (closed) {
                p.margin = 0;
                if (newMargin >= 0) crossBalance[account] += newMargin;
                else _coverBadDebt(account, uint256(-newMargin));
            } else {
                if (newMargin < 0) revert InsufficientMargin(newMargin);
                p.margin = uint256(newMargin).toUint128();
            }
        } else {
            int256 balance = crossBalance[account] + traderDelta;
            if (closed) crossMarkets[account] &= ~(1 << market);
            if (balance < 0 && crossMarkets[account] == 0) {
                crossBalance[account] = 0;
                _coverBadDebt(account, uint256(-balance));
            } else {
                crossBalance[account] = balance;
            }
        }
        if (closed) _clear(p);
        _payPool(st, fee);
        emit PositionDecreased(account, market, sizeDelta, price, st.pnl, fee, st.funding, uint256(st.borrowing));
    }

    /// @notice Move collateral from the cross balance into an isolated position. Works while
    /// paused and needs no price of this market; only the transfer rule of the account's cross
    /// positions, if it has any, limits how much the cross balance can give.
    function addMargin(address account, uint256 market, uint256 amount) external onlyAccount(account) {
        if (amount == 0) revert ZeroAmount();
        Position storage p = positions[account][market];
        if (p.size == 0) revert NoPosition(account, market);
        if (p.mode != ISOLATED) revert NotIsolated(market);
        _takeFromCross(account, amount);
        uint256 margin = p.margin + amount;
        p.margin = margin.toUint128();
        emit MarginChanged(account, market, amount.toInt256(), margin);
    }

    /// @notice Move collateral out of an isolated position, keeping max(IM, 10% of notional).
    function removeMargin(address account, uint256 market, uint256 amount) external onlyAccount(account) {
        if (amount == 0) revert ZeroAmount();
        Position storage p = positions[account][market];
        if (p.size == 0) revert NoPosition(account, market);
        if (p.mode != ISOLATED) revert NotIsolated(market);
        uint256 price = oracle.freshPrice(market);
        if (amount > p.margin) revert InsufficientMargin(int256(uint256(p.margin)) - amount.toInt256());
        uint256 margin = p.margin - amount;
        MarketConfig storage c = configs[market];
        if (margin < c.minCollateral) revert BelowMinCollateral(margin, c.minCollateral);
        p.margin = uint128(margin);
        (int256 equity,) = _isolatedHealth(market, p, price, c.mmf);
        uint256 required = MarginMath.transferRequirement(MarginMath.notionalUp(_abs(p.size), price), p.leverage);
        if (equity < required.toInt256()) revert TransferRuleViolated(equity, required);
        crossBalance[account] += amount.toInt256();
        emit MarginChanged(account, market, -amount.toInt256(), margin);
    }

    /// @notice Accrue funding and borrowing of a market up to now (anyone may call).
    function updateFunding(uint256 market) external knownMarket(market) {
        (uint256 price,,) = oracle.latest(market);
        _accrue(market, price);
    }

    // ------------------------------------------------------------------ liquidation
    /// @notice Liquidate an unhealthy isolated position. Only that position changes; what equity
    /// is left after the penalty returns to the trader's cross balance.
    function liquidatePosition(address account, uint256 market) external {
        _liquidatePosition(account, market, false);
    }

    /// @notice Liquidate many isolated positions and cross accounts in one transaction
    /// (`market == CROSS_ACCOUNT` names a cross account). Targets that are healthy, gone or
    /// cooling down are skipped rather than reverting, so keepers racing for the same targets
    /// lose only the work already done; `done[i]` says which were liquidated.
    function liquidateBatch(LiquidationTarget[] calldata targets) external returns (bool[] memory done) {
        done = new bool[](targets.length);
        for (uint256 i; i < targets.length; ++i) {
            LiquidationTarget calldata t = targets[i];
            done[i] = t.market == CROSS_ACCOUNT ? _liquidateAccount(t.account, true) : _liquidatePosition(t.account, t.market, true);
        }
    }

    /// @dev With `skip`, a target that cannot be liquidated returns false instead of reverting
    /// (a stale price still reverts: nothing can be liquidated on it).
    function _liquidatePosition(address account, uint256 market, bool skip) internal returns (bool) {
        Position storage p = positions[account][market];
        int256 size = p.size;
        if (size == 0) {
            if (skip) return false;
            revert NoPosition(account, market);
        }
        if (p.mode != ISOLATED) {
            if (skip) return false;
            revert NotIsolated(market);
        }
        uint256 price = oracle.freshPrice(market);
        MarketConfig storage c = configs[market];
        (int256 equity, uint256 mm) = _isolatedHealth(market, p, price, c.mmf);
        if (equity >= mm.toInt256()) {
            if (skip) return false;
            revert PositionHealthy(account, market);
        }
        MarketState storage s = _accrue(market, price);

        uint256 sizeAbs = _abs(size);
        uint256 notional = MarginMath.notionalUp(sizeAbs, price);
        uint256 closeAbs = sizeAbs;
        Settlement memory st = _settleIndices(s, p, size > 0);
        if (c.partialThreshold != 0 && notional > c.partialThreshold && equity * 3 >= int256(mm) * 2) {
            uint256 part = _partialSlice(p, c, st, size, price);
            if (part != 0) {
                uint256 last = lastPartialLiquidation[account][market];
                uint256 until = last + c.liquidationCooldown;
                if (last != 0 && block.timestamp < until) {
                    if (skip) return false;
                    revert LiquidationCooldown(market, until);
                }
                closeAbs = part;
            }
        }
        (int256 realizedWad, int256 sizeDelta) = _reduce(s, p, size, closeAbs, price);
        st.pnl = MarginMath.creditTokens(realizedWad, scale);
        int256 remaining = int256(uint256(p.margin)) + st.pnl - st.funding - st.borrowing;
        uint256 maxPenalty = _feeTokens(MarginMath.notionalUp(closeAbs, price), c.liquidationFeeBps);
        uint256 penalty = remaining > 0 ? Math.min(uint256(remaining), maxPenalty) : 0;
        uint256 reward = penalty * c.keeperShareBps / MarginMath.BPS;
        remaining -= int256(penalty);
        uint256 badDebt;
        if (closeAbs == sizeAbs) {
            _clear(p);
            if (remaining > 0) crossBalance[account] += remaining;
            else if (remaining < 0) badDebt = uint256(-remaining);
        } else {
            p.margin = uint128(uint256(remaining)); // > 0: _partialSlice checked it
            lastPartialLiquidation[account][market] = block.timestamp;
        }
        _payPool(st, 0);
        _payPenalty(penalty, reward);
        if (badDebt != 0) _coverBadDebt(account, badDebt);
        emit PositionLiquidated(account, market, msg.sender, sizeDelta, price, st.pnl, penalty, reward, badDebt);
        return true;
    }

    /// @notice Liquidate a cross account whose equity is below the maintenance margin of its
    /// cross positions: every cross position closes; isolated positions are untouched.
    function liquidateAccount(address account) external {
        _liquidateAccount(account, false);
    }

    function _liquidateAccount(address account, bool skip) internal returns (bool) {
        uint256 mask = crossMarkets[account];
        if (mask == 0) {
            if (skip) return false;
            revert NoPosition(account, CROSS_ACCOUNT);
        }
        (int256 equity, uint256 mm,,) = _crossHealth(account);
        if (equity >= mm.toInt256()) {
            if (skip) return false;
            revert AccountHealthy(account);
        }

        int256 balance = crossBalance[account];
        uint256 maxPenalty;
        uint256 count;
        uint256 keeperShareBps;
        for (uint256 market; mask != 0; ++market) {
            if (mask & 1 != 0) {
                uint256 price = oracle.freshPrice(market);
                MarketState storage s = _accrue(market, price);
                Position storage p = positions[account][market];
                int256 size = p.size;
                if (count == 0) keeperShareBps = configs[market].keeperShareBps;
                Settlement memory st = _settleIndices(s, p, size > 0);
                (int256 realizedWad, int256 sizeDelta) = _reduce(s, p, size, _abs(size), price);
                st.pnl = MarginMath.creditTokens(realizedWad, scale);
                balance += st.pnl - st.funding - st.borrowing;
                maxPenalty += _feeTokens(MarginMath.notionalUp(_abs(size), price), configs[market].liquidationFeeBps);
                _payPool(st, 0);
                _clear(p);
                ++count;
                emit PositionLiquidated(account, market, msg.sender, sizeDelta, price, st.pnl, 0, 0, 0);
            }
            mask >>= 1;
        }
        crossMarkets[account] = 0;
        uint256 penalty = balance > 0 ? Math.min(uint256(balance), maxPenalty) : 0;
        // One account, one split: the keeper share of the lowest-numbered liquidated market.
        uint256 reward = penalty * keeperShareBps / MarginMath.BPS;
        balance -= int256(penalty);
        uint256 badDebt;
        if (balance < 0) {
            badDebt = uint256(-balance);
            balance = 0;
        }
        crossBalance[account] = balance;
        _payPenalty(penalty, reward);
        if (badDebt != 0) _coverBadDebt(account, badDebt);
        emit AccountLiquidated(account, msg.sender, count, penalty, reward, badDebt);
        return true;
    }

    // ------------------------------------------------------------------ pool hooks
    function poolDeposit(uint256 amount) external {
        if (msg.sender != pool) revert OnlyPool(msg.sender);
        poolAssets += amount.toInt256().toInt128();
        emit PoolDeposited(amount);
    }

    /// @notice Pay LP assets out, keeping every market's open interest within the reserve.
    function poolWithdraw(address receiver, uint256 amount) external nonReentrant {
        if (msg.sender != pool) revert OnlyPool(msg.sender);
        int256 assets = poolAssets - amount.toInt256();
        if (assets < 0) revert PoolInsolvent(poolAssets, amount.toInt256());
        poolAssets = int128(assets);
        for (uint256 market; market < marketCount; ++market) {
            MarketState storage s = states[market];
            (uint256 price,,) = oracle.latest(market);
            // Shorts can win at most their entry notional (the price going to zero): reserve
            // that, not today's notional, or a further fall could find the pool unable to pay.
            uint256 oi = Math.max(MarginMath.notionalUp(s.longSize, price), s.shortEntry);
            uint256 reserve = _reserve(configs[market]);
            if (oi > reserve) revert ReserveExceeded(market, oi, reserve);
        }
        collateral.safeTransfer(receiver, amount);
        emit PoolWithdrawn(receiver, amount);
    }

    /// @notice Pool value in tokens: assets + pending borrowing fees - traders' unrealised PnL.
    function poolValue() public view returns (int256) {
        int256 wad;
        for (uint256 market; market < marketCount; ++market) {
            MarketState storage s = states[market];
            (uint256 price,,) = oracle.latest(market);
            (, , uint256 borrowIndex) = _indicesNow(market, s, price);
            int256 traderPnl = int256(MarginMath.notionalUp(s.longSize, price)) - int256(uint256(s.longEntry))
                + int256(uint256(s.shortEntry)) - int256(MarginMath.notionalDown(s.shortSize, price));
            uint256 pendingBorrow = ((uint256(s.longEntry) + s.shortEntry) * borrowIndex - s.borrowWeight) / MarginMath.WAD;
            wad += int256(pendingBorrow) - traderPnl;
        }
        return poolAssets + MarginMath.creditTokens(wad, scale);
    }

    // ------------------------------------------------------------------ views
    function accountCount() external view returns (uint256) {
        return accounts.length;
    }

    function marketConfig(uint256 market) external view returns (MarketConfig memory) {
        return configs[market];
    }

    function marketState(uint256 market) external view returns (MarketState memory) {
        return states[market];
    }

    function position(address account, uint256 market) external view returns (Position memory) {
        return positions[account][market];
    }

    /// @notice (equity, maintenance margin) of an isolated position at the current price, WAD.
    function positionHealth(address account, uint256 market) external view returns (int256 equity, uint256 mm) {
        Position storage p = positions[account][market];
        if (p.size == 0) revert NoPosition(account, market);
        if (p.mode != ISOLATED) revert NotIsolated(market);
        return _isolatedHealth(market, p, oracle.freshPrice(market), configs[market].mmf);
    }

    /// @notice (equity, maintenance, initial, transfer requirement) of the cross account, WAD.
    function accountHealth(address account) external view returns (int256, uint256, uint256, uint256) {
        return _crossHealth(account);
    }

    function isLiquidatable(address account, uint256 market) external view returns (bool) {
        Position storage p = positions[account][market];
        if (p.size == 0 || p.mode != ISOLATED) return false;
        (int256 equity, uint256 mm) = _isolatedHealth(market, p, oracle.freshPrice(market), configs[market].mmf);
        return equity < mm.toInt256();
    }

    function isAccountLiquidatable(address account) external view returns (bool) {
        if (crossMarkets[account] == 0) return false;
        (int256 equity, uint256 mm,,) = _crossHealth(account);
        return equity < mm.toInt256();
    }

    /// @notice Pending (funding, borrowing) of a position in WAD at the current time.
    function pendingCharges(address account, uint256 market) external view returns (int256 funding, uint256 borrowing) {
        Position storage p = positions[account][market];
        MarketState storage s = states[market];
        (uint256 price,,) = oracle.latest(market);
        (int256 longIdx, int256 shortIdx, uint256 borrowIdx) = _indicesNow(market, s, price);
        return _pending(p, longIdx, shortIdx, borrowIdx);
    }

    // ------------------------------------------------------------------ internals
    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    function _feeTokens(uint256 notional, uint256 bps) internal view returns (uint256) {
        return uint256(MarginMath.chargeTokens(int256(MarginMath.feeWad(notional, bps)), scale));
    }

    function _reserve(MarketConfig storage c) internal view returns (uint256) {
        int256 assets = poolAssets;
        if (assets <= 0) return 0;
        return uint256(assets) * scale * c.reserveFactorBps / MarginMath.BPS;
    }

    /// @dev A floor on every position's notional (the market's minimum collateral, in USD). The
    /// small side of a market receives funding in proportion to how outnumbered it is, so dust
    /// positions would let its funding index run away.
    function _checkMinNotional(MarketConfig storage c, uint256 notional) internal view {
        uint256 minimum = uint256(c.minCollateral) * scale;
        if (notional < minimum) revert PositionTooSmall(notional, minimum);
    }

    function _checkOpenInterest(uint256 market, MarketConfig storage c, MarketState storage s, bool isLong, uint256 price)
        internal
        view
    {
        uint256 oi = MarginMath.notionalUp(isLong ? s.longSize : s.shortSize, price);
        uint256 cap = Math.min(isLong ? c.maxLongOi : c.maxShortOi, _reserve(c));
        if (oi > cap) revert OpenInterestCap(market, isLong, oi, cap);
    }

    /// @dev Funding and borrow indices as they would be after accruing up to now.
    function _indicesNow(uint256 market, MarketState storage s, uint256 price)
        internal
        view
        returns (int256 longIdx, int256 shortIdx, uint256 borrowIdx)
    {
        longIdx = s.longFunding;
        shortIdx = s.shortFunding;
        borrowIdx = s.borrowIndex;
        uint256 elapsed = block.timestamp - s.lastUpdate;
        if (elapsed == 0) return (longIdx, shortIdx, borrowIdx);
        MarketConfig storage c = configs[market];
        borrowIdx += uint256(c.borrowRate) * elapsed;
        int256 rate = MarginMath.fundingRate(s.longSize, s.shortSize, c.fundingFactor, c.maxFundingRate);
        if (rate != 0) {
            uint256 rateAbs = _abs(rate);
            uint256 payerDelta = Math.mulDiv(price * elapsed, rateAbs, MarginMath.WAD, Math.Rounding.Ceil);
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

    function _accrue(uint256 market, uint256 price) internal returns (MarketState storage s) {
        s = states[market];
        if (s.lastUpdate == block.timestamp) return s;
        (int256 longIdx, int256 shortIdx, uint256 borrowIdx) = _indicesNow(market, s, price);
        s.longFunding = longIdx.toInt112();
        s.shortFunding = shortIdx.toInt112();
        s.borrowIndex = borrowIdx.toUint64();
        s.lastUpdate = uint32(block.timestamp);
        emit FundingUpdated(market, longIdx, shortIdx, borrowIdx);
    }

    function _pending(Position storage p, int256 longIdx, int256 shortIdx, uint256 borrowIdx)
        internal
        view
        returns (int256 funding, uint256 borrowing)
    {
        int256 size = p.size;
        if (size == 0) return (0, 0);
        funding = MarginMath.funding(_abs(size), size > 0 ? longIdx : shortIdx, p.fundingIndex);
        borrowing = MarginMath.borrowing(p.entryNotional, borrowIdx, p.borrowIndex);
    }

    /// @dev Turn a position's pending charges into token amounts and move its snapshots to the
    /// market's (already accrued) indices, keeping the market's borrow weight in step.
    function _settleIndices(MarketState storage s, Position storage p, bool isLong)
        internal
        returns (Settlement memory st)
    {
        uint256 borrowIdx = s.borrowIndex;
        uint256 entry = p.entryNotional;
        if (p.size != 0) {
            (int256 fundingWad, uint256 borrowWad) = _pending(p, s.longFunding, s.shortFunding, borrowIdx);
            st.funding = MarginMath.chargeTokens(fundingWad, scale);
            st.borrowing = MarginMath.chargeTokens(int256(borrowWad), scale);
            s.borrowWeight += entry * (borrowIdx - p.borrowIndex);
        }
        p.borrowIndex = uint64(borrowIdx);
        p.fundingIndex = isLong ? s.longFunding : s.shortFunding;
    }

    /// @dev Like `delete`, but leaves a cross position's margin slot alone: it is always zero,
    /// and touching the cold slot would cost 2.2k gas per closed cross position.
    function _clear(Position storage p) internal {
        bool isolated = p.mode == ISOLATED;
        assembly ("memory-safe") {
            sstore(p.slot, 0)
            sstore(add(p.slot, 1), 0)
            if isolated { sstore(add(p.slot, 2), 0) }
        }
    }

    function _removeFromMarket(MarketState storage s, Position storage p, int256 size) internal {
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

    function _addToMarket(MarketState storage s, Position storage p, int256 size) internal {
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

    /// @dev Close `closeAbs` of a position at `price`; returns realised PnL (WAD) and the signed
    /// size change. The closed share of the entry notional rounds so the trader never gains.
    function _reduce(MarketState storage s, Position storage p, int256 size, uint256 closeAbs, uint256 price)
        internal
        returns (int256 realizedWad, int256 sizeDelta)
    {
        uint256 sizeAbs = _abs(size);
        uint256 entry = p.entryNotional;
        bool isLong = size > 0;
        uint256 closedEntry = MarginMath.closedEntry(entry, closeAbs, sizeAbs, isLong);
        sizeDelta = isLong ? -int256(closeAbs) : int256(closeAbs);
        realizedWad = MarginMath.pnl(isLong ? int256(closeAbs) : -int256(closeAbs), closedEntry, price);
        _removeFromMarket(s, p, size);
        int256 newSize = size + sizeDelta;
        p.size = newSize.toInt96();
        p.entryNotional = (entry - closedEntry).toUint128();
        _addToMarket(s, p, newSize);
    }

    /// @dev The slice a partial liquidation closes, or 0 when the margin left after the slice's
    /// PnL, all pending charges and the penalty would not be positive: such a position is
    /// liquidated whole (its unrealised profit, not its margin, was carrying it).
    function _partialSlice(Position storage p, MarketConfig storage c, Settlement memory st, int256 size, uint256 price)
        internal
        view
        returns (uint256 part)
    {
        uint256 sizeAbs = _abs(size);
        part = sizeAbs * c.partialLiquidationBps / MarginMath.BPS;
        uint256 entry = MarginMath.closedEntry(p.entryNotional, part, sizeAbs, size > 0);
        int256 partPnl = MarginMath.creditTokens(MarginMath.pnl(size > 0 ? int256(part) : -int256(part), entry, price), scale);
        int256 left = int256(uint256(p.margin)) + partPnl - st.funding - st.borrowing
            - int256(_feeTokens(MarginMath.notionalUp(part, price), c.liquidationFeeBps));
        if (left <= 0) return 0;
    }

    function _isolatedHealth(uint256 market, Position storage p, uint256 price, uint256 mmf)
        internal
        view
        returns (int256 equity, uint256 mm)
    {
        MarketState storage s = states[market];
        (int256 longIdx, int256 shortIdx, uint256 borrowIdx) = _indicesNow(market, s, price);
        (int256 funding, uint256 borrowing) = _pending(p, longIdx, shortIdx, borrowIdx);
        int256 size = p.size;
        equity = int256(uint256(p.margin)) * int256(scale) + MarginMath.pnl(size, p.entryNotional, price) - funding
            - int256(borrowing);
        mm = MarginMath.maintenance(MarginMath.notionalUp(_abs(size), price), mmf);
    }

    function _crossHealth(address account)
        internal
        view
        returns (int256 equity, uint256 mm, uint256 im, uint256 transferReq)
    {
        equity = crossBalance[account] * int256(scale);
        uint256 mask = crossMarkets[account];
        for (uint256 market; mask != 0; ++market) {
            if (mask & 1 != 0) {
                Position storage p = positions[account][market];
                uint256 price = oracle.freshPrice(market);
                MarketState storage s = states[market];
                (int256 longIdx, int256 shortIdx, uint256 borrowIdx) = _indicesNow(market, s, price);
                (int256 funding, uint256 borrowing) = _pending(p, longIdx, shortIdx, borrowIdx);
                int256 size = p.size;
                equity += MarginMath.pnl(size, p.entryNotional, price) - funding - int256(borrowing);
                uint256 notional = MarginMath.notionalUp(_abs(size), price);
                mm += MarginMath.maintenance(notional, configs[market].mmf);
                im += MarginMath.initial(notional, p.leverage);
                transferReq += MarginMath.transferRequirement(notional, p.leverage);
            }
            mask >>= 1;
        }
    }

    /// @dev Credit a cross balance from outside the account's trading (deposit, keeper reward),
    /// registering the account the first time. A non-zero balance implies registration, so a
    /// returning depositor pays no extra storage read.
    function _credit(address account, int256 amount) internal {
        int256 balance = crossBalance[account];
        if (balance == 0 && !isRegistered[account]) {
            isRegistered[account] = true;
            accounts.push(account);
            emit AccountRegistered(account, accounts.length - 1);
        }
        crossBalance[account] = balance + amount;
    }

    /// @dev Debit the cross balance for a withdrawal or for isolated margin. Collateral leaving
    /// the cross balance obeys the transfer rule whichever way it goes, so funding an isolated
    /// position cannot push the account's cross positions towards liquidation.
    function _takeFromCross(address account, uint256 amount) internal {
        int256 balance = crossBalance[account];
        if (balance < amount.toInt256()) revert InsufficientBalance(balance, amount);
        crossBalance[account] = balance - amount.toInt256();
        if (crossMarkets[account] != 0) {
            (int256 equity,,, uint256 transferReq) = _crossHealth(account);
            if (equity < transferReq.toInt256()) revert TransferRuleViolated(equity, transferReq);
        }
    }

    /// @dev Move settled charges and fees into their buckets; trader profit comes from the pool.
    function _payPool(Settlement memory st, uint256 fee) internal {
        int256 assets = poolAssets - st.pnl + st.borrowing + int256(fee);
        if (st.pnl > 0 && assets < 0) revert PoolInsolvent(poolAssets, st.pnl);
        poolAssets = assets.toInt128();
        if (st.funding != 0) fundingReserve += st.funding.toInt128();
    }

    function _payPenalty(uint256 penalty, uint256 reward) internal {
        if (penalty == 0) return;
        if (reward != 0) _credit(msg.sender, int256(reward));
        insuranceFund += int256(penalty - reward);
    }

    /// @dev Bad debt waterfall: the insurance fund pays first, the pool the rest.
    function _coverBadDebt(address account, uint256 amount) internal {
        int256 fund = insuranceFund;
        uint256 fromInsurance = fund > 0 ? Math.min(uint256(fund), amount) : 0;
        insuranceFund = fund - int256(fromInsurance);
        uint256 fromPool = amount - fromInsurance;
        poolAssets -= fromPool.toInt256().toInt128();
        emit BadDebt(account, amount, fromInsurance, fromPool);
    }
}
