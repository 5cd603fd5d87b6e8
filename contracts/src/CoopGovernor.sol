// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {GovernorSettings} from "@openzeppelin/contracts/governance/extensions/GovernorSettings.sol";
import {GovernorVotes} from "@openzeppelin/contracts/governance/extensions/GovernorVotes.sol";
import {GovernorVotesQuorumFraction} from "@openzeppelin/contracts/governance/extensions/GovernorVotesQuorumFraction.sol";
import {GovernorTimelockControl} from "@openzeppelin/contracts/governance/extensions/GovernorTimelockControl.sol";
import {GovernorProposalGuardian} from "@openzeppelin/contracts/governance/extensions/GovernorProposalGuardian.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {GovernorCountingQuadratic} from "./GovernorCountingQuadratic.sol";
import {MemberRegistry} from "./MemberRegistry.sol";
import {VotingEscrow} from "./VotingEscrow.sol";

/// @title The co-op's governor
/// @notice Members propose and vote with quadratic votes bought with their veGRO. A proposal is decided at
/// its deadline: it passes with more votes for than against once enough of all veGRO took part (quorum).
/// Passed proposals run through the timelock, and anyone may queue and execute them. A proposal with a
/// privileged action (anything but the ordinary settings below) waits a guardian window after its
/// deadline before it can be queued; the guardian (the co-op's board) can cancel any proposal.
/// @dev Only accounts of members may propose (members now) or vote (members at the proposal's snapshot):
/// quadratic voting relies on one account per resident, and taking membership at the snapshot means
/// adding or removing members mid-vote changes nothing. A cast is recorded against the resident, not
/// the account, so a resident whose account is replaced in the registry casts once.
contract CoopGovernor is
    Governor,
    GovernorSettings,
    GovernorCountingQuadratic,
    GovernorVotes,
    GovernorVotesQuorumFraction,
    GovernorTimelockControl,
    GovernorProposalGuardian
{
    /// @notice The register of members who may propose and vote.
    MemberRegistry public immutable registry;
    /// @notice GroToken (the escrow's token), whose rate and certification caps are ordinary settings.
    address public immutable gro;
    /// @notice Seconds after its deadline before a passed proposal with a privileged action can be queued;
    /// the guardian's time to cancel it.
    uint256 public immutable guardianWindow;

    /// @notice `account` is not a member (now, to propose; at the proposal's snapshot, to vote).
    error NotAMember(address account);
    /// @notice Proposal `proposalId` carries a privileged action: it can be queued from `queueableAt`.
    error PrivilegedProposalInGuardianWindow(uint256 proposalId, uint256 queueableAt);
    /// @notice A deployment without a guardian, or without time for it to act, is refused.
    error GuardianRequired(address guardian, uint256 guardianWindow);

    constructor(
        IVotes votingEscrow,
        TimelockController timelock,
        MemberRegistry registry_,
        uint48 votingDelaySeconds,
        uint32 votingPeriodSeconds,
        uint256 quorumPercent,
        address guardian,
        uint256 guardianWindowSeconds
    )
        Governor("CoopGovernor")
        GovernorSettings(votingDelaySeconds, votingPeriodSeconds, 0)
        GovernorVotes(votingEscrow)
        GovernorVotesQuorumFraction(quorumPercent)
        GovernorTimelockControl(timelock)
    {
        if (guardian == address(0) || guardianWindowSeconds == 0) revert GuardianRequired(guardian, guardianWindowSeconds);
        registry = registry_;
        gro = address(VotingEscrow(address(votingEscrow)).token());
        guardianWindow = guardianWindowSeconds;
        _setProposalGuardian(guardian);
    }

    /// @notice Proposes actions for the co-op to vote on. Members only.
    function propose(address[] memory targets, uint256[] memory values, bytes[] memory calldatas, string memory description)
        public
        override
        returns (uint256)
    {
        if (!registry.isMember(_msgSender())) revert NotAMember(_msgSender());
        return super.propose(targets, values, calldatas, description);
    }

    /// @notice Whether a proposal with these actions is privileged, and so waits the guardian window.
    /// @dev An action is ordinary only if it sends no value and is `memberCount()` on the registry (the
    /// no-op read of a signal proposal) or `setRatePerKg(uint256)` on GroToken (the certification caps bound
    /// what a rate can mint). Certification caps (they bound what the certifier's key can mint), role
    /// grants, upgrades, governor and timelock settings, plain transfers, calls to other contracts and
    /// anything unknown are privileged: the same rule the chat uses to word and flag a proposal's actions.
    function isPrivileged(address[] memory targets, uint256[] memory values, bytes[] memory calldatas)
        public
        view
        returns (bool)
    {
        for (uint256 i = 0; i < targets.length; ++i) {
            if (values[i] != 0 || calldatas[i].length < 4) return true;
            bytes4 selector = bytes4(calldatas[i]);
            bool ordinary = targets[i] == address(registry)
                ? selector == bytes4(keccak256("memberCount()"))
                : targets[i] == gro && selector == bytes4(keccak256("setRatePerKg(uint256)"));
            if (!ordinary) return true;
        }
        return false;
    }

    /// @notice Whether the resident behind `account` (at the proposal's snapshot, or now) has voted on it.
    function hasVoted(uint256 proposalId, address account)
        public
        view
        override(IGovernor, GovernorCountingQuadratic)
        returns (bool)
    {
        uint256 snapshot = proposalSnapshot(proposalId);
        if (snapshot >= clock()) return false; // nobody votes before the snapshot
        return _voted(proposalId, bytes32(registry.residentNumberAt(account, snapshot)))
            || _voted(proposalId, bytes32(registry.residentNumberOf(registry.residentOf(account))));
    }

    function _countVote(uint256 proposalId, address account, uint8 support, uint256 totalWeight, bytes memory params)
        internal
        override(Governor, GovernorCountingQuadratic)
        returns (uint256)
    {
        // The resident's number stands for the resident: one slot cheaper to read than its id.
        uint256 resident = registry.residentNumberAt(account, proposalSnapshot(proposalId));
        if (resident == 0) revert NotAMember(account);
        return _countQuadraticVote(proposalId, bytes32(resident), account, support, totalWeight, params);
    }

    /// @dev A privileged proposal is queued only once the guardian window after its deadline has passed.
    function _queueOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint48) {
        if (isPrivileged(targets, values, calldatas)) {
            uint256 queueableAt = proposalDeadline(proposalId) + guardianWindow;
            if (clock() < queueableAt) revert PrivilegedProposalInGuardianWindow(proposalId, queueableAt);
        }
        return super._queueOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    // ---- plumbing required by Solidity for the bases' overlapping functions ----

    /// @inheritdoc GovernorTimelockControl
    function state(uint256 proposalId) public view override(Governor, GovernorTimelockControl) returns (ProposalState) {
        return super.state(proposalId);
    }

    function _validateCancel(uint256 proposalId, address caller)
        internal
        view
        override(Governor, GovernorProposalGuardian)
        returns (bool)
    {
        return super._validateCancel(proposalId, caller);
    }

    function _quorumReached(uint256 proposalId) internal view override(Governor, GovernorCountingQuadratic) returns (bool) {
        return super._quorumReached(proposalId);
    }

    function _voteSucceeded(uint256 proposalId) internal view override(Governor, GovernorCountingQuadratic) returns (bool) {
        return super._voteSucceeded(proposalId);
    }

    /// @inheritdoc GovernorSettings
    function votingDelay() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingDelay();
    }

    /// @inheritdoc GovernorSettings
    function votingPeriod() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingPeriod();
    }

    /// @inheritdoc GovernorSettings
    function proposalThreshold() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.proposalThreshold();
    }

    /// @inheritdoc GovernorTimelockControl
    function proposalNeedsQueuing(uint256 proposalId)
        public
        view
        override(Governor, GovernorTimelockControl)
        returns (bool)
    {
        return super.proposalNeedsQueuing(proposalId);
    }

    function _executeOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) {
        super._executeOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _cancel(address[] memory targets, uint256[] memory values, bytes[] memory calldatas, bytes32 descriptionHash)
        internal
        override(Governor, GovernorTimelockControl)
        returns (uint256)
    {
        return super._cancel(targets, values, calldatas, descriptionHash);
    }

    function _executor() internal view override(Governor, GovernorTimelockControl) returns (address) {
        return super._executor();
    }
}
