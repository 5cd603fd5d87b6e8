"""Self-custody: a member hands their account to their own wallet's key, after a confirmation. Afterwards the
co-op can no longer sign for it (the backend refuses with `exported`), so use cases that act for a member
refuse up front once they have."""
from dataclasses import dataclass

from eth_utils import is_address, is_checksum_address, to_checksum_address
from sqlalchemy import or_, select

from chain.db import SmartAccount
from core import offers
from core.ports import Ports, UnitOfWork
from core.results import Offered, Refused


async def exported(uow: UnitOfWork, member_id: str) -> bool:
    """Whether the member took their account into their own custody (then we can no longer act for it)."""
    async with uow.read() as session:
        account = await session.get(SmartAccount, member_id)
    return account is not None and account.exported_to is not None


# The address /export's usage shows (EIP-55's own example of a checksummed address): copied from the usage, it
# would hand the account to a stranger's key.
EXAMPLE = "0x52908400098527886E0F7030069857D2E4169EE7"
CONFIRM_CHARACTERS = 4  # the address's last characters the member types to confirm (checked against their wallet)


@dataclass(frozen=True)
class ExportTerms:
    address: str  # the member's own wallet, as they gave it (EIP-55 checksummed)
    confirm_with: str  # its last characters, which the member types to confirm (any case)


def _contracts(ports: Ports) -> set[str]:
    """The co-op's deployed contracts (token, group buy, governance, escrow, factory, entry point…)."""
    return {to_checksum_address(c.address) for c in vars(ports.ledger.contracts).values() if hasattr(c, "address")}


async def _custodial_owner(ports: Ports, address: str) -> str | None:
    """The resident whose co-op account, or the co-op's key that signs for it, is `address`."""
    async with ports.uow.read() as session:
        return (await session.execute(select(SmartAccount.member_id).where(or_(
            SmartAccount.address.in_((address, address.lower())), SmartAccount.signer.in_((address, address.lower()))
        )).limit(1))).scalar_one_or_none()


async def _not_a_wallet(ports: Ports, member_id: str, address: str) -> Refused | None:
    """Why `address` cannot be the member's own wallet: the usage's example, the co-op's own addresses."""
    if address == EXAMPLE:
        return Refused("example_address")
    owner = await _custodial_owner(ports, address)
    if address in (to_checksum_address(await ports.wallet(member_id)), "0x" + "0" * 40) or owner == member_id:
        return Refused("own_account")
    if address in _contracts(ports):
        return Refused("co_op_contract")
    if address in {to_checksum_address(a) for a in ports.operators}:
        return Refused("co_op_account")
    if owner is not None:
        return Refused("member_account")
    return None


async def export(ports: Ports, member: int, member_id: str, address: str | None) -> Offered[ExportTerms] | Refused:
    """`member` (their row id; `member_id` the resident) hands their account to the wallet `address`, confirmed
    by typing its last characters (core/offers.py `typed`). Refused: exported, no_address (None given),
    not_an_address, no_checksum (a single-case address could hide a typo that would lose everything);
    example_address (the usage's example), own_account (their co-op account or the key that signs for it, or
    the zero address), co_op_contract, co_op_account (the backend's accounts), member_account (another
    resident's co-op account or key)."""
    if await exported(ports.uow, member_id):
        return Refused("exported")
    if address is None:
        return Refused("no_address")
    address = address.strip()
    if not is_address(address):
        return Refused("not_an_address")
    if not is_checksum_address(address):
        return Refused("no_checksum")
    refused = await _not_a_wallet(ports, member_id, address)
    if refused:
        return refused
    confirm_with = address[-CONFIRM_CHARACTERS:]
    token = await offers.offer(ports.uow, ports.clock, member, "export", {"intent": {"new_signer": address}},
                               confirm_with=confirm_with)
    return Offered(token, ExportTerms(address, confirm_with))
