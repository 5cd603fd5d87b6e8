"""Why an action failed, in plain words: the chain's reason codes (chain/intents.py REASON_CODES) for a
member who is not a crypto user, each with what to do next. A code without words here fails
tests/handlers/test_reasons.py."""
from locales import Translator


def reason_texts(translator: Translator) -> dict[str, str]:
    """Every reason code's message in the translator's language."""
    t = translator.t
    return {
        # Money and orders
        "insufficient_funds": t("You do not have enough Food-USD for this. An admin can record a cash deposit for you."),
        "order_full": t("The order is already full. See /orders for another one, or ask an admin to open a new order."),
        "deadline_passed": t("The order's deadline has passed, so it takes no more changes. See /orders for the ones "
                             "still open."),
        "order_not_open": t("The order is closed. See /orders for the ones still open."),
        "unknown_order": t("There is no such order. Check its number in /orders."),
        "invalid_order": t("The order could not be opened as written. Check the price, the units and the number of "
                           "days, then send /neworder again."),
        "over_member_cap": t("That is more than one member may take in this order. Try again with fewer units."),
        "not_joined": t("You have not joined this order. Join it first with /join, then try again."),
        # An admin's /closeorder or the keeper's close at the deadline (the admins hear either): the list of members
        # sent with it was not the order's own.
        "order_changed": t("The order was not closed: its list of members had changed since it was read (someone "
                           "may have joined meanwhile)."),
        "already_claimed": t("What was yours from this order was already given back to you. /balance shows it."),
        "nothing_to_claim": t("There is nothing to get back from this order yet: that happens once it closes. "
                              "/orders shows how it stands."),
        "already_recorded": t("This was already recorded, so it was not done twice. Nothing more to do."),
        "paused": t("Payments are paused by the co-op for now. Please try again later."),
        # Members and produce
        "not_a_member": t("Only registered members can do this. If you have just joined, wait a minute and try "
                          "again; otherwise ask an admin."),
        "already_member": t("This resident is already a registered member. Nothing more to do."),
        "batch_already_certified": t("This batch of produce was already certified: a batch earns GRO only once. For "
                                     "new produce, use a new batch name."),
        "over_batch_cap": t("That is more GRO than one batch may earn, a limit the members set by vote. A batch is "
                            "one harvest; if this one really weighs more, ask the members to raise the limit with a "
                            "proposal."),
        "over_period_cap": t("The co-op has certified all the GRO its members allow for now, a limit they set by "
                             "vote. Certify this batch when the limit starts again; /certify says when."),
        "empty_batch": t("This batch would earn no GRO: check its weight and try again."),
        # Governance
        "upgrade_changes_immutables": t("The new code for group orders uses another token or another member "
                                        "register than the co-op's, so it was refused. Nothing changed."),
        # Voting
        "not_enough_credits": t("You do not have enough voting credits for that many votes. Try fewer votes: each "
                                "extra vote costs more credits. Locking GRO with /lock gives you more."),
        "already_voted": t("You have already voted on this proposal. Your vote counts; nothing more to do."),
        "proposal_not_active": t("Voting on this proposal is not open. See /proposals for the ones open now."),
        "unknown_proposal": t("There is no such proposal. Check its number in /proposals."),
        # Locked GRO
        "lock_exists": t("You already have GRO locked. Send /lock again to add to that lock."),
        "no_lock": t("You have no GRO locked, so there is nothing to change or take back. Use /lock to lock some."),
        "lock_expired": t("Your lock has already ended, so it cannot be changed. Take that GRO back first (an admin "
                          "can help); then you can lock again."),
        "lock_not_expired": t("Your GRO stays locked until the date you chose and cannot be taken back before then. "
                              "/history shows the date."),
        "unlock_too_soon": t("That end date is too soon: GRO is locked for at least one whole week. Choose more "
                             "weeks."),
        "unlock_too_late": t("GRO can be locked for at most four years. Choose fewer weeks."),
        "unlock_not_later": t("A lock can only be made longer: choose an end date later than the one it has now."),
        "zero_amount": t("The amount must be more than zero. Try again with a larger amount."),
        # Your account, and anything else
        "exported": t("You took your account into your own custody, so I can no longer act for it."),
        "signature_rejected": t("Your account did not accept my signature, so nothing was done. If you took your "
                                "account into your own custody, use your own wallet; otherwise tell an admin."),
        "no_account": t("Your co-op wallet is not ready yet, so nothing was done. Wait a minute and try again; if "
                        "it happens again, tell an admin."),
        "invalid": t("Something in this request could not be read, so nothing was done. Check the numbers and try "
                     "again."),
        # COOP_BUNDLER_URL's bundler, which carries members' operations to the chain, refused this one
        "bundler_refused": t("The service that carries the co-op's operations to the ledger refused this one, so "
                             "nothing was taken from you. Please try again later; if it happens again, tell an "
                             "admin."),
        "rejected": t("The co-op's ledger did not accept it, so nothing was taken from you. Please try again later; "
                      "if it happens again, tell an admin."),
    }


def reason_text(translator: Translator, code: str | None) -> str:
    texts = reason_texts(translator)
    return texts.get(code or "", texts["rejected"])
