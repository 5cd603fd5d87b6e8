"""A proposal's title and actions in plain words, from calldata encoded against the deployed co-op's ABIs."""
import pytest
from eth_utils import keccak, to_checksum_address

from chain.proposal_actions import decode_actions, our_contracts
from core.governance import TITLE_MAX, one_line_title
from handlers.proposal_text import Known, actions_text
from locales import Translator
from tests.conftest import GRO

STRANGER = to_checksum_address("0x12ab000000000000000000000000000000c0ffee")


def words(coop, lang: str, calls: list, members: dict | None = None, rate: int | None = None) -> str:
    """The actions text of a proposal made of `calls` (web3 contract function calls, with their contract)."""
    targets = [call.address for call in calls]
    actions = decode_actions(coop.contracts, targets, [0] * len(calls), [c._encode_transaction_data() for c in calls])
    known = Known(our_contracts(coop.contracts), members or {}, rate)
    return actions_text(Translator(lang), actions, known)


def test_a_signal_proposal_is_a_vote_of_opinion(deployed):
    assert words(deployed, "en", [deployed.contracts.registry.functions.memberCount()]) == \
        "• no action: a vote of opinion"


def test_a_rate_change_compares_with_the_current_rate(deployed):
    gro = deployed.contracts.gro.functions
    assert words(deployed, "en", [gro.setRatePerKg(20 * GRO)], rate=10 * GRO) == \
        "• raise the GRO rate to 20 per kg (now 10)"
    assert words(deployed, "fr", [gro.setRatePerKg(5 * GRO)], rate=10 * GRO) == \
        "• baisser le taux de GRO à 5 par kg (actuellement 10)"


def test_certification_caps_are_told_in_gro_and_days(deployed):
    gro = deployed.contracts.gro.functions
    assert words(deployed, "en", [gro.setCertificationCaps(50 * GRO, 500 * GRO, 7 * 86400)]).splitlines()[0] == \
        "⚠️ change the certification caps: at most 50 GRO a batch and 500 GRO every 7 days"


def test_a_hidden_grant_to_a_member_is_named_and_warned_about_in_each_language(deployed):
    c, member = deployed.contracts, deployed.members[0].address
    calls = [c.registry.functions.memberCount(), c.food_usd.functions.grantRole(keccak(text="MINTER_ROLE"), member)]
    short = f"{member[:6]}…{member[-4:]}"
    assert words(deployed, "en", calls, {member: "@bob"}).splitlines() == [
        "• read the number of members (this changes nothing)",
        f"⚠️ give the right to create Food-USD (MINTER_ROLE) on Food-USD to @bob ({short})",
        "⚠️ This changes who controls the co-op's contracts or how they work. The co-op's board (its guardian) can "
        "still stop it until it takes effect."]
    assert words(deployed, "es", calls, {member: "@bob"}).splitlines()[1] == \
        f"⚠️ dar el derecho de crear Food-USD (MINTER_ROLE) sobre Food-USD a @bob ({short})"


def test_our_own_addresses_are_named(deployed):
    c = deployed.contracts
    grant = c.group_buy.functions.revokeRole(bytes(32), c.timelock.address)
    assert words(deployed, "en", [grant]).splitlines()[0] == \
        "⚠️ take the full admin right (it can give every other right) (DEFAULT_ADMIN_ROLE) on GroupBuy away from " \
        "the co-op's governance"


def test_an_upgrade_says_so(deployed):
    c = deployed.contracts
    text = words(deployed, "en", [c.group_buy.functions.upgradeToAndCall(STRANGER, b"\x12\x34\x56\x78")])
    assert text.splitlines()[0] == \
        f"⚠️ upgrade GroupBuy to new code at {STRANGER[:6]}…{STRANGER[-4:]} and run a setup call with it"


def test_an_unknown_action_is_named_and_warned_about(deployed):
    c = deployed.contracts
    targets = [c.gro.address, STRANGER]
    calldatas = ["0xdeadbeef", c.gro.functions.setRatePerKg(1)._encode_transaction_data()]
    actions = decode_actions(c, targets, [0, 0], calldatas)
    text = actions_text(Translator("en"), actions, Known(our_contracts(c), {}))
    assert text.splitlines() == [
        "⚠️ an unknown action on the GRO token",
        f"⚠️ an unknown action on {STRANGER[:6]}…{STRANGER[-4:]}",
        "⚠️ I cannot read what this proposal would do: vote no unless you know what it is. The co-op's board (its "
        "guardian) can still stop it until it takes effect."]
    done = actions_text(Translator("en"), actions, Known(our_contracts(c), {}), stoppable=False)
    assert done.splitlines()[-1] == "⚠️ I cannot read what this proposal would do: vote no unless you know what it is."


def test_a_title_is_the_first_line_capped_and_without_hidden_characters():
    assert one_line_title("Buy a fan\nand grant MINTER_ROLE to me") == "Buy a fan"
    assert one_line_title("  Paint\tthe   lobby  ") == "Paint the lobby"
    assert one_line_title("Vote \u202eyes\u202c now") == "Vote yes now"
    long = one_line_title("x" * 500)
    assert len(long) == TITLE_MAX and long.endswith("…")
    assert one_line_title("<b>bold</b> *star*") == "<b>bold</b> *star*"  # shown as typed: no transport parses markup


def test_replacing_the_guardian_and_the_timelock_delay_are_said_plainly(deployed):
    c = deployed.contracts
    board = to_checksum_address("0x" + "ab" * 20)
    lines = words(deployed, "en", [c.governor.functions.setProposalGuardian(board),
                                   c.timelock.functions.updateDelay(3 * 86400)]).splitlines()
    assert lines[:2] == [f"⚠️ replace the co-op's board (its guardian, who can stop proposals) with "
                         f"{board[:6]}…{board[-4:]}",
                         "⚠️ change the waiting time before passed proposals take effect to 3 days"]
