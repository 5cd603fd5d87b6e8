"""The event indexer on anvil: history rows per event, confirmation depth, restarts and real reorgs."""
import asyncio

import pytest
from eth_utils import keccak
from sqlalchemy import func, select

from chain.db import Cursor, HistoryEvent, SeenBlock, create_engine, sessionmaker
from chain.indexer import Indexer, ReorgTooDeep, RolledBack, history
from tests.conftest import DAY, FUSD, GRO, WEEK
from tests.contracts.governance import end_voting, lock_gro, propose, start_voting


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url)
    yield sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def coop(anvil_coop):
    """The anvil co-op with three members registered and given ETH for gas."""
    registry = anvil_coop.contracts.registry.functions
    for member in anvil_coop.members[:3]:
        anvil_coop.w3.provider.make_request("anvil_setBalance", [member.address, hex(10**20)])
        anvil_coop.tx(registry.addMember(member.address, keccak(text=f"resident-{member.address}")),
                      anvil_coop.registrar)
    return anvil_coop


def indexer(coop, sessions, **kwargs) -> Indexer:
    kwargs.setdefault("start_block", coop.w3.eth.block_number + 1)  # what this test does, not the deployment
    return Indexer(coop.w3, coop.contracts, sessions, **kwargs)


def open_order(coop, target=4, min_units=2, case_size=1, deadline_in=DAY) -> int:
    group_buy = coop.contracts.group_buy.functions
    coop.tx(group_buy.createOrder(coop.supplier.address, keccak(text="rice"), FUSD, target, min_units, target,
                                  case_size, coop.chain.now() + deadline_in), coop.treasurer)
    return group_buy.orderCount().call()


def join(coop, member, order_id, units):
    coop.tx(coop.contracts.food_usd.functions.approve(coop.contracts.group_buy.address, 100 * FUSD), member)
    return coop.tx(coop.contracts.group_buy.functions.join(order_id, units), member)


async def rows(sessions) -> list[HistoryEvent]:
    async with sessions() as session:
        return list((await session.scalars(
            select(HistoryEvent).order_by(HistoryEvent.block_number, HistoryEvent.log_index))).all())


def kinds(events) -> list[tuple[str, str | None]]:
    return [(e.event, e.account) for e in events]


async def test_every_history_event_names_its_member_and_arguments(coop, sessions):
    a, b, c = coop.members[:3]
    watcher = indexer(coop, sessions, start_block=0)  # from genesis: the members' registrations too
    contracts, functions = coop.contracts, {name: getattr(coop.contracts, name).functions
                                            for name in ("food_usd", "group_buy", "gro", "escrow", "governor")}
    coop.deposit(a, 10 * FUSD)
    coop.deposit(b, 10 * FUSD)
    coop.tx(functions["food_usd"].approve(coop.treasurer.address, FUSD), a)
    coop.tx(functions["food_usd"].recordWithdrawal(a.address, FUSD, keccak(text="cash-out-1")), coop.treasurer)
    executed = open_order(coop)
    join(coop, a, executed, 2)
    coop.tx(functions["group_buy"].setTolerance(executed, 1), a)
    join(coop, b, executed, 2)  # reaches the target: executed at once
    coop.tx(functions["group_buy"].claim(executed, a.address), b)  # anyone may claim for a member
    cancelled = open_order(coop)
    coop.tx(functions["group_buy"].cancel(cancelled), coop.treasurer)
    refunded = open_order(coop, deadline_in=3600)
    join(coop, b, refunded, 1)
    coop.chain.advance(3601)
    coop.tx(functions["group_buy"].finalize(refunded, []), c)
    coop.certify(c, 500)  # 5 GRO
    coop.tx(functions["gro"].redeem(GRO, b"\x01" * 32, keccak(text="tomatoes")), c)
    coop.tx(functions["gro"].approve(contracts.escrow.address, 4 * GRO), c)
    coop.tx(functions["escrow"].createLock(4 * GRO, coop.chain.now() + 2 * WEEK), c)
    lock_gro(coop, a, 30 * GRO)
    lock_gro(coop, b, 30 * GRO)
    gro = contracts.gro
    proposal_id, proposal = propose(coop, a, [(gro, gro.functions.setRatePerKg(20 * GRO))])
    dropped_id, dropped = propose(coop, b, [(gro, gro.functions.setRatePerKg(30 * GRO))], "Another rate")
    coop.tx(functions["governor"].cancel(*dropped), b)
    start_voting(coop)
    coop.tx(functions["governor"].castVote(proposal_id, 1), a)
    coop.tx(functions["governor"].castVoteWithReasonAndParams(proposal_id, 1, "yes", (3).to_bytes(32, "big")), b)
    end_voting(coop)
    coop.tx(functions["governor"].queue(*proposal), c)
    coop.chain.advance(DAY + 1)
    coop.tx(functions["governor"].execute(*proposal), c)
    coop.chain.advance(3 * WEEK)
    coop.tx(functions["escrow"].withdraw(), c)
    coop.tx(contracts.registry.functions.removeMember(c.address), coop.registrar)

    applied = await watcher.poll_once()
    events = await rows(sessions)
    assert applied == len(events)
    got = kinds(events)
    A, B, C = a.address, b.address, c.address
    assert [k for k in got if k[0] == "MemberAdded"] == [("MemberAdded", A), ("MemberAdded", B), ("MemberAdded", C)]
    assert got[3:] == [
        ("DepositRecorded", A), ("DepositRecorded", B), ("WithdrawalRecorded", A),
        ("OrderCreated", None), ("Joined", A), ("ToleranceChanged", A), ("Joined", B), ("OrderExecuted", None),
        ("Claimed", A), ("OrderCreated", None), ("OrderCancelled", None), ("OrderCreated", None), ("Joined", B),
        ("OrderRefunded", None), ("BatchCertified", C), ("Redeemed", C), ("Locked", C),
        ("BatchCertified", A), ("Locked", A), ("BatchCertified", B), ("Locked", B),
        ("ProposalCreated", A), ("ProposalCreated", B), ("ProposalCanceled", None),
        ("VoteCast", A), ("VoteCastWithParams", B), ("ProposalQueued", None), ("ProposalExecuted", None),
        ("Withdrawn", C), ("MemberRemoved", C),
    ]
    by_kind = {}
    for e in events:
        by_kind.setdefault(e.event, []).append(e)
    assert by_kind["DepositRecorded"][0].contract == "food_usd"
    assert by_kind["DepositRecorded"][0].args["amount"] == str(10 * FUSD)
    assert by_kind["DepositRecorded"][0].args["ref"].startswith("0x") and len(by_kind["DepositRecorded"][0].args["ref"]) == 66
    assert by_kind["Joined"][0].args == {"orderId": str(executed), "member": A, "seq": "0", "units": "2", "paid": str(2 * FUSD)}
    assert by_kind["ToleranceChanged"][0].args["paid"] == str(FUSD)
    assert by_kind["OrderExecuted"][0].args == {"orderId": str(executed), "boughtUnits": "4", "paidToSupplier": str(4 * FUSD)}
    assert by_kind["Claimed"][0].args == {"orderId": str(executed), "member": A, "allocatedUnits": "2", "refund": str(FUSD)}
    assert by_kind["OrderCancelled"][0].args == {"orderId": str(cancelled)}
    assert by_kind["OrderRefunded"][0].args == {"orderId": str(refunded)}
    assert by_kind["BatchCertified"][0].args["grams"] == "500" and by_kind["BatchCertified"][0].args["grade"] == 1
    assert by_kind["Redeemed"][0].args == {"holder": C, "redemptionId": "0x" + "01" * 32, "amount": str(GRO),
                                           "item": "0x" + keccak(text="tomatoes").hex()}
    assert by_kind["Locked"][0].args["lockedAmount"] == str(4 * GRO)
    created = by_kind["ProposalCreated"][0].args
    assert created["proposalId"] == str(proposal_id) and created["targets"] == [gro.address]
    assert created["calldatas"][0].startswith("0x") and created["values"] == ["0"]
    assert by_kind["ProposalCanceled"][0].args == {"proposalId": str(dropped_id)}
    assert by_kind["VoteCast"][0].args["support"] == 1 and by_kind["VoteCast"][0].args["proposalId"] == str(proposal_id)
    assert by_kind["VoteCastWithParams"][0].args["weight"] == "3"
    assert by_kind["VoteCastWithParams"][0].args["params"] == "0x" + (3).to_bytes(32, "big").hex()
    assert by_kind["Withdrawn"][0].contract == "escrow" and by_kind["Withdrawn"][0].args["amount"] == str(4 * GRO)
    assert all(e.timestamp > 0 and e.tx_hash.startswith("0x") for e in events)
    async with sessions() as session:
        mine = await history(session, a.address.lower(), limit=3)
    assert kinds(mine) == [("VoteCast", A), ("ProposalCreated", A), ("Locked", A)]


async def test_confirmation_depth_holds_events_back_until_deep_enough(coop, sessions):
    watcher = indexer(coop, sessions, confirmations=2)
    coop.deposit(coop.members[0], FUSD)
    assert await watcher.poll_once() == 0
    coop.chain.advance(1)
    assert await watcher.poll_once() == 0
    coop.chain.advance(1)
    assert await watcher.poll_once() == 1
    async with sessions() as session:
        cursor = await session.get(Cursor, "history")
    assert cursor.block_number == coop.w3.eth.block_number - 2


async def test_restart_resumes_from_the_cursor_without_duplicates(coop, sessions):
    a, b = coop.members[:2]
    start = coop.w3.eth.block_number + 1
    first = indexer(coop, sessions, start_block=start, batch_blocks=2)
    coop.deposit(a, FUSD)
    coop.deposit(b, FUSD)
    coop.deposit(a, 2 * FUSD)
    assert await first.poll_once() == 3
    coop.deposit(b, 3 * FUSD)
    for _ in range(3):
        coop.chain.advance(1)  # empty blocks: more batches
    coop.deposit(a, 4 * FUSD)
    restarted = indexer(coop, sessions, start_block=start, batch_blocks=2)
    assert await restarted.poll_once() == 2
    assert await restarted.poll_once() == 0
    events = await rows(sessions)
    assert [e.args["amount"] for e in events] == [str(n * FUSD) for n in (1, 1, 2, 3, 4)]
    async with sessions() as session:
        cursor = await session.get(Cursor, "history")
        blocks = await session.scalar(select(func.count()).select_from(SeenBlock))
    assert cursor.block_number == coop.w3.eth.block_number
    assert blocks == coop.w3.eth.block_number - start + 1  # all within the reorg window


async def test_reorg_rolls_back_history_and_reapplies_it_when_mined_again(coop, sessions):
    a = coop.members[0]
    watcher = indexer(coop, sessions)
    notices = []
    watcher.subscribe(notices.append)
    coop.deposit(a, 10 * FUSD)
    order_id = open_order(coop)
    assert await watcher.poll_once() == 2
    fork_point = coop.chain.snapshot()
    join(coop, a, order_id, 1)
    assert await watcher.poll_once() == 1
    (joined,) = [e for e in await rows(sessions) if e.event == "Joined"]
    assert notices[-1].id == joined.id

    coop.chain.revert(fork_point)  # the join's blocks are gone ...
    coop.chain.advance(7)  # ... replaced by an empty block at another time: same height, another hash
    coop.chain.advance(7)
    join(coop, a, order_id, 1)  # ... and the join is mined again, higher up
    notices.clear()
    assert await watcher.poll_once() == 1

    (rolled_back, reapplied) = notices
    assert isinstance(rolled_back, RolledBack) and rolled_back.event.tx_hash == joined.tx_hash
    assert reapplied.event == "Joined" and reapplied.block_number > joined.block_number
    events = await rows(sessions)
    assert kinds(events) == [("DepositRecorded", a.address), ("OrderCreated", None), ("Joined", a.address)]
    assert events[-1].block_hash == coop.w3.to_hex(coop.w3.eth.get_block(events[-1].block_number)["hash"])
    async with sessions() as session:
        cursor = await session.get(Cursor, "history")
        stored = (await session.scalars(select(SeenBlock))).all()
    assert cursor.block_hash == coop.w3.to_hex(coop.w3.eth.get_block("latest")["hash"])
    assert all(coop.w3.to_hex(coop.w3.eth.get_block(s.number)["hash"]) == s.hash for s in stored)


async def test_reorg_of_the_first_block_applied_starts_again(coop, sessions):
    a = coop.members[0]
    watcher = indexer(coop, sessions)
    fork_point = coop.chain.snapshot()
    coop.deposit(a, FUSD)
    assert await watcher.poll_once() == 1
    coop.chain.revert(fork_point)
    assert await watcher.poll_once() == 0  # the chain is shorter now: the deposit is rolled back
    assert await rows(sessions) == []
    coop.chain.advance(3)
    coop.deposit(a, 2 * FUSD)
    assert await watcher.poll_once() == 1
    assert [e.args["amount"] for e in await rows(sessions)] == [str(2 * FUSD)]


async def test_anvil_reorg_removes_a_deposit_the_new_chain_lacks(coop, sessions):
    a, b = coop.members[:2]
    watcher = indexer(coop, sessions)
    notices = []
    watcher.subscribe(notices.append)
    coop.deposit(a, FUSD)
    coop.chain.advance(1)
    coop.deposit(b, 2 * FUSD)
    assert await watcher.poll_once() == 2
    height = coop.w3.eth.block_number
    coop.w3.provider.make_request("anvil_reorg", [1, []])  # the newest block, replaced by an empty one
    assert coop.w3.eth.block_number == height
    assert await watcher.poll_once() == 0
    assert isinstance(notices[-1], RolledBack) and notices[-1].event.account == b.address
    assert kinds(await rows(sessions)) == [("DepositRecorded", a.address)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_reorg_below_the_remembered_blocks_is_refused(coop, sessions):
    watcher = indexer(coop, sessions, reorg_window=1)  # remembers only the newest block applied
    fork_point = coop.chain.snapshot()
    coop.deposit(coop.members[0], FUSD)
    coop.chain.advance(1)
    assert await watcher.poll_once() == 1
    coop.chain.revert(fork_point)
    coop.chain.advance(5)
    coop.chain.advance(5)
    with pytest.raises(ReorgTooDeep):
        await watcher.poll_once()
    assert len(await rows(sessions)) == 1  # left as it was, for an operator to look at


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_run_notifies_subscribers_until_stopped(coop, sessions):
    watcher = indexer(coop, sessions)
    heard = asyncio.Queue()

    async def on_event(notice):
        await heard.put(notice)

    def broken(_notice):
        raise RuntimeError("a subscriber's bug")

    watcher.subscribe(broken)
    watcher.subscribe(on_event)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop, interval=0.05))
    await asyncio.to_thread(coop.deposit, coop.members[1], 5 * FUSD)
    notice = await asyncio.wait_for(heard.get(), 10)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert (notice.event, notice.account, notice.args["amount"]) == ("DepositRecorded", coop.members[1].address, str(5 * FUSD))
