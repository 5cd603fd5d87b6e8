"""Joining: `/start CODE` makes a stranger a member, or (a /link code) one more channel of a resident; a stranger
guessing codes is slowed to a polite wait.

A new resident's member row, custodial key, account and registration on chain commit in one transaction: a
crash or a failed write keeps all of it or none (then the same invite works again), never a member who cannot
vote.

Failed `/start CODE` attempts are counted in two token buckets (`InviteAttempts`): one per sender (their channel
identity) and one for everyone together, so neither one stranger nor many together can try more than a few
codes an hour. The buckets are kept in memory, not in the database: a failed guess then costs no write (a
stranger cannot grow our tables), the check costs microseconds, and what a restart forgets is at most one
bucket's worth of guesses against 2^80 codes (core/admin.py) — the throttle keeps guessing noise out, the
code's length is the defence. `coop run` serves every channel from one process, so one set of buckets sees all
of them. While a flood of wrong codes keeps the shared bucket empty, new members with good codes wait too (told
so politely): the price of a door nobody can guess through; the log says when it starts.
"""
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.identity import identity_key
from bot.store import Invite, Member
from chain.accounts import NewAccount, new_account
from chain.deploy import CoopSystem
from chain.keystore import Keystore
from chain.outbox import Outbox
from core.ports import Ports, utc
from core.results import Refused

PER_SENDER = (5, 300.0)  # a sender may fail 5 times in a row, then once every 5 minutes
OVERALL = (30, 30.0)  # everyone together: 30 in a row, then once every 30 s (120 an hour)
MAX_SENDERS = 10_000  # senders remembered (the least recent is forgotten first; OVERALL still holds)
log = logging.getLogger(__name__)


@dataclass
class _Bucket:
    tokens: float
    at: float


class InviteAttempts:
    """`take(sender)` before a code is checked: 0, or the seconds to wait first; `give_back(sender)` when the
    code was good (only failures count). The clock is injected (seconds, monotonic) for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, per_sender: tuple[int, float] = PER_SENDER,
                 overall: tuple[int, float] = OVERALL):
        self.clock = clock
        self.per_sender, self.overall = per_sender, overall
        self._senders: OrderedDict[str, _Bucket] = OrderedDict()
        self._all = _Bucket(overall[0], clock())
        self._flooded = False  # the shared bucket ran dry (logged once until it refills)

    def take(self, sender: str) -> float:
        now = self.clock()
        mine = self._senders.get(sender) or _Bucket(self.per_sender[0], now)
        waits = [self._wait(mine, self.per_sender, now), self._wait(self._all, self.overall, now)]
        if waits[1] and not self._flooded:
            log.warning("invites throttled=everyone reason=too_many_wrong_codes wait_s=%.0f", waits[1])
        self._flooded = waits[1] > 0
        if max(waits) == 0:
            mine.tokens -= 1
            self._all.tokens -= 1
        self._senders[sender] = mine
        self._senders.move_to_end(sender)
        if len(self._senders) > MAX_SENDERS:
            self._senders.popitem(last=False)
        return max(waits)

    def give_back(self, sender: str) -> None:
        for bucket, (capacity, _) in ((self._senders.get(sender), self.per_sender), (self._all, self.overall)):
            if bucket is not None:
                bucket.tokens = min(capacity, bucket.tokens + 1)

    @staticmethod
    def _wait(bucket: _Bucket, limits: tuple[int, float], now: float) -> float:
        capacity, every = limits
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) / every)
        bucket.at = now
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) * every


class Accounts(Protocol):
    """New residents' custodial keys and accounts: made outside any transaction (the key, and a node call for the
    account's address), then written in the joining transaction."""

    async def new(self, member_id: str) -> Any: ...

    async def add_to(self, session: AsyncSession, account: Any) -> None: ...


@dataclass(frozen=True)
class CustodialAccounts:
    """Accounts as chain/accounts.py makes them, keys sealed in the keystore."""

    keystore: Keystore
    contracts: CoopSystem

    async def new(self, member_id: str) -> NewAccount:
        return await new_account(self.keystore, self.contracts, member_id)

    async def add_to(self, session: AsyncSession, account: NewAccount) -> None:
        await account.add_to(session, self.keystore)


@dataclass(frozen=True)
class Newcomer:
    """Who sent /start, as their channel names them."""

    channel: str
    handle: str
    chat_id: str  # where private replies go
    alias: str | None = None


@dataclass(frozen=True)
class Started:
    member: Member  # the new row
    linked: bool  # a /link code: one more channel of a resident who had their account and vote already


class _Taken(Exception):
    """The invite was used a moment ago by someone else: nothing of this start is kept."""


async def start(ports: Ports, accounts: Accounts, attempts: InviteAttempts, newcomer: Newcomer, code: str | None,
                admin: bool) -> Started | Refused:
    """`newcomer` joins with invite `code` (read as typed: upper case, no dashes); an admin (`admin`) needs none.
    Refused: already_member, invite_needed, throttled (`wait`, seconds), invalid_invite (unknown, used or
    expired: a guesser learns no more than that)."""
    if await _known(ports, newcomer):
        return Refused("already_member")
    if code is None and not admin:
        return Refused("invite_needed")
    sender = identity_key(newcomer.channel, newcomer.handle)
    if code is not None and (wait := attempts.take(sender)):
        return Refused("throttled", {"wait": wait})
    # The resident's own id, made once: their wallet and their one vote hang on it, whatever the channel calls
    # them (a new username, a second channel linked with /link, are still this resident).
    member_id = f"r_{secrets.token_hex(8)}"
    if code is not None:
        async with ports.uow.read() as session:
            invite = await session.get(Invite, code)
        if invite is None or invite.used_by is not None or invite.expires_at < utc(ports.clock):
            return Refused("invalid_invite")
        member_id = invite.for_member_id or member_id  # a /link code: this chat is that resident too
    linked = code is not None and invite.for_member_id is not None  # that resident has their account
    account = None if linked else await accounts.new(member_id)
    try:
        async with ports.uow() as session:
            member = Member(channel=newcomer.channel, handle=newcomer.handle, alias=newcomer.alias,
                            chat_id=newcomer.chat_id, member_id=member_id, invite_code=code or "admin")
            session.add(member)
            await session.flush()
            if code is not None:
                claimed = await session.execute(update(Invite).where(Invite.code == code, Invite.used_by.is_(None))
                                                .values(used_by=member.id, used_at=utc(ports.clock)))
                if claimed.rowcount != 1:
                    raise _Taken
            if account is not None:
                await accounts.add_to(session, account)
                Outbox.add(session, f"register:{member_id}", member_id, "register", {"resident_id": member_id})
    except _Taken:
        return Refused("invalid_invite")
    except IntegrityError:
        # A second /start of this person at the same moment (a double press, a retried webhook) wrote them first.
        if not await _known(ports, newcomer):
            raise
        if code is not None:
            attempts.give_back(sender)  # their own good code, not a guess
        return Refused("already_member")
    if code is not None:
        attempts.give_back(sender)  # only failures count
    return Started(member, linked)


async def _known(ports: Ports, newcomer: Newcomer) -> bool:
    """Whether this channel identity is a member already."""
    async with ports.uow.read() as session:
        return (await session.execute(select(Member.id).where(
            Member.channel == newcomer.channel, Member.handle == newcomer.handle))).first() is not None
