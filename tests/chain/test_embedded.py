"""The embedded chain keeps its state in the data dir: what members did, and the logs of old blocks,
survive a stop and start; the co-op is deployed once and checked on every later start."""
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_utils import keccak

from chain.deploy import ManifestMismatch
from chain.errors import ChainError
from chain.devchain import _free_port
from chain.embedded import FUNDING_WEI, KEYS_FILE, MANIFEST_FILE, STATE_FILE, _alive, start_embedded
from chain.transact import send
from tests.conftest import DAY, FUSD, TEST_PARAMS


def _deposit_and_order(embedded) -> dict:
    """A registered member with a deposit, and an open order; returns what should survive a restart."""
    c, keys = embedded.contracts, embedded.keys
    member = embedded.new_account(ether=1)
    send(embedded.w3, c.registry.functions.addMember(member.address, keccak(text="resident-1")), keys.registrar)
    deposit = send(embedded.w3, c.food_usd.functions.recordDeposit(member.address, 40 * FUSD, keccak(text="cash-1")),
                   keys.treasurer)
    supplier = embedded.new_account(ether=0)
    send(embedded.w3, c.group_buy.functions.createOrder(
        supplier.address, keccak(text="lettuce"), 2 * FUSD, 20, 10, 5, 1, embedded.now() + 3 * DAY), keys.treasurer)
    return {"member": member.address, "deposit_block": deposit["blockNumber"],
            "deposit_block_hash": embedded.w3.eth.get_block(deposit["blockNumber"])["hash"],
            "orders": c.group_buy.functions.orderCount().call()}


def _assert_survived(embedded, before: dict, historical: bool = False) -> None:
    c, w3 = embedded.contracts, embedded.w3
    assert c.food_usd.functions.balanceOf(before["member"]).call() == 40 * FUSD
    assert c.registry.functions.isMember(before["member"]).call()
    assert c.group_buy.functions.orderCount().call() == before["orders"] == 1
    block = before["deposit_block"]
    assert w3.eth.get_block(block)["hash"] == before["deposit_block_hash"]
    logs = c.food_usd.events.DepositRecorded.get_logs(from_block=block, to_block=block)
    assert [(e.args.member, e.args.amount) for e in logs] == [(before["member"], 40 * FUSD)]
    if historical:  # state at a block before the restart: only with --preserve-historical-states
        assert c.food_usd.functions.balanceOf(before["member"]).call(block_identifier=block - 1) == 0


def test_restart_keeps_deposits_orders_and_old_logs(tmp_path: Path):
    # No periodic dump within the test: what survives was dumped on stop (SIGTERM).
    options = {"params": TEST_PARAMS, "state_interval": 3600, "preserve_historical_states": True,
               "port": _free_port()}  # the same port both times: the first node must be gone
    embedded = start_embedded(tmp_path, **options)
    try:
        assert embedded.deployed_now
        addresses = {k: getattr(embedded.contracts, k).address for k in ("registry", "food_usd", "group_buy")}
        before = _deposit_and_order(embedded)
    finally:
        embedded.close()

    again = start_embedded(tmp_path, **options)
    try:
        assert not again.deployed_now
        assert again.deployer.address == embedded.deployer.address
        assert [a.address for a in (*again.keys.accounts(), again.guardian)] == \
            [a.address for a in (*embedded.keys.accounts(), embedded.guardian)]  # the same keys from the data dir
        assert {k: getattr(again.contracts, k).address for k in addresses} == addresses
        _assert_survived(again, before, historical=True)
        # and the chain goes on from there
        send(again.w3, again.contracts.food_usd.functions.recordDeposit(before["member"], FUSD, keccak(text="cash-2")),
             again.keys.treasurer)
        assert again.w3.eth.block_number > before["deposit_block"]
    finally:
        again.close()


def test_each_role_gets_its_own_funded_account_holding_only_its_rights(tmp_path: Path):
    embedded = start_embedded(tmp_path, params=TEST_PARAMS)
    try:
        c, keys, w3 = embedded.contracts, embedded.keys, embedded.w3
        accounts = {"registrar": keys.registrar, "certifier": keys.certifier, "treasurer": keys.treasurer,
                    "gas_payer": keys.gas_payer, "guardian": embedded.guardian, "deployer": embedded.deployer}
        assert len({a.address for a in accounts.values()}) == len(accounts)
        assert all(w3.eth.get_balance(a.address) >= FUNDING_WEI // 2 for a in accounts.values())  # each pays its gas
        rights = {(c.registry, "REGISTRAR_ROLE"): "registrar", (c.gro, "CERTIFIER_ROLE"): "certifier",
                  (c.food_usd, "MINTER_ROLE"): "treasurer", (c.food_usd, "BURNER_ROLE"): "treasurer",
                  (c.food_usd, "PAUSER_ROLE"): "treasurer", (c.group_buy, "ORDER_MANAGER_ROLE"): "treasurer"}
        for (contract, role), holder in rights.items():
            value = getattr(contract.functions, role)().call()
            held = {who for who, a in accounts.items() if contract.functions.hasRole(value, a.address).call()}
            assert held == {holder}, role
    finally:
        embedded.close()


def test_a_data_dir_deployed_with_one_operator_key_is_refused_with_what_to_do(tmp_path: Path):
    (tmp_path / KEYS_FILE).write_text('{"deployer": "0x%s", "operator": "0x%s"}' % ("11" * 32, "22" * 32))
    with pytest.raises(ChainError, match="one operator key for every role.*remove the data dir"):
        start_embedded(tmp_path, params=TEST_PARAMS)


def test_periodic_dump_keeps_state_a_crash_would_lose(tmp_path: Path):
    """What is in the data dir while the node runs (after one state interval) is enough to restart from:
    a copy of it taken without stopping the node stands for the data dir after a crash."""
    live, copy = tmp_path / "live", tmp_path / "after-crash"
    embedded = start_embedded(live, params=TEST_PARAMS, state_interval=1)
    try:
        before = _deposit_and_order(embedded)
        time.sleep(2.5)
        shutil.copytree(live, copy)
    finally:
        embedded.close()
    restarted = start_embedded(copy, params=TEST_PARAMS)
    try:
        _assert_survived(restarted, before)
    finally:
        restarted.close()


def test_start_on_another_chain_id_is_refused(tmp_path: Path):
    start_embedded(tmp_path, params=TEST_PARAMS).close()
    assert (tmp_path / STATE_FILE).exists() and (tmp_path / MANIFEST_FILE).exists()
    with pytest.raises(ManifestMismatch, match="chain id"):
        start_embedded(tmp_path, chain_id=4242)


def test_a_node_left_running_by_a_killed_process_is_stopped_before_a_restart(tmp_path: Path):
    """If `coop` is killed, its anvil lives on and would keep dumping its older state over the file the next
    node uses; the next start stops it first (after it dumped what it had), and nothing is lost."""
    options = {"params": TEST_PARAMS, "state_interval": 1}
    left = start_embedded(tmp_path, **options)  # never closed here: the process that started it "died"
    before = _deposit_and_order(left)
    again = start_embedded(tmp_path, **options)
    try:
        assert not _alive(left.chain.pid)
        _assert_survived(again, before)
        send(again.w3, again.contracts.food_usd.functions.recordDeposit(before["member"], FUSD, keccak(text="cash-3")),
             again.keys.treasurer)
        time.sleep(2.5)  # a stale node would have dumped over the state file by now
        assert again.contracts.food_usd.functions.balanceOf(before["member"]).call() == 41 * FUSD
    finally:
        again.close()
        left.close()
    revived = start_embedded(tmp_path, **options)
    try:
        assert revived.contracts.food_usd.functions.balanceOf(before["member"]).call() == 41 * FUSD
    finally:
        revived.close()


_STARTS_A_NODE = """import sys, time
from chain.devchain import start_anvil
print(start_anvil().pid, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_a_node_stops_when_the_process_that_started_it_is_killed_outright():
    """A console killed with SIGKILL (as a test's kill does) leaves no anvil running."""
    starter = subprocess.Popen([sys.executable, "-c", _STARTS_A_NODE], stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parents[2])
    node = int(starter.stdout.readline())
    starter.kill()
    starter.wait()
    deadline = time.monotonic() + 10
    while _running(node):
        assert time.monotonic() < deadline, f"anvil {node} outlived the process that started it"
        time.sleep(0.1)


def _running(pid: int) -> bool:
    """Alive and not a zombie (here nobody may reap an orphan)."""
    try:
        return "\tZ" not in Path(f"/proc/{pid}/status").read_text().split("\n")[1]
    except FileNotFoundError:
        return False
