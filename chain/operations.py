"""User operations for member intents: built, simulated and signed for a whole bundle at once.

The node is asked twice per bundle, in JSON-RPC batches: what the operations depend on (account nonces,
whether accounts exist, order terms…), then a simulation of each operation's calls as the EntryPoint
would run them. An operation that would revert never goes out: its intent fails with a plain reason.
Operations carry zero fees: the gas payer's transaction pays the gas, so members need no ETH.
"""
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from eth_abi import decode
from eth_utils import keccak
from hexbytes import HexBytes
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker
from web3 import Web3

from chain import rpc
from chain.accounts import Signers, clone_code
from chain.artifacts import function
from chain.db import Intent, SmartAccount
from chain.deploy import CoopSystem
from chain.errors import decode_revert
from chain.intents import EXPORTED, INVALID, MEMBER_KINDS, NO_ACCOUNT, REJECTED, Facts, reason_of
from chain.keystore import KeystoreError
from chain.userop import UserOperation, batch_calldata

# Operation gas limits. Fees are zero, so limits cost nothing; they only have to fit the bundle.
VERIFICATION_GAS = 100_000
CREATION_GAS = 400_000  # verification of a first operation, which also creates the account
PRE_VERIFICATION_GAS = 50_000
OPERATION_OVERHEAD = 30_000  # the EntryPoint's own work per operation, on top of the operation's limits

Built = dict[int, "tuple[UserOperation, bytes] | IntentRejected"]  # by intent id: (operation, its hash) or why not
Limits = Callable[[Intent, UserOperation], Awaitable[dict[str, int]]]  # fields of UserOperation to set


class IntentWaits(Exception):
    """An intent that cannot go yet (its account's gas is on its way): left pending, built again later."""


class IntentRejected(Exception):
    """An intent that cannot go on chain (its simulation reverts, or it is invalid): failed, never sent."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


_OPERATION_EVENT = keccak(text="UserOperationEvent(bytes32,address,address,uint256,bool,uint256,uint256)")
_OPERATION_REVERT = keccak(text="UserOperationRevertReason(bytes32,address,uint256,bytes)")


def operation_outcomes(receipt: dict[str, Any], entry_point: str) -> dict[str, tuple[bool, str | None, str | None]]:
    """What each user operation in a mined bundle did, by its hash: (success, reason code, detail).
    Read straight from the EntryPoint's logs in a raw JSON-RPC receipt (web3's event processing costs
    milliseconds a log)."""
    outcomes: dict[str, tuple[bool, str | None, str | None]] = {}
    for entry in receipt["logs"]:
        topics = entry["topics"]
        if entry["address"].lower() != entry_point.lower() or len(topics) < 2:
            continue  # not ours, or BeforeExecution (no hash)
        topic, op_hash, data = HexBytes(topics[0]), HexBytes(topics[1]).to_0x_hex(), bytes(HexBytes(entry["data"]))
        if topic == _OPERATION_EVENT and op_hash not in outcomes:
            _, success, _, _ = decode(["uint256", "bool", "uint256", "uint256"], data)
            outcomes[op_hash] = (success, None if success else REJECTED, None)
        elif topic == _OPERATION_REVERT:
            _, reason = decode(["uint256", "bytes"], data)
            error = decode_revert(reason)
            outcomes[op_hash] = (False, reason_of(error), str(error))
    return outcomes


class OperationBuilder:
    """Builds the signed operations of a bundle's member intents."""

    def __init__(self, w3: Web3, contracts: CoopSystem, sessions: async_sessionmaker, signers: Signers,
                 run: Callable[..., Awaitable[Any]], chain_id: Callable[[], Awaitable[int]]):
        self.w3 = w3
        self.contracts = contracts
        self.sessions = sessions
        self.signers = signers
        self._run = run  # runs a blocking node call off the event loop
        self._chain_id = chain_id
        self._clone_code: bytes | None = None

    async def build(self, intents: list[Intent], limits: Limits | None = None) -> Built:
        """The signed operation of each intent, or why it cannot go (none for an intent that waits). The node
        is asked twice for the whole bundle: what the operations depend on (account nonces, order terms…),
        then a simulation of each. `limits`, when given, sets each operation's fees and gas limits before it is
        signed (an external bundler's estimate), or says it waits (IntentWaits)."""
        chain_id = await self._chain_id()
        async with self.sessions() as session:
            accounts = {a.member_id: a for a in (await session.execute(select(SmartAccount).where(
                SmartAccount.member_id.in_({i.member_id for i in intents})))).scalars()}
        built: dict[int, tuple[UserOperation, bytes] | IntentRejected] = {}
        ready: list[tuple[Intent, SmartAccount]] = []
        for intent in intents:
            account = accounts.get(intent.member_id)
            if account is None:
                built[intent.id] = IntentRejected(NO_ACCOUNT, f"member {intent.member_id} has no account")
            elif account.exported_to is not None:
                built[intent.id] = IntentRejected(EXPORTED, f"account handed to {account.exported_to}")
            else:
                ready.append((intent, account))
        facts, deployed, nonces = await self._read_facts(ready)
        drafts: list[tuple[Intent, SmartAccount, bytes]] = []
        for intent, account in ready:
            try:
                drafts.append((intent, account, self._call_data(intent, account.address, facts)))
            except IntentRejected as e:
                built[intent.id] = e
        gas_limits = await self._simulate(drafts, deployed)
        signers = await self._signers(sorted({account.member_id for _, account, _ in drafts}))
        created: set[str] = set()  # accounts whose creation an earlier operation of this bundle carries
        for (intent, account, call_data), call_gas in zip(drafts, gas_limits):
            if isinstance(call_gas, IntentRejected):
                built[intent.id] = call_gas
                continue
            creates = not deployed[account.address] and account.address not in created
            op = UserOperation(
                sender=account.address,
                nonce=nonces[account.address],
                call_data=call_data,
                init_code=self._init_code(account) if creates else b"",
                verification_gas=CREATION_GAS if creates else VERIFICATION_GAS,
                call_gas=call_gas,
                pre_verification_gas=PRE_VERIFICATION_GAS,
                max_fee=0,
                max_priority_fee=0,
            )
            if limits is not None:
                try:
                    op = replace(op, **await limits(intent, op))
                except IntentRejected as e:
                    built[intent.id] = e
                    continue
                except IntentWaits:
                    continue
            signer = signers[account.member_id]
            if isinstance(signer, IntentRejected):
                built[intent.id] = signer
                continue
            nonces[account.address] += 1
            created.add(account.address)
            built[intent.id] = (op, op.sign(self.contracts.entry_point, signer, chain_id))
        return built

    async def _signers(self, member_ids: list[str]) -> dict[str, Any]:
        """The members' keys; a key that cannot be read fails that member's intents, not the bundle."""
        try:
            return await self.signers.signers(member_ids)
        except KeystoreError:
            found: dict[str, Any] = {}
            for member_id in member_ids:
                try:
                    found.update(await self.signers.signers([member_id]))
                except KeystoreError as e:
                    found[member_id] = IntentRejected(NO_ACCOUNT, str(e))
            return found

    async def _read_facts(self, ready: list[tuple[Intent, SmartAccount]]) -> tuple[Facts, dict[str, bool], dict[str, int]]:
        """One batch: each account's EntryPoint nonce and whether it exists, and the reads the intents'
        kinds need. Returns (facts, deployed by address, nonce by address)."""
        get_nonce = function("EntryPoint", "getNonce")
        reads: dict[tuple, Any] = {}
        for intent, account in ready:
            reads[("nonce", account.address)] = rpc.Read(self.contracts.entry_point.address, get_nonce,
                                                         (account.address, 0))
            if account.deployed_block is None:
                reads[("code", account.address)] = None
            try:
                wanted = MEMBER_KINDS[intent.kind].reads(self.contracts, account.address, intent.params)
                for read in wanted.values():
                    read.request()  # parameters the ABI cannot encode fail here, for this intent only
                reads.update(wanted)
            except Exception:  # noqa: BLE001 - bad parameters: _call_data rejects the intent
                pass
        keys = list(reads)
        requests = [("eth_getCode", [key[1], "latest"]) if key[0] == "code" else reads[key].request() for key in keys]
        responses = await self._run(rpc.batch, self.w3, requests)
        facts: Facts = {}
        deployed = {account.address: True for _, account in ready}
        nonces: dict[str, int] = {}
        for key, response in zip(keys, responses):
            if "error" in response:
                if key[0] not in ("code", "nonce") and rpc.revert_data(response):
                    continue  # this read reverts (its intent's parameters): _call_data rejects the intent
                raise ConnectionError(f"the node could not answer {key}: {response['error']}")
            if key[0] == "code":
                deployed[key[1]] = HexBytes(response["result"]) != b""
            elif key[0] == "nonce":
                nonces[key[1]] = reads[key].result(response)
            else:
                facts[key] = reads[key].result(response)
        return facts, deployed, nonces

    def _call_data(self, intent: Intent, account: str, facts: Facts) -> bytes:
        try:
            calls = MEMBER_KINDS[intent.kind].calls(self.contracts, account, intent.params, facts)
            return batch_calldata(calls)
        except Exception as e:  # noqa: BLE001 - anything the parameters break fails this intent, not the bundle
            raise IntentRejected(INVALID, f"bad parameters for {intent.kind}: {e!r}") from None

    def _init_code(self, account: SmartAccount) -> bytes:
        factory = self.contracts.account_factory
        return bytes.fromhex(factory.address[2:]) + bytes.fromhex(
            factory.encode_abi("createAccount", args=[account.signer, account.salt])[2:])

    async def _simulate(self, drafts: list[tuple[Intent, SmartAccount, bytes]],
                        deployed: dict[str, bool]) -> list[int | IntentRejected]:
        """One batch: each operation's calls run as the EntryPoint would run them (the account's code put
        in place where it does not exist yet). A revert becomes a plain reason and nothing is sent;
        otherwise the call gas limit, with headroom."""
        if self._clone_code is None:
            self._clone_code = await self._run(clone_code, self.contracts)
        override = {"code": "0x" + self._clone_code.hex()}
        requests = []
        for _, account, call_data in drafts:
            tx = {"from": self.contracts.entry_point.address, "to": account.address, "data": "0x" + call_data.hex()}
            requests.append(("eth_estimateGas", [tx, "latest"] if deployed[account.address]
                             else [tx, "latest", {account.address: override}]))
        limits: list[int | IntentRejected] = []
        for response in await self._run(rpc.batch, self.w3, requests):
            if "error" in response:
                error = decode_revert(rpc.revert_data(response))
                detail = str(error) if error.name != "unknown" else str(response["error"])
                limits.append(IntentRejected(reason_of(error), detail))
            else:
                limits.append(int(response["result"], 16) * 13 // 10 + 30_000)
        return limits


__all__ = ["Built", "IntentRejected", "IntentWaits", "Limits", "OperationBuilder", "operation_outcomes"]
