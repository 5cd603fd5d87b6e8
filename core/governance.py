"""Co-op decisions: the proposals with their state and tallies, proposing one, and voting on one quadratically.

A proposal's number for members ("#1", "#2"…) is its place among the governor's ProposalCreated events in the
history the indexer keeps (`in_history`), so every member and every process sees the same numbers. The governor
goes by the chain's clock (`ports.ledger.clock()`), not the wall clock.

A member proposal is a signal: its one action is a harmless read (the timelock calls `registry.memberCount()`),
so passing it changes nothing on chain; the title is the description. An admin may give it one ordinary action
instead: GroToken's rate per kg.
"""
import asyncio
import math
import re
from dataclasses import dataclass

from eth_utils import keccak
from sqlalchemy import select

from chain.artifacts import function
from chain.db import HistoryEvent
from chain.ledger import GRO, ProposalStatus
from core import offers
from core.custody import exported
from core.ports import Ports, UnitOfWork
from core.results import Offered, Refused

CREDIT = GRO  # one voting credit is one whole veGRO (GovernorCountingQuadratic.CREDIT_UNIT)
AGAINST, FOR, ABSTAIN = 0, 1, 2
# Governor.ProposalState
PENDING, ACTIVE, CANCELED, DEFEATED, SUCCEEDED, QUEUED, EXPIRED, EXECUTED = range(8)
NEWEST = 10  # proposals listed

TITLE_MAX = 120  # characters, one line: what a member reads before voting is the actions, not an essay
# Control characters, zero-width characters and direction marks: they could hide or reorder a title's text.
_HIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")

Actions = tuple[list[str], list[int], list[str]]  # (targets, values, calldatas as 0x-hex), as propose takes them


def votes_for(power: int) -> int:
    """The most votes `power` veGRO can cast on one proposal: v votes cost v² whole credits
    (GovernorCountingQuadratic)."""
    return math.isqrt(power // CREDIT)


def one_line_title(description: str) -> str:
    """A proposal's title: the first line of its description, at most TITLE_MAX characters."""
    lines = description.strip().splitlines()
    title = " ".join(_HIDDEN.sub(" ", lines[0] if lines else "").split())
    return title if len(title) <= TITLE_MAX else title[:TITLE_MAX - 1] + "…"


@dataclass(frozen=True)
class Proposal:
    number: int  # what members call it: #1, #2…
    proposal_id: int
    title: str  # one line, capped (its description's first line)
    created: dict  # the ProposalCreated event's arguments (its actions, for queue and execute)

    @property
    def actions(self) -> Actions:
        """(targets, values, calldatas), as propose took them."""
        return self.created["targets"], self.created["values"], self.created["calldatas"]


async def in_history(uow: UnitOfWork) -> list[Proposal]:
    """Every proposal the history has followed so far, numbered in the order the governor created them."""
    async with uow.read() as session:
        rows = (await session.scalars(select(HistoryEvent).where(
            HistoryEvent.contract == "governor", HistoryEvent.event == "ProposalCreated")
            .order_by(HistoryEvent.block_number, HistoryEvent.log_index))).all()
    return [Proposal(n, int(row.args["proposalId"]), one_line_title(row.args["description"]), row.args)
            for n, row in enumerate(rows, 1)]


@dataclass(frozen=True)
class ProposalView:
    """A proposal as members follow it. Times in seconds of the chain's clock from now."""

    number: int
    proposal_id: int
    title: str
    actions: Actions
    state: int  # Governor.ProposalState
    opens_in: int  # until voting opens (while PENDING)
    closes_in: int  # until voting closes (while ACTIVE)
    against: int  # votes
    for_: int
    abstain: int
    voted: bool | None = None  # the member's facts, when asked for a member
    power: int | None = None  # their veGRO at the snapshot (minor units); None until voting opens

    @property
    def credits(self) -> int | None:
        return None if self.power is None else self.power // CREDIT


async def proposals(ports: Ports, member_id: str | None = None, newest: int = NEWEST) -> list[ProposalView]:
    """The `newest` proposals, oldest first, with their state and tallies; with `member_id`, also whether the
    member voted and their voting power at each one's snapshot."""
    shown = (await in_history(ports.uow))[-newest:]
    if not shown:
        return []
    now, statuses = await asyncio.gather(ports.ledger.clock(), ports.ledger.proposals([p.proposal_id for p in shown]))
    mine: list[tuple[bool | None, int | None]] = [(None, None)] * len(shown)
    if member_id is not None:
        account = await ports.wallet(member_id)

        async def facts(proposal: Proposal, status: ProposalStatus) -> tuple[bool, int | None]:
            voted = ports.ledger.has_voted(proposal.proposal_id, account)
            if status.state == PENDING:  # the escrow refuses to tell votes at a time still to come
                return await voted, None
            return tuple(await asyncio.gather(voted, ports.ledger.past_votes(account, status.snapshot)))

        mine = await asyncio.gather(*(facts(p, s) for p, s in zip(shown, statuses)))
    return [ProposalView(p.number, p.proposal_id, p.title, p.actions, s.state, s.snapshot - now + 1,
                         s.deadline - now + 1, s.against, s.for_, s.abstain, voted, power)
            for p, s, (voted, power) in zip(shown, statuses, mine)]


def signal_action(registry: str) -> Actions:
    """A member proposal's one action: the timelock reads the member count (changes nothing)."""
    return [registry], [0], ["0x" + function("MemberRegistry", "memberCount").encode().hex()]


def rate_action(gro: str, rate_per_kg: int) -> Actions:
    """An admin's proposal action: GroToken's rate becomes `rate_per_kg` (GRO minor units a kilogram)."""
    return [gro], [0], ["0x" + function("GroToken", "setRatePerKg").encode(rate_per_kg).hex()]


@dataclass(frozen=True)
class ProposeTerms:
    title: str
    actions: Actions
    voting_delay: int  # seconds until voting opens
    voting_period: int  # seconds it stays open


async def propose(ports: Ports, member: int, member_id: str, title: str, rate_per_kg: int | None = None,
                  is_admin: bool = False) -> Offered[ProposeTerms] | Refused:
    """`member` (their row id; `member_id` the resident) proposes `title` to the co-op: a signal, or with
    `rate_per_kg` (admins only) a proposal that sets GroToken's rate. It costs nothing.
    Refused: admins_only, no_title, long_title (`most`: characters, one line), exported, duplicate."""
    if rate_per_kg is not None and not is_admin:
        return Refused("admins_only")
    title = title.strip()
    if not title:
        return Refused("no_title")
    if len(title) > TITLE_MAX or len(title.splitlines()) > 1:
        return Refused("long_title", {"most": TITLE_MAX})
    if await exported(ports.uow, member_id):
        return Refused("exported")
    contracts = ports.ledger.contracts
    actions = signal_action(contracts.registry.address) if rate_per_kg is None else \
        rate_action(contracts.gro.address, rate_per_kg)
    targets, values, calldatas = actions
    proposal_id = await ports.ledger.proposal_id(targets, values, [bytes.fromhex(c[2:]) for c in calldatas],
                                                 keccak(text=title))
    if await ports.ledger.proposal_snapshot(proposal_id):
        return Refused("duplicate")
    terms = await ports.ledger.governor_terms()
    intent = {"targets": targets, "values": values, "calldatas": calldatas, "description": title}
    # An admin's proposal is made only if the one confirming is still an admin.
    token = await offers.offer(ports.uow, ports.clock, member, "propose", {"intent": intent, "title": title},
                               by_admin=rate_per_kg is not None)
    return Offered(token, ProposeTerms(title, actions, terms.voting_delay, terms.voting_period))


@dataclass(frozen=True)
class VoteTerms:
    number: int
    title: str
    actions: Actions
    support: int  # AGAINST, FOR or ABSTAIN
    votes: int
    cost: int  # credits: votes²
    credits: int  # the member's, at the proposal's snapshot
    most: int  # the most votes those credits can cast

    @property
    def left(self) -> int:
        return self.credits - self.cost


async def vote(ports: Ports, member: int, member_id: str, number: int, support: int,
               votes: int | None = None) -> Offered[VoteTerms] | Refused:
    """`member` casts `votes` (n votes cost n² credits; None: the most they can afford) on proposal #`number`.
    Refused: invalid (votes below 1, an unknown answer), no_proposal (`number`), exported, not_open (`number`,
    `opens_in` seconds, `power`: the member's veGRO now, which counts if still locked when voting opens), ended
    (`number`, `state`), voted (`number`), no_credits (`number`), too_many (`number`, `votes`, `cost`, `credits`,
    `most`, `most_cost`)."""
    if (votes is not None and votes < 1) or support not in (AGAINST, FOR, ABSTAIN):  # what another door may send
        return Refused("invalid", {"votes": votes, "support": support})
    listed = await in_history(ports.uow)
    if not 1 <= number <= len(listed):
        return Refused("no_proposal", {"number": number})
    if await exported(ports.uow, member_id):
        return Refused("exported")
    proposal = listed[number - 1]
    status = await ports.ledger.proposal(proposal.proposal_id)
    if status.state not in (PENDING, ACTIVE):
        return Refused("ended", {"number": number, "state": status.state})
    account = await ports.wallet(member_id)
    if status.state == PENDING:
        now, held = await asyncio.gather(ports.ledger.clock(), ports.ledger.balances(account))
        return Refused("not_open", {"number": number, "opens_in": status.snapshot - now + 1,
                                    "power": held.voting_power})
    if await ports.ledger.has_voted(proposal.proposal_id, account):
        return Refused("voted", {"number": number})
    power = await ports.ledger.past_votes(account, status.snapshot)
    credits, most = power // CREDIT, votes_for(power)
    if most == 0:
        return Refused("no_credits", {"number": number})
    votes = most if votes is None else votes
    if votes > most:
        return Refused("too_many", {"number": number, "votes": votes, "cost": votes * votes, "credits": credits,
                                    "most": most, "most_cost": most * most})
    intent = {"proposal_id": str(proposal.proposal_id), "support": support, "votes": votes}
    token = await offers.offer(ports.uow, ports.clock, member, "vote",
                               {"intent": intent, "number": number, "title": proposal.title})
    return Offered(token, VoteTerms(number, proposal.title, proposal.actions, support, votes, votes * votes, credits,
                                    most))
