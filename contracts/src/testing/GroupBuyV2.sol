// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {GroupBuy} from "../GroupBuy.sol";
import {MemberRegistry} from "../MemberRegistry.sol";

/// @title Test only: a compatible next version of GroupBuy (appends state, adds a function)
/// @dev Used by the upgrade-through-governance test and the storage layout check.
contract GroupBuyV2 is GroupBuy {
    /// @notice A note the co-op can set, to show new state after an upgrade.
    string public notice;

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(IERC20 foodUsd_, MemberRegistry registry_, uint32 maxMembersPerOrder_)
        GroupBuy(foodUsd_, registry_, maxMembersPerOrder_)
    {}

    /// @notice Which version of the code runs.
    function version() external pure returns (uint256) {
        return 2;
    }

    function setNotice(string calldata text) external onlyRole(DEFAULT_ADMIN_ROLE) {
        notice = text;
    }
}
