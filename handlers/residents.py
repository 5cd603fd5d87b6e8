"""Residents and their channel identities: MEMBER as an admin (or a /send) types it, and /link (one
resident, several channels).

A resident is one `member_id` (their wallet, their one vote); each channel identity they use is a member row
of its own carrying that id. /link makes a single-use code for a resident: the identity that sends it with
/start becomes a row of that resident.
"""
from sqlalchemy import or_, select

from bot.identity import IdentityError, identity_key, parse_identity, show_identity
from bot.store import Member
from core.admin import link_code
from handlers.base import Context, Reply
from handlers.doorstep import invite_links, show_code


async def find_member(ctx: Context, typed: str) -> tuple[Member | None, Reply | None]:
    """MEMBER in an admin command or a resident's /send — `channel:id`, or an id, name, alias (@ana) or +number —
    as (the member, None), or (None, the reply that says why not): nobody by that name, or several residents by
    it (then an admin is shown their identities and writes `channel:id`; a resident is shown nobody's number and
    asks again): a money summary must not go to a look-alike. Never a display name."""
    bare = typed.strip().lstrip("@")
    try:
        channel, handle = parse_identity(typed.strip())
    except IdentityError:
        channel = handle = None
    if channel is None and bare.startswith("+"):  # a phone number as people write it: WhatsApp's
        try:
            channel, handle = parse_identity(f"whatsapp:{bare}")
        except IdentityError:
            pass
    async with ctx.services.sessions() as session:
        if channel is not None:
            rows = list((await session.execute(select(Member).where(
                Member.channel == channel, Member.handle == handle))).scalars())
        else:
            rows = list((await session.execute(select(Member).where(
                or_(Member.handle == bare, Member.alias == bare.lower())))).scalars())
    if not rows:
        return None, ctx.reply(ctx.t("There is no member called {name}.", name=typed))
    if len({m.member_id for m in rows}) > 1 and not ctx.as_admin:  # a resident's /send: nobody's number shown
        return None, ctx.reply(ctx.t("More than one member goes by {name}. Ask your neighbour for their @username "
                                     "or the number they use with me, and send it again.", name=typed))
    if len({m.member_id for m in rows}) > 1:
        found = ", ".join(sorted(show_identity(m.channel, m.handle) for m in rows))
        return None, ctx.reply(ctx.t("More than one member goes by {name} ({found}). Write the one you mean with "
                                     "its channel, for example {example}.", name=typed, found=found,
                                     example=show_identity(rows[0].channel, rows[0].handle)))
    return rows[0], None


async def link(ctx: Context, args: list[str]) -> list[Reply]:
    """/link MEMBER: a code (and links to tap) that makes the chat it is sent from MEMBER too — the same wallet,
    the same vote. The new identity proves itself by sending the code; nobody types a number that could be
    someone else's."""
    if len(args) != 1:
        return [ctx.reply(ctx.t("Send: /link MEMBER, for example: /link @ana. I give you a code for Ana to send "
                                "from her other phone or app."))]
    member, refusal = await find_member(ctx, args[0])
    if refusal is not None:
        return [refusal]
    code = (await link_code(ctx.services.core, identity_key(ctx.inbound.channel, ctx.inbound.user),
                            member.member_id)).codes[0]
    links = invite_links(code, ctx.services.telegram_username, ctx.services.settings.whatsapp_number)
    return [ctx.reply("\n".join([ctx.t("A link code for {name} (it works once, for two weeks). Give it to {name} "
                                       "only: when they send /start CODE from their other phone or app, that chat "
                                       "becomes {name} too, with the same wallet and one vote.",
                                       name=member.name), show_code(code), *links]))]
