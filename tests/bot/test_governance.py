"""Governance, locks, history and self-custody end to end through `coop console --jsonl`.

GRO comes from certified produce: the test certifies batches itself with the embedded chain's certifier key
(from the data dir), on the console's own anvil node, and steps that node's clock past the voting delay and
the timelock; the keepers do the rest.
"""
import re
import time

from eth_account import Account

from tests.bot.console import DAY, Chain, Console, button, open_order
from tests.bot.test_console import onboard

QUEUED, EXECUTED = 5, 7


def wait_until(done, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.1)


def confirm_offer(console: Console, who: str, offer: dict) -> dict:
    """Presses confirm and returns the outcome message that follows."""
    assert [b["data"][:3] for row in offer["buttons"] for b in row] == ["ok:", "no:"]
    console.send(**{"from": who, "press": button(offer, 0)})
    console.expect(who)  # on its way
    return console.expect(who)


def test_lock_propose_vote_history_and_export(console, tmp_path):
    data_dir = tmp_path / "data"
    onboard(console, "admin", "en")
    console.send(**{"from": "admin", "text": "/invite 2"})
    codes = re.findall(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b", console.expect("admin", "/start")["text"])
    onboard(console, "bob", "en", codes[0])
    onboard(console, "ana", "es", codes[1])
    chain = Chain(data_dir)
    bob, ana = chain.account("bob"), chain.account("ana")
    chain.wait_member(bob)
    chain.wait_member(ana)

    # Money in and an order joined: history shows the deposit and the join.
    console.send(**{"from": "admin", "text": "/deposit bob 50"})
    confirm_offer(console, "admin", console.expect("admin", "bob"))
    console.expect("bob", "$50.00")
    open_order(console, "/neworder rice 2.50 10 1 14")
    console.heard("admin", "Order #1 is open")
    console.send(**{"from": "bob", "text": "/join 1 2"})
    confirm_offer(console, "bob", console.expect("bob", "#1"))

    chain.certify(bob, "bob-kale", 2000)  # 20 GRO
    chain.certify(ana, "ana-beans", 1000)  # 10 GRO

    # Locks: amounts checked, a preview of the voting power, then the confirm.
    console.send(**{"from": "bob", "text": "/lock -5 52"})
    assert "negative" in console.expect("bob", "12.50")["text"]
    console.send(**{"from": "bob", "text": "/lock 1.234 52"})
    assert "decimals" in console.expect("bob", "12.50")["text"]
    console.send(**{"from": "bob", "text": "/lock 30 52"})
    console.expect("bob", "You have 20 GRO")
    console.send(**{"from": "bob", "text": "/lock 20 208"})
    offer = console.expect("bob", "voting power")
    assert "Lock 20 GRO" in offer["text"]
    confirm_offer(console, "bob", offer)
    assert chain.contracts.escrow.functions.locked(bob).call()[0] == 20 * 10**18
    console.send(**{"from": "ana", "text": "/lock 10 208"})
    confirm_offer(console, "ana", console.expect("ana", "10 GRO"))

    # A proposal, numbered #1, pending until the voting delay has passed.
    console.send(**{"from": "bob", "text": "/propose Paint the lobby green"})
    confirm_offer(console, "bob", console.expect("bob", "Paint the lobby green"))
    console.send(**{"from": "bob", "text": "/proposals"})
    listed = console.expect("bob", "#1 Paint the lobby green")["text"]
    assert "voting opens in" in listed
    console.send(**{"from": "bob", "text": "/vote 1 yes 3"})
    console.expect("bob", "has not opened yet")
    console.send(**{"from": "bob", "text": "/vote 7 yes 3"})
    console.expect("bob", "There is no proposal #7")
    chain.advance(DAY + 60)

    # Quadratic votes: the cost before the confirm, and the most one can afford.
    console.send(**{"from": "ana", "text": "/vote 1 sí 2"})
    offer = console.expect("ana", "2 votos cuestan 4 créditos")
    confirm_offer(console, "ana", offer)
    console.send(**{"from": "bob", "text": "/vote 1 yes 5"})
    too_many = console.expect("bob", "The most you can cast is 4 votes")["text"]
    assert "5 votes would cost 25 credits, but you have 19 credits" in too_many
    console.send(**{"from": "bob", "text": "/vote 1 yes 3"})
    offer = console.expect("bob", "3 votes cost 9 credits; you have 19 credits, 10 left")
    confirm_offer(console, "bob", offer)
    console.send(**{"from": "ana", "text": "propuestas"})
    assert "Sí 5" in console.expect("ana", "#1 Paint the lobby green:")["text"]  # 3 + 2 votes for
    console.send(**{"from": "ana", "text": "/vote 1 no 1"})
    console.expect("ana", "Ya votaste en la #1")  # one cast per resident

    # A proposal is decided at its deadline (a week): the group and both voters hear the result once; the
    # keeper queues it at once (its action is an ordinary one) and, after the timelock's two days, executes
    # its action; everyone hears that too.
    chain.advance(7 * DAY)
    assert "Yes 5 · No 0" in console.heard("group", "Proposal #1 “Paint the lobby green” passed")["text"]
    console.heard("bob", "Proposal #1 “Paint the lobby green” passed")
    console.heard("ana", "La propuesta #1 «Paint the lobby green» fue aprobada")
    gov = chain.contracts.governor.functions
    proposal_id = chain.contracts.governor.events.ProposalCreated().get_logs(from_block=0)[0]["args"]["proposalId"]
    wait_until(lambda: gov.state(proposal_id).call() == QUEUED, "the keeper queues the proposal")
    chain.advance(2 * DAY + 60)
    console.heard("group", "Proposal #1 “Paint the lobby green” has taken effect")
    console.heard("ana", "La propuesta #1 «Paint the lobby green» ya está en vigor")
    assert gov.state(proposal_id).call() == EXECUTED

    console.send(**{"from": "bob", "text": "/history"})
    history = console.expect("bob", "Your recent history")["text"]
    for expected in ("Cash deposit of $50.00", "Joined order #1 with 2 units", "Locked 20 GRO",
                     "You voted yes on #1", "You proposed #1"):
        assert expected in history

    # Self-custody: a bad address is explained; a good one is confirmed; the co-op then cannot act.
    console.send(**{"from": "bob", "text": "/export 0x1234"})
    console.expect("bob", "not a wallet address")
    own = Account.create().address
    console.send(**{"from": "bob", "text": f"/export {own.lower()}"})
    console.expect("bob", "capital letters")
    console.send(**{"from": "bob", "text": f"/export {own}"})
    console.expect("bob", "type the last 4 characters")
    console.send(**{"from": "bob", "text": own[-4:]})
    console.expect("bob")  # on its way
    console.expect("bob", "your own wallet")
    console.send(**{"from": "bob", "text": "/join 1 1"})
    offer = console.expect("bob", "#1")
    outcome = confirm_offer(console, "bob", offer)
    assert "own custody" in outcome["text"]
    console.send(**{"from": "bob", "text": "/lock 1 10"})
    console.expect("bob", "own custody")
    console.send(**{"from": "bob", "text": "/claim"})
    console.expect("bob", "own custody")
    assert console.close() == 0
    told = console.seen + console.rest()
    for who in ("group", "bob", "ana"):  # the keeper looked many times: each told once
        assert sum("#1 «Paint" in r["text"] or "#1 “Paint" in r["text"] for r in told if r["to"] == who
                   and ("passed" in r["text"] or "aprobada" in r["text"])) == 1, who


def test_with_short_governance_delays_a_newcomer_proposes_votes_and_sees_it_take_effect(tmp_path):
    """The README's way to try voting in the console: the embedded chain deployed with delays of minutes."""
    data_dir = tmp_path / "data"
    console = Console(data_dir, env={"COOP_VOTING_DELAY": "1m", "COOP_VOTING_PERIOD": "10m",
                                     "COOP_TIMELOCK_DELAY": "2m"})
    try:
        onboard(console, "admin", "en")
        console.send(**{"from": "admin", "text": "/invite 2"})
        codes = re.findall(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b", console.expect("admin", "/start")["text"])
        onboard(console, "bob", "en", codes[0])
        onboard(console, "claire", "fr", codes[1])
        chain = Chain(data_dir)
        gov = chain.contracts.governor.functions
        assert (gov.votingDelay().call(), gov.votingPeriod().call(),
                chain.contracts.timelock.functions.getMinDelay().call()) == (60, 600, 120)
        for who, lock in (("bob", "/lock 10 208"), ("claire", "/lock 10 208")):
            chain.wait_member(chain.account(who))
            chain.certify(chain.account(who), f"{who}-basil", 1000)  # 10 GRO
            console.send(**{"from": who, "text": lock})
            confirm_offer(console, who, console.expect(who, "10"))

        console.send(**{"from": "bob", "text": "/propose Grow basil by the window"})
        confirm_offer(console, "bob", console.expect("bob", "Grow basil by the window"))
        console.send(**{"from": "bob", "text": "/proposals"})
        assert "voting opens in 1 minute" in console.expect("bob", "#1 Grow basil")["text"]
        console.send(**{"from": "claire", "text": "/vote 1 oui 1"})
        console.expect("claire", "Le vote sur la n°1 n’est pas encore ouvert : il ouvre dans 1 minute.")
        chain.advance(61)

        console.send(**{"from": "claire", "text": "/vote 1 oui 2"})
        confirm_offer(console, "claire", console.expect("claire", "4 crédits"))
        console.send(**{"from": "bob", "text": "/vote 1 yes 1"})
        confirm_offer(console, "bob", console.expect("bob", "1 vote costs 1 credit"))
        console.send(**{"from": "bob", "text": "/proposals"})
        assert "voting is open, 9 minutes left" in console.expect("bob", "#1 Grow basil")["text"]

        chain.advance(10 * 60)
        console.heard("group", "Proposal #1 “Grow basil by the window” passed")
        proposal_id = chain.contracts.governor.events.ProposalCreated().get_logs(from_block=0)[0]["args"]["proposalId"]
        wait_until(lambda: gov.state(proposal_id).call() == QUEUED, "the keeper queues the proposal")
        chain.advance(2 * 60 + 60)  # the keeper executes 30 s after the timelock allows
        console.heard("group", "Proposal #1 “Grow basil by the window” has taken effect")
        console.heard("claire", "La proposition n°1 « Grow basil by the window » est entrée en vigueur")
        assert console.close() == 0
    finally:
        if console.process.poll() is None:
            console.process.kill()
