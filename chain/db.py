"""The chain gateway's tables (SQLAlchemy 2, async) and their migrations (Alembic, chain/migrations).

chain/ keeps its own tables and its own Alembic version table, so it never needs bot/ to start: keys,
smart accounts, intents (the outbox), operator transactions, the indexer's cursor and blocks, and
the member-facing history. Amounts that can exceed 64 bits travel as decimal strings inside JSON.
"""
import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Text, UniqueConstraint, event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "chain_alembic_version"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# Constraint names spelled out, so migrations name them the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ChainBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON}


class MasterKey(ChainBase):
    """A key-encryption key derived from COOP_MASTER_KEY: its KDF salt and parameters, and a check
    value that tells a wrong master key from a right one without decrypting any member key."""

    __tablename__ = "chain_master_keys"
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    kdf: Mapped[str] = mapped_column(String(16))
    kdf_params: Mapped[dict[str, Any]]
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    check_nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    check_value: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class MemberKey(ChainBase):
    """A member's signing key, only ever stored encrypted: the key under its own data key (AES-GCM),
    the data key wrapped under a master key."""

    __tablename__ = "chain_member_keys"
    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("chain_master_keys.key_id"))
    wrapped_data_key: Mapped[bytes] = mapped_column(LargeBinary(64))
    wrap_nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    encrypted_key: Mapped[bytes] = mapped_column(LargeBinary(64))
    key_nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SmartAccount(ChainBase):
    """A member's smart account: its counterfactual address (known before it exists), whether it is
    deployed, and whether the member took it into their own custody."""

    __tablename__ = "chain_accounts"
    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    signer: Mapped[str] = mapped_column(String(42))
    salt: Mapped[int] = mapped_column(BigInteger, default=0)
    deployed_block: Mapped[int | None] = mapped_column(BigInteger)
    exported_to: Mapped[str | None] = mapped_column(String(42))
    exported_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Intent(ChainBase):
    """One money-moving or vote action, written before anything is signed and driven to a final state
    by the outbox worker: pending -> submitted -> confirmed | failed."""

    __tablename__ = "chain_intents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    member_id: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), index=True, default="pending")
    reason: Mapped[str | None] = mapped_column(String(64))  # a code the chat layer words for the member
    detail: Mapped[str | None] = mapped_column(Text)  # for operators: the decoded revert, the node's error
    user_op_hash: Mapped[str | None] = mapped_column(String(66), index=True)
    user_op: Mapped[dict[str, Any] | None]  # the signed operation, so a restart resends the very same one
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("chain_transactions.id"), index=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    result: Mapped[dict[str, Any] | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]  # when subscribers heard the outcome (redone after a crash)


class OperatorTransaction(ChainBase):
    """A transaction one of the backend's role accounts (`sender`) signed: a bundle, or an operator call.
    Stored signed before it is sent, so a restart knows its nonce and hash: a transaction mined while we
    were down is recognised, a stuck one is replaced (same nonce, higher fee; the old row is marked
    replaced). Nonces are per sender."""

    __tablename__ = "chain_transactions"
    __table_args__ = (Index("ix_chain_transactions_sender_nonce", "sender", "nonce"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sender: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    payload: Mapped[dict[str, Any]]  # to, data, value, gas, chain id: to sign a replacement with a higher fee
    max_fee: Mapped[int] = mapped_column(BigInteger)
    priority_fee: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), index=True, default="signed")  # signed|sent|mined|replaced|dropped
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[int | None] = mapped_column(Integer)  # the receipt's status once mined
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class Cursor(ChainBase):
    """How far a follower (the indexer) has applied the chain."""

    __tablename__ = "chain_cursors"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(66))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SeenBlock(ChainBase):
    """Recent blocks the indexer applied, by number: a parent hash that no longer matches is a reorg."""

    __tablename__ = "chain_blocks"
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(66))
    parent_hash: Mapped[str] = mapped_column(String(66))
    timestamp: Mapped[int] = mapped_column(BigInteger)


class HistoryEvent(ChainBase):
    """A contract event that concerns members (deposits, joins, refunds, executions, mints, burns, locks,
    votes, proposal changes), for /history, notifications and metrics."""

    __tablename__ = "chain_history"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    block_hash: Mapped[str] = mapped_column(String(66))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    contract: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(48))
    account: Mapped[str | None] = mapped_column(String(42), index=True)  # the member account concerned
    args: Mapped[dict[str, Any]]


def create_engine(url: str) -> AsyncEngine:
    """An async engine for `url` (sqlite+aiosqlite:///file or postgresql+asyncpg://...). SQLite runs in
    WAL mode with a busy timeout, as several processes (the bot and its worker) may share the file."""
    # hide_parameters: a database error's message would otherwise carry its bound values (phone numbers,
    # handles) into the logs with the traceback.
    engine = create_async_engine(url, hide_parameters=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001 (DB-API objects)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL syncs at checkpoints, not every commit: a crash of the process loses nothing
            # committed; a power cut may lose the last commits (never corrupts). PostgreSQL is for more.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    return engine


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str, migrations: Path = MIGRATIONS):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", url)
    return config


def run_alembic_env(metadata: MetaData, version_table: str) -> None:
    """The body of an Alembic env.py for tables sharing one database with others' (chain/ and bot/ each
    have their own environment and version table; autogenerate ignores the other's tables)."""
    from alembic import context

    def own_tables_only(obj, name, type_, reflected, compare_to) -> bool:
        return not (type_ == "table" and reflected and compare_to is None)

    def run(connection) -> None:
        context.configure(connection=connection, target_metadata=metadata, version_table=version_table,
                          include_object=own_tables_only, render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                          version_table=version_table, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_async())


def migrate(url: str, revision: str = "head", migrations: Path = MIGRATIONS) -> None:
    """Brings the tables of the Alembic environment `migrations` (by default chain/'s) at `url` to
    `revision`, in this process. Alembic's environment runs its own event loop, so inside a running loop
    it runs on a thread (this call still blocks)."""
    from alembic import command

    def upgrade() -> None:
        command.upgrade(alembic_config(url, migrations), revision)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return upgrade()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(upgrade).result()
