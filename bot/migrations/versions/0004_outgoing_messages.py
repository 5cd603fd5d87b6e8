"""outgoing messages: what is told, kept until the channel took it

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bot_outgoing_messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event', sa.String(length=128), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('buttons', sa.JSON(), nullable=True),
    sa.Column('image', sa.String(length=512), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('told_at', sa.DateTime(), nullable=True),
    sa.Column('dropped', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_outgoing_messages')),
    sa.UniqueConstraint('event', 'seq', name=op.f('uq_bot_outgoing_messages_event'))
    )
    op.create_index(op.f('ix_bot_outgoing_messages_told_at'), 'bot_outgoing_messages', ['told_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_bot_outgoing_messages_told_at'), table_name='bot_outgoing_messages')
    op.drop_table('bot_outgoing_messages')
