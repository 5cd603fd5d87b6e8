// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {GovernorSettings} from "@openzeppelin/contracts/governance/extensions/GovernorSettings.sol";
import {GovernorVotes} from "@openzeppelin/contracts/governance/extensions/GovernorVotes.sol";
import {GovernorVotesQuorumFraction} from "@openzeppelin/contracts/governance/extensions/GovernorVotesQuorumFraction.sol";
import {GovernorTimelockControl} from "@openzeppelin/contracts/governance/extensions/GovernorTimelockControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {GovernorCountingQuadratic} from "./GovernorCountingQuadratic.sol";
import {MemberRegistry} from "./MemberRegistry.sol";

/// @title The co-op's governor
/// @notice Members propose and vote with quadratic votes bought with their veGRO. A proposal passes with
/// more votes for than against once enough of all veGRO took part (quorum); it passes early when
/// members holding a super-quorum of all veGRO voted for it. Passed proposals run through the
/// timelock, and anyone may queue and execute them.
/// @dev Only accounts in the MemberRegistry may propose or vote: quadratic voting relies on one
/// account per resident. A cast is recorded against the resident, not the account, so a resident
/// whose account is replaced in the registry mid-vote cannot vote again from the new one.
contract CoopGovernor is
    Governor,
    GovernorSettings,
    GovernorCountingQuadratic,
    GovernorVotes,
    GovernorVotesQuorumFraction,
    GovernorTimelockControl
{
    /// @notice The register of members who may propose and vote.
    MemberRegistry public immutable registry;
    /// @notice Share (percent) of all veGRO that, voting for, passes a proposal before its deadline.
    uint256 public immutable superQuorumPercent;

    error NotAMember(address account);
    error SuperQuorumNotAboveQuorum(uint256 superQuorumPercent, uint256 quorumPercent);

    constructor(
        IVotes votingEscrow,
        TimelockController timelock,
        MemberRegistry registry_,
        uint48 votingDelaySeconds,
        uint32 votingPeriodSeconds,
        uint256 quorumPercent,
        uint256 superQuorumPercent_
    )
        Governor("CoopGovernor")
        GovernorSettings(votingDelaySeconds, votingPeriodSeconds, 0)
        GovernorVotes(votingEscrow)
        GovernorVotesQuorumFraction(quorumPercent)
        GovernorTimelockControl(timelock)
    {
        if (superQuorumPercent_ <= quorumPercent || superQuorumPercent_ > 100) {
            revert SuperQuorumNotAboveQuorum(superQuorumPercent_, quorumPercent);
        }
        registry = registry_;
        superQuorumPercent = superQuorumPercent_;
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

    /// @notice A proposal's state; an active proposal already backed by a super-quorum counts as succeeded.
    /// @dev Same rule as OpenZeppelin's GovernorSuperQuorum, measured in credits read from the one tally
    /// slot. An early-succeeded proposal queued before its deadline skips GovernorTimelockControl's check
    /// for an operation cancelled in the timelock; only this governor may cancel there, and cancelling
    /// through it marks the proposal cancelled first.
    function state(uint256 proposalId) public view override(Governor, GovernorTimelockControl) returns (ProposalState) {
        ProposalState current = super.state(proposalId);
        if (current != ProposalState.Active || !_superQuorumReached(proposalId)) return current;
        return proposalEta(proposalId) == 0 ? ProposalState.Succeeded : ProposalState.Queued;
    }

    function _superQuorumReached(uint256 proposalId) private view returns (bool) {
        Tally memory t = _tally(proposalId);
        if (t.forVotes <= t.againstVotes) return false;
        return uint256(t.forCredits) * 100 >= _supplyCredits(proposalId, t) * superQuorumPercent;
    }

    function _totalPowerAt(uint256 timepoint) internal view override returns (uint256) {
        return token().getPastTotalSupply(timepoint);
    }

    /// @notice Changes the quorum (a governance decision); it must stay below the super-quorum.
    function updateQuorumNumerator(uint256 newQuorumNumerator) public override onlyGovernance {
        if (newQuorumNumerator >= superQuorumPercent) revert SuperQuorumNotAboveQuorum(superQuorumPercent, newQuorumNumerator);
        _updateQuorumNumerator(newQuorumNumerator);
    }

    function _countVote(uint256 proposalId, address account, uint8 support, uint256 totalWeight, bytes memory params)
        internal
        override(Governor, GovernorCountingQuadratic)
        returns (uint256)
    {
        bytes32 resident = registry.residentOf(account);
        if (resident == bytes32(0)) revert NotAMember(account);
        return _countQuadraticVote(proposalId, resident, account, support, totalWeight, params);
    }

    function _voterOf(address account) internal view override returns (bytes32) {
        return registry.residentOf(account);
    }

    // ---- plumbing required by Solidity for the bases' overlapping functions ----

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

    function _queueOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint48) {
        return super._queueOperations(proposalId, targets, values, calldatas, descriptionHash);
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
