"""How a confirmed governance, escrow, custody, money or order-closing action ended, in the member's words
(the App tells it).

`params` are the confirmed offer's parameters (PendingAction.params): the intent's and what the handler
kept for this message (a proposal's number and title, a lock's end, whom Food-USD was sent to); `held` the
member's balances once it is done.
"""
from typing import Any

from chain.ledger import Balances
from locales import Translator, format_gro, format_money, format_number


def outcome_text(translator: Translator, kind: str, params: dict[str, Any], held: Balances) -> str | None:
    """The message for a confirmed action of `kind`, or None to use the App's usual one."""
    t, lang = translator.t, translator.lang
    intent = params.get("intent", {})
    if kind == "vote":
        answer = {0: t("no"), 1: t("yes"), 2: t("abstain")}.get(int(intent.get("support", -1)), "?")
        votes = int(intent.get("votes") or 0)
        return t("Your vote is counted: {votes}, {answer}, on #{number} “{title}”. Send /proposals to follow it.",
                 votes=translator.tn("{count} vote", "{count} votes", votes, count=format_number(votes, lang)),
                 answer=answer, number=format_number(int(params.get("number", 0)), lang),
                 title=params.get("title", ""))
    if kind == "propose":
        return t("Your proposal “{title}” is filed. Members can vote once voting opens; send /proposals to see "
                 "its number and state.", title=params.get("title", ""))
    if kind in ("lock", "increase_lock"):
        return t("Done: {amount} GRO locked. Send /balance to see your voting power.",
                 amount=format_gro(int(intent.get("amount", 0)), lang))
    if kind == "extend_lock":
        return t("Done: your lock lasts longer now. Your voting power is {power}.",
                 power=format_gro(held.voting_power, lang))
    if kind == "withdraw_lock":
        return t("Done: your GRO is back from your lock. You have {gro} GRO.", gro=format_gro(held.gro, lang))
    if kind == "transfer":
        return t("Done: you sent {amount} to {name}. Your Food-USD balance is now {balance}.",
                 amount=format_money(int(intent.get("amount", 0)), lang), name=params.get("to_name", ""),
                 balance=format_money(held.food_usd, lang))
    if kind == "redeem":
        return t("Done: {amount} GRO redeemed. You have {gro} GRO left.",
                 amount=format_gro(int(intent.get("amount", 0)), lang), gro=format_gro(held.gro, lang))
    if kind == "close_order":
        return t("Done: order #{id} is closed. Its members and the group hear whether it was bought.",
                 id=format_number(int(intent.get("order_id", 0)), lang))
    if kind == "export":
        return t("Done. Your account now belongs to your own wallet; the co-op can no longer act for it.")
    return None
