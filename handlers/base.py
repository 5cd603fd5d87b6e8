"""What every handler works with: a normalized inbound message, the replies it returns, and its context.

Handlers never see a channel: the transport turns a Telegram update, a WhatsApp message or a console
line into an Inbound, and renders the Replies (inline keyboards, reply buttons, JSON lines).
"""
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.identity import identity_key
from bot.settings import Settings
from bot.store import Admin, Member
from chain.indexer import Indexer
from chain.deploy import CoopSystem
from chain.ledger import CoopLedger
from core.onboarding import InviteAttempts
from core.onboarding import Accounts
from core.ports import Ports
from iot.alerts import Alerts
from locales import Translator


@dataclass(frozen=True)
class Button:
    text: str
    data: str  # at most 64 bytes (Telegram's callback data limit)


@dataclass
class Reply:
    to: str  # a member's handle on the channel, or "group" for the co-op's group chat
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    image: str | None = None  # a PNG's path


@dataclass(frozen=True)
class Inbound:
    channel: str  # console | telegram | whatsapp
    user: str  # the sender's handle on the channel: who the channel says they are (Telegram: the numeric id)
    text: str | None = None
    press: str | None = None  # the data of a button the user pressed
    chat: str = "private"  # private | group
    lang_hint: str | None = None  # the client's language, like Telegram's language_code
    chat_id: str | None = None  # where private replies go, when it is not the handle
    alias: str | None = None  # a name the sender goes by that admins may type (Telegram's @username, lower case)


class Services(Protocol):
    """What handlers use of the running assistant (bot/app.py provides it)."""

    sessions: async_sessionmaker
    accounts: Accounts  # new residents' keys and accounts, written with them (core/onboarding.py)
    contracts: CoopSystem
    ledger: CoopLedger  # every contract read (chain/ledger.py)
    core: Ports  # what the use cases (core/) are given: the ledger, the unit of work, the clock, the wallets
    admins: frozenset[str]  # identities, "channel:id" (COOP_ADMINS and --admin)
    treasurer_address: str  # the co-op's treasurer account (also the supplier on chain; see docs)
    indexer: Indexer  # follows the contracts' events into the members' history
    settings: Settings
    alerts: Alerts  # sensor rules and alerts (iot/alerts.py)
    telegram_username: str | None  # the bot's own @username (getMe), for invite links; None without Telegram
    invite_attempts: InviteAttempts  # failed /start CODE attempts, throttled (core/onboarding.py)

    async def wallet(self, member_id: str) -> str: ...  # the member's account address (made on first use)

    # A blocking node call off the loop (a block, a receipt); contracts are read through `ledger`.
    async def read(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    async def push(self, channel: str, reply: Reply) -> None: ...  # a message outside the current exchange

    def unblocked(self, channel: str, handle: str) -> None: ...  # a member who blocked the bot wrote again


@dataclass
class Context:
    """One inbound message being handled: who sent it, in which language to answer, and the services."""

    services: Services
    inbound: Inbound
    member: Member | None
    lang: str
    as_admin: bool = False  # handling an admin command: its offers are re-checked when confirmed
    listed_admin: bool | None = None  # bot_admins lists the sender, as read with their member (None: not read)

    @property
    def translator(self) -> Translator:
        return Translator(self.lang)

    def t(self, msgid: str, **fields: Any) -> str:
        return self.translator.t(msgid, **fields)

    def tn(self, singular: str, plural: str, n: int, **fields: Any) -> str:
        return self.translator.tn(singular, plural, n, **fields)

    def reply(self, text: str, buttons: list[list[Button]] | None = None, image: str | None = None) -> Reply:
        to = "group" if self.inbound.chat == "group" else self.inbound.user
        return Reply(to, text, buttons or [], image)

    async def is_admin(self) -> bool:
        """COOP_ADMINS, or an admin added in the database: this channel's identity, never a name (an id equal
        to an admin's number on another channel is someone else)."""
        if identity_key(self.inbound.channel, self.inbound.user) in self.services.admins:
            return True
        if self.listed_admin is not None:
            return self.listed_admin
        async with self.services.sessions() as session:
            return await session.get(Admin, (self.inbound.channel, self.inbound.user)) is not None


Handler = Callable[[Context, list[str]], Awaitable[list[Reply]]]
