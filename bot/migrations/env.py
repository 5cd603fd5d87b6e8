"""Alembic environment for the chat side's tables (version table: bot_alembic_version)."""
from bot.store import VERSION_TABLE, BotBase
from chain.db import run_alembic_env

run_alembic_env(BotBase.metadata, VERSION_TABLE)
