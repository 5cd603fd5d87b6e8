"""Alembic environment for the chat side's tables (version table: bot_alembic_version)."""
import asyncio

from alembic import context

from bot.store import VERSION_TABLE, BotBase
from chain.db import create_engine


def own_tables_only(obj, name, type_, reflected, compare_to) -> bool:
    """The chain's and the chat side's tables share a database: autogenerate ignores the other's."""
    return not (type_ == "table" and reflected and compare_to is None)


def run_migrations(connection) -> None:
    context.configure(connection=connection, target_metadata=BotBase.metadata, version_table=VERSION_TABLE,
                      include_object=own_tables_only, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    async with engine.connect() as connection:
        await connection.run_sync(run_migrations)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=BotBase.metadata,
                      version_table=VERSION_TABLE, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_async())
