"""outgoing messages: what is told, kept until the channel took it

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Orders closed before this revision were told without a key: their keys (order:ID:closed) are written
now, so the start-up catch-up (bot/announce.py) does not tell them again.
"""
from datetime import datetime, timezone

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
    bind = op.get_bind()
    if 'chain_history' not in sa.inspect(bind).get_table_names():
        return
    history = sa.table('chain_history', sa.column('contract', sa.String), sa.column('event', sa.String),
                       sa.column('args', sa.JSON))
    announcements = sa.table('bot_announcements', sa.column('key', sa.String), sa.column('at', sa.DateTime))
    closed = bind.execute(sa.select(history.c.args).where(
        history.c.contract == 'group_buy',
        history.c.event.in_(('OrderExecuted', 'OrderRefunded', 'OrderCancelled'))))
    keys = {f"order:{int(args['orderId'])}:closed" for (args,) in closed}
    known = set(bind.execute(sa.select(announcements.c.key)).scalars())
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [{'key': key, 'at': now} for key in sorted(keys - known)]
    if rows:
        op.bulk_insert(announcements, rows)


def downgrade() -> None:
    op.drop_index(op.f('ix_bot_outgoing_messages_told_at'), table_name='bot_outgoing_messages')
    op.drop_table('bot_outgoing_messages')
