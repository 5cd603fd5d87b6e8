// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/ERC20Upgradeable.sol";
import {CoopUpgradeable} from "./CoopUpgradeable.sol";

/// @title GroToken (GRO), earned by growing certified produce
/// @notice GRO is created when a batch of produce is certified (per kilogram, once per batch) and
/// destroyed when a member redeems it for produce. Locked in the voting escrow it gives voting power.
/// @dev The certifier's key can create GRO, and GRO is voting power: governance caps what one batch
/// and one period may create, so a stolen or misused certifier key cannot mint itself a majority.
/// Periods are fixed windows of `certificationPeriod` seconds counted from the Unix epoch (for 7 days:
/// Thursday 00:00 UTC to Thursday 00:00 UTC). A fixed window is predictable (the admins can tell when
/// room comes back) and needs one counter; the price is that up to twice the period cap can be
/// certified across a window's boundary. A sliding window would need every certification's history.
contract GroToken is CoopUpgradeable, ERC20Upgradeable {
    bytes32 public constant CERTIFIER_ROLE = keccak256("CERTIFIER_ROLE");

    /// @notice GRO (18 decimals) created per kilogram of certified produce.
    uint256 public ratePerKg;
    /// @notice Batches already certified.
    mapping(bytes32 batchId => bool) public certified;
    /// @notice Redemptions already recorded, per holder (so nobody can take another holder's id first).
    mapping(address holder => mapping(bytes32 redemptionId => bool)) public redeemed;
    /// @notice Most GRO one batch may earn (zero stops certification).
    uint256 public maxCertifiedPerBatch;
    /// @notice Most GRO all batches of one period may earn together.
    uint256 public maxCertifiedPerPeriod;
    /// @notice Length of a certification period in seconds (fixed windows from the Unix epoch).
    uint32 public certificationPeriod;
    /// @notice Start of the period `certifiedInPeriod` counts.
    uint64 public periodStart;
    /// @notice GRO certified in the period starting at `periodStart`.
    uint256 public certifiedInPeriod;

    /// @notice Batch `batchId` of `grams` of produce, grade `grade`, grown by `grower`, earned them `amount` GRO.
    event BatchCertified(bytes32 indexed batchId, address indexed grower, uint256 grams, uint8 grade, uint256 amount);
    /// @notice `holder` spent `amount` GRO on produce `item` (their record `redemptionId`).
    event Redeemed(address indexed holder, bytes32 indexed redemptionId, uint256 amount, bytes32 item);
    /// @notice Governance changed the GRO a kilogram earns.
    event RateChanged(uint256 previousRatePerKg, uint256 newRatePerKg);
    /// @notice Governance set the certification caps: per batch, per period, and the period's length in seconds.
    event CertificationCapsChanged(uint256 maxPerBatch, uint256 maxPerPeriod, uint32 periodSeconds);

    /// @notice Batch `batchId` was certified already; a batch earns GRO once.
    error BatchAlreadyCertified(bytes32 batchId);
    /// @notice `holder` already recorded a redemption with id `redemptionId`.
    error RedemptionAlreadyRecorded(address holder, bytes32 redemptionId);
    /// @notice A batch of zero grams.
    error EmptyBatch();
    /// @notice A batch of `grams` grams that would earn no GRO at the current rate.
    error BatchWorthNothing(uint256 grams);
    /// @notice A redemption of zero GRO.
    error EmptyRedemption();
    /// @notice The batch would earn `amount` GRO, more than the `maxPerBatch` one batch may earn.
    error BatchCapExceeded(uint256 amount, uint256 maxPerBatch);
    /// @notice The batch's `amount` GRO would take the period's total past `maxPerPeriod`
    /// (`certifiedInPeriod` so far); room comes back at `periodEnds`.
    error PeriodCapExceeded(uint256 amount, uint256 certifiedInPeriod, uint256 maxPerPeriod, uint256 periodEnds);
    /// @notice A certification period of zero seconds.
    error InvalidCertificationPeriod();

    /// @dev Called once through the proxy.
    function initialize(
        address governance,
        address certifier,
        uint256 ratePerKg_,
        uint256 maxPerBatch,
        uint256 maxPerPeriod,
        uint32 periodSeconds
    ) external initializer {
        __CoopUpgradeable_init(governance);
        __ERC20_init("GroToken", "GRO");
        _grantRole(CERTIFIER_ROLE, certifier);
        ratePerKg = ratePerKg_;
        emit RateChanged(0, ratePerKg_);
        _setCertificationCaps(maxPerBatch, maxPerPeriod, periodSeconds);
    }

    /// @notice Certifies batch `batchId` of `grams` of produce grown by `grower` and pays them GRO for it,
    /// within the caps governance set.
    /// @dev A batch id can be certified once; a replay reverts.
    function certify(address grower, bytes32 batchId, uint256 grams, uint8 grade) external onlyRole(CERTIFIER_ROLE) {
        if (certified[batchId]) revert BatchAlreadyCertified(batchId);
        if (grams == 0) revert EmptyBatch();
        uint256 amount = (grams * ratePerKg) / 1000;
        if (amount == 0) revert BatchWorthNothing(grams);
        if (amount > maxCertifiedPerBatch) revert BatchCapExceeded(amount, maxCertifiedPerBatch);
        uint64 start = _currentPeriodStart();
        uint256 soFar = start == periodStart ? certifiedInPeriod : 0;
        if (soFar + amount > maxCertifiedPerPeriod) {
            revert PeriodCapExceeded(amount, soFar, maxCertifiedPerPeriod, uint256(start) + certificationPeriod);
        }
        periodStart = start;
        certifiedInPeriod = soFar + amount;
        certified[batchId] = true;
        _mint(grower, amount);
        emit BatchCertified(batchId, grower, grams, grade, amount);
    }

    /// @notice The most GRO one batch could earn now (the smaller of the batch cap and what is left of
    /// the period's), and when the current period ends.
    function certificationRoom() external view returns (uint256 room, uint256 periodEnds) {
        uint64 start = _currentPeriodStart();
        uint256 soFar = start == periodStart ? certifiedInPeriod : 0;
        uint256 periodLeft = maxCertifiedPerPeriod > soFar ? maxCertifiedPerPeriod - soFar : 0;
        room = periodLeft < maxCertifiedPerBatch ? periodLeft : maxCertifiedPerBatch;
        periodEnds = uint256(start) + certificationPeriod;
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

    /// @notice Sets the most GRO one batch may earn, the most all batches of one period may earn, and the
    /// period's length in seconds (a governance decision).
    /// @dev GRO already certified in the current window still counts against the new period cap; a new
    /// period length starts counting afresh when its current window starts elsewhere.
    function setCertificationCaps(uint256 maxPerBatch, uint256 maxPerPeriod, uint32 periodSeconds)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _setCertificationCaps(maxPerBatch, maxPerPeriod, periodSeconds);
    }

    function _setCertificationCaps(uint256 maxPerBatch, uint256 maxPerPeriod, uint32 periodSeconds) private {
        if (periodSeconds == 0) revert InvalidCertificationPeriod();
        maxCertifiedPerBatch = maxPerBatch;
        maxCertifiedPerPeriod = maxPerPeriod;
        certificationPeriod = periodSeconds;
        emit CertificationCapsChanged(maxPerBatch, maxPerPeriod, periodSeconds);
    }

    function _currentPeriodStart() private view returns (uint64) {
        return uint64((block.timestamp / certificationPeriod) * certificationPeriod);
    }
}
