"""A member's recent history in plain words: deposits, order joins and refunds, produce certified and
redeemed, locks, proposals and votes, from the indexer's chain_history."""
import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from chain.db import HistoryEvent
from core import history as use
from core.governance import one_line_title
from core.wallet import item_text
from handlers.base import Context, Reply, Services
from locales import format_day, format_gro, format_money, format_number

LIMIT = 10


async def catch_up(services: Services, wait: float = 3.0) -> None:
    """Waits (up to `wait` seconds) for the assistant's indexer to reach the chain's head before the
    history is read, so an action confirmed a moment ago shows."""
    head = await services.read(lambda: services.indexer.w3.eth.block_number)
    deadline = asyncio.get_running_loop().time() + wait
    while asyncio.get_running_loop().time() < deadline and not await services.indexer.reached(head):
        await asyncio.sleep(0.1)


def day(ctx: Context, timestamp: int) -> str:
    """A date as the member's language writes it, in the co-op's time zone."""
    return format_day(datetime.fromtimestamp(timestamp, ZoneInfo(ctx.services.settings.timezone)), ctx.lang)


async def history(ctx: Context, args: list[str]) -> list[Reply]:
    """/history: the member's newest events, newest first."""
    await catch_up(ctx.services)
    recent = await use.recent(ctx.services.core, ctx.member.member_id, LIMIT)
    events, numbers = recent.events, recent.proposal_numbers
    lines = [f"{day(ctx, e.timestamp)}: {text}" for e in events if (text := describe(ctx, e, numbers))]
    if not lines:
        return [ctx.reply(ctx.t("Nothing has happened on your account yet."))]
    return [ctx.reply("\n".join([ctx.t("Your recent history:")] + lines))]


def describe(ctx: Context, event: HistoryEvent, proposal_numbers: dict[str, int]) -> str | None:
    """One event in plain words, or None for an event members need not see."""
    a, lang = event.args, ctx.lang

    def money(key: str) -> str:
        return format_money(int(a[key]), lang)

    def gro(key: str) -> str:
        return format_gro(int(a[key]), lang)

    def order() -> str:
        return format_number(int(a["orderId"]), lang)

    def proposal() -> str:
        number = proposal_numbers.get(str(a["proposalId"]))
        return format_number(number, lang) if number else "?"

    match event.event:
        case "MemberAdded":
            return ctx.t("You became a registered member.")
        case "MemberRemoved":
            return ctx.t("Your membership was ended.")
        case "DepositRecorded":
            return ctx.t("Cash deposit of {amount} recorded.", amount=money("amount"))
        case "WithdrawalRecorded":
            return ctx.t("Cash withdrawal of {amount} recorded.", amount=money("amount"))
        case "Joined":
            return ctx.t("Joined order #{id} with {units}, paid {amount}.", id=order(), amount=money("paid"),
                         units=ctx.tn("{count} unit", "{count} units", int(a["units"]),
                                      count=format_number(int(a["units"]), lang)))
        case "ToleranceChanged":
            return ctx.t("Changed how many extra units you accept in order #{id}.", id=order())
        case "Claimed":
            units, refund = int(a["allocatedUnits"]), int(a["refund"])
            if units == 0:
                return ctx.t("Order #{id}: refunded {amount}.", id=order(), amount=money("refund"))
            text = ctx.t("Order #{id}: you got {units}.", id=order(),
                         units=ctx.tn("{count} unit", "{count} units", units, count=format_number(units, lang)))
            if refund:
                text += " " + ctx.t("Refunded {amount}.", amount=money("refund"))
            return text
        case "BatchCertified":
            return ctx.t("Produce certified: you received {amount} GRO.", amount=gro("amount"))
        case "Redeemed":
            item = item_text(bytes.fromhex(str(a.get("item", "0x"))[2:]))
            if item:
                return ctx.t("Redeemed {amount} GRO for {item}.", amount=gro("amount"), item=item)
            return ctx.t("Redeemed {amount} GRO for produce.", amount=gro("amount"))
        case "Locked":
            if int(a["added"]) == 0:
                return ctx.t("Lock extended until {date}.", date=day(ctx, int(a["unlockTime"])))
            return ctx.t("Locked {amount} GRO until {date}.", amount=gro("added"), date=day(ctx, int(a["unlockTime"])))
        case "Withdrawn":
            return ctx.t("Took back {amount} GRO from your lock.", amount=gro("amount"))
        case "ProposalCreated":
            return ctx.t("You proposed #{number}: “{title}”.", number=proposal(),
                         title=one_line_title(a["description"]))
        case "VoteCast" | "VoteCastWithParams":
            answer = {0: ctx.t("no"), 1: ctx.t("yes"), 2: ctx.t("abstain")}.get(int(a["support"]), "?")
            return ctx.t("You voted {answer} on #{number}.", answer=answer, number=proposal())
    return None
