"""ERC-4337 v0.8 user operations for CoopAccount: calldata for batched calls, packing, signing."""
from dataclasses import dataclass

from eth_abi import encode
from eth_account.signers.local import LocalAccount
from web3.contract import Contract

# ERC-7821 execution mode: batch call type (0x01), default exec type, no selector, no payload.
BATCH_MODE = bytes([1]) + bytes(31)


@dataclass(frozen=True)
class Call:
    target: str
    data: bytes
    value: int = 0


def batch_calldata(account: Contract, calls: list[Call]) -> bytes:
    """The account's `execute(mode, executionData)` call running `calls` in order, all or nothing."""
    execution = encode(["(address,uint256,bytes)[]"], [[(c.target, c.value, c.data) for c in calls]])
    return bytes.fromhex(account.encode_abi("execute", args=[BATCH_MODE, execution])[2:])


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

    def sign(self, entry_point: Contract, signer: LocalAccount) -> None:
        """Signs the EntryPoint's hash of this operation (EIP-712 in v0.8) with the account's signer."""
        self.signature = b""
        op_hash = entry_point.functions.getUserOpHash(self.packed()).call()
        self.signature = bytes(signer.unsafe_sign_hash(op_hash).signature)


def init_code(factory: Contract, signer: str, salt: int) -> bytes:
    """initCode that creates the account of `signer` with `salt` in its first operation."""
    return bytes.fromhex(factory.address[2:]) + bytes.fromhex(
        factory.encode_abi("createAccount", args=[signer, salt])[2:])
