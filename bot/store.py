"""The chat side's tables (SQLAlchemy 2, async) and their migrations (Alembic, bot/migrations).

Members as the chat knows them (channel, handle, language), invites, admins added in the database,
the confirmations offered to members, updates already handled (webhook retries), feedback, and the leader lease. The
chain side keeps its own tables (chain/db.py); a member's `member_id` is the key into those.
"""
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from chain.db import NAMING_CONVENTION, utcnow
from chain.db import migrate as _migrate

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "bot_alembic_version"


class BotBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON}


class Member(BotBase):
    """A resident on one channel, as the channel names them. `member_id` is the resident's own id: it keys
    their wallet (chain/) and their one vote (MemberRegistry), and every channel identity linked to the
    resident (/link) has a row of its own with the same `member_id`."""

    __tablename__ = "bot_members"
    __table_args__ = (UniqueConstraint("channel", "handle"),
                      UniqueConstraint("channel", "alias", name="uq_bot_members_channel_alias"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))  # console | telegram | whatsapp
    handle: Mapped[str] = mapped_column(String(64))  # console name, Telegram numeric user id, WhatsApp number
    # Telegram's @username (lower case, without "@"), kept up to date from each update: only a name admins
    # may type for the member, never who they are (usernames change hands).
    alias: Mapped[str | None] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))  # where private replies go
    member_id: Mapped[str] = mapped_column(String(64), index=True)  # r_<hex> (older rows: "channel:handle")
    lang: Mapped[str | None] = mapped_column(String(8))  # None until the member picks one
    invite_code: Mapped[str] = mapped_column(String(32))
    alerts: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)  # the member blocked the bot: skip pushes
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]  # the member's latest message, for weekly active members

    @property
    def name(self) -> str:
        """How admins see the member in summaries: the alias they would type, else the channel's id."""
        return f"@{self.alias}" if self.alias else self.handle


class Invite(BotBase):
    """A single-use, expiring invitation an admin made with /invite, or (`for_member_id` set) with /link: whoever
    sends it becomes that resident on their channel, not a new one."""

    __tablename__ = "bot_invites"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_by: Mapped[str] = mapped_column(String(64))
    for_member_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("bot_members.id"))
    used_at: Mapped[datetime | None]


class Admin(BotBase):
    """An admin added in the database (besides COOP_ADMINS)."""

    __tablename__ = "bot_admins"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    handle: Mapped[str] = mapped_column(String(64), primary_key=True)


class PendingAction(BotBase):
    """A summary offered with confirm and cancel buttons. The button data carries its token; the first
    answer wins (a second confirm, or a confirm after cancel, changes nothing), and a confirm writes the
    chain intent whose idempotency key is this token."""

    __tablename__ = "bot_pending_actions"
    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    member: Mapped[int] = mapped_column(ForeignKey("bot_members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default="offered")  # offered | confirmed | cancelled | expired
    intent_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]


class Product(BotBase):
    """A product's name, by the id orders carry on chain (keccak of the name)."""

    __tablename__ = "bot_products"
    product_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))


class SeenUpdate(BotBase):
    """An incoming update already handled (a retried webhook or a redelivered message is dropped)."""

    __tablename__ = "bot_seen_updates"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Feedback(BotBase):
    __tablename__ = "bot_feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member: Mapped[int] = mapped_column(ForeignKey("bot_members.id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Timing(BotBase):
    """From a confirm press to the intent's outcome, for the pilot's transaction-speed metric."""

    __tablename__ = "bot_timings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    intent_id: Mapped[int] = mapped_column(Integer, unique=True)
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    milliseconds: Mapped[int | None] = mapped_column(BigInteger)


class Announcement(BotBase):
    """Something told once, whichever process saw it first (an outcome, a proposal's result): the row is
    written with its messages (OutgoingMessage) in one transaction, and a second writer fails on the key.
    Never pruned while the event could be seen again."""

    __tablename__ = "bot_announcements"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class OutgoingMessage(BotBase):
    """One message to one recipient (a member, or a channel's group chat), written in the same transaction as
    its event's `Announcement` and kept until the channel took it: `told_at` is set only once the sender
    returned, so a crash or a failed send tells it again (bot/told.py). `dropped` says why it never will be
    (blocked, error), or that it is held till the member writes. Rows told or dropped may be pruned; untold and
    held rows must never be, and the event's `Announcement` row is what keeps it from being told twice."""

    __tablename__ = "bot_outgoing_messages"
    __table_args__ = (UniqueConstraint("event", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event: Mapped[str] = mapped_column(String(128))  # the Announcement key, e.g. intent:42, order:7:closed
    seq: Mapped[int] = mapped_column(Integer)  # the message's place among its event's
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(64))  # Reply.to: a handle, or "group"
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[list[dict[str, str]]] | None] = mapped_column(JSON)
    image: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    told_at: Mapped[datetime | None] = mapped_column(index=True)
    # blocked | error; or held: the channel took it, then could not deliver it (WhatsApp's 24-hour window had
    # closed): untold, it waits for the member to write (bot/told.py)
    dropped: Mapped[str | None] = mapped_column(String(16))
    sent_id: Mapped[str | None] = mapped_column(String(128), index=True)  # the channel's id for it (WhatsApp's)


class Lease(BotBase):
    """A lease one replica holds at a time (chain/lease.py): `epoch` grows with each new holder, `version` with
    each write, so a holder that stops renewing is seen standing still."""

    __tablename__ = "bot_leases"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(128))  # host:pid:nonce; None: free
    epoch: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(BigInteger)


def migrate(url: str) -> None:
    """Brings the chat side's tables at `url` to the newest revision."""
    _migrate(url, migrations=MIGRATIONS)
