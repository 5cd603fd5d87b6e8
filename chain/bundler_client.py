"""A client for an ERC-4337 bundler's JSON-RPC (EntryPoint v0.7/v0.8 unpacked operations)."""
import asyncio
import itertools
import re
import time
from typing import Any

import httpx
from eth_utils import to_checksum_address

from chain.errors import ChainError, ContractReverted, decode_revert
from chain.userop import UserOperation

# JSON-RPC error codes bundlers use (ERC-7769).
INVALID_PARAMS = -32602
VALIDATION_FAILED = -32500  # the account (or paymaster) refused the operation: FailedOp in `data`
EXECUTION_REVERTED = -32521  # the operation's calls would revert: the revert data in `data`
# A bundler's refusal of the operation itself: sending it again unchanged is refused again. -32500 validation,
# -32501 paymaster, -32502 banned opcode or storage rule, -32503 out of time range, -32504 throttled or banned
# entity, -32505 stake too low, -32506 unsupported aggregator, -32507 signature, -32508 paymaster balance,
# -32521 execution reverted, -32602 invalid parameters (fees too low, gas limits too low…).
REFUSALS = frozenset({-32500, -32501, -32502, -32503, -32504, -32505, -32506, -32507, -32508, EXECUTION_REVERTED,
                      INVALID_PARAMS})
METHOD_NOT_FOUND = -32601
_AA_CODE = re.compile(r"\bAA\d\d\b")
# Transport failures: the next call waits this long, doubling up to the cap, so a bundler that is away is
# asked a few times a minute, not in a loop.
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0

# What our UserOperation cannot carry: an operation with any of these is refused, not silently changed.
_UNSUPPORTED = ("paymaster", "paymasterData", "paymasterVerificationGasLimit", "paymasterPostOpGasLimit",
                "eip7702Auth")


class BundlerError(ChainError):
    """The bundler answered with a JSON-RPC error. `revert` is the decoded revert data, when it sent any
    (FailedOp for a validation error, the contract's custom error for a call that would revert)."""

    def __init__(self, code: int, message: str, data: Any = None):
        self.code = code
        self.message = message
        self.data = data
        self.revert = _decode_data(data) if code in (VALIDATION_FAILED, EXECUTION_REVERTED) else None
        super().__init__(f"{message} (code {code})" + (f": {self.revert}" if self.revert else ""))

    @property
    def refused(self) -> bool:
        """The bundler refuses this operation as it is (not a failure of its own, nor of the moment)."""
        return self.code in REFUSALS

    @property
    def aa_code(self) -> str | None:
        """The EntryPoint's AA.. code the refusal names (AA21: the operation's gas is not paid for…), if any."""
        found = _AA_CODE.search(f"{self.message} {self.revert or ''}")
        return found.group(0) if found else None


class BundlerUnavailable(ChainError):
    """The bundler could not be reached or did not answer in JSON-RPC (or did not a moment ago, and is left
    alone for a while): try again later."""


def _decode_data(data: Any) -> ContractReverted | None:
    if isinstance(data, dict):  # some bundlers wrap it: {"revertData": "0x…"} or {"data": "0x…"}
        data = next((data[k] for k in ("revertData", "data", "reason") if isinstance(data.get(k), str)), None)
    if not isinstance(data, str) or not data.startswith("0x") or len(data) < 10:
        return None
    try:
        raw = bytes.fromhex(data[2:])
    except ValueError:
        return None
    try:
        return decode_revert(raw)
    except Exception:  # a known selector with arguments that do not decode
        return ContractReverted("unknown", {"data": data}, raw)


def _quantity(value: int) -> str:
    return hex(value)


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _int(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.startswith("0x"):
        return int(value, 16)
    raise ValueError(f"{name}: expected a hex quantity, got {value!r}")


def _bytes(value: Any, name: str) -> bytes:
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise ValueError(f"{name}: expected 0x-hex bytes, got {value!r}")


def op_to_rpc(op: UserOperation) -> dict[str, Any]:
    """The standard unpacked JSON form of `op` (initCode split into factory and factoryData)."""
    rpc: dict[str, Any] = {"sender": op.sender, "nonce": _quantity(op.nonce)}
    if op.init_code:
        rpc["factory"] = to_checksum_address(op.init_code[:20])
        rpc["factoryData"] = _hex(op.init_code[20:])
    rpc.update({
        "callData": _hex(op.call_data),
        "callGasLimit": _quantity(op.call_gas),
        "verificationGasLimit": _quantity(op.verification_gas),
        "preVerificationGas": _quantity(op.pre_verification_gas),
        "maxFeePerGas": _quantity(op.max_fee),
        "maxPriorityFeePerGas": _quantity(op.max_priority_fee),
        "signature": _hex(op.signature),
    })
    return rpc


def op_from_rpc(data: Any) -> UserOperation:
    """Our UserOperation from the unpacked JSON form; ValueError says what is wrong with it."""
    if not isinstance(data, dict):
        raise ValueError("a user operation is a JSON object")
    for name in _UNSUPPORTED:
        if data.get(name) not in (None, "0x", "0x" + "00" * 20):
            raise ValueError(f"{name} is not supported (operations here carry no paymaster)")
    missing = [k for k in ("sender", "nonce", "callData", "callGasLimit", "verificationGasLimit",
                           "preVerificationGas", "maxFeePerGas", "maxPriorityFeePerGas", "signature")
               if k not in data]
    if missing:
        raise ValueError(f"missing fields: {', '.join(missing)}")
    init_code = b""
    if data.get("factory") not in (None, "0x"):
        factory = _bytes(data["factory"], "factory")
        if len(factory) != 20:
            raise ValueError("factory: expected an address")
        init_code = factory + _bytes(data.get("factoryData") or "0x", "factoryData")
    sender = _bytes(data["sender"], "sender")
    if len(sender) != 20:
        raise ValueError("sender: expected an address")
    return UserOperation(
        sender=to_checksum_address(sender),
        nonce=_int(data["nonce"], "nonce"),
        call_data=_bytes(data["callData"], "callData"),
        init_code=init_code,
        verification_gas=_int(data["verificationGasLimit"], "verificationGasLimit"),
        call_gas=_int(data["callGasLimit"], "callGasLimit"),
        pre_verification_gas=_int(data["preVerificationGas"], "preVerificationGas"),
        max_priority_fee=_int(data["maxPriorityFeePerGas"], "maxPriorityFeePerGas"),
        max_fee=_int(data["maxFeePerGas"], "maxFeePerGas"),
        signature=_bytes(data["signature"], "signature"),
    )


def receipt_failure(receipt: dict[str, Any]) -> ContractReverted | None:
    """Why a mined operation failed (its decoded revert, from the receipt's `reason`); None if it succeeded."""
    if receipt.get("success"):
        return None
    return _decode_data(receipt.get("reason")) or ContractReverted("unknown", {"reason": receipt.get("reason")}, b"")


class BundlerClient:
    """Talks to one bundler about one EntryPoint. Use as `async with BundlerClient(...) as bundler:` or
    call close(). `transport` swaps the HTTP transport (httpx.MockTransport in tests)."""

    def __init__(self, url: str, entry_point: str, *, timeout: float = 10,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.url = url
        self.entry_point = to_checksum_address(entry_point)
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._ids = itertools.count(1)
        self.requests = 0  # sent so far (the tests count them: a worker must not spin on a bundler)
        self._backoff = 0.0  # seconds the next failure waits (0 while the bundler answers)
        self._resume_at = 0.0
        self._has_gas_price: bool | None = None  # pimlico_getUserOperationGasPrice, once known

    @property
    def where(self) -> str:
        """The bundler's scheme and host, for logs: a hosted bundler's URL carries its API key."""
        url = httpx.URL(self.url)
        return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")

    async def __aenter__(self) -> "BundlerClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, params: list[Any]) -> Any:
        wait = self._resume_at - time.monotonic()
        if wait > 0:
            raise BundlerUnavailable(f"{method}: the bundler did not answer; next try in {wait:.1f}s")
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        self.requests += 1
        try:
            response = await self._http.post(self.url, json=request)
            body = response.json()
            if not isinstance(body, dict) or ("result" not in body and "error" not in body):
                raise ValueError(f"HTTP {response.status_code}, not a JSON-RPC answer")
        except (httpx.HTTPError, ValueError) as e:
            self._backoff = min(BACKOFF_MAX, self._backoff * 2 or BACKOFF_FIRST)
            self._resume_at = time.monotonic() + self._backoff
            raise BundlerUnavailable(f"{method}: {type(e).__name__}: {e}") from None
        self._backoff = 0.0
        if body.get("error") is not None:
            error = body["error"]
            raise BundlerError(int(error.get("code", 0)), str(error.get("message", "")), error.get("data"))
        return body["result"]

    async def send_user_operation(self, op: UserOperation) -> str:
        """Hands `op` to the bundler; returns its userOpHash (0x-hex). A refused operation raises
        BundlerError (code VALIDATION_FAILED or EXECUTION_REVERTED, `revert` saying why)."""
        return await self._call("eth_sendUserOperation", [op_to_rpc(op), self.entry_point])

    async def get_user_operation_receipt(self, op_hash: str | bytes) -> dict[str, Any] | None:
        """The bundler's receipt of a mined operation (standard shape, quantities in hex), None before."""
        if isinstance(op_hash, bytes):
            op_hash = _hex(op_hash)
        return await self._call("eth_getUserOperationReceipt", [op_hash])

    async def wait_for_receipt(self, op_hash: str | bytes, timeout: float = 30, poll: float = 0.1) -> dict[str, Any]:
        """Polls for the receipt of `op_hash`; TimeoutError if it is not mined within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (receipt := await self.get_user_operation_receipt(op_hash)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"user operation {op_hash!r} not mined after {timeout}s")
            await asyncio.sleep(poll)
        return receipt

    async def estimate_user_operation_gas(self, op: UserOperation) -> dict[str, int]:
        """Gas limits for `op`: callGasLimit, verificationGasLimit, preVerificationGas (ints). The
        signature need not be valid yet; the limits are part of what is signed, so sign afterwards."""
        result = await self._call("eth_estimateUserOperationGas", [op_to_rpc(op), self.entry_point])
        return {k: _int(v, k) for k, v in result.items() if v is not None}

    async def user_operation_gas_price(self) -> tuple[int, int] | None:
        """(maxFeePerGas, maxPriorityFeePerGas) the bundler asks for now (Pimlico's
        pimlico_getUserOperationGasPrice, "standard"), or None when it has no such method."""
        if self._has_gas_price is False:
            return None
        try:
            result = await self._call("pimlico_getUserOperationGasPrice", [])
        except BundlerError as e:
            if e.code in (METHOD_NOT_FOUND, INVALID_PARAMS) or "not supported" in e.message.lower():
                self._has_gas_price = False
                return None
            raise
        self._has_gas_price = True
        standard = result["standard"]
        return _int(standard["maxFeePerGas"], "maxFeePerGas"), _int(standard["maxPriorityFeePerGas"],
                                                                    "maxPriorityFeePerGas")

    async def supported_entry_points(self) -> list[str]:
        return [to_checksum_address(a) for a in await self._call("eth_supportedEntryPoints", [])]

    async def chain_id(self) -> int:
        return _int(await self._call("eth_chainId", []), "chainId")


__all__ = ["BundlerClient", "BundlerError", "BundlerUnavailable", "EXECUTION_REVERTED", "INVALID_PARAMS",
           "REFUSALS", "VALIDATION_FAILED", "op_from_rpc", "op_to_rpc", "receipt_failure"]
