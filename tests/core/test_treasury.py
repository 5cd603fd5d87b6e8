"""An admin's /closeorder, /withdraw and /members as use cases (core/treasury.py) over the in-memory ledger: what
closing now would do, a payout refused above the balance, an offer that confirms into the intents the chain needs,
and residents listed once however many channels they use. The chat's paths over a real chain are in
tests/bot/test_treasury.py."""
from datetime import datetime

from sqlalchemy import select

from bot.store import Member, PendingAction
from chain.db import HistoryEvent, Intent, SmartAccount
from chain.ledger import Balances
from core import offers, treasury
from core.offers import Answer
from core.results import Offered, Refused
from core.treasury import CloseTerms, Identity, WithdrawTerms
from tests.core.conftest import account

USD = 10**6
TREASURER = "0x" + "77" * 20


async def intents(world) -> list[tuple]:
    async with world.ports.uow.read() as session:
        return [(i.idempotency_key, i.kind, i.member_id, i.params)
                for i in (await session.execute(select(Intent).order_by(Intent.id))).scalars()]


async def joined(world, order_id: int, *accounts: str) -> None:
    """The indexer's history of who joined, in that order."""
    async with world.ports.uow() as session:
        for seq, who in enumerate(accounts):
            session.add(HistoryEvent(block_number=seq + 1, block_hash="0x", timestamp=0, tx_hash=f"0x{order_id}{seq}",
                                     log_index=0, contract="group_buy", event="Joined", account=who,
                                     args={"orderId": order_id, "seq": seq, "units": 1, "paid": 1}))


async def test_closing_an_order_that_reaches_its_minimum_offers_to_buy_its_whole_cases(world):
    admin = await world.member("admin")
    a, b = account("r_ana"), account("r_bob")
    order = world.ledger.open_order(target_units=20, min_units=5, case_size=5, unit_price=2 * USD)
    world.ledger.join(order.id, a, 4)
    world.ledger.join(order.id, b, 3)  # 7 units: one case of 5 is bought, 2 units come back
    await joined(world, order.id, a, b)
    result = await treasury.close_order(world.ports, admin.id, order.id)
    assert result == Offered(result.token, CloseTerms(order_id=1, product="?", units=7, members=2, bought=True,
                                                      buys=5, min_units=5, paid=10 * USD, refunded=4 * USD))
    confirmed = await offers.answer(world.ports.uow, world.clock, 900, result.token, admin.id, True, True)
    assert confirmed == Answer.CONFIRMED
    assert await intents(world) == [(result.token, "close_order", None, {"order_id": 1, "join_order": [a, b]})]


async def test_closing_an_order_below_its_minimum_offers_to_refund_everyone(world):
    admin = await world.member("admin")
    order = world.ledger.open_order(target_units=10, min_units=6, unit_price=2 * USD)
    world.ledger.join(order.id, account("r_ana"), 5)
    result = await treasury.close_order(world.ports, admin.id, order.id)
    assert result.terms == CloseTerms(order_id=1, product="?", units=5, members=1, bought=False, buys=0, min_units=6,
                                      paid=0, refunded=10 * USD)
    async with world.ports.uow.read() as session:
        action = await session.get(PendingAction, result.token)
    assert (action.kind, action.params) == ("close_order", {"intent": {"order_id": 1}, "by_admin": True})
    # Only an admin confirms it: one who lost the right since is refused.
    assert await offers.answer(world.ports.uow, world.clock, 900, result.token, admin.id, True, False) \
        == Answer.ADMINS_ONLY


async def test_closing_waits_for_the_history_when_units_must_be_shared_out(world):
    admin = await world.member("admin")
    order = world.ledger.open_order(target_units=20, min_units=5, case_size=5)
    world.ledger.join(order.id, account("r_ana"), 4)
    world.ledger.join(order.id, account("r_bob"), 3)
    await joined(world, order.id, account("r_ana"))  # bob's join is not indexed yet
    assert await treasury.close_order(world.ports, admin.id, order.id) == Refused("history_behind", {"id": 1})


async def test_closing_an_order_that_is_not_open_is_refused(world):
    admin = await world.member("admin")
    order = world.ledger.open_order(deadline=int(world.clock.now()) + 60)
    assert await treasury.close_order(world.ports, admin.id, 2) == Refused("no_order", {"id": 2})
    world.clock.at += 61
    assert await treasury.close_order(world.ports, admin.id, order.id) == Refused("order_closed", {"id": 1})


async def test_a_withdrawal_above_the_members_balance_is_refused_with_the_balance(world):
    admin, ana = await world.member("admin"), await world.member("ana")
    world.ledger.balances_of[account(ana.member_id)] = Balances(7 * USD, 0, 0, 0, 0)
    assert await treasury.withdraw(world.ports, admin.id, ana.member_id, 8 * USD, TREASURER) == Refused(
        "over_balance", {"amount": 8 * USD, "balance": 7 * USD, "on_its_way": 0})
    assert await treasury.withdraw(world.ports, admin.id, ana.member_id, 0, TREASURER) == Refused("zero_amount")


async def test_a_withdrawal_from_an_account_in_the_members_own_custody_is_refused(world):
    admin, ana = await world.member("admin"), await world.member("ana")
    world.ledger.balances_of[account(ana.member_id)] = Balances(7 * USD, 0, 0, 0, 0)
    async with world.ports.uow() as session:
        session.add(SmartAccount(member_id=ana.member_id, address=account(ana.member_id), signer=TREASURER,
                                 exported_to="0x" + "99" * 20))
    assert await treasury.withdraw(world.ports, admin.id, ana.member_id, USD, TREASURER) == Refused(
        "exported", {"member_id": "r_ana"})


async def test_a_confirmed_withdrawal_is_the_members_approval_then_the_treasurers_burn(world):
    admin, ana = await world.member("admin"), await world.member("ana")
    world.ledger.balances_of[account(ana.member_id)] = Balances(7 * USD, 0, 0, 0, 0)
    result = await treasury.withdraw(world.ports, admin.id, ana.member_id, 5 * USD, TREASURER)
    assert result == Offered(result.token, WithdrawTerms(member_id="r_ana", amount=5 * USD, balance_after=2 * USD))
    for _ in range(2):  # a double tap does it once
        await offers.answer(world.ports.uow, world.clock, 900, result.token, admin.id, True, True)
    assert await intents(world) == [
        (f"{result.token}:0", "approve_withdrawal", "r_ana", {"burner": TREASURER, "amount": 5 * USD}),
        (result.token, "withdraw", "r_ana", {"amount": 5 * USD, "ref": result.token})]


async def test_a_second_withdrawal_waits_until_the_first_is_finished(world):
    """An approval sets the allowance: a second one sent beside the first would replace it, and one burn would
    fail after the admin paid its cash."""
    admin, ana = await world.member("admin"), await world.member("ana")
    world.ledger.balances_of[account(ana.member_id)] = Balances(7 * USD, 0, 0, 0, 0)
    first = await treasury.withdraw(world.ports, admin.id, ana.member_id, 2 * USD, TREASURER)
    second = await treasury.withdraw(world.ports, admin.id, ana.member_id, 1 * USD, TREASURER)  # both offered
    await offers.answer(world.ports.uow, world.clock, 900, first.token, admin.id, True, True)
    assert await offers.answer(world.ports.uow, world.clock, 900, second.token, admin.id, True, True) == Answer.BUSY
    assert await treasury.withdraw(world.ports, admin.id, ana.member_id, 3 * USD, TREASURER) == Refused(
        "withdrawal_under_way", {"member_id": "r_ana"})
    async with world.ports.uow() as session:  # the approval is done; the burn is still on its way
        for intent in (await session.execute(select(Intent).where(Intent.kind == "approve_withdrawal"))).scalars():
            intent.state = "confirmed"
    assert await treasury.withdraw(world.ports, admin.id, ana.member_id, 3 * USD, TREASURER) == Refused(
        "withdrawal_under_way", {"member_id": "r_ana"})
    async with world.ports.uow() as session:
        for intent in (await session.execute(select(Intent).where(Intent.kind == "withdraw"))).scalars():
            intent.state = "failed"
    assert isinstance(await treasury.withdraw(world.ports, admin.id, ana.member_id, 3 * USD, TREASURER), Offered)
    # The second offer, left waiting, is confirmed now that the first is finished.
    assert await offers.answer(world.ports.uow, world.clock, 900, second.token, admin.id, True, True) \
        == Answer.CONFIRMED


async def test_members_lists_each_resident_once_with_every_channel(world):
    async with world.ports.uow() as session:
        session.add_all([
            Member(channel="telegram", handle="111", alias="ana", chat_id="111", member_id="r_ana", lang="es",
                   invite_code="a", joined_at=datetime(2026, 11, 2)),
            Member(channel="console", handle="bob", chat_id="bob", member_id="r_bob", lang=None, invite_code="b",
                   blocked=True, joined_at=datetime(2026, 11, 3)),
            Member(channel="whatsapp", handle="+34600000001", chat_id="+34600000001", member_id="r_ana", lang="es",
                   invite_code="c", joined_at=datetime(2026, 11, 5)),
        ])
    page = await treasury.members(world.ports)
    assert (page.page, page.pages, page.total) == (1, 1, 2)
    ana, bob = page.residents
    assert ana.identities == (Identity("telegram", "@ana", False), Identity("whatsapp", "+34600000001", False))
    assert (ana.lang, ana.joined_at) == ("es", datetime(2026, 11, 2))
    assert bob.identities == (Identity("console", "bob", True),) and bob.lang is None
    assert await treasury.members(world.ports, 2) == Refused("no_page", {"pages": 1})


async def test_members_come_a_page_at_a_time(world):
    for n in range(treasury.PAGE_SIZE + 3):
        await world.member(f"m{n:02}")
    first, second = await treasury.members(world.ports, 1), await treasury.members(world.ports, 2)
    assert (len(first.residents), len(second.residents), second.pages, second.total) == (
        treasury.PAGE_SIZE, 3, 2, treasury.PAGE_SIZE + 3)
    assert second.residents[-1].identities[0].name == f"m{treasury.PAGE_SIZE + 2:02}"
