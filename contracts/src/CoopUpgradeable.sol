// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

/// @title Shared base of the co-op's upgradeable contracts
/// @notice The co-op's governance (its timelock) administers roles and alone may upgrade the code.
/// @dev Behind an ERC1967 UUPS proxy. OpenZeppelin's bases keep their state in ERC-7201 namespaces;
/// our own state is plain variables from slot 0, so the two never overlap. Not namespaced on purpose:
/// solc's storageLayout lists plain variables and their struct members but not a namespaced struct's
/// fields, and the check that each version extends the committed baseline (contracts/layouts,
/// chain/layout.py) reads that layout. New state goes after the last variable; see docs/contracts.md.
abstract contract CoopUpgradeable is Initializable, AccessControlUpgradeable, UUPSUpgradeable {
    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    // forge-lint: disable-next-line(mixed-case-function)
    function __CoopUpgradeable_init(address governance) internal onlyInitializing {
        __AccessControl_init();
        _grantRole(DEFAULT_ADMIN_ROLE, governance);
        _grantRole(UPGRADER_ROLE, governance);
    }

    function _authorizeUpgrade(address) internal virtual override onlyRole(UPGRADER_ROLE) {}
}
