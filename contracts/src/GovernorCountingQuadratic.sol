// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title Quadratic vote counting for an OpenZeppelin Governor
/// @notice Each member has credits equal to their voting power (whole veGRO) at the proposal's snapshot.
/// Casting n votes costs n squared credits: 3 votes cost 9. Each member casts once per proposal.
/// @dev Support follows Bravo (0 against, 1 for, 2 abstain). `params` is abi.encode(uint256 votes);
/// empty params cast the most votes the credits allow. The majority is decided by votes; quorum by the
/// credits of the members who took part (for and abstain), so turnout is measured in veGRO as usual.
/// Everything a cast changes sits in one storage slot per proposal, to keep a vote as cheap as a
/// simple-counting one.
abstract contract GovernorCountingQuadratic is Governor {
    /// @notice One credit is one whole veGRO of voting power.
    uint256 public constant CREDIT_UNIT = 1e18;

    struct Tally {
        uint32 againstVotes;
        uint32 forVotes;
        uint32 abstainVotes;
        uint40 againstCredits;
        uint40 forCredits;
        uint40 abstainCredits;
    }

    mapping(uint256 proposalId => Tally) private _tallies;
    mapping(uint256 proposalId => mapping(bytes32 voter => bool)) private _hasVoted;

    /// @notice Casting `votes` votes costs `cost` credits, more than the voter's `credits`.
    error QuadraticVotesExceedCredits(uint256 votes, uint256 cost, uint256 credits);

    /// @notice How votes are counted, in ERC-6372/Governor's URL-encoded form.
    // forge-lint: disable-next-line(mixed-case-function)
    function COUNTING_MODE() public pure virtual override returns (string memory) {
        return "support=bravo&quorum=for,abstain&params=votes";
    }

    /// @notice What casting `votes` votes costs, in credits.
    function voteCost(uint256 votes) public pure returns (uint256) {
        return votes * votes;
    }

    /// @notice Whether `account` (or, where voters are people, the person behind it) has voted on `proposalId`.
    function hasVoted(uint256 proposalId, address account) public view virtual override returns (bool) {
        return _voted(proposalId, bytes32(uint256(uint160(account))));
    }

    /// @dev Whether `voter` has cast on `proposalId`.
    function _voted(uint256 proposalId, bytes32 voter) internal view returns (bool) {
        return _hasVoted[proposalId][voter];
    }

    /// @notice Votes cast so far: against, for, abstain.
    function proposalVotes(uint256 proposalId)
        public
        view
        virtual
        returns (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes)
    {
        Tally memory t = _tallies[proposalId];
        return (t.againstVotes, t.forVotes, t.abstainVotes);
    }

    /// @notice Credits (whole veGRO) of the members who voted against, for, and abstained.
    function proposalCredits(uint256 proposalId)
        public
        view
        returns (uint256 againstCredits, uint256 forCredits, uint256 abstainCredits)
    {
        Tally memory t = _tallies[proposalId];
        return (t.againstCredits, t.forCredits, t.abstainCredits);
    }

    function _quorumReached(uint256 proposalId) internal view virtual override returns (bool) {
        Tally memory t = _tallies[proposalId];
        return quorum(proposalSnapshot(proposalId)) <= (uint256(t.forCredits) + t.abstainCredits) * CREDIT_UNIT;
    }

    function _voteSucceeded(uint256 proposalId) internal view virtual override returns (bool) {
        Tally memory t = _tallies[proposalId];
        return t.forVotes > t.againstVotes;
    }

    function _countVote(uint256 proposalId, address account, uint8 support, uint256 totalWeight, bytes memory params)
        internal
        virtual
        override
        returns (uint256)
    {
        return _countQuadraticVote(proposalId, bytes32(uint256(uint160(account))), account, support, totalWeight, params);
    }

    /// @dev Counts `voter`'s one cast, made through `account`.
    function _countQuadraticVote(
        uint256 proposalId,
        bytes32 voter,
        address account,
        uint8 support,
        uint256 totalWeight,
        bytes memory params
    ) internal returns (uint256) {
        if (_hasVoted[proposalId][voter]) revert GovernorAlreadyCastVote(account);
        uint256 credits = totalWeight / CREDIT_UNIT;
        uint256 votes;
        if (params.length == 0) {
            votes = Math.sqrt(credits);
        } else {
            if (params.length != 32) revert GovernorInvalidVoteParams();
            votes = abi.decode(params, (uint256));
            if (votes > type(uint32).max || votes * votes > credits) {
                revert QuadraticVotesExceedCredits(votes, votes > type(uint32).max ? type(uint256).max : votes * votes, credits);
            }
        }
        _hasVoted[proposalId][voter] = true;

        // Both fit for any real holding; SafeCast turns an absurd one into a revert, never a wrapped count.
        uint32 votes32 = SafeCast.toUint32(votes);
        uint40 credits40 = SafeCast.toUint40(credits);
        Tally memory t = _tallies[proposalId];
        if (support == uint8(VoteType.Against)) {
            t.againstVotes += votes32;
            t.againstCredits += credits40;
        } else if (support == uint8(VoteType.For)) {
            t.forVotes += votes32;
            t.forCredits += credits40;
        } else if (support == uint8(VoteType.Abstain)) {
            t.abstainVotes += votes32;
            t.abstainCredits += credits40;
        } else {
            revert GovernorInvalidVoteType();
        }
        _tallies[proposalId] = t;
        return votes;
    }

    enum VoteType {
        Against,
        For,
        Abstain
    }
}
