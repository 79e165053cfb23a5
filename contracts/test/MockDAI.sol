// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice DAI-like test asset (18 decimals) with a public mint. Only for tests and simulations.
contract MockDAI is ERC20 {
    constructor() ERC20("Mock Dai", "DAI") {}

    function decimals() public pure override returns (uint8) {
        return 18;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
