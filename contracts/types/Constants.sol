// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @dev Shared constants of the venue, written once: contracts, libraries and modules import
/// them, and the Python client reads them from the Clearinghouse's getters.

/// @dev `decreasePosition` size meaning "the whole position", so a close needs no read.
uint256 constant CLOSE_ALL = type(uint256).max;
/// @dev The `market` of a liquidation target that means the account's cross positions.
uint256 constant CROSS_ACCOUNT = type(uint256).max;
/// @dev Markets per venue: a cross account's markets are a bitmask in one word.
uint256 constant MAX_MARKETS = 64;
/// @dev Registered external rule modules per venue: a market names each by a uint8 id, 0 for
/// the stock rule, so choosing modules costs the trade path no extra storage read.
uint256 constant MAX_MODULES = 255;

/// @dev The Clearinghouse role that may auto-deleverage (`autoDeleverage`), as GMX v2's
/// ADL_KEEPER: granted by the admin, never used on the keeper's own positions.
bytes32 constant ADL_KEEPER_ROLE = keccak256("ADL_KEEPER_ROLE");

/// @dev The longest a risk-increasing market change may be made to wait.
uint256 constant MAX_RISK_CHANGE_DELAY = 30 days;
