"""Residents and their channel identities: MEMBER as an admin (or a /send) types it, and /link (one
resident, several channels).

A resident is one `member_id` (their wallet, their one vote); each channel identity they use is a member row
of its own carrying that id. /link makes a single-use code for a resident: the identity that sends it with
/start becomes a row of that resident.
"""
from decimal import Decimal

from bot.identity import identity_key
from bot.store import Member
from chain.ledger import FOOD_USD
from core import members
from core.admin import link_code
from core.results import Refused
from handlers.base import Context, Reply
from handlers.doorstep import invite_links, show_code
from handlers.numbers import bad_number
from locales import AmountError, format_number, parse_amount


async def find_member(ctx: Context, typed: str) -> tuple[Member | None, Reply | None]:
    """MEMBER in an admin command or a resident's /send (core/members.find) as (the member, None), or (None, the
    reply that says why not). Several residents by that name: an admin is shown their identities to write the one
    they mean as `channel:id`; a resident is shown nobody's number and asks their neighbour."""
    found = await members.find(ctx.services.core.uow, typed)
    if not isinstance(found, Refused):
        return found, None
    if found.reason == "unknown":
        return None, ctx.reply(ctx.t("There is no member called {name}.", name=typed))
    if not ctx.as_admin:
        return None, ctx.reply(ctx.t("More than one member goes by {name}. Ask your neighbour for their @username "
                                     "or the number they use with me, and send it again.", name=typed))
    identities = found.facts["identities"]
    return None, ctx.reply(ctx.t("More than one member goes by {name} ({found}). Write the one you mean with its "
                                 "channel, for example {example}.", name=typed, found=", ".join(identities),
                                 example=identities[0]))


async def member_and_cash(ctx: Context, args: list[str], usage: str) -> tuple[Member, int] | list[Reply]:
    """MEMBER AMOUNT of /deposit and /withdraw: the member and the Food-USD in minor units, or the reply that says
    what is wrong."""
    if len(args) != 2:
        return [ctx.reply(usage)]
    try:
        amount = int(parse_amount(args[1], ctx.lang) * FOOD_USD)
        if amount == 0:  # cash of nothing: said like any other bad number
            raise AmountError("zero", format_number(Decimal("12.50"), ctx.lang, decimals=2))
    except AmountError as e:
        return bad_number(ctx, e, args[1], usage)
    member, refusal = await find_member(ctx, args[0])
    return [refusal] if refusal is not None else (member, amount)


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
