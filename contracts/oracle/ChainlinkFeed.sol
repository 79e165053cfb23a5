// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PriceOracle} from "./PriceOracle.sol";

/// @notice The subset of Chainlink's AggregatorV3Interface that price readers use.
interface AggregatorV3Interface {
    function decimals() external view returns (uint8);
    function description() external view returns (string memory);
    function version() external view returns (uint256);
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}

/// @title ChainlinkFeed
/// @notice One market of the PriceOracle seen through Chainlink's interface, so ordinary tools
/// (dashboards, other protocols) can read perpsim prices without knowing its oracle.
contract ChainlinkFeed is AggregatorV3Interface {
    PriceOracle public immutable oracle;
    uint256 public immutable market;
    string public description;

    constructor(PriceOracle oracle_, uint256 market_, string memory description_) {
        oracle = oracle_;
        market = market_;
        description = description_;
    }

    function decimals() external pure returns (uint8) {
        return 18;
    }

    function version() external pure returns (uint256) {
        return 1;
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        (uint256 price, uint256 timestamp, uint256 round) = oracle.latest(market);
        return (uint80(round), int256(price), timestamp, timestamp, uint80(round));
    }
}
