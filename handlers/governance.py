"""/proposals, /propose and /vote in the chat: the numbers and answers read from the member's words, the use
cases (core/governance.py) called with them, and their results worded in the member's language, every proposal
with its actions in plain words (handlers/proposal_text.py). Also the wording other commands share: spans of
time, an account in self-custody (mistyped numbers: handlers/numbers.py).
"""
from decimal import Decimal

from chain.ledger import GRO_DECIMALS
from chain.proposal_actions import decode_actions
from core import governance as use
from core.wallet import balances
from core.governance import (ABSTAIN, ACTIVE, AGAINST, CANCELED, DEFEATED, EXECUTED, EXPIRED, FOR, PENDING, QUEUED,
                             SUCCEEDED, Actions)
from core.results import Refused
from handlers import confirm
from handlers.base import Context, Reply
from handlers.history import catch_up
from handlers.numbers import bad_number
from handlers.proposal_text import actions_text, known_for
from locales import AmountError, format_gro, format_number, parse_amount, parse_count

# The answers a member may type, in every language (a member may mix: "no" is the same word in en and es).
SUPPORT_WORDS = {
    "yes": FOR, "for": FOR, "no": AGAINST, "against": AGAINST, "abstain": ABSTAIN,
    "sí": FOR, "si": FOR, "abstención": ABSTAIN, "abstencion": ABSTAIN, "abstenerse": ABSTAIN,
    "oui": FOR, "non": AGAINST, "abstention": ABSTAIN, "pour": FOR, "contre": AGAINST,
    "হ্যাঁ": FOR, "হ্যা": FOR, "না": AGAINST, "বিরত": ABSTAIN,
}


# ---- helpers shared with the other governance and escrow commands ----

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


def power_text(ctx: Context, power: int) -> str:
    """The member's voting power (veGRO) and how many votes it buys on one proposal (v votes cost v² credits)."""
    votes = use.votes_for(power)
    if votes:
        return ctx.tn("Your voting power is {power}, enough for {count} vote.",
                      "Your voting power is {power}, enough for {count} votes.", votes,
                      power=format_gro(power, ctx.lang), count=format_number(votes, ctx.lang))
    return ctx.t("Your voting power is {power}, not enough for one vote. Lock GRO to get some: /lock AMOUNT WEEKS; "
                 "it counts on the proposals whose voting opens after you lock.", power=format_gro(power, ctx.lang))


def exported_reply(ctx: Context) -> list[Reply]:
    return [ctx.reply(ctx.t("You took your account into your own custody, so I can no longer act for it."))]


# ---- proposals ----

async def described(ctx: Context, actions: Actions) -> str:
    """A proposal's actions in the member's words."""
    decoded = decode_actions(ctx.services.contracts, *actions)
    return actions_text(ctx.translator, decoded, await known_for(ctx.services, decoded))


def state_text(ctx: Context, state: int, opens_in: int = 0, closes_in: int = 0) -> str:
    if state == PENDING:
        return ctx.t("voting opens in {time}", time=duration(ctx, opens_in))
    if state == ACTIVE:
        return ctx.t("voting is open, {time} left", time=duration(ctx, closes_in))
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
    await catch_up(ctx.services)  # so a proposal or a vote confirmed a moment ago shows
    # The same list for everyone (it is answered in the group too): no member's own facts.
    shown = await use.proposals(ctx.services.core)
    if not shown:
        return [ctx.reply(ctx.t("There are no proposals yet. To make one: /propose TITLE"))]
    actions = [decode_actions(ctx.services.contracts, *p.actions) for p in shown]
    known = await known_for(ctx.services, [a for each in actions for a in each])
    lines = []
    for p, its_actions in zip(shown, actions):
        lines.append(ctx.t("#{number} {title}: {state}. Yes {yes} · No {no} · Abstain {abstain}.",
                           number=format_number(p.number, ctx.lang), title=p.title,
                           state=state_text(ctx, p.state, p.opens_in, p.closes_in),
                           yes=format_number(p.for_, ctx.lang), no=format_number(p.against, ctx.lang),
                           abstain=format_number(p.abstain, ctx.lang)))
        stoppable = p.state not in (CANCELED, DEFEATED, EXECUTED, EXPIRED)
        lines.extend("   " + line for line in actions_text(ctx.translator, its_actions, known, stoppable).split("\n"))
    lines.append(ctx.t("To vote: /vote NUMBER yes|no|abstain VOTES, for example /vote {example}",
                       example=f"{format_number(shown[-1].number, ctx.lang)} {ctx.t('yes')} "
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
    rate = _rate_asked(args, ctx.lang)  # "/propose Rate the new fan" is a title
    if rate is not None:
        args = args[2:]
    title = " ".join(args).strip()
    if len((ctx.inbound.text or "").strip().splitlines()) > 1:  # the words lost the line breaks the title had
        title = (ctx.inbound.text or "").strip()
    result = await use.propose(ctx.services.core, ctx.member.id, ctx.member.member_id, title,
                               None if rate is None else int(rate.scaleb(GRO_DECIMALS)),
                               is_admin=rate is not None and await ctx.is_admin())
    if isinstance(result, Refused):
        match result.reason:
            case "admins_only":
                text = ctx.t("Sorry, only the co-op's admins can add an action to a proposal. To ask the "
                             "co-op's opinion, send /propose with just the title.")
            case "no_title":
                text = ctx.t("Write what you propose after the command, for example: /propose {example}",
                             example=ctx.t("Paint the lobby"))
            case "long_title":
                text = ctx.tn("A title is one line of at most {count} character, please.",
                              "A title is one line of at most {count} characters, please.", result.facts["most"],
                              count=format_number(result.facts["most"], ctx.lang))
            case "exported":
                return exported_reply(ctx)
            case "duplicate":
                text = ctx.t("There is already a proposal with that title. Send /proposals to see it.")
            case _:
                raise ValueError(f"no wording for the refusal {result.reason!r}")
        return [ctx.reply(text)]
    terms = result.terms
    summary = ctx.t("Propose to the co-op: “{title}”. Voting opens in {delay} and stays open for {period}. "
                    "It costs nothing.", title=terms.title, delay=duration(ctx, terms.voting_delay),
                    period=duration(ctx, terms.voting_period))
    summary += "\n" + await described(ctx, terms.actions)
    return confirm.buttons(ctx, result.token, summary)


async def vote(ctx: Context, args: list[str]) -> list[Reply]:
    """/vote PROPOSAL yes|no|abstain [VOTES]: checks the proposal and the credits, then offers the vote
    with its cost (n votes cost n² credits). Without VOTES, the most the member can afford."""
    usage = ctx.t("Send the proposal's number, yes, no or abstain, and how many votes, for example: /vote {example}",
                  example=f"{format_number(1, ctx.lang)} {ctx.t('yes')} {format_number(3, ctx.lang)}")
    if len(args) not in (2, 3):
        held = await balances(ctx.services.core, ctx.member.member_id)
        return [ctx.reply(usage + "\n" + power_text(ctx, held.voting_power))]
    support = SUPPORT_WORDS.get(args[1].lower())
    if support is None:
        return [ctx.reply(ctx.t("I did not understand “{word}”: answer yes, no or abstain.", word=args[1])
                          + "\n" + usage)]
    try:
        number = parse_count(args[0].lstrip("#"), ctx.lang)
    except AmountError as e:
        return bad_number(ctx, e, args[0], usage)
    wanted = None
    if len(args) == 3:
        try:
            wanted = parse_count(args[2], ctx.lang)
        except AmountError as e:
            return bad_number(ctx, e, args[2], usage)
    await catch_up(ctx.services)  # a proposal made a moment ago has its number
    result = await use.vote(ctx.services.core, ctx.member.id, ctx.member.member_id, number, support, wanted)
    shown = format_number(number, ctx.lang)
    if isinstance(result, Refused):
        f = result.facts
        match result.reason:
            case "no_proposal":
                text = ctx.t("There is no proposal #{number}. Send /proposals to see them.", number=shown)
            case "exported":
                return exported_reply(ctx)
            case "not_open":
                text = ctx.t("Voting on #{number} has not opened yet: it opens in {time}.", number=shown,
                             time=duration(ctx, f["opens_in"])) + "\n" + power_text(ctx, f["power"])
            case "ended":
                text = ctx.t("Voting on #{number} has ended ({state}).", number=shown,
                             state=state_text(ctx, f["state"]))
            case "voted":
                text = ctx.t("You have already voted on #{number}.", number=shown)
            case "no_credits":
                text = ctx.t("You have no voting credits for #{number}: credits come from GRO locked before "
                             "voting opened (/lock). You can still follow it with /proposals.", number=shown)
            case "too_many":
                text = ctx.t(
                    "{votes} would cost {cost}, but you have {credits}. The most you can cast is {most} "
                    "({most_cost}), for example: /vote {number} {word} {most_count}",
                    votes=_votes(ctx, f["votes"]), cost=_credits(ctx, f["cost"]), credits=_credits(ctx, f["credits"]),
                    most=_votes(ctx, f["most"]), most_cost=_credits(ctx, f["most_cost"]), number=shown,
                    word=args[1], most_count=format_number(f["most"], ctx.lang))
            case _:
                raise ValueError(f"no wording for the refusal {result.reason!r}")
        return [ctx.reply(text)]
    terms = result.terms
    summary = ctx.t("Vote {answer} on #{number} “{title}”: {cost}; you have {credits}, {left} left.",
                    answer=_answer(ctx, terms.support), number=shown, title=terms.title,
                    cost=ctx.tn("{count} vote costs {credits}", "{count} votes cost {credits}", terms.votes,
                                count=format_number(terms.votes, ctx.lang), credits=_credits(ctx, terms.cost)),
                    credits=_credits(ctx, terms.credits), left=format_number(terms.left, ctx.lang))
    summary += "\n" + await described(ctx, terms.actions)
    return confirm.buttons(ctx, result.token, summary)


def _answer(ctx: Context, support: int) -> str:
    return {FOR: ctx.t("yes"), AGAINST: ctx.t("no"), ABSTAIN: ctx.t("abstain")}[support]


def _votes(ctx: Context, n: int) -> str:
    return ctx.tn("{count} vote", "{count} votes", n, count=format_number(n, ctx.lang))


def _credits(ctx: Context, n: int) -> str:
    return ctx.tn("{count} credit", "{count} credits", n, count=format_number(n, ctx.lang))
