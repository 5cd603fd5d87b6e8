"""Handing an account to the member's own wallet, as a use case (core/custody.py): every address that could
lose the account refused, and the hand-over offered. The chat's path is in tests/bot/test_governance.py."""
from eth_utils import to_checksum_address
from sqlalchemy import select

from bot.store import PendingAction
from core import custody
from core.custody import ExportTerms
from core.results import Offered, Refused
from tests.core.conftest import account

WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"  # EIP-55's own checksummed example


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


async def test_the_hand_over_is_offered_for_the_members_wallet(world):
    ana = await world.member()
    result = await custody.export(world.ports, ana.id, ana.member_id, f" {WALLET} ")
    assert result == Offered(result.token, ExportTerms(WALLET))
    [offer] = await offered(world)
    assert (offer.kind, offer.params) == ("export", {"intent": {"new_signer": WALLET}})
    assert await custody.exported(world.ports.uow, ana.member_id) is False  # only once the chain has done it
