// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {MarginMath} from "../libraries/MarginMath.sol";

/// @title PriceOracle
/// @notice Authorised updaters push (market, price, timestamp) in batches; readers get a price
/// only while it is fresh. Prices are USD per whole base unit with 18 decimals.
/// @dev Everything a push or a read needs sits in one storage slot per market (price, time,
/// round, deviation guard and heartbeat), so a trade pays one cold load for its price and a
/// 10-market push stays under 120k gas. Heartbeats are per market, as Chainlink feeds have them.
contract PriceOracle is AccessControl {
    bytes32 public constant UPDATER_ROLE = keccak256("UPDATER_ROLE");
    uint256 public constant MAX_PRICE_AGE_LIMIT = 1 days;

    struct PriceUpdate {
        uint64 market;
        uint64 timestamp;
        uint128 price;
    }

    struct Feed {
        uint128 price;
        uint48 timestamp;
        uint40 round;
        uint16 maxDeviationBps; // 0: no guard
        uint24 maxPriceAge; // 0: not set yet, the default applies from the first push
    }

    error ZeroPrice(uint256 market);
    error OutdatedPrice(uint256 market, uint256 timestamp, uint256 stored);
    error FuturePrice(uint256 market, uint256 timestamp, uint256 blockTime);
    error PriceDeviation(uint256 market, uint256 price, uint256 previous, uint256 maxDeviationBps);
    error StalePrice(uint256 market, uint256 timestamp, uint256 maxAge);
    error NoPrice(uint256 market);
    error ParamOutOfBounds(bytes32 param, uint256 value);

    event PriceUpdated(uint256 indexed market, uint256 price, uint256 timestamp, uint256 round);
    event MaxPriceAgeSet(uint256 indexed market, uint256 maxPriceAge);
    event DefaultMaxPriceAgeSet(uint256 maxPriceAge);
    event MaxDeviationSet(uint256 indexed market, uint256 maxDeviationBps);
    event CloseGracePeriodSet(uint256 gracePeriod);

    mapping(uint256 market => Feed) internal feeds;
    /// @notice Heartbeat given to a market at its first price unless one was set for it.
    uint256 public defaultMaxPriceAge;
    /// @notice How long past its heartbeat a price may still be used to close positions, so an
    /// oracle outage does not lock traders in (opening and liquidating stop at the heartbeat).
    uint256 public closeGracePeriod;

    constructor(address admin, uint256 defaultMaxPriceAge_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setDefaultMaxPriceAge(defaultMaxPriceAge_);
    }

    /// @notice Push a batch of prices. Each must be non-zero, newer than the stored one, not in
    /// the future, and (if the market has a deviation guard) within it of the previous price.
    function pushPrices(PriceUpdate[] calldata updates) external onlyRole(UPDATER_ROLE) {
        for (uint256 i; i < updates.length; ++i) {
            PriceUpdate calldata u = updates[i];
            if (u.price == 0) revert ZeroPrice(u.market);
            if (u.timestamp > block.timestamp) revert FuturePrice(u.market, u.timestamp, block.timestamp);
            Feed memory f = feeds[u.market];
            if (u.timestamp <= f.timestamp) revert OutdatedPrice(u.market, u.timestamp, f.timestamp);
            uint256 guard = f.maxDeviationBps;
            if (guard != 0 && f.price != 0) {
                uint256 move = u.price > f.price ? u.price - f.price : f.price - u.price;
                if (move * MarginMath.BPS > uint256(f.price) * guard) revert PriceDeviation(u.market, u.price, f.price, guard);
            }
            if (f.maxPriceAge == 0) f.maxPriceAge = uint24(defaultMaxPriceAge);
            unchecked {
                ++f.round; // 2^40 updates of one market will not happen
            }
            f.price = u.price;
            f.timestamp = uint48(u.timestamp); // <= block.timestamp, checked above
            _store(u.market, f);
            emit PriceUpdated(u.market, u.price, u.timestamp, f.round);
        }
    }

    /// @notice The latest price, reverting if there is none or it is older than the market's
    /// maxPriceAge.
    function freshPrice(uint256 market) external view returns (uint256 price) {
        Feed memory f = feeds[market];
        if (f.price == 0) revert NoPrice(market);
        if (block.timestamp > uint256(f.timestamp) + f.maxPriceAge) revert StalePrice(market, f.timestamp, f.maxPriceAge);
        return f.price;
    }

    /// @notice The latest price for closing: like `freshPrice`, with `closeGracePeriod` more.
    function closePrice(uint256 market) external view returns (uint256 price) {
        Feed memory f = feeds[market];
        if (f.price == 0) revert NoPrice(market);
        uint256 maxAge = uint256(f.maxPriceAge) + closeGracePeriod;
        if (block.timestamp > uint256(f.timestamp) + maxAge) revert StalePrice(market, f.timestamp, maxAge);
        return f.price;
    }

    /// @notice The latest price and whether it is within the market's maxPriceAge: what a cross
    /// liquidation values a stale market's position at (see `docs/SPEC.md`, stale markets).
    function valuationPrice(uint256 market) external view returns (uint256 price, bool fresh) {
        Feed memory f = feeds[market];
        if (f.price == 0) revert NoPrice(market);
        return (f.price, block.timestamp <= uint256(f.timestamp) + f.maxPriceAge);
    }

    /// @notice The latest price whatever its age (for displays and Chainlink readers).
    function latest(uint256 market) external view returns (uint256 price, uint256 timestamp, uint256 round) {
        Feed memory f = feeds[market];
        return (f.price, f.timestamp, f.round);
    }

    /// @notice Largest accepted move per update in basis points (0 disables the guard).
    function maxDeviationBps(uint256 market) external view returns (uint256) {
        return feeds[market].maxDeviationBps;
    }

    /// @notice Age after which the market's price is stale.
    function maxPriceAge(uint256 market) external view returns (uint256) {
        uint256 age = feeds[market].maxPriceAge;
        return age == 0 ? defaultMaxPriceAge : age;
    }

    function setDefaultMaxPriceAge(uint256 age) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDefaultMaxPriceAge(age);
    }

    function setMaxPriceAge(uint256 market, uint256 age) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _checkAge(age);
        feeds[market].maxPriceAge = uint24(age);
        emit MaxPriceAgeSet(market, age);
    }

    function setCloseGracePeriod(uint256 gracePeriod) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (gracePeriod > MAX_PRICE_AGE_LIMIT) revert ParamOutOfBounds("closeGracePeriod", gracePeriod);
        closeGracePeriod = gracePeriod;
        emit CloseGracePeriodSet(gracePeriod);
    }

    function setMaxDeviation(uint256 market, uint256 bps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (bps > MarginMath.BPS) revert ParamOutOfBounds("maxDeviationBps", bps);
        feeds[market].maxDeviationBps = uint16(bps);
        emit MaxDeviationSet(market, bps);
    }

    function _setDefaultMaxPriceAge(uint256 age) internal {
        _checkAge(age);
        defaultMaxPriceAge = age;
        emit DefaultMaxPriceAgeSet(age);
    }

    function _checkAge(uint256 age) internal pure {
        if (age == 0 || age > MAX_PRICE_AGE_LIMIT) revert ParamOutOfBounds("maxPriceAge", age);
    }

    /// @dev One SSTORE for the whole feed: solc writes a packed struct member by member.
    function _store(uint256 market, Feed memory f) internal {
        uint256 packed = uint256(f.price) | uint256(f.timestamp) << 128 | uint256(f.round) << 176
            | uint256(f.maxDeviationBps) << 216 | uint256(f.maxPriceAge) << 232;
        Feed storage slot = feeds[market];
        assembly ("memory-safe") {
            sstore(slot.slot, packed)
        }
    }
}
