"""Residents and their channel identities: MEMBER as an admin types it, and /link (one resident, several channels).

A resident is one `member_id` (their wallet, their one vote); each channel identity they use is a member row
of its own carrying that id. /link adds an identity to a resident: whoever writes from it is that resident.
"""
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from bot.identity import IdentityError, parse_identity, show_identity
from bot.store import Member
from handlers.base import Context, Reply


async def find_member(ctx: Context, typed: str) -> Member | None:
    """MEMBER in an admin command: `channel:id`, or an id, name or alias (@ana); the admin's own channel first."""
    try:
        channel, handle = parse_identity(typed)
    except IdentityError:
        channel = handle = None
    async with ctx.services.sessions() as session:
        if channel is not None:
            return (await session.execute(select(Member).where(
                Member.channel == channel, Member.handle == handle))).scalars().first()
        bare = typed.strip().lstrip("@")
        rows = list((await session.execute(select(Member).where(
            or_(Member.handle == bare, Member.alias == bare.lower())))).scalars())
    # "@ana" means a Telegram alias first; "ana" a console name or an id first.
    by_alias = typed.startswith("@")
    rows.sort(key=lambda m: (m.channel != ctx.inbound.channel, (m.alias == bare.lower()) != by_alias, m.id))
    return rows[0] if rows else None


async def link(ctx: Context, args: list[str]) -> list[Reply]:
    """/link MEMBER CHANNEL:ID: the identity is the resident MEMBER too (the same wallet, the same vote)."""
    usage = ctx.t("Send: /link MEMBER CHANNEL:ID, for example: /link @ana whatsapp:+15551234567")
    if len(args) != 2:
        return [ctx.reply(usage)]
    member = await find_member(ctx, args[0])
    if member is None:
        return [ctx.reply(ctx.t("There is no member called {name}.", name=args[0]))]
    try:
        channel, handle = parse_identity(args[1])
    except IdentityError:
        return [ctx.reply(ctx.t("“{typed}” is not an identity I can link. Write the channel and the id: "
                                "telegram:123456789 (the numeric user id, not the @name), whatsapp:+15551234567 "
                                "or console:NAME.", typed=args[1]) + " " + usage)]
    identity = show_identity(channel, handle)
    async with ctx.services.sessions() as session:
        existing = (await session.execute(select(Member).where(
            Member.channel == channel, Member.handle == handle))).scalar_one_or_none()
        if existing is None:
            # Private replies go to the id: a Telegram user's private chat has their id, WhatsApp's is the number.
            session.add(Member(channel=channel, handle=handle, chat_id=handle, member_id=member.member_id,
                               invite_code="link"))
            try:
                await session.commit()
            except IntegrityError:  # linked a moment ago by another admin
                await session.rollback()
                existing = (await session.execute(select(Member).where(
                    Member.channel == channel, Member.handle == handle))).scalar_one()
    if existing is not None and existing.member_id != member.member_id:
        return [ctx.reply(ctx.t("{identity} is already a member with a wallet of its own; I cannot join two "
                                "wallets into one. Nothing was changed.", identity=identity))]
    if existing is not None:
        return [ctx.reply(ctx.t("{identity} is already linked to {name}.", identity=identity, name=member.name))]
    return [ctx.reply(ctx.t("Linked: {identity} is now {name} too, the same resident with one wallet and one vote. "
                            "When they write from there, I will ask their language.",
                            identity=identity, name=member.name))]
