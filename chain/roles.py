"""The backend's keys, one per role, read from their settings and checked (docs/chain.md, "Roles and keys").

No key may do everything: the registrar registers members, the certifier certifies produce, the treasurer
records cash and manages orders, and the gas payer, which holds no role, pays for members' operations and
the keepers' calls (which anyone may make). Each account pays its own gas.
"""
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.deploy import CoopSystem, Roles

Role = Literal["registrar", "certifier", "treasurer", "gas_payer"]

# Each role's setting, in the order they are documented.
KEY_SETTINGS: dict[Role, str] = {
    "registrar": "COOP_REGISTRAR_KEY",
    "certifier": "COOP_CERTIFIER_KEY",
    "treasurer": "COOP_TREASURER_KEY",
    "gas_payer": "COOP_GAS_PAYER_KEY",
}
RETIRED_SETTING = "COOP_OPERATOR_KEY"
RETIRED_MESSAGE = (f"{RETIRED_SETTING} is no longer read: the operator's rights are split between four keys. Set "
                   f"{', '.join(KEY_SETTINGS.values())} instead (docs/settings.md), each to its own account's key, "
                   f"and unset {RETIRED_SETTING}")


# The rights each role's account must hold on chain: (CoopSystem attribute, role constant).
RIGHTS: dict[Role, tuple[tuple[str, str], ...]] = {
    "registrar": (("registry", "REGISTRAR_ROLE"),),
    "certifier": (("gro", "CERTIFIER_ROLE"),),
    "treasurer": (("food_usd", "MINTER_ROLE"), ("food_usd", "BURNER_ROLE"), ("food_usd", "PAUSER_ROLE"),
                  ("group_buy", "ORDER_MANAGER_ROLE")),
    "gas_payer": (),
}


class RoleKeyError(ValueError):
    """A role's key is missing, malformed, or shared with another role; the message names the settings."""


@dataclass(frozen=True)
class RoleKeys:
    """The accounts the backend signs with, one per role."""

    registrar: LocalAccount
    certifier: LocalAccount
    treasurer: LocalAccount
    gas_payer: LocalAccount

    def of(self, role: Role) -> LocalAccount:
        return getattr(self, role)

    def accounts(self) -> list[LocalAccount]:
        """Every distinct account, once (in development two roles may share one)."""
        seen: dict[str, LocalAccount] = {}
        for f in fields(self):
            account = getattr(self, f.name)
            seen.setdefault(account.address, account)
        return list(seen.values())

    def roles(self, guardian: str) -> Roles:
        """The role holders to deploy with."""
        return Roles(self.registrar.address, self.certifier.address, self.treasurer.address, guardian)


def role_keys(keys: Mapping[Role, str | None], shared_allowed: bool = False) -> RoleKeys:
    """The accounts of the four keys (hex, by role). Refuses a missing or malformed key and, unless
    `shared_allowed` (development), one key given to two roles: then one leak would give both rights."""
    missing = [KEY_SETTINGS[role] for role in KEY_SETTINGS if not keys.get(role)]
    if missing:
        raise RoleKeyError(f"{' and '.join(missing)} must be set: each role signs with its own key (docs/settings.md)")
    accounts: dict[Role, LocalAccount] = {}
    for role in KEY_SETTINGS:
        try:
            accounts[role] = Account.from_key(keys[role])
        except (ValueError, TypeError):  # never echo the key
            raise RoleKeyError(f"{KEY_SETTINGS[role]} is not a private key (64 hex digits)") from None
    if not shared_allowed:
        holders: dict[str, list[str]] = {}
        for role, account in accounts.items():
            holders.setdefault(account.address, []).append(KEY_SETTINGS[role])
        shared = [names for names in holders.values() if len(names) > 1]
        if shared:
            raise RoleKeyError(f"{' and '.join(shared[0])} are the same key: give each role its own account, so "
                               "that one leaked key cannot do the others' work (COOP_DEV=1 allows it in development)")
    return RoleKeys(**accounts)


def missing_rights(contracts: CoopSystem, keys: RoleKeys) -> list[str]:
    """The rights a key's account lacks on chain, each said with its setting (none: every key fits). Read
    at start-up, so that a key put in the wrong setting is said once, not as every intent of that kind
    failing."""
    missing = []
    for role, rights in RIGHTS.items():
        account = keys.of(role).address
        for attribute, name in rights:
            contract = getattr(contracts, attribute)
            if not contract.functions.hasRole(getattr(contract.functions, name)().call(), account).call():
                missing.append(f"{KEY_SETTINGS[role]} is the key of {account}, which does not hold {name} on "
                               f"{contract.address}")
    return missing


__all__ = ["KEY_SETTINGS", "RETIRED_MESSAGE", "RETIRED_SETTING", "RIGHTS", "Role", "RoleKeyError", "RoleKeys",
           "missing_rights", "role_keys"]
