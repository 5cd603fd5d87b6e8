"""Several node calls in one JSON-RPC batch: a bundle's reads and simulations in two round trips, not
a few per operation (web3's per-call machinery costs more CPU than the node's answer)."""
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3 import Web3

from chain.artifacts import Function

Request = tuple[str, list[Any]]


def batch(w3: Web3, requests: list[Request]) -> list[dict[str, Any]]:
    """The raw responses ({"result": …} or {"error": …}) to `requests`, in order. A node without batch
    support is asked one request at a time."""
    if not requests:
        return []
    provider = w3.provider
    if hasattr(provider, "make_batch_request"):
        responses = provider.make_batch_request(requests)
        if isinstance(responses, list):
            return responses
        raise ConnectionError(f"the node refused a batch: {responses.get('error')}")
    return [provider.make_request(method, params) for method, params in requests]


async def abatch(http, url: str, requests: list[Request]) -> list[dict[str, Any]]:
    """`batch` over an aiohttp session on the caller's event loop: web3's blocking path costs ~3 ms of CPU
    per batch in a thread, contending with the loop for the GIL."""
    if not requests:
        return []
    body = [{"jsonrpc": "2.0", "id": i, "method": method, "params": params} for i, (method, params) in enumerate(requests)]
    async with http.post(url, json=body) as response:
        response.raise_for_status()
        responses = await response.json(content_type=None)
    if not isinstance(responses, list):
        raise ConnectionError(f"the node refused a batch: {responses.get('error')}")
    # JSON-RPC does not promise the order; an answer missing or doubled would hand one caller another's.
    by_id = {r.get("id"): r for r in responses}
    if len(responses) != len(body) or set(by_id) != set(range(len(body))):
        raise ConnectionError(f"the node answered {len(responses)} of a batch of {len(body)} requests")
    return [by_id[i] for i in range(len(body))]


@dataclass(frozen=True)
class Read:
    """A contract read: `function` of the contract at `to`, with `args`; its result passed through `into`
    (a typed value, chain/ledger.py) when given."""

    to: str
    function: Function
    args: tuple[Any, ...] = ()
    into: Callable[[Any], Any] | None = None

    def request(self, block: str = "latest") -> Request:
        return "eth_call", [{"to": self.to, "data": "0x" + self.function.encode(*self.args).hex()}, block]

    def result(self, response: dict[str, Any]) -> Any:
        if "error" in response:
            raise ValueError(response["error"])
        value = self.function.decode(bytes(HexBytes(response["result"])))
        return value if self.into is None else self.into(value)


def revert_data(response: dict[str, Any]) -> bytes:
    """The revert data of an error response (empty when the node gave none)."""
    data = response.get("error", {}).get("data")
    if isinstance(data, dict):
        data = data.get("data")
    return bytes(HexBytes(data)) if isinstance(data, str) and data.startswith("0x") else b""
