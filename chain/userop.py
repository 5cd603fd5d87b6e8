"""ERC-4337 v0.8 user operations for CoopAccount: calldata for batched calls, packing, hashing, signing."""
from dataclasses import asdict, dataclass
from typing import Any

from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract import Contract

from chain.artifacts import function

# EntryPoint v0.8 hashes operations as EIP-712 typed data in its own domain.
_PACKED_USEROP_TYPEHASH = keccak(text=(
    "PackedUserOperation(address sender,uint256 nonce,bytes initCode,bytes callData,bytes32 accountGasLimits,"
    "uint256 preVerificationGas,bytes32 gasFees,bytes paymasterAndData)"))
_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")

# A signature of the real length (65 bytes) that recovers to nobody: gas is estimated with it, since the
# signature's length and zero bytes weigh in the operation's pre-verification gas.
DUMMY_SIGNATURE = bytes.fromhex("ff" * 15 + "f0" + "00" * 16 + "7a" + "aa" * 31 + "1c")

# ERC-7821 execution mode: batch call type (0x01), default exec type, no selector, no payload.
BATCH_MODE = bytes([1]) + bytes(31)


@dataclass(frozen=True)
class Call:
    target: str
    data: bytes
    value: int = 0


def batch_calldata(calls: list[Call]) -> bytes:
    """The account's `execute(mode, executionData)` call running `calls` in order, all or nothing."""
    execution = encode(["(address,uint256,bytes)[]"], [[(c.target, c.value, c.data) for c in calls]])
    return function("CoopAccount", "execute").encode(BATCH_MODE, execution)


def _pack_pair(high: int, low: int) -> bytes:
    return ((high << 128) | low).to_bytes(32, "big")


@dataclass
class UserOperation:
    sender: str
    nonce: int
    call_data: bytes
    init_code: bytes = b""
    verification_gas: int = 500_000
    call_gas: int = 500_000
    pre_verification_gas: int = 60_000
    max_priority_fee: int = 10**9
    max_fee: int = 20 * 10**9
    signature: bytes = b""

    def packed(self) -> tuple:
        """The PackedUserOperation tuple the EntryPoint takes."""
        return (
            self.sender,
            self.nonce,
            self.init_code,
            self.call_data,
            _pack_pair(self.verification_gas, self.call_gas),
            self.pre_verification_gas,
            _pack_pair(self.max_priority_fee, self.max_fee),
            b"",  # no paymaster: the account's EntryPoint deposit pays
            self.signature,
        )

    def hash(self, entry_point: str, chain_id: int) -> bytes:
        """The EntryPoint's getUserOpHash, computed here (no node round trip)."""
        packed = self.packed()
        struct = keccak(encode(
            ["bytes32", "address", "uint256", "bytes32", "bytes32", "bytes32", "uint256", "bytes32", "bytes32"],
            [_PACKED_USEROP_TYPEHASH, packed[0], packed[1], keccak(packed[2]), keccak(packed[3]), packed[4],
             packed[5], packed[6], keccak(packed[7])]))
        domain = keccak(encode(["bytes32", "bytes32", "bytes32", "uint256", "address"],
                               [_DOMAIN_TYPEHASH, keccak(text="ERC4337"), keccak(text="1"), chain_id, entry_point]))
        return keccak(b"\x19\x01" + domain + struct)

    def sign(self, entry_point: Contract, signer: LocalAccount, chain_id: int | None = None) -> bytes:
        """Signs the EntryPoint's hash of this operation with the account's signer; returns the hash."""
        chain_id = entry_point.w3.eth.chain_id if chain_id is None else chain_id
        op_hash = self.hash(entry_point.address, chain_id)
        self.signature = bytes(signer.unsafe_sign_hash(op_hash).signature)
        return op_hash

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form (stored with an intent, so a restart resends the very same operation)."""
        return {k: ("0x" + v.hex() if isinstance(v, bytes) else str(v) if isinstance(v, int) else v)
                for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "UserOperation":
        fields = {}
        for name, value in data.items():
            if name == "replaces":  # the hashes of the versions it replaced (chain/outbox.py), not a field
                continue
            if name in ("call_data", "init_code", "signature"):
                fields[name] = bytes.fromhex(value[2:])
            elif name == "sender":
                fields[name] = value
            else:
                fields[name] = int(value)
        return cls(**fields)


def init_code(factory: Contract, signer: str, salt: int) -> bytes:
    """initCode that creates the account of `signer` with `salt` in its first operation."""
    return bytes.fromhex(factory.address[2:]) + bytes.fromhex(
        factory.encode_abi("createAccount", args=[signer, salt])[2:])
