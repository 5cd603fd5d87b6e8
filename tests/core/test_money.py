"""A resident's money as use cases (core/wallet.py) over the in-memory ledger: /balance's reading, Food-USD sent
to a neighbour and GRO redeemed for produce — every refusal decided before anything is offered, and each offer
carrying the intent the chain will run. The chat's paths over a real chain are in tests/bot/test_money.py."""
from sqlalchemy import select

from bot.store import Member, PendingAction
from chain.db import Intent, SmartAccount
from chain.ledger import Balances
from core import offers, wallet
from core.offers import Answer
from core.results import Refused
from core.wallet import RedeemTerms, SendTerms
from tests.core.conftest import account

USD, GRO = 10**6, 10**18


async def offered(world) -> list[PendingAction]:
    async with world.ports.uow.read() as session:
        return list((await session.execute(select(PendingAction))).scalars())


def hold(world, member, food_usd=0, gro=0, locked=0, unlock_time=0) -> None:
    world.ledger.balances_of[account(member.member_id)] = Balances(food_usd, gro, 0, locked, unlock_time)


async def export(world, member) -> None:
    async with world.ports.uow() as session:
        session.add(SmartAccount(member_id=member.member_id, address=account(member.member_id), signer="0x" + "00" * 20,
                                 exported_to="0x" + "ee" * 20))


async def test_balances_read_the_residents_account(world):
    ana = await world.member()
    hold(world, ana, food_usd=12 * USD, gro=3 * GRO)
    assert await wallet.balances(world.ports, ana.member_id) == Balances(12 * USD, 3 * GRO, 0, 0, 0)


# ---- /send ----

async def test_sending_is_offered_with_the_balance_after_and_confirmed_into_one_transfer(world):
    ana, bob = await world.member("ana"), await world.member("bob")
    hold(world, ana, food_usd=10 * USD)
    result = await wallet.send(world.ports, ana.id, ana.member_id, bob.id, 4 * USD)
    assert result.terms == SendTerms("r_bob", "bob", 4 * USD, 6 * USD)
    [action] = await offered(world)
    assert (action.kind, action.params["recipient"]) == ("transfer", "r_bob")
    assert await offers.answer(world.ports.uow, world.clock, 900, result.token, ana.id, True, False) == Answer.CONFIRMED
    async with world.ports.uow.read() as session:
        [intent] = list((await session.execute(select(Intent))).scalars())
    assert (intent.member_id, intent.kind) == ("r_ana", "transfer")
    assert intent.params == {"to": account("r_bob"), "amount": str(4 * USD)}


async def test_sending_to_oneself_is_refused(world):
    ana = await world.member()
    hold(world, ana, food_usd=10 * USD)
    assert await wallet.send(world.ports, ana.id, ana.member_id, ana.id, USD) == Refused("to_self")
    assert await offered(world) == []


async def test_sending_to_ones_own_other_channel_is_refused(world):
    ana = await world.member()
    async with world.ports.uow() as session:
        phone = Member(channel="whatsapp", handle="15551234567", chat_id="x", member_id=ana.member_id, lang="es",
                       invite_code="link")
        session.add(phone)
    hold(world, ana, food_usd=10 * USD)
    assert await wallet.send(world.ports, ana.id, ana.member_id, phone.id, USD) == Refused("to_self")


async def test_sending_to_nobody_is_refused(world):
    ana = await world.member()
    assert await wallet.send(world.ports, ana.id, ana.member_id, 99, USD) == Refused("no_member", {"to": 99})


async def test_sending_nothing_is_refused(world):
    ana, bob = await world.member("ana"), await world.member("bob")
    hold(world, ana, food_usd=10 * USD)
    assert await wallet.send(world.ports, ana.id, ana.member_id, bob.id, 0) == Refused("not_positive")


async def test_sending_more_than_the_balance_says_the_balance(world):
    ana, bob = await world.member("ana"), await world.member("bob")
    hold(world, ana, food_usd=3 * USD)
    assert await wallet.send(world.ports, ana.id, ana.member_id, bob.id, 5 * USD) == Refused(
        "over_balance", {"amount": 5 * USD, "balance": 3 * USD, "on_its_way": 0})
    assert await offered(world) == []


async def test_sending_from_an_exported_account_is_refused(world):
    ana, bob = await world.member("ana"), await world.member("bob")
    hold(world, ana, food_usd=10 * USD)
    await export(world, ana)
    assert await wallet.send(world.ports, ana.id, ana.member_id, bob.id, USD) == Refused("exported")


# ---- /redeem ----

async def test_redeeming_records_the_item_as_its_name(world):
    ana = await world.member()
    hold(world, ana, gro=5 * GRO)
    result = await wallet.redeem(world.ports, ana.id, ana.member_id, 2 * GRO, " two   lettuces ")
    assert result.terms == RedeemTerms(2 * GRO, "two lettuces", 3 * GRO)
    [action] = await offered(world)
    intent = action.params["intent"]
    assert action.kind == "redeem" and intent["amount"] == str(2 * GRO)
    assert wallet.item_text(bytes.fromhex(intent["item"][2:])) == "two lettuces"
    other = await wallet.redeem(world.ports, ana.id, ana.member_id, GRO, "")
    assert other.terms.item == ""
    ids = {a.params["intent"]["redemption_id"] for a in await offered(world)}
    assert len(ids) == 2 and all(len(i) == 66 for i in ids)  # a bytes32 each, never the same twice


def test_a_long_item_is_cut_at_a_whole_character():
    name = "লাল শাক আর পালং শাক"  # Bengali letters are three bytes each
    recorded = wallet.item_bytes(name)
    cut = wallet.item_text(recorded)
    assert len(recorded) == 32 and name.startswith(cut) and 0 < len(cut) < len(name)
    assert wallet.item_text(bytes.fromhex("9f" * 32)) == ""  # an older, hashed item is no name


async def test_redeeming_more_than_is_held_says_what_is_locked(world):
    ana = await world.member()
    hold(world, ana, gro=2 * GRO, locked=10 * GRO, unlock_time=1_900_000_000)
    assert await wallet.redeem(world.ports, ana.id, ana.member_id, 5 * GRO, "kale") == Refused(
        "over_held", {"amount": 5 * GRO, "held": 2 * GRO, "on_its_way": 0, "locked": 10 * GRO,
                      "unlock_time": 1_900_000_000})
    assert await offered(world) == []


async def test_redeeming_nothing_or_from_an_exported_account_is_refused(world):
    ana = await world.member()
    hold(world, ana, gro=2 * GRO)
    assert await wallet.redeem(world.ports, ana.id, ana.member_id, 0, "") == Refused("not_positive")
    await export(world, ana)
    assert await wallet.redeem(world.ports, ana.id, ana.member_id, GRO, "") == Refused("exported")
