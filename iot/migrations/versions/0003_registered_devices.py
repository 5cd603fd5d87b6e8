"""registered devices: the allow-list of boards (an empty list: nothing is heard until an admin adds a board)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Boards already seen are deliberately not registered here: whoever could publish before may have
    # been a stranger. The assistant logs them at start-up, and an admin adds the real ones (/device add).
    op.create_table('iot_registered_devices',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('added_by', sa.String(length=64), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('site', 'device', name=op.f('pk_iot_registered_devices'))
    )


def downgrade() -> None:
    op.drop_table('iot_registered_devices')
