"""Co-op decisions: the proposals with their state and tallies, proposing one, and quadratic voting.

A proposal's number for members ("#1", "#2"…) is its place among the governor's ProposalCreated events
(handlers/history.py: proposals_in_history).
A member proposal is a signal: its one action is a harmless read (the timelock calls
`registry.memberCount()`), so passing it changes nothing on chain; the title is the description. An admin
may give it one ordinary action instead (`/propose rate 20 TITLE`: the GRO rate per kg). Every proposal is
shown with its actions in plain words (handlers/proposal_text.py), whoever made it and however.
"""
import math
from decimal import Decimal

from eth_utils import keccak

from chain.artifacts import function
from chain.ledger import GRO, GRO_DECIMALS
from chain.proposal_actions import decode_actions
from core import wallet
from handlers import confirm
from handlers.base import Context, Reply
from handlers.history import Proposal, catch_up, proposals_in_history
from handlers.proposal_text import TITLE_MAX, actions_text, known_for
from locales import AmountError, format_number, parse_amount, parse_count

CREDIT = GRO  # one voting credit is one whole veGRO (GovernorCountingQuadratic.CREDIT_UNIT)
AGAINST, FOR, ABSTAIN = 0, 1, 2
# Governor.ProposalState
PENDING, ACTIVE, CANCELED, DEFEATED, SUCCEEDED, QUEUED, EXPIRED, EXECUTED = range(8)
# The answers a member may type, in every language (a member may mix: "no" is the same word in en and es).
SUPPORT_WORDS = {
    "yes": FOR, "for": FOR, "no": AGAINST, "against": AGAINST, "abstain": ABSTAIN,
    "sí": FOR, "si": FOR, "abstención": ABSTAIN, "abstencion": ABSTAIN, "abstenerse": ABSTAIN,
    "oui": FOR, "non": AGAINST, "abstention": ABSTAIN, "pour": FOR, "contre": AGAINST,
    "হ্যাঁ": FOR, "হ্যা": FOR, "না": AGAINST, "বিরত": ABSTAIN,
}


# ---- helpers shared with the other governance and escrow commands ----

async def chain_now(ctx: Context) -> int:
    """The chain's clock (seconds), which the governor and the escrow go by (a dev chain may run ahead)."""
    return await ctx.services.ledger.clock()


def duration(ctx: Context, seconds: int) -> str:
    """A span of time in whole days, hours or minutes, the member's way."""
    seconds = max(seconds, 0)
    if seconds >= 2 * 86400:
        n = seconds // 86400
        return ctx.tn("{count} day", "{count} days", n, count=format_number(n, ctx.lang))
    if seconds >= 3600:
        n = seconds // 3600
        return ctx.tn("{count} hour", "{count} hours", n, count=format_number(n, ctx.lang))
    n = max(seconds // 60, 1)
    return ctx.tn("{count} minute", "{count} minutes", n, count=format_number(n, ctx.lang))


def number_problem(ctx: Context, error: AmountError, typed: str) -> str:
    """What was wrong with a number the member typed, with an example written their way."""
    texts = {
        "negative": ctx.t("“{typed}” is negative; it must be more than zero. For example: {example}",
                          typed=typed, example=error.example),
        "too_many_decimals": ctx.t("“{typed}” has too many decimals. For example: {example}",
                                   typed=typed, example=error.example),
        "zero": ctx.t("“{typed}” is zero; it must be more than zero. For example: {example}",
                      typed=typed, example=error.example),
        "too_large": ctx.t("“{typed}” is too large. For example: {example}", typed=typed, example=error.example),
    }
    return texts.get(error.code, ctx.t("“{typed}” is not a number I can read. For example: {example}",
                                       typed=typed, example=error.example))


async def exported(ctx: Context) -> bool:
    """Whether the member took their account into their own custody (then we can no longer act for it)."""
    return await wallet.exported(ctx.services.core, ctx.member.member_id)


def exported_reply(ctx: Context) -> list[Reply]:
    return [ctx.reply(ctx.t("You took your account into your own custody, so I can no longer act for it."))]


# ---- proposals ----

async def proposals_on_chain(ctx: Context) -> list[Proposal]:
    """Every proposal, the history first brought up to the chain's head."""
    await catch_up(ctx.services)
    return await proposals_in_history(ctx.services)


def signal_action(ctx: Context) -> tuple[list[str], list[int], list[str]]:
    """A member proposal's one action: the timelock reads the member count (changes nothing)."""
    calldata = function("MemberRegistry", "memberCount").encode()
    return [ctx.services.contracts.registry.address], [0], ["0x" + calldata.hex()]


def rate_action(ctx: Context, rate_per_kg: int) -> tuple[list[str], list[int], list[str]]:
    """An admin's proposal action: GroToken's rate becomes `rate_per_kg` (GRO wei a kilogram)."""
    calldata = function("GroToken", "setRatePerKg").encode(rate_per_kg)
    return [ctx.services.contracts.gro.address], [0], ["0x" + calldata.hex()]


async def described(ctx: Context, targets: list, values: list, calldatas: list) -> str:
    """A proposal's actions in the member's words."""
    actions = decode_actions(ctx.services.contracts, targets, values, calldatas)
    return actions_text(ctx.translator, actions, await known_for(ctx.services, actions))


def state_text(ctx: Context, state: int, now: int, snapshot: int, deadline: int) -> str:
    if state == PENDING:
        return ctx.t("voting opens in {time}", time=duration(ctx, snapshot - now + 1))
    if state == ACTIVE:
        return ctx.t("voting is open, {time} left", time=duration(ctx, deadline - now + 1))
    return {
        CANCELED: ctx.t("withdrawn"),
        DEFEATED: ctx.t("not passed"),
        SUCCEEDED: ctx.t("passed"),
        QUEUED: ctx.t("passed, waiting to take effect"),
        EXPIRED: ctx.t("passed, but expired before taking effect"),
        EXECUTED: ctx.t("passed and done"),
    }.get(state, "?")


async def proposals(ctx: Context, args: list[str]) -> list[Reply]:
    """/proposals: each proposal with its number, title, state, time left and tallies (newest ten)."""
    listed = await proposals_on_chain(ctx)
    if not listed:
        return [ctx.reply(ctx.t("There are no proposals yet. To make one: /propose TITLE"))]
    now = await chain_now(ctx)
    shown = listed[-10:]
    statuses = await ctx.services.ledger.proposals([p.proposal_id for p in shown])
    actions = [decode_actions(ctx.services.contracts, *p.actions) for p in shown]
    known = await known_for(ctx.services, [a for each in actions for a in each])
    lines = []
    for p, its_actions, status in zip(shown, actions, statuses):
        lines.append(ctx.t("#{number} {title}: {state}. Yes {yes} · No {no} · Abstain {abstain}.",
                           number=format_number(p.number, ctx.lang), title=p.title,
                           state=state_text(ctx, status.state, now, status.snapshot, status.deadline),
                           yes=format_number(status.for_, ctx.lang), no=format_number(status.against, ctx.lang),
                           abstain=format_number(status.abstain, ctx.lang)))
        stoppable = status.state not in (CANCELED, DEFEATED, EXECUTED, EXPIRED)
        lines.extend("   " + line for line in actions_text(ctx.translator, its_actions, known, stoppable).split("\n"))
    lines.append(ctx.t("To vote: /vote NUMBER yes|no|abstain VOTES, for example /vote {example}",
                       example=f"{format_number(listed[-1].number, ctx.lang)} {ctx.t('yes')} "
                               f"{format_number(2, ctx.lang)}"))
    return [ctx.reply("\n".join(lines))]


def _rate_asked(args: list[str], lang: str) -> Decimal | None:
    """The GRO rate of "/propose rate RATE TITLE", or None when the words are a title."""
    if len(args) < 2 or args[0].lower() != "rate":
        return None
    try:
        return parse_amount(args[1], lang, decimals=2)
    except AmountError:
        return None


async def propose(ctx: Context, args: list[str]) -> list[Reply]:
    """/propose TITLE: a signal proposal for the members to vote on, after a confirmation.
    /propose rate RATE TITLE (admins): a proposal that sets the GRO rate to RATE GRO a kilogram."""
    targets, values, calldatas = signal_action(ctx)
    rate = _rate_asked(args, ctx.lang)  # "/propose Rate the new fan" is a title
    if rate is not None:
        if not await ctx.is_admin():
            return [ctx.reply(ctx.t("Sorry, only the co-op's admins can add an action to a proposal. To ask the "
                                    "co-op's opinion, send /propose with just the title."))]
        ctx.as_admin = True  # confirmed only by someone who is still an admin
        targets, values, calldatas = rate_action(ctx, int(rate.scaleb(GRO_DECIMALS)))
        args = args[2:]
    title = " ".join(args).strip()
    if not title:
        return [ctx.reply(ctx.t("Write what you propose after the command, for example: /propose {example}",
                                example=ctx.t("Paint the lobby")))]
    if len(title) > TITLE_MAX or len((ctx.inbound.text or "").strip().splitlines()) > 1:
        return [ctx.reply(ctx.t("A title is one line of at most {count} characters, please.",
                                count=format_number(TITLE_MAX, ctx.lang)))]
    if await exported(ctx):
        return exported_reply(ctx)
    ledger = ctx.services.ledger
    proposal_id = await ledger.proposal_id(targets, values, [bytes.fromhex(c[2:]) for c in calldatas],
                                           keccak(text=title))
    if await ledger.proposal_snapshot(proposal_id):
        return [ctx.reply(ctx.t("There is already a proposal with that title. Send /proposals to see it."))]
    terms = await ledger.governor_terms()
    delay, period = terms.voting_delay, terms.voting_period
    summary = ctx.t("Propose to the co-op: “{title}”. Voting opens in {delay} and stays open for {period}. "
                    "It costs nothing.", title=title, delay=duration(ctx, delay), period=duration(ctx, period))
    summary += "\n" + await described(ctx, targets, values, calldatas)
    intent = {"targets": targets, "values": values, "calldatas": calldatas, "description": title}
    return await confirm.offer(ctx, "propose", {"intent": intent, "title": title}, summary)


async def vote(ctx: Context, args: list[str]) -> list[Reply]:
    """/vote PROPOSAL yes|no|abstain [VOTES]: checks the proposal and the credits, then offers the vote
    with its cost (n votes cost n² credits). Without VOTES, the most the member can afford."""
    usage = ctx.t("Send the proposal's number, yes, no or abstain, and how many votes, for example: /vote {example}",
                  example=f"{format_number(1, ctx.lang)} {ctx.t('yes')} {format_number(3, ctx.lang)}")
    if len(args) not in (2, 3):
        return [ctx.reply(usage)]
    support = SUPPORT_WORDS.get(args[1].lower())
    if support is None:
        return [ctx.reply(ctx.t("I did not understand “{word}”: answer yes, no or abstain.", word=args[1])
                          + "\n" + usage)]
    try:
        number = parse_count(args[0].lstrip("#"), ctx.lang)
    except AmountError as e:
        return [ctx.reply(number_problem(ctx, e, args[0]) + "\n" + usage)]
    wanted = None
    if len(args) == 3:
        try:
            wanted = parse_count(args[2], ctx.lang)
        except AmountError as e:
            return [ctx.reply(number_problem(ctx, e, args[2]) + "\n" + usage)]
    listed = await proposals_on_chain(ctx)
    if number > len(listed):
        return [ctx.reply(ctx.t("There is no proposal #{number}. Send /proposals to see them.",
                                number=format_number(number, ctx.lang)))]
    if await exported(ctx):
        return exported_reply(ctx)
    proposal = listed[number - 1]
    shown = format_number(number, ctx.lang)
    status = await ctx.services.ledger.proposal(proposal.proposal_id)
    state, snapshot = status.state, status.snapshot
    if state == PENDING:
        now = await chain_now(ctx)
        return [ctx.reply(ctx.t("Voting on #{number} has not opened yet: it opens in {time}.",
                                number=shown, time=duration(ctx, snapshot - now + 1)))]
    if state != ACTIVE:
        return [ctx.reply(ctx.t("Voting on #{number} has ended ({state}).", number=shown,
                                state=state_text(ctx, state, 0, snapshot, 0)))]
    account = await ctx.services.wallet(ctx.member.member_id)
    if await ctx.services.ledger.has_voted(proposal.proposal_id, account):
        return [ctx.reply(ctx.t("You have already voted on #{number}.", number=shown))]
    power = await ctx.services.ledger.past_votes(account, snapshot)
    credits = power // CREDIT
    most = math.isqrt(credits)
    if most == 0:
        return [ctx.reply(ctx.t("You have no voting credits for #{number}: credits come from GRO locked before "
                                "voting opened (/lock). You can still follow it with /proposals.", number=shown))]
    votes = most if wanted is None else wanted
    if votes > most:
        return [ctx.reply(ctx.t(
            "{votes} would cost {cost}, but you have {credits}. The most you can cast is {most} ({most_cost}), "
            "for example: /vote {number} {word} {most_count}",
            votes=_votes(ctx, votes), cost=_credits(ctx, votes * votes), credits=_credits(ctx, credits),
            most=_votes(ctx, most), most_cost=_credits(ctx, most * most), number=shown, word=args[1],
            most_count=format_number(most, ctx.lang)))]
    cost = votes * votes
    summary = ctx.t("Vote {answer} on #{number} “{title}”: {cost}; you have {credits}, {left} left.",
                    answer=_answer(ctx, support), number=shown, title=proposal.title,
                    cost=ctx.tn("{count} vote costs {credits}", "{count} votes cost {credits}", votes,
                                count=format_number(votes, ctx.lang), credits=_credits(ctx, cost)),
                    credits=_credits(ctx, credits), left=format_number(credits - cost, ctx.lang))
    summary += "\n" + await described(ctx, *proposal.actions)
    intent = {"proposal_id": str(proposal.proposal_id), "support": support, "votes": votes}
    return await confirm.offer(ctx, "vote", {"intent": intent, "number": number, "title": proposal.title},
                               summary)


def _answer(ctx: Context, support: int) -> str:
    return {FOR: ctx.t("yes"), AGAINST: ctx.t("no"), ABSTAIN: ctx.t("abstain")}[support]


def _votes(ctx: Context, n: int) -> str:
    return ctx.tn("{count} vote", "{count} votes", n, count=format_number(n, ctx.lang))




def _credits(ctx: Context, n: int) -> str:
    return ctx.tn("{count} credit", "{count} credits", n, count=format_number(n, ctx.lang))
