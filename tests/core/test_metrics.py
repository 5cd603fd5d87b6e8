"""The pilot's figures (core/metrics.py), each counting what it says: residents once whatever their channels, and
"joined with an invite code" only those who did (issue 14 §5: it counted every resident who was not an admin)."""
from datetime import timedelta

from bot.store import Admin, Feedback, Invite, Member, Timing
from chain.db import HistoryEvent, SmartAccount
from core.metrics import pilot_metrics
from core.ports import utc
from tests.core.conftest import account

ADMINS = frozenset({"console:boss"})  # as the settings name them


async def invited(world, member: Member, for_member_id: str | None = None) -> None:
    async with world.ports.uow() as session:
        session.add(Invite(code=member.invite_code, created_by="console:boss", for_member_id=for_member_id,
                           expires_at=utc(world.clock), used_by=member.id))


async def test_admins_started_on_first_contact_did_not_join_with_an_invite(world):
    await world.member("boss", invite_code="admin")
    await world.member("old", invite_code="admin")  # started as an admin, no longer one
    await invited(world, await world.member("ana", invite_code="ANACODE"))
    m = await pilot_metrics(world.ports, ADMINS)
    assert (m.members, m.admins, m.joined_by_invite) == (3, 1, 1)


async def test_an_admin_who_came_with_an_invite_joined_with_it(world):
    await world.member("boss", invite_code="admin")
    await invited(world, await world.member("luz", invite_code="LUZCODE"))
    async with world.ports.uow() as session:
        session.add(Admin(channel="console", handle="luz"))  # an admin added in the database
    m = await pilot_metrics(world.ports, ADMINS)
    assert (m.members, m.admins, m.joined_by_invite) == (2, 2, 1)


async def test_each_figure_counts_what_it_says(world):
    now = utc(world.clock)
    boss = await world.member("boss", invite_code="admin")
    ana = await world.member("ana", invite_code="ANACODE")
    await invited(world, ana)
    # Ana's second channel, linked with a /link code: still one resident, not a second invite.
    await invited(world, await world.member("ana-phone", channel="telegram", member_id=ana.member_id,
                                            invite_code="LINKCODE"), for_member_id=ana.member_id)
    raj = await world.member("raj", invite_code="RAJCODE")
    await invited(world, raj)
    async with world.ports.uow() as session:
        session.add_all([Invite(code="OPEN", created_by="console:boss", expires_at=now + timedelta(days=1)),
                         Invite(code="EXPIRED", created_by="console:boss", expires_at=now - timedelta(seconds=1))])
        for member, seen in ((boss, now), (ana, now - timedelta(days=6)), (raj, now - timedelta(days=8))):
            (await session.get(Member, member.id)).last_seen_at = seen
        session.add(SmartAccount(member_id=ana.member_id, address=account(ana.member_id), signer="0x" + "ee" * 20))
        session.add_all(HistoryEvent(block_number=1, block_hash="0x" + "cd" * 32, timestamp=0, tx_hash="0x" + "ab" * 32,
                                     log_index=i, contract="group_buy", event=event, account=account(ana.member_id),
                                     args={}) for i, event in enumerate(("Joined", "VoteCast")))
        session.add_all(Timing(intent_id=i, milliseconds=ms) for i, ms in enumerate((900, 1200, None, 3000)))
        session.add_all(Feedback(member=ana.id, score=score) for score in (4, 5))
    m = await pilot_metrics(world.ports, ADMINS)
    assert (m.members, m.admins, m.joined_by_invite) == (3, 1, 2)
    # /invite codes only (not /link): ANACODE and RAJCODE used (expiring now), OPEN, EXPIRED.
    assert (m.invites, m.invites_used, m.invites_open, m.invites_expired) == (4, 2, 1, 1)
    assert (m.active, m.participating) == (2, 1)  # boss and ana wrote in the last 7 days; ana joined and voted
    assert (m.timed, m.median_ms, m.p95_ms) == (3, 1200, 3000)  # the one still under way is not timed
    assert (m.satisfaction, m.feedback) == (4.5, 2)


async def test_with_nothing_done_yet_there_are_no_times_or_scores(world):
    m = await pilot_metrics(world.ports, ADMINS)
    assert (m.members, m.timed, m.median_ms, m.p95_ms, m.satisfaction, m.feedback) == (0, 0, None, None, None, 0)
