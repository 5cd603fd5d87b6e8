"""The one gateway to what the co-op's contracts hold: typed values (orders, parts, proposals, balances,
membership), read in JSON-RPC batches through one path (the App's `batch`, chain/rpc.py).

Handlers, the keeper, the announcer and the intents' facts read contracts here and nowhere else; the token
decimals and the structs' layouts (taken by field name from the ABI) are known here only.
"""
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from functools import cache, lru_cache
from typing import Any

from eth_utils import to_checksum_address

from chain.artifacts import function, load_artifact
from chain.deploy import CoopSystem
from chain.rpc import Read, Request

# locales/amounts.py keeps a copy for formatting (it imports nothing of the chain's); tests/chain/test_ledger.py
# checks the tokens, these and that copy agree.
FOOD_USD_DECIMALS = 6  # FoodUSD.decimals(): cents to the millionth, like USDC
GRO_DECIMALS = 18  # GroToken.decimals(), and veGRO's
FOOD_USD = 10**FOOD_USD_DECIMALS  # one Food-USD in minor units
GRO = 10**GRO_DECIMALS  # one GRO (or one veGRO) in minor units

Batch = Callable[[list[Request]], Awaitable[list[dict[str, Any]]]]


class OrderStatus(IntEnum):
    """GroupBuy.Status. An order id never created reads as NONE."""

    NONE = 0
    OPEN = 1
    EXECUTED = 2
    REFUNDED = 3
    CANCELLED = 4


def whole_cases(units: int, tolerance: int, case_size: int) -> int:
    """The units an order really buys: whole cases, the last one completed from tolerance when it can
    (as GroupBuy._wholeCases)."""
    cases, rest = divmod(units, case_size)
    if rest and rest + tolerance >= case_size:
        cases += 1
    return cases * case_size


@dataclass(frozen=True)
class Order:
    """GroupBuy.Order, with its id. Prices in Food-USD minor units."""

    id: int
    unit_price: int
    deadline: int
    target_units: int
    min_units: int
    max_units_per_member: int  # units + tolerance
    case_size: int
    status: OrderStatus
    supplier: str
    units: int  # committed by members
    tolerance: int  # offered by members to fill the last case
    members: int
    bought_units: int
    allocated_in_full: bool
    product_id: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", OrderStatus(self.status))
        object.__setattr__(self, "supplier", to_checksum_address(self.supplier))  # as web3 gives addresses

    def open_at(self, now: float) -> bool:
        return self.status == OrderStatus.OPEN and self.deadline > now

    @property
    def buys(self) -> int:
        """The units it would buy if closed now (whole cases)."""
        return whole_cases(self.units, self.tolerance, self.case_size)

    def outcome_for(self, part: "Part") -> "Claim":
        """What a closed order gave `part`: units bought and Food-USD coming back, whether or not it was
        claimed yet (as GroupBuy.claimable, which answers nothing once claimed)."""
        paid = (part.units + part.tolerance) * self.unit_price
        if self.status == OrderStatus.EXECUTED:
            units = part.units if self.allocated_in_full else part.allocated
        else:
            units = 0
        return Claim(units, paid - units * self.unit_price)


@dataclass(frozen=True)
class Part:
    """GroupBuy.Member: one member's part in an order."""

    units: int
    tolerance: int
    seq: int  # join order, from 0
    allocated: int
    joined: bool
    claimed: bool


@dataclass(frozen=True)
class Claim:
    """What a member can claim from a closed order now (GroupBuy.claimable)."""

    units: int
    refund: int  # Food-USD minor units


@dataclass(frozen=True)
class Balances:
    """A member account's money and voting power (minor units: Food-USD 6 decimals, GRO and veGRO 18)."""

    food_usd: int
    gro: int  # held, not counting the locked GRO
    voting_power: int  # veGRO now
    locked: int  # GRO in the vote escrow
    unlock_time: int  # when the locked GRO can be taken back (0 without a lock)


@dataclass(frozen=True)
class ProposalStatus:
    """A proposal as the governor sees it (state: Governor.ProposalState; times in the governor's clock)."""

    state: int
    snapshot: int
    deadline: int
    against: int
    for_: int
    abstain: int
    eta: int  # when a queued proposal may be executed (0 until queued)

    @property
    def tally(self) -> tuple[int, int, int]:
        """(against, for, abstain), as GovernorCountingQuadratic.proposalVotes."""
        return self.against, self.for_, self.abstain


@dataclass(frozen=True)
class GovernorTerms:
    """The governance timings, in seconds."""

    voting_delay: int
    voting_period: int
    guardian_window: int  # after a vote ends, the guardian may still cancel a privileged proposal
    timelock_delay: int  # the timelock's minimum delay between queueing and executing


@dataclass(frozen=True)
class Certification:
    """GroToken's certification terms: GRO per kg, and the caps governance set."""

    rate_per_kg: int
    max_per_batch: int
    room: int  # GRO that may still be certified in the current period
    period_ends: int


@dataclass(frozen=True)
class Membership:
    is_member: bool
    resident: bytes  # the resident id's hash (zero when not registered)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


@cache
def _layout(artifact: str, name: str) -> tuple[str, ...]:
    """The snake_case field names of the struct `name` returns, in the ABI's order."""
    (item,) = [i for i in load_artifact(artifact).abi if i["type"] == "function" and i["name"] == name]
    return tuple(_snake(c["name"]) for c in item["outputs"][0]["components"])


def _struct(cls: type, artifact: str, name: str, **extra: Any) -> Callable[[tuple], Any]:
    """Decoded struct values into `cls`, by field name (a reordered struct still lands right)."""
    return lambda values: cls(**extra, **dict(zip(_layout(artifact, name), values)))


# ---- reads, for a batch (also the intents' facts, chain/intents.py) ----

def _read(to: str, artifact: str, name: str, *args: Any, into: Callable | None = None) -> Read:
    return Read(to, function(artifact, name), args, into)


def order_read(c: CoopSystem, order_id: int) -> Read:
    return _read(c.group_buy.address, "GroupBuy", "getOrder", order_id,
                 into=_struct(Order, "GroupBuy", "getOrder", id=order_id))


def part_read(c: CoopSystem, order_id: int, account: str) -> Read:
    return _read(c.group_buy.address, "GroupBuy", "getMember", order_id, account,
                 into=_struct(Part, "GroupBuy", "getMember"))


@lru_cache(maxsize=4096)
def _balance_reads(food_usd: str, gro: str, escrow: str, account: str) -> tuple[tuple[Read, ...], tuple[Request, ...]]:
    """The reads of one account's balances and their encoded requests: the ABI encoding is done once per
    account; the chain is still asked on every call."""
    reads = (_read(food_usd, "FoodUSD", "balanceOf", account), _read(gro, "GroToken", "balanceOf", account),
             _read(escrow, "VotingEscrow", "getVotes", account), _read(escrow, "VotingEscrow", "locked", account))
    return reads, tuple(r.request() for r in reads)


class CoopLedger:
    """Reads of the co-op's contracts, each method one node round trip (`batch`: requests to responses)."""

    def __init__(self, contracts: CoopSystem, batch: Batch):
        self.contracts = contracts
        self._batch = batch

    async def read(self, *reads: Read, block: int | None = None) -> list[Any]:
        """The results of `reads`, in one batch, as of `block` (the latest by default)."""
        tag = "latest" if block is None else hex(block)
        responses = await self._batch([r.request(tag) for r in reads])
        return [r.result(response) for r, response in zip(reads, responses)]

    async def _one(self, read: Read, block: int | None = None) -> Any:
        return (await self.read(read, block=block))[0]

    # ---- group orders ----

    async def order_count(self) -> int:
        return await self._one(_read(self.contracts.group_buy.address, "GroupBuy", "orderCount"))

    async def order(self, order_id: int) -> Order:
        """Order `order_id`; one never created has status NONE."""
        return await self._one(order_read(self.contracts, order_id))

    async def orders(self, order_ids: list[int] | None = None) -> list[Order]:
        """Orders `order_ids` in one batch; without them every order, oldest first (after the count)."""
        if order_ids is None:
            order_ids = list(range(1, await self.order_count() + 1))
        return await self.read(*(order_read(self.contracts, i) for i in order_ids)) if order_ids else []

    async def part(self, order_id: int, account: str) -> Part:
        return await self._one(part_read(self.contracts, order_id, account))

    async def parts(self, order_ids: list[int], account: str) -> list[Part]:
        """`account`'s part in each of `order_ids`, in one batch."""
        return await self.read(*(part_read(self.contracts, i, account) for i in order_ids)) if order_ids else []

    async def claimable(self, order_id: int, account: str) -> Claim:
        units, refund = await self._one(_read(self.contracts.group_buy.address, "GroupBuy", "claimable",
                                              order_id, account))
        return Claim(units, refund)

    async def stale_after(self) -> int:
        """Seconds past its deadline after which anyone may refund an order still open (a constant)."""
        return await self._one(_read(self.contracts.group_buy.address, "GroupBuy", "STALE_AFTER"))

    # ---- money and membership ----

    async def balances(self, account: str) -> Balances:
        c = self.contracts
        reads, requests = _balance_reads(c.food_usd.address, c.gro.address, c.escrow.address, account)
        # Fresh copies of the cached requests, so nothing downstream can alter the cache.
        responses = await self._batch([(m, [dict(p[0]), *p[1:]]) for m, p in requests])
        fusd, gro, power, (locked, end) = (r.result(response) for r, response in zip(reads, responses))
        return Balances(fusd, gro, power, locked, end)

    async def membership(self, account: str) -> Membership:
        registry = self.contracts.registry.address
        is_member, resident = await self.read(_read(registry, "MemberRegistry", "isMember", account),
                                              _read(registry, "MemberRegistry", "residentOf", account))
        return Membership(is_member, resident)

    async def decimals(self) -> tuple[int, int]:
        """(Food-USD's, GRO's) as the tokens say; FOOD_USD_DECIMALS and GRO_DECIMALS must agree."""
        c = self.contracts
        return tuple(await self.read(_read(c.food_usd.address, "FoodUSD", "decimals"),
                                     _read(c.gro.address, "GroToken", "decimals")))

    # ---- GRO certification ----

    async def certified(self, batch_id: bytes) -> bool:
        return await self._one(_read(self.contracts.gro.address, "GroToken", "certified", batch_id))

    async def rate_per_kg(self) -> int:
        return await self._one(_read(self.contracts.gro.address, "GroToken", "ratePerKg"))

    async def certification(self) -> Certification:
        gro = self.contracts.gro.address
        rate, per_batch, (room, period_ends) = await self.read(
            _read(gro, "GroToken", "ratePerKg"), _read(gro, "GroToken", "maxCertifiedPerBatch"),
            _read(gro, "GroToken", "certificationRoom"))
        return Certification(rate, per_batch, room, period_ends)

    # ---- governance ----

    async def clock(self) -> int:
        """The chain's clock (seconds), which the governor and the escrow go by (a dev chain may run ahead)."""
        return await self._one(_read(self.contracts.escrow.address, "VotingEscrow", "clock"))

    def _proposal_reads(self, proposal_id: int) -> list[Read]:
        gov = self.contracts.governor.address
        return [_read(gov, "CoopGovernor", name, proposal_id)
                for name in ("state", "proposalSnapshot", "proposalDeadline", "proposalVotes", "proposalEta")]

    async def proposals(self, proposal_ids: list[int], block: int | None = None) -> list[ProposalStatus]:
        """The governor's view of each proposal, as of `block` (the latest by default), in one batch."""
        results = await self.read(*(r for p in proposal_ids for r in self._proposal_reads(p)), block=block)
        return [ProposalStatus(state, snapshot, deadline, *votes, eta)
                for state, snapshot, deadline, votes, eta in zip(*[iter(results)] * 5)]

    async def proposal(self, proposal_id: int, block: int | None = None) -> ProposalStatus:
        """A proposal the governor knows (its state of an unknown one reverts: see proposal_snapshot)."""
        return (await self.proposals([proposal_id], block))[0]

    async def proposal_snapshot(self, proposal_id: int) -> int:
        """When voting on a proposal opens; 0 for a proposal never made."""
        return await self._one(_read(self.contracts.governor.address, "CoopGovernor", "proposalSnapshot", proposal_id))

    async def proposal_id(self, targets: list[str], values: list[int], calldatas: list[bytes],
                          description_hash: bytes) -> int:
        return await self._one(_read(self.contracts.governor.address, "CoopGovernor", "hashProposal",
                                     targets, values, calldatas, description_hash))

    async def has_voted(self, proposal_id: int, account: str) -> bool:
        return await self._one(_read(self.contracts.governor.address, "CoopGovernor", "hasVoted",
                                     proposal_id, account))

    async def past_votes(self, account: str, timepoint: int) -> int:
        """`account`'s veGRO at `timepoint` (a proposal's snapshot): its voting credits."""
        return await self._one(_read(self.contracts.escrow.address, "VotingEscrow", "getPastVotes",
                                     account, timepoint))

    async def governor_terms(self) -> GovernorTerms:
        c = self.contracts
        return GovernorTerms(*await self.read(
            _read(c.governor.address, "CoopGovernor", "votingDelay"),
            _read(c.governor.address, "CoopGovernor", "votingPeriod"),
            _read(c.governor.address, "CoopGovernor", "guardianWindow"),
            _read(c.timelock.address, "TimelockController", "getMinDelay")))


__all__ = ["Balances", "Batch", "Certification", "Claim", "CoopLedger", "FOOD_USD", "FOOD_USD_DECIMALS", "GRO",
           "GRO_DECIMALS", "GovernorTerms", "Membership", "Order", "OrderStatus", "Part", "ProposalStatus",
           "order_read", "part_read", "whole_cases"]
