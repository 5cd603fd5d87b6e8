"""Handing an account to the member's own wallet, as a use case (core/custody.py): every address that could
lose the account refused, and the hand-over offered, confirmed only by typing the address's last characters.
The chat's paths are in tests/bot/test_governance.py and tests/bot/test_export.py."""
from eth_utils import to_checksum_address
from sqlalchemy import select

from bot.store import PendingAction
from chain.db import Intent, SmartAccount
from core import custody, offers
from core.custody import EXAMPLE, ExportTerms
from core.offers import Answer
from core.ports import Ports
from core.results import Offered, Refused
from tests.core.conftest import account
from tests.fakes import CONTRACTS

WALLET = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"  # another of EIP-55's checksummed examples
TTL = 900


async def offered(world) -> list[PendingAction]:
    async with world.ports.uow.read() as session:
        return list((await session.execute(select(PendingAction))).scalars())


async def test_a_member_already_in_self_custody_is_told_so_first(world):
    ana = await world.member()
    await world.exported(ana)
    assert await custody.export(world.ports, ana.id, ana.member_id, None) == Refused("exported")
    assert await custody.export(world.ports, ana.id, ana.member_id, WALLET) == Refused("exported")


async def test_without_an_address_nothing_is_offered(world):
    ana = await world.member()
    assert await custody.export(world.ports, ana.id, ana.member_id, None) == Refused("no_address")


async def test_what_is_not_an_address_is_refused(world):
    ana = await world.member()
    assert await custody.export(world.ports, ana.id, ana.member_id, "0x1234") == Refused("not_an_address")


async def test_an_address_without_its_checksum_is_refused(world):
    ana = await world.member()
    assert await custody.export(world.ports, ana.id, ana.member_id, WALLET.lower()) == Refused("no_checksum")
    assert await offered(world) == []


async def test_the_co_op_account_itself_or_the_zero_address_is_refused(world):
    ana = await world.member()
    own = account(ana.member_id)
    assert await custody.export(world.ports, ana.id, ana.member_id, to_checksum_address(own)) == Refused("own_account")
    assert await custody.export(world.ports, ana.id, ana.member_id, "0x" + "0" * 40) == Refused("own_account")


async def test_the_usages_example_address_is_refused(world):
    ana = await world.member()
    assert await custody.export(world.ports, ana.id, ana.member_id, EXAMPLE) == Refused("example_address")
    assert await offered(world) == []


async def test_the_co_ops_contracts_and_accounts_are_refused(world):
    ana = await world.member()
    treasurer = to_checksum_address("0x" + "7a" * 20)
    ports = Ports(world.ports.ledger, world.ports.uow, world.clock, world.ports.wallet, (treasurer,))
    for contract in ("food_usd", "group_buy", "governor", "escrow", "account_factory", "entry_point"):
        address = getattr(CONTRACTS, contract).address
        assert await custody.export(ports, ana.id, ana.member_id, address) == Refused("co_op_contract"), contract
    assert await custody.export(ports, ana.id, ana.member_id, treasurer) == Refused("co_op_account")
    assert await offered(world) == []


async def test_a_members_co_op_account_or_its_key_is_refused(world):
    ana, bob = await world.member("ana"), await world.member("bob")
    bobs, anas_key = to_checksum_address("0x" + "b0" * 20), to_checksum_address("0x" + "a1" * 20)
    async with world.ports.uow() as session:
        session.add(SmartAccount(member_id=bob.member_id, address=bobs, signer="0x" + "b1" * 20))
        session.add(SmartAccount(member_id=ana.member_id, address=account(ana.member_id), signer=anas_key.lower()))
    assert await custody.export(world.ports, ana.id, ana.member_id, bobs) == Refused("member_account")
    assert await custody.export(world.ports, ana.id, ana.member_id, anas_key) == Refused("own_account")
    assert await offered(world) == []


async def test_the_hand_over_is_offered_for_the_members_wallet(world):
    ana = await world.member()
    result = await custody.export(world.ports, ana.id, ana.member_id, f" {WALLET} ")
    assert result == Offered(result.token, ExportTerms(WALLET, "d359"))
    [offer] = await offered(world)
    assert (offer.kind, offer.params) == ("export", {"intent": {"new_signer": WALLET}, "confirm_with": "d359"})
    assert await custody.exported(world.ports.uow, ana.member_id) is False  # only once the chain has done it


async def export_intents(world) -> list[str]:
    async with world.ports.uow.read() as session:
        return [i.idempotency_key for i in (await session.execute(select(Intent))).scalars()]


async def test_only_the_addresss_last_characters_typed_confirm_it_once(world):
    ana = await world.member()
    token = (await custody.export(world.ports, ana.id, ana.member_id, WALLET)).token

    async def typed(text: str) -> Answer | None:
        return await offers.typed(world.ports.uow, world.clock, TTL, ana.id, text, False)

    # A press alone (a confirm button's data, sent by hand) never confirms it.
    assert await offers.answer(world.ports.uow, world.clock, TTL, token, ana.id, True, False) == Answer.MISTYPED
    assert await typed("d358") == Answer.MISTYPED  # the offer stays open
    assert await export_intents(world) == []
    assert await typed(" D359 ") == Answer.CONFIRMED
    assert await export_intents(world) == [token]
    assert await typed("d359") is None  # nothing waits any more: the word is read as usual


async def test_after_the_offer_expired_its_characters_say_so_and_other_words_are_read_as_usual(world):
    ana = await world.member()
    await custody.export(world.ports, ana.id, ana.member_id, WALLET)
    world.clock.at += TTL + 1
    assert await offers.typed(world.ports.uow, world.clock, TTL, ana.id, "balance", False) is None
    assert await offers.typed(world.ports.uow, world.clock, TTL, ana.id, "d359", False) == Answer.EXPIRED
    assert await export_intents(world) == []


async def test_a_cancelled_hand_over_waits_for_nothing(world):
    ana = await world.member()
    token = (await custody.export(world.ports, ana.id, ana.member_id, WALLET)).token
    assert await offers.answer(world.ports.uow, world.clock, TTL, token, ana.id, False, False) == Answer.CANCELLED
    assert await offers.typed(world.ports.uow, world.clock, TTL, ana.id, "d359", False) is None
