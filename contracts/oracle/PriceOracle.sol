// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title PriceOracle
/// @notice Authorised updaters push (market, price, timestamp) in batches; readers get a price
/// only while it is fresh. Prices are USD per whole base unit with 18 decimals.
/// @dev One storage slot per market (price and time packed) keeps a 10-market push near 100k gas.
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
        uint64 timestamp;
        uint64 round;
    }

    error ZeroPrice(uint256 market);
    error OutdatedPrice(uint256 market, uint256 timestamp, uint256 stored);
    error FuturePrice(uint256 market, uint256 timestamp, uint256 blockTime);
    error PriceDeviation(uint256 market, uint256 price, uint256 previous, uint256 maxDeviationBps);
    error StalePrice(uint256 market, uint256 timestamp, uint256 maxAge);
    error NoPrice(uint256 market);
    error ParamOutOfBounds(bytes32 param, uint256 value);

    event PriceUpdated(uint256 indexed market, uint256 price, uint256 timestamp, uint256 round);
    event MaxPriceAgeSet(uint256 maxPriceAge);
    event MaxDeviationSet(uint256 indexed market, uint256 maxDeviationBps);

    mapping(uint256 market => Feed) internal feeds;
    mapping(uint256 market => uint256) public maxDeviationBps;
    uint256 public maxPriceAge;

    constructor(address admin, uint256 maxPriceAge_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setMaxPriceAge(maxPriceAge_);
    }

    /// @notice Push a batch of prices. Each must be non-zero, newer than the stored one, not in
    /// the future, and (if the market has a deviation guard) within it of the previous price.
    function pushPrices(PriceUpdate[] calldata updates) external onlyRole(UPDATER_ROLE) {
        for (uint256 i; i < updates.length; ++i) {
            PriceUpdate calldata u = updates[i];
            if (u.price == 0) revert ZeroPrice(u.market);
            if (u.timestamp > block.timestamp) revert FuturePrice(u.market, u.timestamp, block.timestamp);
            Feed memory previous = feeds[u.market];
            if (u.timestamp <= previous.timestamp) {
                revert OutdatedPrice(u.market, u.timestamp, previous.timestamp);
            }
            uint256 guard = maxDeviationBps[u.market];
            if (guard != 0 && previous.price != 0) {
                uint256 move = u.price > previous.price ? u.price - previous.price : previous.price - u.price;
                if (move * 10_000 > uint256(previous.price) * guard) {
                    revert PriceDeviation(u.market, u.price, previous.price, guard);
                }
            }
            uint64 round = previous.round + 1;
            feeds[u.market] = Feed(u.price, u.timestamp, round);
            emit PriceUpdated(u.market, u.price, u.timestamp, round);
        }
    }

    /// @notice The latest price, reverting if there is none or it is older than maxPriceAge.
    function freshPrice(uint256 market) external view returns (uint256 price) {
        Feed memory f = feeds[market];
        if (f.price == 0) revert NoPrice(market);
        if (block.timestamp > uint256(f.timestamp) + maxPriceAge) {
            revert StalePrice(market, f.timestamp, maxPriceAge);
        }
        return f.price;
    }

    /// @notice The latest price whatever its age (for displays and Chainlink readers).
    function latest(uint256 market) external view returns (uint256 price, uint256 timestamp, uint256 round) {
        Feed memory f = feeds[market];
        return (f.price, f.timestamp, f.round);
    }

    function setMaxPriceAge(uint256 maxPriceAge_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMaxPriceAge(maxPriceAge_);
    }

    /// @notice Largest accepted move per update in basis points (0 disables the guard).
    function setMaxDeviation(uint256 market, uint256 bps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (bps > 10_000) revert ParamOutOfBounds("maxDeviationBps", bps);
        maxDeviationBps[market] = bps;
        emit MaxDeviationSet(market, bps);
    }

    function _setMaxPriceAge(uint256 age) internal {
        if (age == 0 || age > MAX_PRICE_AGE_LIMIT) revert ParamOutOfBounds("maxPriceAge", age);
        maxPriceAge = age;
        emit MaxPriceAgeSet(age);
    }
}
