// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/ERC20Upgradeable.sol";
import {CoopUpgradeable} from "./CoopUpgradeable.sol";

/// @title GroToken (GRO), earned by growing certified produce
/// @notice GRO is created when a batch of produce is certified (per kilogram, once per batch) and
/// destroyed when a member redeems it for produce. Locked in the voting escrow it gives voting power.
contract GroToken is CoopUpgradeable, ERC20Upgradeable {
    bytes32 public constant CERTIFIER_ROLE = keccak256("CERTIFIER_ROLE");

    /// @notice GRO (18 decimals) created per kilogram of certified produce.
    uint256 public ratePerKg;
    /// @notice Batches already certified.
    mapping(bytes32 batchId => bool) public certified;
    /// @notice Redemptions already recorded, per holder (so nobody can take another holder's id first).
    mapping(address holder => mapping(bytes32 redemptionId => bool)) public redeemed;

    event BatchCertified(bytes32 indexed batchId, address indexed grower, uint256 grams, uint8 grade, uint256 amount);
    event Redeemed(address indexed holder, bytes32 indexed redemptionId, uint256 amount, bytes32 item);
    event RateChanged(uint256 previousRatePerKg, uint256 newRatePerKg);

    error BatchAlreadyCertified(bytes32 batchId);
    error RedemptionAlreadyRecorded(address holder, bytes32 redemptionId);
    error EmptyBatch();
    error EmptyRedemption();

    /// @dev Called once through the proxy.
    function initialize(address governance, address certifier, uint256 ratePerKg_) external initializer {
        __CoopUpgradeable_init(governance);
        __ERC20_init("GroToken", "GRO");
        _grantRole(CERTIFIER_ROLE, certifier);
        ratePerKg = ratePerKg_;
        emit RateChanged(0, ratePerKg_);
    }

    /// @notice Certifies batch `batchId` of `grams` of produce grown by `grower` and pays them GRO for it.
    /// @dev A batch id can be certified once; a replay reverts.
    function certify(address grower, bytes32 batchId, uint256 grams, uint8 grade) external onlyRole(CERTIFIER_ROLE) {
        if (certified[batchId]) revert BatchAlreadyCertified(batchId);
        if (grams == 0) revert EmptyBatch();
        certified[batchId] = true;
        uint256 amount = (grams * ratePerKg) / 1000;
        _mint(grower, amount);
        emit BatchCertified(batchId, grower, grams, grade, amount);
    }

    /// @notice Spends `amount` of your GRO on produce `item`; `redemptionId` makes your record unique
    /// (a retried redemption with the same id reverts instead of burning twice).
    function redeem(uint256 amount, bytes32 redemptionId, bytes32 item) external {
        if (amount == 0) revert EmptyRedemption();
        if (redeemed[_msgSender()][redemptionId]) revert RedemptionAlreadyRecorded(_msgSender(), redemptionId);
        redeemed[_msgSender()][redemptionId] = true;
        _burn(_msgSender(), amount);
        emit Redeemed(_msgSender(), redemptionId, amount, item);
    }

    /// @notice Changes how much GRO a kilogram of certified produce earns (a governance decision).
    function setRatePerKg(uint256 newRatePerKg) external onlyRole(DEFAULT_ADMIN_ROLE) {
        emit RateChanged(ratePerKg, newRatePerKg);
        ratePerKg = newRatePerKg;
    }
}
