// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// Library contracts deployed as they are (the build writes their artifacts too).
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
