"""Deployment in named steps: it resumes after an interruption without deploying anything twice, and the
manifest it writes is checked against the chain (chain id, code at every address, proxies' implementations)."""
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak

from chain import DevChain, start_tester
from chain.transact import contract_at
from chain.artifacts import load_artifact
from chain.deploy import (CREATE2_PROXY, ENTRY_POINT_ADDRESS, IMPLEMENTATION_SLOT, DeploymentError,
                          ManifestMismatch, Roles, StepDone, deploy, load_manifest)
from tests.conftest import TEST_PARAMS

STEPS = 16
# Transactions a deployment sends: every step's but the EntryPoint's, which the chain already has at its
# canonical address (the session's co-op put it there, as the ERC-4337 team did on every public chain).
SENT = STEPS - 1
COOP = Path(sys.executable).parent / "coop"


@pytest.fixture(autouse=True)
def entry_point_on_chain(anvil_deployed) -> None:
    assert anvil_deployed.contracts.entry_point.address == ENTRY_POINT_ADDRESS


class Interrupted(Exception):
    pass


def _stop_after(k: int):
    def on_step(step: StepDone) -> None:
        if step.index == k:
            raise Interrupted(step.name)
    return on_step


def _roles(chain: DevChain) -> Roles:
    """Four fresh addresses: the registrar, certifier, treasurer and guardian."""
    return Roles(*(chain.new_account(ether=0).address for _ in range(4)))


def _nonce(chain: DevChain, account) -> int:
    return chain.w3.eth.get_transaction_count(account.address)


@pytest.fixture
def deployed_manifest(anvil: DevChain, tmp_path: Path) -> Path:
    deployer, roles = anvil.new_account(), _roles(anvil)
    path = tmp_path / "manifest.json"
    deploy(anvil.w3, deployer, roles, TEST_PARAMS, path)
    return path


def test_interrupted_deployment_resumes_without_deploying_twice(anvil: DevChain, tmp_path: Path):
    deployer, roles = anvil.new_account(), _roles(anvil)
    path = tmp_path / "manifest.json"
    with pytest.raises(Interrupted):
        deploy(anvil.w3, deployer, roles, TEST_PARAMS, path, _stop_after(5))
    first = json.loads(path.read_text())
    assert [s["name"] for s in first["steps"]][-1] == "MemberRegistry proxy" and not first["complete"]
    assert _nonce(anvil, deployer) == 4  # the EntryPoint reused, then four steps
    with pytest.raises(DeploymentError):  # not complete: nothing to load yet
        load_manifest(anvil.w3, path)

    seen: list[StepDone] = []
    system = deploy(anvil.w3, deployer, roles, TEST_PARAMS, path, seen.append)

    assert [s.resumed for s in seen] == [True] * 5 + [False] * (STEPS - 5)
    done = json.loads(path.read_text())
    assert done["steps"][:5] == first["steps"]
    assert _nonce(anvil, deployer) == SENT  # one transaction per step, none sent twice
    assert done["complete"] and done["contracts"]["registry"]["address"] == system.registry.address
    assert load_manifest(anvil.w3, path).group_buy.address == system.group_buy.address
    # a finished deployment re-run sends nothing
    deploy(anvil.w3, deployer, roles, TEST_PARAMS, path)
    assert _nonce(anvil, deployer) == SENT


def test_step_mined_but_not_recorded_is_recognised_by_the_nonce(anvil: DevChain, tmp_path: Path):
    deployer, roles = anvil.new_account(), _roles(anvil)
    path = tmp_path / "manifest.json"
    with pytest.raises(Interrupted):
        deploy(anvil.w3, deployer, roles, TEST_PARAMS, path, _stop_after(7))
    # As if the process died after step 7 was mined but before the manifest was written.
    manifest = json.loads(path.read_text())
    lost = manifest["steps"].pop()
    manifest["next_nonce"] -= 1
    path.write_text(json.dumps(manifest))

    system = deploy(anvil.w3, deployer, roles, TEST_PARAMS, path)

    recorded = json.loads(path.read_text())["steps"][6]
    assert recorded == lost
    assert system.food_usd.address == lost["address"]
    assert _nonce(anvil, deployer) == SENT


def test_a_chain_without_the_entry_point_gets_it_at_its_canonical_address(tmp_path: Path):
    """py-evm has neither the deterministic deployment proxy nor the EntryPoint: the deployment puts both there,
    the EntryPoint where bundlers look for v0.8, and binds the account factory to it."""
    chain = start_tester()
    deployer = chain.new_account()
    assert not chain.w3.eth.get_code(CREATE2_PROXY)
    path = tmp_path / "manifest.json"
    system = deploy(chain.w3, deployer, _roles(chain), TEST_PARAMS, path)
    assert system.entry_point.address == ENTRY_POINT_ADDRESS
    account = contract_at(chain.w3, "CoopAccount", system.account_factory.functions.implementation().call())
    assert account.functions.entryPoint().call() == ENTRY_POINT_ADDRESS
    recorded = json.loads(path.read_text())["steps"][0]
    assert recorded["address"] == ENTRY_POINT_ADDRESS and recorded["tx_hash"] is not None
    assert _nonce(chain, deployer) == STEPS + 1  # the proxy's sender funded, then one transaction per step
    load_manifest(chain.w3, path)


def test_resuming_with_other_parameters_is_refused(anvil: DevChain, tmp_path: Path):
    deployer, roles = anvil.new_account(), _roles(anvil)
    path = tmp_path / "manifest.json"
    with pytest.raises(Interrupted):
        deploy(anvil.w3, deployer, roles, TEST_PARAMS, path, _stop_after(2))
    with pytest.raises(DeploymentError, match="params"):
        deploy(anvil.w3, deployer, roles, type(TEST_PARAMS)(), path)
    with pytest.raises(DeploymentError, match="roles"):
        deploy(anvil.w3, deployer, _roles(anvil), TEST_PARAMS, path)


def test_the_guardian_chosen_at_deployment_may_cancel_proposals(anvil: DevChain, tmp_path: Path):
    deployer, board = anvil.new_account(), Account.create()
    roles = replace(_roles(anvil), guardian=board.address)
    path = tmp_path / "manifest.json"
    system = deploy(anvil.w3, deployer, roles, TEST_PARAMS, path)
    assert system.governor.functions.proposalGuardian().call() == board.address
    assert system.governor.functions.guardianWindow().call() == TEST_PARAMS.guardian_window
    assert json.loads(path.read_text())["roles"]["guardian"] == board.address


def test_manifest_refused_on_another_chain(anvil: DevChain, deployed_manifest: Path):
    manifest = json.loads(deployed_manifest.read_text())
    manifest["chain_id"] += 1
    deployed_manifest.write_text(json.dumps(manifest))
    with pytest.raises(ManifestMismatch, match="chain id"):
        load_manifest(anvil.w3, deployed_manifest)


def test_manifest_catches_other_code_at_an_address(anvil: DevChain, deployed_manifest: Path):
    escrow = json.loads(deployed_manifest.read_text())["contracts"]["escrow"]["address"]
    snapshot = anvil.snapshot()
    try:
        anvil.w3.provider.make_request("anvil_setCode", [escrow, load_artifact("GroupBuyV2").deployed_bytecode])
        with pytest.raises(ManifestMismatch, match="escrow"):
            load_manifest(anvil.w3, deployed_manifest)
    finally:
        anvil.revert(snapshot)
    load_manifest(anvil.w3, deployed_manifest)


def test_manifest_catches_code_changed_only_in_an_immutable(anvil: DevChain, deployed_manifest: Path):
    """The artifact comparison ignores immutables; the code hash recorded at deployment does not."""
    escrow = json.loads(deployed_manifest.read_text())["contracts"]["escrow"]["address"]
    code = bytearray(anvil.w3.eth.get_code(escrow))
    gro = bytes.fromhex(json.loads(deployed_manifest.read_text())["contracts"]["gro"]["address"][2:])
    at = code.find(gro)
    assert at > 0  # VotingEscrow keeps the GRO token's address as an immutable
    code[at:at + 20] = bytes(19) + b"\x01"
    snapshot = anvil.snapshot()
    try:
        anvil.w3.provider.make_request("anvil_setCode", [escrow, "0x" + code.hex()])
        with pytest.raises(ManifestMismatch, match="recorded at deployment"):
            load_manifest(anvil.w3, deployed_manifest)
    finally:
        anvil.revert(snapshot)


def test_manifest_catches_a_proxy_pointing_at_the_wrong_implementation(anvil: DevChain, deployed_manifest: Path):
    contracts = json.loads(deployed_manifest.read_text())["contracts"]
    wrong = contracts["food_usd"]["implementation"]["address"]
    snapshot = anvil.snapshot()
    try:
        anvil.w3.provider.make_request("anvil_setStorageAt", [
            contracts["registry"]["address"], hex(IMPLEMENTATION_SLOT), "0x" + bytes(12).hex() + wrong[2:].lower()])
        with pytest.raises(ManifestMismatch, match="registry implementation.*not MemberRegistry"):
            load_manifest(anvil.w3, deployed_manifest)
    finally:
        anvil.revert(snapshot)


def _coop_deploy(anvil: DevChain, key: str, manifest: Path, roles: Roles) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(COOP), "deploy", "--rpc-url", anvil.w3.provider.endpoint_uri, "--manifest", str(manifest),
         "--registrar", roles.registrar, "--certifier", roles.certifier, "--treasurer", roles.treasurer,
         "--guardian", roles.guardian, "--params", json.dumps({"voting_delay": 60, "timelock_delay": 3600})],
        # The settings give the governance delays; --params overrides them.
        env={**os.environ, "COOP_DEPLOYER_KEY": key, "COOP_VOTING_PERIOD": "2h", "COOP_VOTING_DELAY": "1d"},
        capture_output=True, text=True, timeout=120)


def test_coop_deploy_shows_each_step_and_resumes(anvil: DevChain, tmp_path: Path):
    key = keccak(text=f"cli-deployer-{tmp_path}")
    deployer = Account.from_key(key)
    funder = anvil.w3.eth.accounts[0]
    anvil.w3.eth.wait_for_transaction_receipt(
        anvil.w3.eth.send_transaction({"from": funder, "to": deployer.address, "value": 10**20}))
    roles = _roles(anvil)
    manifest = tmp_path / "deploy" / "manifest.json"

    result = _coop_deploy(anvil, key.hex(), manifest, roles)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"[1/{STEPS}] EntryPoint … {ENTRY_POINT_ADDRESS} already on this chain"
    assert lines[STEPS - 1].startswith(f"[{STEPS}/{STEPS}] Timelock: deployer renounces admin … block ")
    assert key.hex() not in result.stdout + result.stderr
    system = load_manifest(anvil.w3, manifest)
    assert system.governor.functions.votingDelay().call() == 60
    assert system.governor.functions.votingPeriod().call() == 2 * 3600
    assert json.loads(manifest.read_text())["roles"] == {
        "registrar": roles.registrar, "certifier": roles.certifier, "treasurer": roles.treasurer,
        "guardian": roles.guardian}
    holds = lambda contract, role, who: contract.functions.hasRole(  # noqa: E731
        getattr(contract.functions, role)().call(), who).call()
    assert holds(system.registry, "REGISTRAR_ROLE", roles.registrar)
    assert holds(system.gro, "CERTIFIER_ROLE", roles.certifier)
    assert all(holds(system.food_usd, role, roles.treasurer) for role in ("MINTER_ROLE", "BURNER_ROLE", "PAUSER_ROLE"))
    assert holds(system.group_buy, "ORDER_MANAGER_ROLE", roles.treasurer)
    assert not holds(system.registry, "REGISTRAR_ROLE", roles.treasurer)
    assert not holds(system.food_usd, "MINTER_ROLE", roles.registrar)

    again = _coop_deploy(anvil, key.hex(), manifest, roles)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Resuming")
    assert all(line.endswith("(done before)") for line in again.stdout.splitlines()[1:STEPS + 1])
    assert _nonce(anvil, deployer) == SENT


def test_coop_deploy_without_a_key_says_so(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "COOP_DEPLOYER_KEY"}
    result = subprocess.run([str(COOP), "deploy", "--rpc-url", "http://127.0.0.1:9", "--manifest",
                             str(tmp_path / "m.json"), *ROLE_OPTIONS],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "COOP_DEPLOYER_KEY" in result.stderr


ROLE_OPTIONS = ("--registrar", "0x" + "11" * 20, "--certifier", "0x" + "22" * 20, "--treasurer", "0x" + "33" * 20,
                "--guardian", "0x" + "44" * 20)


@pytest.mark.parametrize("change, said", [
    ({"--treasurer": "0x" + "11" * 20}, "four different addresses"),  # the registrar's too
    ({"--guardian": Account.from_key("0x" + "55" * 32).address}, "none of them the deployer's"),
    ({"--guardian": "the board"}, "the guardian 'the board' is not an address"),
    ({"--guardian": "0x" + "00" * 20}, "the guardian '0x" + "00" * 20 + "' is not an address"),
])
def test_coop_deploy_refuses_a_role_shared_or_not_an_address(tmp_path: Path, change, said):
    options = list(ROLE_OPTIONS)
    for option, value in change.items():
        options[options.index(option) + 1] = value
    result = subprocess.run([str(COOP), "deploy", "--rpc-url", "http://127.0.0.1:9", "--manifest",
                             str(tmp_path / "m.json"), *options],
                            env={**os.environ, "COOP_DEPLOYER_KEY": "0x" + "55" * 32}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and said in result.stderr, result.stderr
    assert not (tmp_path / "m.json").exists()


def test_coop_deploy_no_longer_takes_one_operator(tmp_path: Path):
    result = subprocess.run([str(COOP), "deploy", "--rpc-url", "http://127.0.0.1:9", "--manifest",
                             str(tmp_path / "m.json"), "--operator", "0x" + "11" * 20],
                            env={**os.environ, "COOP_DEPLOYER_KEY": "0x" + "55" * 32}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "--registrar" in result.stderr
