// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

/// @title Shared base of the co-op's upgradeable contracts
/// @notice The co-op's governance (its timelock) administers roles and alone may upgrade the code.
/// @dev Behind an ERC1967 UUPS proxy. Our own state is declared as plain variables in each contract
/// (append-only between versions, checked by the storage layout test); OpenZeppelin's bases keep
/// theirs in ERC-7201 namespaces, so the two never overlap.
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
