"""Signs and sends transactions with a local key, turning reverts into ContractReverted."""
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import TxReceipt

from chain.artifacts import load_artifact
from chain.errors import ContractReverted, decode_revert

try:  # eth-tester (the in-process dev chain) raises its own type for reverts
    from eth_tester.exceptions import TransactionFailed

    _TESTER_ERRORS: tuple[type[BaseException], ...] = (TransactionFailed,)
except ImportError:
    _TESTER_ERRORS = ()


def revert_data(error: BaseException) -> bytes:
    """Raw revert data from a JSON-RPC node's error, or from eth-tester's chained exceptions."""
    data = getattr(error, "data", None)
    if isinstance(data, dict):  # some providers nest it
        data = data.get("data")
    if isinstance(data, str):
        return bytes(HexBytes(data))
    cause: BaseException | None = error
    while cause is not None:
        if cause.args and isinstance(cause.args[0], bytes):
            return cause.args[0]
        cause = cause.__cause__ or cause.__context__
    return b""


def send(
    w3: Web3,
    call: ContractFunction | ContractConstructor,
    sender: LocalAccount,
    value: int = 0,
    gas: int | None = None,
) -> TxReceipt:
    """Sends `call` from `sender` and waits for its receipt. A call that would revert raises
    ContractReverted (found while estimating gas, so nothing is sent)."""
    params: dict[str, Any] = {
        "from": sender.address,
        "value": value,
        "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
    }
    if gas is not None:
        params["gas"] = gas
    try:
        tx = call.build_transaction(params)
    except (ContractLogicError, *_TESTER_ERRORS) as e:
        raise decode_revert(revert_data(e)) from None
    if gas is None:
        # Headroom over the estimate: gas can depend on the block's timestamp (the escrow walks the
        # weeks since its last checkpoint), which may move on between estimate and inclusion.
        tx["gas"] = tx["gas"] * 5 // 4 + 10_000
    signed = sender.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.05)
    if receipt["status"] != 1:
        raise _mined_failure(w3, tx, receipt)
    return receipt


def _mined_failure(w3: Web3, tx: dict[str, Any], receipt: TxReceipt) -> ContractReverted:
    """Why a transaction that passed estimation failed once mined: replayed at its block for the reason."""
    if receipt["gasUsed"] >= tx["gas"]:
        return ContractReverted("OutOfGas", {"gas": tx["gas"], "tx": receipt["transactionHash"].hex()}, b"")
    call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
    try:
        w3.eth.call(call, receipt["blockNumber"] - 1)
    except (ContractLogicError, *_TESTER_ERRORS) as e:
        return decode_revert(revert_data(e))
    return ContractReverted("unknown", {"tx": receipt["transactionHash"].hex()}, b"")


def contract_at(w3: Web3, name: str, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name).abi)


def deploy_contract(w3: Web3, name: str, sender: LocalAccount, *args: Any) -> tuple[Contract, TxReceipt]:
    """Deploys artifact `name` with constructor `args`; returns the contract and its receipt."""
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = send(w3, factory.constructor(*args), sender)
    return contract_at(w3, name, receipt["contractAddress"]), receipt


__all__ = ["ContractReverted", "contract_at", "deploy_contract", "revert_data", "send"]
