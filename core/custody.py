"""Self-custody: a member hands their account to their own wallet's key, after a confirmation. Afterwards the
co-op can no longer sign for it (the backend refuses with `exported`), so use cases that act for a member
refuse up front once they have."""
from dataclasses import dataclass

from eth_utils import is_address, is_checksum_address, to_checksum_address

from chain.db import SmartAccount
from core import offers
from core.ports import Ports, UnitOfWork
from core.results import Offered, Refused


async def exported(uow: UnitOfWork, member_id: str) -> bool:
    """Whether the member took their account into their own custody (then we can no longer act for it)."""
    async with uow.read() as session:
        account = await session.get(SmartAccount, member_id)
    return account is not None and account.exported_to is not None


@dataclass(frozen=True)
class ExportTerms:
    address: str  # the member's own wallet, as they gave it (EIP-55 checksummed)


async def export(ports: Ports, member: int, member_id: str, address: str | None) -> Offered[ExportTerms] | Refused:
    """`member` (their row id; `member_id` the resident) hands their account to the wallet `address`.
    Refused: exported, no_address (None given), not_an_address, no_checksum (a single-case address could hide a
    typo that would lose everything), own_account (the co-op account itself, or the zero address)."""
    if await exported(ports.uow, member_id):
        return Refused("exported")
    if address is None:
        return Refused("no_address")
    address = address.strip()
    if not is_address(address):
        return Refused("not_an_address")
    if not is_checksum_address(address):
        return Refused("no_checksum")
    account = await ports.wallet(member_id)
    if to_checksum_address(address) in (to_checksum_address(account), "0x" + "0" * 40):
        return Refused("own_account")
    token = await offers.offer(ports.uow, ports.clock, member, "export", {"intent": {"new_signer": address}})
    return Offered(token, ExportTerms(address))
