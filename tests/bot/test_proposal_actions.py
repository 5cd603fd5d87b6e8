"""Members see what they vote for, end to end through `coop console --jsonl`: every proposal is shown with
its actions in plain words (an admin's rate change, and a hidden role grant a self-custody member put behind
an innocent title), with a warning for the dangerous ones, in /proposals, /vote and the announcements.

The self-custody member is an outside key the test registers and drives itself on the console's own chain,
as the review's attack did.
"""
import re
import sqlite3
import time

from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from chain import send
from locales import Translator
from tests.bot.console import DAY, Chain, Console, button
from tests.bot.test_console import onboard
from tests.bot.test_governance import confirm_offer, wait_until

ES = Translator("es").t
GRO = 10**18
SUCCEEDED, QUEUED, EXECUTED = 4, 5, 7
TITLE = "Buy a fan <b>now</b> *today*"  # markup a transport must not render


def hidden_grant(chain: Chain, attacker, friend: str) -> None:
    """A registered outside key with GRO locked proposes "Buy a fan" whose further actions grant it the upgrade
    right on GroupBuy and `friend` the right to mint Food-USD; the description's further lines and its length
    would push the real text out of view."""
    w3, c = chain.w3, chain.contracts
    w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": attacker.address, "value": 10**18})
    send(w3, c.registry.functions.addMember(attacker.address, keccak(text="made-up resident")),
         Account.from_key(chain.keys["registrar"]))
    chain.certify(attacker.address, "made-up batch", 10_000)  # 100 GRO
    send(w3, c.gro.functions.approve(c.escrow.address, 100 * GRO), attacker)
    unlock = w3.eth.get_block("latest")["timestamp"] + 200 * 7 * DAY
    send(w3, c.escrow.functions.createLock(100 * GRO, unlock), attacker)
    targets = [c.registry.address, c.group_buy.address, c.food_usd.address]
    calldatas = [c.registry.functions.memberCount()._encode_transaction_data(),
                 c.group_buy.functions.grantRole(keccak(text="UPGRADER_ROLE"), attacker.address)
                 ._encode_transaction_data(),
                 c.food_usd.functions.grantRole(keccak(text="MINTER_ROLE"), friend)._encode_transaction_data()]
    description = TITLE + " " + "very " * 40 + "\nThe fan is for the lobby."
    send(w3, c.governor.functions.propose(targets, [0, 0, 0], [Web3.to_bytes(hexstr=d) for d in calldatas],
                                          description), attacker)


def test_members_see_what_they_vote_for(console: Console, tmp_path):
    onboard(console, "admin", "en")
    console.send(**{"from": "admin", "text": "/invite 1"})
    code = re.search(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b", console.expect("admin", "/start")["text"]).group(1)
    onboard(console, "bob", "es", code)
    chain = Chain(tmp_path / "data")
    bob = chain.account("bob")
    chain.wait_member(bob)

    # A member may not add an action; titles are one line of at most 120 characters.
    console.send(**{"from": "bob", "text": "/propose rate 20 Subir la tasa"})
    console.expect("bob", ES("Sorry, only the co-op's admins can add an action to a proposal. To ask the co-op's "
                             "opinion, send /propose with just the title."))
    too_long = Translator("es").tn("A title is one line of at most {count} character, please.",
                                   "A title is one line of at most {count} characters, please.", 120, count="120")
    console.send(**{"from": "bob", "text": "/propose " + "x" * 121})
    console.expect("bob", too_long)
    console.send(**{"from": "bob", "text": "/propose Pintar el vestíbulo\ny regalar las llaves"})
    console.expect("bob", too_long)
    # A title that starts with the word "rate" is a title: no action, nothing refused.
    console.send(**{"from": "bob", "text": "/propose Rate the new fan"})
    offer = console.expect("bob", "Rate the new fan")
    assert "• " + ES("no action: a vote of opinion") in offer["text"]
    console.send(**{"from": "bob", "press": button(offer, 1)})  # cancel
    console.expect("bob")

    # An admin's rate proposal says what it changes, before the confirm and to the group.
    console.send(**{"from": "admin", "text": "/propose rate 20 Raise the GRO rate"})
    offer = console.expect("admin", "Raise the GRO rate")
    assert "• raise the GRO rate to 20 per kg (now 10)" in offer["text"]
    assert "⚠️" not in offer["text"]
    confirm_offer(console, "admin", offer)
    new = console.heard("group", "New proposal #1 “Raise the GRO rate”")["text"]
    assert "• raise the GRO rate to 20 per kg (now 10)" in new

    # The hidden grant: a one-line capped title, its actions in plain words, the warning, in each language.
    attacker = Account.create()
    hidden_grant(chain, attacker, bob)
    short = f"{attacker.address[:6]}…{attacker.address[-4:]}"
    new = console.heard("group", "New proposal #2")["text"]
    assert f"⚠️ give the upgrade right (UPGRADER_ROLE) on GroupBuy to {short}" in new
    assert f"⚠️ give the right to create Food-USD (MINTER_ROLE) on Food-USD to bob ({bob[:6]}…{bob[-4:]})" in new
    assert "This changes who controls the co-op's contracts" in new and "guardian" in new
    console.send(**{"from": "admin", "text": "/proposals"})
    listed = console.expect("admin", "#2 ")["text"]
    line = next(line for line in listed.splitlines() if line.startswith("#2 "))
    title = line[len("#2 "):line.index(": ")]
    assert title.startswith(TITLE) and title.endswith("…") and len(title) == 120
    assert "The fan is for the lobby" not in listed
    assert "• read the number of members (this changes nothing)" in listed
    assert f"⚠️ give the upgrade right (UPGRADER_ROLE) on GroupBuy to {short}" in listed
    console.send(**{"from": "bob", "text": "/proposals"})
    listed = console.expect("bob", "#2 ")["text"]
    assert f"⚠️ dar el derecho de actualizar el código (UPGRADER_ROLE) sobre GroupBuy a {short}" in listed
    assert ES("This changes who controls the co-op's contracts or how they work.") + " " + \
        ES("The co-op's board (its guardian) can still stop it until it takes effect.") in listed
    assert "• " + ES("raise the GRO rate to {rate} per kg (now {now})", rate="20", now="10") in listed

    # The vote's confirmation shows the actions too.
    chain.certify(bob, "bob-kale", 1000)  # 10 GRO
    console.send(**{"from": "bob", "text": "/lock 10 208"})
    confirm_offer(console, "bob", console.expect("bob", "10 GRO"))
    chain.advance(DAY + 60)
    console.send(**{"from": "bob", "text": "/vote 2 no 1"})
    offer = console.expect("bob", "#2")
    assert "sobre GroupBuy a " + short in offer["text"] and "⚠️" in offer["text"]
    console.send(**{"from": "bob", "press": button(offer, 1)})
    console.expect("bob")

    # The attacker votes its proposal through. Past the deadline it has passed, but the keeper does not queue
    # it during the guardian window (the governor would refuse): it waits quietly, spends no attempt, raises no
    # alarm, and the result says from when it can take effect.
    gov = chain.contracts.governor.functions
    proposal_id = chain.contracts.governor.events.ProposalCreated().get_logs(from_block=0)[1]["args"]["proposalId"]
    send(chain.w3, gov.castVoteWithReasonAndParams(proposal_id, 1, "", (5).to_bytes(32, "big")), attacker)
    chain.advance(7 * DAY)
    result = console.heard("group", "Proposal #2 “Buy a fan")["text"]
    assert "passed" in result and "at the earliest" in result and "(its guardian) can still stop it" in result
    assert f"⚠️ give the upgrade right (UPGRADER_ROLE) on GroupBuy to {short}" in result
    window = gov.guardianWindow().call()
    assert window > 0
    time.sleep(3)  # ten keeper ticks
    assert gov.state(proposal_id).call() == SUCCEEDED
    with sqlite3.connect(chain.db) as db:
        assert db.execute("SELECT count(*) FROM chain_intents WHERE idempotency_key LIKE 'queue:%'").fetchone() == (0,)

    # Once the window is over (the guardian did not stop it) the keeper queues it, and executes it after the
    # timelock's delay.
    chain.advance(window)
    wait_until(lambda: gov.state(proposal_id).call() == QUEUED, "the keeper queues it after the window")
    chain.advance(2 * DAY + 60)
    done = console.heard("group", "Proposal #2 “Buy a fan")["text"]
    assert "has taken effect" in done
    assert gov.state(proposal_id).call() == EXECUTED
    assert console.close() == 0
    told = console.seen + console.rest()
    assert not [r for r in told if "could not be carried out" in r["text"]]
