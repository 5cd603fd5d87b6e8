"""identity: Telegram members keyed on the numeric user id, the @username kept as an alias; one resident
may have several channel rows (member_id no longer unique)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Telegram rows whose handle is a username become handle = their chat_id (in a private chat Telegram's chat
id is the user's id) and alias = the username. member_id values are kept as they are: the chain's tables
(wallets, registry) are keyed by them. Admins added in the database by a Telegram username move to that
member's id, or are dropped when no member holds the name (a username could only ever be claimed).
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

members = sa.table('bot_members', sa.column('id', sa.Integer), sa.column('channel', sa.String),
                   sa.column('handle', sa.String), sa.column('alias', sa.String), sa.column('chat_id', sa.String))
admins = sa.table('bot_admins', sa.column('channel', sa.String), sa.column('handle', sa.String))


def upgrade() -> None:
    with op.batch_alter_table('bot_members') as batch:
        batch.add_column(sa.Column('alias', sa.String(length=64), nullable=True))
        batch.drop_constraint('uq_bot_members_member_id', type_='unique')
        batch.create_index('ix_bot_members_member_id', ['member_id'], unique=False)
        batch.create_unique_constraint('uq_bot_members_channel_alias', ['channel', 'alias'])
    with op.batch_alter_table('bot_invites') as batch:
        batch.add_column(sa.Column('for_member_id', sa.String(length=64), nullable=True))  # a /link code
    connection = op.get_bind()
    rows = connection.execute(sa.select(members.c.id, members.c.handle, members.c.chat_id)
                              .where(members.c.channel == 'telegram').order_by(members.c.id.desc())).all()
    taken = {handle for _, handle, _ in rows if handle.isdigit()}
    aliases: set[str] = set()  # "Ana" and, later, "ana": one name, the newer row keeps it
    moved: dict[str, str] = {}  # each old username handle, exactly as stored, to the id it became
    for id_, handle, chat_id in rows:
        if handle.isdigit():
            continue
        # A member who joined twice (once by username, once by id) keeps the id's row; the other row is
        # parked under a handle no update can carry, so nobody can become it.
        new = chat_id if chat_id.isdigit() and chat_id not in taken else f"former:{handle}"[:64]
        alias = handle.lower() if handle.lower() not in aliases else None
        taken.add(new)
        aliases.add(handle.lower())
        if new.isdigit():
            moved[handle] = new
        connection.execute(sa.update(members).where(members.c.id == id_).values(handle=new, alias=alias))
    # An admin named by a username follows the member row that had exactly that handle (not whoever holds a
    # look-alike alias now: that may be someone else who took the freed name); with no such row it is dropped.
    kept = {handle for (handle,) in connection.execute(sa.select(admins.c.handle)
                                                        .where(admins.c.channel == 'telegram')).all()}
    for handle in sorted(kept):
        if handle.isdigit():
            continue
        connection.execute(sa.delete(admins).where(admins.c.channel == 'telegram', admins.c.handle == handle))
        holder = moved.get(handle.lstrip('@'))
        if holder is not None and holder not in kept:
            connection.execute(sa.insert(admins).values(channel='telegram', handle=holder))
            kept.add(holder)


def downgrade() -> None:
    with op.batch_alter_table('bot_invites') as batch:
        batch.drop_column('for_member_id')
    connection = op.get_bind()
    connection.execute(sa.update(members).where(members.c.channel == 'telegram', members.c.alias.is_not(None))
                       .values(handle=members.c.alias))
    with op.batch_alter_table('bot_members') as batch:
        batch.drop_constraint('uq_bot_members_channel_alias', type_='unique')
        batch.drop_index('ix_bot_members_member_id')
        batch.create_unique_constraint('uq_bot_members_member_id', ['member_id'])
        batch.drop_column('alias')
