"""Alembic environment for chain/'s tables (version table: chain_alembic_version)."""
from chain.db import VERSION_TABLE, ChainBase, run_alembic_env

run_alembic_env(ChainBase.metadata, VERSION_TABLE)
