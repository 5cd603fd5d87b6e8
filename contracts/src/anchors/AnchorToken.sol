// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title Benchmark anchor: a plain stock OpenZeppelin ERC-20 (no proxy, no pause, no permit)
/// @dev Only for `make bench`; never deployed by the app. Anyone may mint.
contract AnchorToken is ERC20 {
    constructor() ERC20("Anchor", "ANC") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
