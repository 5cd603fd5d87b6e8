"""MEMBER as typed: a name two residents go by shows their identities to an admin only; a resident's /send is
asked again without learning anyone's number."""
from types import SimpleNamespace

from handlers.base import Context, Inbound
from handlers.residents import find_member
from tests.core.conftest import world  # noqa: F401 (the fixture: the real tables in memory)


async def test_a_name_two_residents_go_by_shows_their_numbers_to_admins_only(world):
    await world.member("ana", channel="console", member_id="r_1")
    await world.member("ana", channel="whatsapp", member_id="r_2")
    services = SimpleNamespace(core=world.ports)
    for as_admin in (True, False):
        ctx = Context(services, Inbound("console", "bob", "/send ana 5"), member=None, lang="en", as_admin=as_admin)
        found, refusal = await find_member(ctx, "ana")
        assert found is None
        assert ("whatsapp" in refusal.text) == as_admin, refusal.text
