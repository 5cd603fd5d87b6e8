"""Why an action failed, in plain words: the chain's reason codes (chain/intents.py) for a member."""
from locales import Translator


def reason_text(translator: Translator, code: str | None) -> str:
    t = translator.t
    texts = {
        "insufficient_funds": t("You do not have enough Food-USD for this. An admin can record a cash deposit for you."),
        "order_full": t("The order is already full."),
        "deadline_passed": t("The order's deadline has passed."),
        "order_not_open": t("The order is closed."),
        "unknown_order": t("There is no such order."),
        "over_member_cap": t("That is more than one member may take in this order."),
        "not_a_member": t("Only registered members can do this."),
        "not_enough_credits": t("You do not have enough voting credits for that many votes."),
        "already_voted": t("You have already voted on this proposal."),
        "proposal_not_active": t("Voting on this proposal is not open."),
        "unknown_proposal": t("There is no such proposal."),
        "already_recorded": t("This was already recorded."),
        "exported": t("You took your account into your own custody, so I can no longer act for it."),
        "paused": t("Payments are paused by the co-op for now. Please try again later."),
    }
    return texts.get(code or "", t("The co-op's ledger did not accept it."))
