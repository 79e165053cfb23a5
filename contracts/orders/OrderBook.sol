// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

import {Clearinghouse} from "../core/Clearinghouse.sol";
import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {IClearinghouseViews} from "../interfaces/IClearinghouseViews.sol";
import {PriceOracle} from "../oracle/PriceOracle.sol";
import {LiquidityPool} from "../pool/LiquidityPool.sol";
import {MarginMode} from "../types/MarginMode.sol";

/// @title OrderBook
/// @notice Two-step orders as on GMX: a trader creates an order, escrowing its collateral and an
/// execution fee in ETH; a keeper executes it later at an oracle price newer than the order, so
/// nobody can trade on a price they already saw. The execution fee pays the keeper's gas and the
/// rest goes back to the trader.
/// @dev Needs EXECUTOR_ROLE on the Clearinghouse. Execution is permissionless: any keeper may
/// execute a valid order and keepers compete for the fees. A trade the Clearinghouse refuses
/// (margin below IM, OI cap...) cancels the order and refunds it; an order that is not yet
/// executable (trigger not reached, price not newer, expired) reverts, and its keeper has paid gas
/// for nothing.
///
/// LP requests work the same way: `requestDeposit` escrows assets, `requestRedeem` escrows pool
/// shares, and a keeper executes the request once every market with open interest has a price
/// newer than it (`valuationTime`), so nobody deposits or redeems at a pool value they already
/// know is about to change. The owner may cancel once `marketOrderTimeout` has passed.
///
/// A market order locks its account on the Clearinghouse until it executes, fails, is cancelled
/// or expires (`PendingMarketOrder`, SPEC §10): its owner cannot make it fail after seeing the
/// price. Each kind of request needs a minimum of gas to execute (`minExecutionGas`), as on GMX,
/// so a keeper cannot starve its execution into failing.
contract OrderBook is AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using EnumerableSet for EnumerableSet.UintSet;

    enum OrderType {
        MarketIncrease,
        LimitIncrease,
        StopIncrease,
        MarketDecrease,
        TakeProfit,
        StopLoss
    }

    struct CreateOrderParams {
        uint256 market;
        OrderType orderType;
        bool isLong; // side of the position the order opens or reduces
        uint256 sizeAbs; // base units (WAD); 0 on a decrease closes the whole position
        uint256 leverage; // increases only
        uint8 mode; // increases only: a MarginMode (Isolated or Cross)
        uint256 collateral; // tokens escrowed now; isolated margin or a cross deposit
        uint256 triggerPrice; // WAD USD; 0 for market orders
        uint256 acceptablePrice; // WAD USD; worst fill accepted, 0 for any
    }

    struct Order {
        address account;
        OrderType orderType;
        uint8 mode;
        uint16 leverage;
        uint32 market;
        bool isLong;
        uint64 createdAt;
        uint128 sizeAbs;
        uint128 collateral;
        uint128 triggerPrice;
        uint128 acceptablePrice;
        uint128 executionFee;
    }

    /// @notice The kinds of request with their own minimum execution gas (`minExecutionGas`).
    enum RequestKind {
        IncreaseOrder, // market, limit and stop increases
        DecreaseOrder, // market decreases, take-profits and stop-losses
        LpDeposit,
        LpRedeem
    }

    /// @notice What the book holds for an account: order collateral and LP deposit assets
    /// (`tokens`, collateral token units) and LP redemption shares (`shares`, pool shares).
    struct Escrow {
        uint128 tokens;
        uint128 shares;
    }

    /// @notice A two-step LP deposit (`isDeposit`: `amount` assets for at least `minOut` shares)
    /// or redemption (`amount` shares for at least `minOut` assets), paid to `receiver`.
    struct LpRequest {
        address account;
        address receiver;
        bool isDeposit;
        uint64 createdAt;
        uint128 amount;
        uint128 minOut;
        uint128 executionFee;
    }

    /// @notice Gas a keeper spends outside the measured part of `executeOrder` (intrinsic cost,
    /// calldata, the fee transfers), added to what is measured.
    uint256 public constant EXECUTION_GAS_OVERHEAD = 45_000;
    uint256 public constant MAX_MARKET_ORDER_TIMEOUT = 1 days;
    /// @notice Gas an ETH payment (refund, keeper fee) may use, as GMX's
    /// `nativeTokenTransferGasLimit`: a recipient that burns gas or reverts gets it credited to
    /// `claimableEth` instead, and can neither undo an execution nor make it unaffordable.
    uint256 public constant ETH_TRANSFER_GAS_LIMIT = 50_000;
    /// @notice Bounds of `minExecutionGas` (`setMinExecutionGas`).
    uint256 public constant MIN_EXECUTION_GAS_LOWER = 100_000;
    uint256 public constant MIN_EXECUTION_GAS_UPPER = 10_000_000;
    // Defaults: what each kind needs at most on a venue of stock rules, 64 markets with an
    // account in 62 of them (1,488k, 722k, 1,394k and 2,182k, `docs/SPEC.md` §10), about 20%
    // more, rounded up.
    uint256 internal constant DEFAULT_INCREASE_GAS = 1_800_000;
    uint256 internal constant DEFAULT_DECREASE_GAS = 900_000;
    uint256 internal constant DEFAULT_LP_DEPOSIT_GAS = 1_700_000;
    uint256 internal constant DEFAULT_LP_REDEEM_GAS = 2_600_000;

    Clearinghouse public immutable clearinghouse;
    PriceOracle public immutable oracle;
    IERC20 public immutable collateralToken;

    uint256 public nextOrderId = 1;
    uint256 public minExecutionFee;
    uint256 public marketOrderTimeout;
    mapping(uint256 id => Order) internal orders;
    uint256 public nextLpRequestId = 1;
    mapping(uint256 id => LpRequest) internal lpRequests;
    /// @notice ETH a recipient refused; claim it with `claimEth`.
    mapping(address => uint256) public claimableEth;
    /// @notice The gas `executeOrder` / `executeLpRequest` must start with for each kind of
    /// request (GMX's estimated gas limits): less reverts `InsufficientExecutionGas`.
    mapping(RequestKind kind => uint256) public minExecutionGas;
    mapping(address account => Escrow) internal escrows;
    /// @dev The ids of the orders and LP requests still open, as GMX keeps its order keys: a
    /// keeper (and `Reader.executableOrders`) walks what is open, not every id ever issued.
    EnumerableSet.UintSet internal openOrders;
    EnumerableSet.UintSet internal openLpRequests;

    error OrderNotFound(uint256 id);
    error NotOrderOwner(uint256 id, address caller);
    /// @notice A market order cannot be cancelled before it expires: cancelling after seeing the
    /// next price would make it a free option (GMX v2 locks requests the same way).
    error MarketOrderLocked(uint256 id, uint256 expiresAt);
    /// @notice An order's owner may not execute it: choosing when to would be a free option.
    error OwnerCannotExecute(uint256 id);
    error InsufficientExecutionFee(uint256 value, uint256 minimum);
    error UnknownMarket(uint256 market);
    error ZeroSize();
    error InvalidMode(uint8 mode);
    error InvalidTriggerPrice(uint256 triggerPrice);
    error CollateralOnDecrease(uint256 collateral);
    error PriceNotNewer(uint256 id, uint256 priceTimestamp, uint256 createdAt);
    error OrderExpired(uint256 id, uint256 expiredAt);
    error OrderNotExpired(uint256 id, uint256 expiresAt);
    error OrderNotTriggered(uint256 id, uint256 price, uint256 triggerPrice);
    error AcceptablePriceExceeded(uint256 id, uint256 price, uint256 acceptablePrice);
    error OnlySelf();
    error PositionSideChanged(bool orderIsLong, int256 size);
    error NothingToClaim();
    error ParamOutOfBounds(bytes32 param, uint256 value);
    error LpRequestNotFound(uint256 id);
    /// @notice An LP request cannot be cancelled within `marketOrderTimeout` of its creation:
    /// cancelling after seeing the next price would make it a free option.
    error LpRequestLocked(uint256 id, uint256 unlocksAt);
    error ZeroAmount();
    error InvalidReceiver(address receiver);
    /// @notice The request would pay `out` (shares for a deposit, assets for a redemption),
    /// less than its `minOut`: the request fails and its escrow goes back.
    error MinOutNotMet(uint256 out, uint256 minOut);
    /// @notice The execution started with `gasLeft`, less than the `minimum` its kind of request
    /// needs (`minExecutionGas`): the transaction reverts and the request stays, so no keeper
    /// can make it run out of gas and fail (GMX's `InsufficientExecutionGas`).
    error InsufficientExecutionGas(uint256 gasLeft, uint256 minimum);
    /// @notice The request's own call ran out of the gas it was given (the execution started
    /// with `gasLeft`, above the minimum: a heavy account needs more): the transaction reverts
    /// and the request stays; send more gas.
    error ExecutionOutOfGas(uint256 gasLeft);

    event OrderCreated(uint256 indexed id, address indexed account, Order order);
    event OrderExecuted(uint256 indexed id, address indexed keeper, uint256 price, uint256 keeperFee, uint256 refund);
    event OrderFailed(uint256 indexed id, address indexed keeper, bytes reason, uint256 keeperFee, uint256 refund);
    event OrderCancelled(uint256 indexed id, address indexed by, uint256 keeperFee, uint256 refund);
    event MinExecutionFeeSet(uint256 fee);
    event MarketOrderTimeoutSet(uint256 timeout);
    event MinExecutionGasSet(RequestKind indexed kind, uint256 gas);
    event EthClaimable(address indexed to, uint256 amount);
    event LpRequestCreated(uint256 indexed id, address indexed account, LpRequest request);
    /// @notice `out`: the shares minted (deposit) or assets paid (redemption).
    event LpRequestExecuted(uint256 indexed id, address indexed keeper, uint256 out, uint256 keeperFee, uint256 refund);
    event LpRequestFailed(uint256 indexed id, address indexed keeper, bytes reason, uint256 keeperFee, uint256 refund);
    event LpRequestCancelled(uint256 indexed id, address indexed by, uint256 refund);

    constructor(Clearinghouse clearinghouse_, address admin, uint256 minExecutionFee_, uint256 marketOrderTimeout_) {
        clearinghouse = clearinghouse_;
        oracle = clearinghouse_.oracle();
        collateralToken = clearinghouse_.collateral();
        collateralToken.forceApprove(address(clearinghouse_), type(uint256).max);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        minExecutionFee = minExecutionFee_;
        _setMarketOrderTimeout(marketOrderTimeout_);
        _setMinExecutionGas(RequestKind.IncreaseOrder, DEFAULT_INCREASE_GAS);
        _setMinExecutionGas(RequestKind.DecreaseOrder, DEFAULT_DECREASE_GAS);
        _setMinExecutionGas(RequestKind.LpDeposit, DEFAULT_LP_DEPOSIT_GAS);
        _setMinExecutionGas(RequestKind.LpRedeem, DEFAULT_LP_REDEEM_GAS);
    }

    // ------------------------------------------------------------------ admin
    function setMinExecutionFee(uint256 fee) external onlyRole(DEFAULT_ADMIN_ROLE) {
        minExecutionFee = fee;
        emit MinExecutionFeeSet(fee);
    }

    function setMarketOrderTimeout(uint256 timeout) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMarketOrderTimeout(timeout);
    }

    /// @notice The gas an execution of `kind` must start with, within
    /// [`MIN_EXECUTION_GAS_LOWER`, `MIN_EXECUTION_GAS_UPPER`].
    function setMinExecutionGas(RequestKind kind, uint256 gas) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMinExecutionGas(kind, gas);
    }

    // ------------------------------------------------------------------ traders
    /// @notice Create an order for the caller's account; `msg.value` is the execution fee.
    function createOrder(CreateOrderParams calldata p) external payable nonReentrant returns (uint256 id) {
        if (msg.value < minExecutionFee) revert InsufficientExecutionFee(msg.value, minExecutionFee);
        if (p.market >= clearinghouse.marketCount()) revert UnknownMarket(p.market);
        bool increase = _isIncrease(p.orderType);
        bool market = p.orderType == OrderType.MarketIncrease || p.orderType == OrderType.MarketDecrease;
        if (market ? p.triggerPrice != 0 : p.triggerPrice == 0) revert InvalidTriggerPrice(p.triggerPrice);
        if (increase) {
            if (p.sizeAbs == 0) revert ZeroSize();
            if (p.mode != uint8(MarginMode.Isolated) && p.mode != uint8(MarginMode.Cross)) revert InvalidMode(p.mode);
        } else if (p.collateral != 0) {
            revert CollateralOnDecrease(p.collateral);
        }
        id = nextOrderId++;
        Order memory o = Order({
            account: msg.sender,
            orderType: p.orderType,
            mode: increase ? p.mode : uint8(MarginMode.None),
            leverage: increase ? p.leverage.toUint16() : 0,
            market: uint32(p.market),
            isLong: p.isLong,
            createdAt: uint64(block.timestamp),
            sizeAbs: p.sizeAbs.toUint128(),
            collateral: p.collateral.toUint128(),
            triggerPrice: p.triggerPrice.toUint128(),
            acceptablePrice: p.acceptablePrice.toUint128(),
            executionFee: msg.value.toUint128()
        });
        orders[id] = o;
        openOrders.add(id);
        if (market) {
            // One pending market order per account; it locks the account until it is done.
            uint256 lock = id.toUint64() | (block.timestamp + marketOrderTimeout) << 64 | p.market << 128;
            uint256 expired = clearinghouse.setOrderLock(msg.sender, lock);
            if (expired != 0) _dropExpired(expired);
        }
        if (p.collateral != 0) {
            escrows[msg.sender].tokens += uint128(p.collateral);
            collateralToken.safeTransferFrom(msg.sender, address(this), p.collateral);
        }
        emit OrderCreated(id, msg.sender, o);
    }

    /// @notice The owner cancels a trigger order at any time and a market order once it has
    /// expired (escrow and fee back in full); anyone else may cancel an expired market order,
    /// and is paid its gas from the fee like an executor.
    function cancelOrder(uint256 id) external nonReentrant {
        uint256 startGas = gasleft();
        Order memory o = _order(id);
        bool owner = msg.sender == o.account;
        uint256 expiresAt = _expiresAt(id, o);
        if (expiresAt != 0 && block.timestamp <= expiresAt) {
            if (owner) revert MarketOrderLocked(id, expiresAt);
            revert NotOrderOwner(id, msg.sender);
        }
        if (!owner && expiresAt == 0) revert NotOrderOwner(id, msg.sender);
        _closeOrder(id, o);
        if (o.collateral != 0) collateralToken.safeTransfer(o.account, o.collateral);
        (uint256 keeperFee, uint256 refund) = owner ? (0, uint256(o.executionFee)) : _payFee(o.account, o.executionFee, startGas);
        if (owner) _sendEth(o.account, refund);
        emit OrderCancelled(id, msg.sender, keeperFee, refund);
    }

    /// @notice Withdraw ETH that could not be sent (a recipient that refused it).
    function claimEth() external nonReentrant {
        uint256 amount = claimableEth[msg.sender];
        if (amount == 0) revert NothingToClaim();
        claimableEth[msg.sender] = 0;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert NothingToClaim();
    }

    // ------------------------------------------------------------------ keepers
    /// @notice Execute an order at the current oracle price: anyone but its owner may. Reverts,
    /// changing nothing, while the order is not executable; otherwise fills it (or cancels it
    /// with a refund if the Clearinghouse refuses the trade) and pays the keeper's gas from the
    /// execution fee.
    function executeOrder(uint256 id) external nonReentrant {
        uint256 startGas = gasleft();
        Order memory o = _order(id);
        _checkExecutionGas(startGas, _isIncrease(o.orderType) ? RequestKind.IncreaseOrder : RequestKind.DecreaseOrder);
        if (msg.sender == o.account) revert OwnerCannotExecute(id);
        uint256 price = _checkRunnable(id, o);
        _closeOrder(id, o);
        uint256 gasBefore = gasleft();
        try this.fill(o) {
            (uint256 keeperFee, uint256 refund) = _payFee(o.account, o.executionFee, startGas);
            emit OrderExecuted(id, msg.sender, price, keeperFee, refund);
        } catch (bytes memory reason) {
            _checkNotStarved(gasBefore, startGas);
            if (o.collateral != 0) collateralToken.safeTransfer(o.account, o.collateral);
            (uint256 keeperFee, uint256 refund) = _payFee(o.account, o.executionFee, startGas);
            emit OrderFailed(id, msg.sender, reason, keeperFee, refund);
        }
    }

    /// @dev The trade itself, in its own call frame so a refusal undoes the deposit too.
    function fill(Order calldata o) external {
        if (msg.sender != address(this)) revert OnlySelf();
        if (_isIncrease(o.orderType)) {
            if (o.collateral != 0) clearinghouse.deposit(o.account, o.collateral);
            int256 size = int256(uint256(o.sizeAbs));
            clearinghouse.increasePosition(
                o.account, o.market, o.isLong ? size : -size, o.leverage, o.mode, o.mode == uint8(MarginMode.Isolated) ? o.collateral : 0
            );
        } else {
            // A decrease order protects one side: it must not close a position flipped since.
            int256 size = clearinghouse.position(o.account, o.market).size;
            if (size != 0 && (size > 0) != o.isLong) revert PositionSideChanged(o.isLong, size);
            clearinghouse.decreasePosition(o.account, o.market, o.sizeAbs == 0 ? clearinghouse.CLOSE_ALL() : o.sizeAbs);
        }
    }

    // ------------------------------------------------------------------ LP requests
    /// @notice Request a deposit of `assets` (escrowed now) into the pool, minting at least
    /// `minShares` to `receiver` when executed; `msg.value` is the execution fee.
    function requestDeposit(uint256 assets, address receiver, uint256 minShares)
        external
        payable
        nonReentrant
        returns (uint256 id)
    {
        return _createLpRequest(true, assets, receiver, minShares);
    }

    /// @notice Request a redemption of `shares` (escrowed now), paying at least `minAssets` to
    /// `receiver` when executed; `msg.value` is the execution fee.
    function requestRedeem(uint256 shares, address receiver, uint256 minAssets)
        external
        payable
        nonReentrant
        returns (uint256 id)
    {
        return _createLpRequest(false, shares, receiver, minAssets);
    }

    /// @notice The owner cancels an LP request once `marketOrderTimeout` has passed since it was
    /// made: escrow and execution fee back in full.
    function cancelLpRequest(uint256 id) external nonReentrant {
        LpRequest memory r = _lpRequest(id);
        if (msg.sender != r.account) revert NotOrderOwner(id, msg.sender);
        uint256 unlocksAt = uint256(r.createdAt) + marketOrderTimeout;
        if (block.timestamp <= unlocksAt) revert LpRequestLocked(id, unlocksAt);
        _closeLpRequest(id, r);
        _refundEscrow(r);
        _sendEth(r.account, r.executionFee);
        emit LpRequestCancelled(id, msg.sender, r.executionFee);
    }

    /// @notice Execute an LP request at the pool's current value: anyone but its owner may, once
    /// every market with open interest has a price newer than the request. A request the pool
    /// refuses (reserve rule, `minOut`) fails and its escrow goes back; either way the keeper is
    /// paid its gas from the execution fee.
    function executeLpRequest(uint256 id) external nonReentrant {
        uint256 startGas = gasleft();
        LpRequest memory r = _lpRequest(id);
        _checkExecutionGas(startGas, r.isDeposit ? RequestKind.LpDeposit : RequestKind.LpRedeem);
        if (msg.sender == r.account) revert OwnerCannotExecute(id);
        _checkLpExecutable(id, r);
        _closeLpRequest(id, r);
        uint256 gasBefore = gasleft();
        try this.fillLpRequest(r) returns (uint256 out) {
            (uint256 keeperFee, uint256 refund) = _payFee(r.account, r.executionFee, startGas);
            emit LpRequestExecuted(id, msg.sender, out, keeperFee, refund);
        } catch (bytes memory reason) {
            _checkNotStarved(gasBefore, startGas);
            _refundEscrow(r);
            (uint256 keeperFee, uint256 refund) = _payFee(r.account, r.executionFee, startGas);
            emit LpRequestFailed(id, msg.sender, reason, keeperFee, refund);
        }
    }

    /// @dev The deposit or redemption itself, in its own call frame so a refusal undoes it.
    function fillLpRequest(LpRequest calldata r) external returns (uint256 out) {
        if (msg.sender != address(this)) revert OnlySelf();
        LiquidityPool pool = _pool();
        if (r.isDeposit) {
            collateralToken.forceApprove(address(pool), r.amount);
            out = pool.deposit(r.amount, r.receiver);
        } else {
            out = pool.redeem(r.amount, r.receiver, address(this));
        }
        if (out < r.minOut) revert MinOutNotMet(out, r.minOut);
    }

    function lpRequest(uint256 id) external view returns (LpRequest memory) {
        return lpRequests[id];
    }

    /// @notice Whether `executeLpRequest(id)` would execute or fail now, rather than revert.
    function isLpRequestExecutable(uint256 id) external view returns (bool) {
        LpRequest memory r = lpRequests[id];
        if (r.account == address(0)) return false;
        if (!r.isDeposit && _pendingMarketOrder(r.account) != 0) return false;
        return IClearinghouseViews(address(clearinghouse)).valuationTime() > r.createdAt;
    }

    /// @notice What the book holds in escrow for `account`: collateral tokens (order collateral
    /// and LP deposit assets) and pool shares (LP redemptions); `Reader.equities` counts both.
    function escrow(address account) external view returns (uint256 tokens, uint256 shares) {
        Escrow memory e = escrows[account];
        return (e.tokens, e.shares);
    }

    // ------------------------------------------------------------------ views
    function order(uint256 id) external view returns (Order memory) {
        return orders[id];
    }

    /// @notice How many orders are open (created, not yet executed, failed or cancelled).
    function openOrderCount() external view returns (uint256) {
        return openOrders.length();
    }

    /// @notice The ids of open orders at positions `[start, start + count)` of the open list
    /// (fewer past its end). The list is in no fixed order: closing an order moves the last one
    /// into its place.
    function openOrderIds(uint256 start, uint256 count) external view returns (uint256[] memory) {
        return _page(openOrders, start, count);
    }

    /// @notice How many LP requests are open.
    function openLpRequestCount() external view returns (uint256) {
        return openLpRequests.length();
    }

    /// @notice The ids of open LP requests at positions `[start, start + count)` of the open
    /// list (see `openOrderIds`).
    function openLpRequestIds(uint256 start, uint256 count) external view returns (uint256[] memory) {
        return _page(openLpRequests, start, count);
    }

    /// @notice Whether `executeOrder(id)` would fill or fail now, rather than revert.
    function isExecutable(uint256 id) external view returns (bool) {
        Order memory o = orders[id];
        if (o.account == address(0)) return false;
        try this.checkExecutable(id) returns (uint256) {
            return true;
        } catch {
            return false;
        }
    }

    /// @notice The price `executeOrder(id)` would use; reverts with the reason it cannot run.
    function checkExecutable(uint256 id) external view returns (uint256 price) {
        return _checkRunnable(id, _order(id));
    }

    // ------------------------------------------------------------------ internals
    function _page(EnumerableSet.UintSet storage set, uint256 start, uint256 count)
        internal
        view
        returns (uint256[] memory ids)
    {
        uint256 length = set.length();
        uint256 end = start < length && count < length - start ? start + count : length;
        ids = new uint256[](end > start ? end - start : 0);
        for (uint256 i; i < ids.length; ++i) {
            ids[i] = set.at(start + i);
        }
    }

    function _createLpRequest(bool isDeposit, uint256 amount, address receiver, uint256 minOut)
        internal
        returns (uint256 id)
    {
        if (msg.value < minExecutionFee) revert InsufficientExecutionFee(msg.value, minExecutionFee);
        if (amount == 0) revert ZeroAmount();
        if (receiver == address(0)) revert InvalidReceiver(receiver);
        id = nextLpRequestId++;
        LpRequest memory r = LpRequest({
            account: msg.sender,
            receiver: receiver,
            isDeposit: isDeposit,
            createdAt: uint64(block.timestamp),
            amount: amount.toUint128(),
            minOut: minOut.toUint128(),
            executionFee: msg.value.toUint128()
        });
        lpRequests[id] = r;
        openLpRequests.add(id);
        if (isDeposit) escrows[msg.sender].tokens += uint128(amount);
        else escrows[msg.sender].shares += uint128(amount);
        emit LpRequestCreated(id, msg.sender, r);
        _escrowToken(isDeposit).safeTransferFrom(msg.sender, address(this), amount);
    }

    function _lpRequest(uint256 id) internal view returns (LpRequest memory r) {
        r = lpRequests[id];
        if (r.account == address(0)) revert LpRequestNotFound(id);
    }

    function _checkLpExecutable(uint256 id, LpRequest memory r) internal view {
        // A redemption shrinks the reserve an increase needs: not while its owner's market
        // order is pending (SPEC §10). It runs once that order is done.
        if (!r.isDeposit) _checkNoPendingMarketOrder(r.account);
        uint256 priceTime = IClearinghouseViews(address(clearinghouse)).valuationTime();
        if (priceTime <= r.createdAt) revert PriceNotNewer(id, priceTime, r.createdAt);
    }

    /// @dev The request leaves the book (executed, failed or cancelled): off the escrow tally.
    function _closeLpRequest(uint256 id, LpRequest memory r) internal {
        delete lpRequests[id];
        openLpRequests.remove(id);
        Escrow storage e = escrows[r.account];
        if (r.isDeposit) e.tokens -= r.amount;
        else e.shares -= r.amount;
    }

    function _refundEscrow(LpRequest memory r) internal {
        _escrowToken(r.isDeposit).safeTransfer(r.account, r.amount);
    }

    /// @dev What an LP request escrows: assets for a deposit, pool shares for a redemption.
    function _escrowToken(bool isDeposit) internal view returns (IERC20) {
        return isDeposit ? collateralToken : IERC20(address(_pool()));
    }

    function _pool() internal view returns (LiquidityPool) {
        return LiquidityPool(IClearinghouseViews(address(clearinghouse)).pool());
    }

    function _order(uint256 id) internal view returns (Order memory o) {
        o = orders[id];
        if (o.account == address(0)) revert OrderNotFound(id);
    }

    /// @dev The order leaves the book (executed, failed or cancelled): off the escrow tally, and
    /// a market order's lock on its account ends.
    function _closeOrder(uint256 id, Order memory o) internal {
        delete orders[id];
        openOrders.remove(id);
        if (o.collateral != 0) escrows[o.account].tokens -= o.collateral;
        if (_isMarket(o.orderType)) clearinghouse.setOrderLock(o.account, id); // no expiry: release
    }

    /// @dev A new market order replaced the lock of its owner's expired one (`id`): that order
    /// can no longer execute, so it goes as its owner would cancel it, all back in full.
    function _dropExpired(uint256 id) internal {
        Order memory o = orders[id];
        if (o.account == address(0)) return;
        delete orders[id];
        openOrders.remove(id);
        if (o.collateral != 0) {
            escrows[o.account].tokens -= o.collateral;
            collateralToken.safeTransfer(o.account, o.collateral);
        }
        _sendEth(o.account, o.executionFee);
        emit OrderCancelled(id, o.account, 0, o.executionFee);
    }

    /// @dev Trigger orders of an account wait while its market order is pending: executing one
    /// first could make that order fail (SPEC §10).
    function _checkRunnable(uint256 id, Order memory o) internal view returns (uint256 price) {
        if (!_isMarket(o.orderType)) _checkNoPendingMarketOrder(o.account);
        return _checkExecutable(id, o);
    }

    function _checkNoPendingMarketOrder(address account) internal view {
        uint256 pending = _pendingMarketOrder(account);
        if (pending != 0) revert IClearinghouse.PendingMarketOrder(account, pending);
    }

    /// @dev The id of `account`'s live market order, 0 if none.
    function _pendingMarketOrder(address account) internal view returns (uint256) {
        (uint256 id,, uint256 expiresAt) = IClearinghouseViews(address(clearinghouse)).orderLock(account);
        return block.timestamp <= expiresAt ? id : 0;
    }

    function _isMarket(OrderType t) internal pure returns (bool) {
        return t == OrderType.MarketIncrease || t == OrderType.MarketDecrease;
    }

    /// @dev GMX's check at the start of an execution: `startGas` below the kind's minimum reverts.
    function _checkExecutionGas(uint256 startGas, RequestKind kind) internal view {
        uint256 minimum = minExecutionGas[kind];
        if (startGas < minimum) revert InsufficientExecutionGas(startGas, minimum);
    }

    /// @dev A request's own call that failed leaving less than 1/8 of the gas it was called with
    /// ran out of gas (EIP-150 keeps 1/64 back at each call level, a few levels deep): revert
    /// the whole transaction, so the request stays, rather than fail it.
    function _checkNotStarved(uint256 gasBefore, uint256 startGas) internal view {
        if (gasleft() < gasBefore / 8) revert ExecutionOutOfGas(startGas);
    }

    function _isIncrease(OrderType t) internal pure returns (bool) {
        return t == OrderType.MarketIncrease || t == OrderType.LimitIncrease || t == OrderType.StopIncrease;
    }

    /// @dev 0 for orders that never expire (trigger orders). A market order expires when its
    /// lock does: `marketOrderTimeout` after it was made, as the timeout was then.
    function _expiresAt(uint256 id, Order memory o) internal view returns (uint256) {
        if (!_isMarket(o.orderType)) return 0;
        (uint256 lockId,, uint256 expiresAt) = IClearinghouseViews(address(clearinghouse)).orderLock(o.account);
        return lockId == id ? expiresAt : uint256(o.createdAt) + marketOrderTimeout;
    }

    /// @dev SPEC §10 trigger rules for a long; a short mirrors them.
    function _checkExecutable(uint256 id, Order memory o) internal view returns (uint256 price) {
        // A decrease goes on through the oracle's close grace period, as a direct close does.
        price = _isIncrease(o.orderType) ? oracle.freshPrice(o.market) : oracle.closePrice(o.market);
        (, uint256 priceTime,) = oracle.latest(o.market);
        if (priceTime <= o.createdAt) revert PriceNotNewer(id, priceTime, o.createdAt);
        uint256 expiresAt = _expiresAt(id, o);
        if (expiresAt != 0 && block.timestamp > expiresAt) revert OrderExpired(id, expiresAt);
        OrderType t = o.orderType;
        uint256 trigger = o.triggerPrice;
        // "below" orders: long limit increase, long stop-loss, short stop increase, short take-profit
        bool wantsBelow = (t == OrderType.LimitIncrease || t == OrderType.StopLoss) == o.isLong;
        if (trigger != 0 && (wantsBelow ? price > trigger : price < trigger)) {
            revert OrderNotTriggered(id, price, trigger);
        }
        // Buying (long increase, short decrease) must not pay more than acceptable, selling not
        // less, at the trade's execution price (the oracle price moved by price impact: an
        // increase's from `quoteFill`, a decrease's from `quoteDecrease`).
        bool buying = _isIncrease(t) == o.isLong;
        uint256 acceptable = o.acceptablePrice;
        if (acceptable != 0) {
            uint256 sizeAbs = o.sizeAbs;
            if (sizeAbs == 0) {
                int256 size = clearinghouse.position(o.account, o.market).size;
                sizeAbs = uint256(size >= 0 ? size : -size);
            }
            IClearinghouseViews views = IClearinghouseViews(address(clearinghouse));
            uint256 execution = sizeAbs == 0
                ? price
                : _isIncrease(t)
                    ? views.quoteFill(o.market, buying ? int256(sizeAbs) : -int256(sizeAbs), price)
                    : views.quoteDecrease(o.account, o.market, sizeAbs, price);
            if (buying ? execution > acceptable : execution < acceptable) {
                revert AcceptablePriceExceeded(id, execution, acceptable);
            }
        }
    }

    /// @dev Pay the caller its gas (at the transaction's gas price, capped by the fee) and send
    /// the rest of the fee back to the account that paid it.
    function _payFee(address account, uint256 executionFee, uint256 startGas)
        internal
        returns (uint256 keeperFee, uint256 refund)
    {
        uint256 cost = (startGas - gasleft() + EXECUTION_GAS_OVERHEAD) * tx.gasprice;
        keeperFee = cost < executionFee ? cost : executionFee;
        refund = executionFee - keeperFee;
        _sendEth(msg.sender, keeperFee);
        _sendEth(account, refund);
    }

    /// @dev With at most `ETH_TRANSFER_GAS_LIMIT` gas and no return data copied, so the
    /// recipient can neither burn the transaction's gas nor flood its memory.
    function _sendEth(address to, uint256 amount) internal {
        if (amount == 0) return;
        bool ok;
        assembly ("memory-safe") {
            ok := call(ETH_TRANSFER_GAS_LIMIT, to, amount, 0, 0, 0, 0)
        }
        if (!ok) {
            claimableEth[to] += amount;
            emit EthClaimable(to, amount);
        }
    }

    function _setMinExecutionGas(RequestKind kind, uint256 gas) internal {
        if (gas < MIN_EXECUTION_GAS_LOWER || gas > MIN_EXECUTION_GAS_UPPER) revert ParamOutOfBounds("minExecutionGas", gas);
        minExecutionGas[kind] = gas;
        emit MinExecutionGasSet(kind, gas);
    }

    function _setMarketOrderTimeout(uint256 timeout) internal {
        if (timeout == 0 || timeout > MAX_MARKET_ORDER_TIMEOUT) revert ParamOutOfBounds("marketOrderTimeout", timeout);
        marketOrderTimeout = timeout;
        emit MarketOrderTimeoutSet(timeout);
    }
}
