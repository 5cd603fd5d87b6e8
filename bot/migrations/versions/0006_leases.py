"""leases: which of several `coop run` replicas on one database is the leader (chain/lease.py)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    leases = op.create_table('bot_leases',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=True),
    sa.Column('epoch', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_bot_leases'))
    )
    # The row exists from here on, so taking the lease is always an UPDATE (no insert race between replicas).
    op.bulk_insert(leases, [{'name': 'leader', 'holder': None, 'epoch': 0, 'version': 0}])


def downgrade() -> None:
    op.drop_table('bot_leases')
