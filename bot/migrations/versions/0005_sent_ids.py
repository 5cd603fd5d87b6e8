"""outgoing messages: the channel's id for each message it took (WhatsApp's), so a failure it reports later
finds the message and holds it for the member's next message (bot/told.py)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bot_outgoing_messages') as batch:
        batch.add_column(sa.Column('sent_id', sa.String(length=128), nullable=True))
        batch.create_index('ix_bot_outgoing_messages_sent_id', ['sent_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bot_outgoing_messages') as batch:
        batch.drop_index('ix_bot_outgoing_messages_sent_id')
        batch.drop_column('sent_id')
