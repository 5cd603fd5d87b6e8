"""Joining with `/start CODE` as a use case (core/onboarding.py): every refusal, the new resident written whole or
not at all, a /link code making one more channel of a resident, and the throttle on wrong codes. The chat's
paths are in tests/bot/test_onboarding.py and tests/bot/test_identity.py."""
from sqlalchemy import select

from bot.store import Invite, Member
from chain.db import Intent, SmartAccount
from core import onboarding
from core.onboarding import InviteAttempts, Newcomer, Started
from core.results import Refused
from tests.core.conftest import account

EVA = Newcomer("telegram", "555", "555", alias="eva")


async def start(world, code: str | None = "GOODCODE", newcomer: Newcomer = EVA, admin: bool = False):
    return await onboarding.start(world.ports, world.accounts, world.attempts, newcomer, code, admin)


async def rows(world, table) -> list:
    async with world.ports.uow.read() as session:
        return list((await session.execute(select(table))).scalars())


async def test_an_invite_makes_a_new_resident_with_account_and_registration_together(world):
    await world.invite("GOODCODE")
    started = await start(world)
    assert isinstance(started, Started) and not started.linked
    member = started.member
    assert (member.channel, member.handle, member.chat_id, member.alias, member.invite_code) == (
        "telegram", "555", "555", "eva", "GOODCODE")
    assert member.member_id.startswith("r_") and world.accounts.made == [member.member_id]
    assert [(a.member_id, a.address) for a in await rows(world, SmartAccount)] == [
        (member.member_id, account(member.member_id))]
    assert [(i.kind, i.member_id, i.params, i.idempotency_key) for i in await rows(world, Intent)] == [
        ("register", member.member_id, {"resident_id": member.member_id}, f"register:{member.member_id}")]
    [invite] = await rows(world, Invite)
    assert invite.used_by == member.id


async def test_a_member_starting_again_is_welcomed_back_and_nothing_is_used(world):
    await world.member("555", channel="telegram")
    await world.invite("GOODCODE")
    assert await start(world) == Refused("already_member")
    assert [i.used_by for i in await rows(world, Invite)] == [None]


async def test_two_starts_at_once_make_one_member_and_welcome_the_second_back(world):
    await world.invite("GOODCODE")
    make, first = world.accounts.new, []

    async def the_other_press_writes_first(member_id: str) -> str:  # between this start's check and its write
        world.accounts.new = make
        first.append(await start(world))
        return await make(member_id)

    world.accounts.new = the_other_press_writes_first
    assert await start(world) == Refused("already_member")
    [member] = await rows(world, Member)
    assert isinstance(first[0], Started) and first[0].member.id == member.id
    assert [i.member_id for i in await rows(world, Intent)] == [member.member_id]  # registered once
    assert [a.member_id for a in await rows(world, SmartAccount)] == [member.member_id]


async def test_without_a_code_only_an_admin_is_started(world):
    assert await start(world, code=None) == Refused("invite_needed")
    started = await start(world, code=None, admin=True)
    assert started.member.invite_code == "admin" and len(await rows(world, Intent)) == 1  # registered too


async def test_an_unknown_a_used_and_an_expired_code_are_refused_alike(world):
    await world.invite("USEDCODE")
    await start(world, "USEDCODE")
    await world.invite("OLDCODE", days=1)
    world.clock.at += 86400 + 1
    for code in ("NOSUCHCODE", "USEDCODE", "OLDCODE"):
        assert await start(world, code, Newcomer("console", f"guest-{code}", "x")) == Refused("invalid_invite")
    assert len(await rows(world, Member)) == 1


async def test_a_failed_write_keeps_nothing_and_the_same_invite_works_again(world):
    await world.invite("GOODCODE")
    world.accounts.failing = True
    try:
        await start(world)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the failed write was not raised")
    assert (await rows(world, Member), await rows(world, Intent), await rows(world, SmartAccount)) == ([], [], [])
    world.accounts.failing = False
    assert isinstance(await start(world), Started)


async def test_a_link_code_makes_this_channel_the_same_resident_with_no_new_account(world):
    ana = await world.member("ana")
    await world.invite("LINKCODE", for_member_id=ana.member_id)
    started = await start(world, "LINKCODE")
    assert started.linked and started.member.member_id == ana.member_id
    assert world.accounts.made == [] and await rows(world, Intent) == []


async def test_a_sender_trying_wrong_codes_is_made_to_wait(world):
    world.attempts = InviteAttempts(clock=world.clock.now, per_sender=(2, 300.0))
    guesser = Newcomer("console", "guesser", "guesser")
    for _ in range(2):
        assert await start(world, "WRONG", guesser) == Refused("invalid_invite")
    assert await start(world, "WRONG", guesser) == Refused("throttled", {"wait": 300.0})
    world.clock.at += 300  # one more try a wait later
    assert await start(world, "WRONG", guesser) == Refused("invalid_invite")


async def test_many_wrong_codes_make_everyone_wait_and_good_codes_are_not_counted(world):
    world.attempts = InviteAttempts(clock=world.clock.now, overall=(3, 30.0))
    await world.invite("GOODCODE")
    await world.invite("IVYSCODE")
    assert isinstance(await start(world, "GOODCODE"), Started)  # its attempt is given back
    for guesser in ("g1", "g2", "g3"):
        assert await start(world, "WRONG", Newcomer("console", guesser, guesser)) == Refused("invalid_invite")
    ivy = Newcomer("console", "ivy", "ivy")
    assert await start(world, "IVYSCODE", ivy) == Refused("throttled", {"wait": 30.0})  # a good code waits too
    world.clock.at += 30
    assert isinstance(await start(world, "IVYSCODE", ivy), Started)
