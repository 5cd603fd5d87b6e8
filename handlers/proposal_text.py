"""A proposal in plain words, for /proposals, /vote and the announcements: what each of its actions does
(chain/proposal_actions.py decodes them), with a warning for the dangerous ones. (Its one-line title is
core/governance.py's `one_line_title`.)

Everything here is plain text: no transport renders markup, so a title is shown exactly as typed.
"""
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from bot.store import Member
from chain.db import SmartAccount
from chain.proposal_actions import PRIVILEGED, ROLES, SIGNAL, UNKNOWN, Action, our_contracts
from locales import Translator, format_gro, format_number

WARNING = "⚠️"


@dataclass(frozen=True)
class Known:
    """What the words need from outside the actions: whose addresses they are, and the current GRO rate."""

    contracts: dict[str, str]  # address → our contract (a CoopSystem field)
    members: dict[str, str]  # account address → the member's name
    rate_per_kg: int | None = None  # GroToken.ratePerKg now (GRO wei per kg)


async def known_for(services, actions: list[Action]) -> Known:
    """`services`: anything with sessions, contracts and ledger (the handlers' Services, the App)."""
    addresses = {v for a in actions for v in _flat(a.args.values()) if isinstance(v, str) and v.startswith("0x")}
    members: dict[str, str] = {}
    if addresses:
        async with services.sessions() as session:
            rows = (await session.execute(select(SmartAccount.address, Member).join(
                Member, Member.member_id == SmartAccount.member_id).where(SmartAccount.address.in_(addresses))
                .order_by(Member.id))).all()
        for address, member in rows:
            members.setdefault(address, member.name)
    rate = None
    if any(a.function == "setRatePerKg" and a.contract == "gro" for a in actions):
        rate = await services.ledger.rate_per_kg()
    return Known(our_contracts(services.contracts), members, rate)


def _flat(values) -> list:
    out = []
    for v in values:
        out.extend(_flat(v) if isinstance(v, (list, tuple)) else [v])
    return out


def short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


def contract_name(tr: Translator, key: str) -> str:
    return {
        "registry": tr.t("the member register"),
        "food_usd": "Food-USD",
        "gro": tr.t("the GRO token"),
        "escrow": tr.t("the voting escrow (veGRO)"),
        "timelock": tr.t("the co-op's governance"),
        "governor": tr.t("the co-op's voting rules"),
        "group_buy": "GroupBuy",
        "entry_point": "EntryPoint",
        "account_factory": tr.t("the account factory"),
    }[key]


def address_name(tr: Translator, address: str, known: Known) -> str:
    """An address as members know it: our contract's name, a member's name, else shortened."""
    if address in known.contracts:
        return contract_name(tr, known.contracts[address])
    if address in known.members:
        return f"{known.members[address]} ({short(address)})"
    return short(address)


def _right(tr: Translator, role: bytes) -> str:
    name = ROLES.get(role)
    words = {
        "DEFAULT_ADMIN_ROLE": tr.t("full admin right (it can give every other right)"),
        "UPGRADER_ROLE": tr.t("upgrade right"),
        "MINTER_ROLE": tr.t("right to create Food-USD"),
        "BURNER_ROLE": tr.t("right to destroy Food-USD"),
        "PAUSER_ROLE": tr.t("right to pause Food-USD"),
        "CERTIFIER_ROLE": tr.t("right to certify produce (it creates GRO)"),
        "REGISTRAR_ROLE": tr.t("right to add and remove members"),
        "ORDER_MANAGER_ROLE": tr.t("right to open and cancel orders"),
        "PROPOSER_ROLE": tr.t("right to schedule actions"),
        "EXECUTOR_ROLE": tr.t("right to carry out actions"),
        "CANCELLER_ROLE": tr.t("right to cancel actions"),
    }.get(name)
    if words is None:
        return tr.t("unknown right {role}", role="0x" + role.hex()[:8] + "…")
    return f"{words} ({name})"


def _argument(tr: Translator, value: Any, known: Known) -> str:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return address_name(tr, value, known)
    if isinstance(value, bytes):
        return ROLES.get(value) or ("0x" + value.hex() if len(value) <= 8 else "0x" + value.hex()[:8] + "…")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_argument(tr, v, known) for v in value) + "]"
    if isinstance(value, int) and not isinstance(value, bool):
        return format_number(value, tr.lang)
    return str(value)


def _period(tr: Translator, seconds: int) -> str:
    """A period set by governance: in days or hours when it is whole ones, else in minutes (rounded up)."""
    if seconds and seconds % 86400 == 0:
        return tr.tn("{count} day", "{count} days", seconds // 86400, count=format_number(seconds // 86400, tr.lang))
    if seconds and seconds % 3600 == 0:
        return tr.tn("{count} hour", "{count} hours", seconds // 3600, count=format_number(seconds // 3600, tr.lang))
    return tr.tn("{count} minute", "{count} minutes", -(-seconds // 60), count=format_number(-(-seconds // 60), tr.lang))


def action_text(tr: Translator, action: Action, known: Known) -> str:
    """What one action does, in a few words (without its warning)."""
    on = contract_name(tr, action.contract) if action.contract else short(action.target)
    if action.kind == UNKNOWN:
        return tr.t("an unknown action on {contract}", contract=on)
    if action.kind == SIGNAL:  # alone, the proposal only asks the members' opinion
        return tr.t("read the number of members (this changes nothing)")
    args = list(action.args.values())
    match action.function:
        case "setRatePerKg":
            new, now = args[0], known.rate_per_kg
            fields = dict(rate=format_gro(new, tr.lang), now=format_gro(now or 0, tr.lang))
            if now is None or now == new:
                text = tr.t("set the GRO rate to {rate} per kg", **fields)
            elif new > now:
                text = tr.t("raise the GRO rate to {rate} per kg (now {now})", **fields)
            else:
                text = tr.t("lower the GRO rate to {rate} per kg (now {now})", **fields)
        case "setCertificationCaps":
            text = tr.t("change the certification caps: at most {batch} GRO a batch and {total} GRO every {period}",
                        batch=format_gro(args[0], tr.lang), total=format_gro(args[1], tr.lang),
                        period=_period(tr, args[2]))
        case "grantRole":
            text = tr.t("give the {right} on {contract} to {account}", right=_right(tr, args[0]), contract=on,
                        account=address_name(tr, args[1], known))
        case "revokeRole" | "renounceRole":
            text = tr.t("take the {right} on {contract} away from {account}", right=_right(tr, args[0]),
                        contract=on, account=address_name(tr, args[1], known))
        case "setProposalGuardian":
            text = tr.t("replace the co-op's board (its guardian, who can stop proposals) with {account}",
                        account=address_name(tr, args[0], known))
        case "updateDelay":
            text = tr.t("change the waiting time before passed proposals take effect to {period}",
                        period=_period(tr, args[0]))
        case "upgradeToAndCall":
            text = tr.t("upgrade {contract} to new code at {address}", contract=on, address=short(args[0]))
            if args[1]:
                text += " " + tr.t("and run a setup call with it")
        case _:
            if args:
                text = tr.t("call {function} on {contract} with {arguments}", function=action.function, contract=on,
                            arguments=", ".join(_argument(tr, v, known) for v in args))
            else:
                text = tr.t("call {function} on {contract}", function=action.function, contract=on)
    if action.value:
        text += " " + tr.t("and send {amount} ETH with it",
                           amount=format_number(Decimal(action.value).scaleb(-18).normalize(), tr.lang))
    return text


def actions_text(tr: Translator, actions: list[Action], known: Known, stoppable: bool = True) -> str:
    """One line per action, the dangerous ones marked, then what the danger is and (while the proposal can
    still be cancelled: `stoppable`) who can still stop it."""
    if all(a.kind == SIGNAL for a in actions):
        return "• " + tr.t("no action: a vote of opinion")
    lines = [f"{WARNING} " if a.kind in (PRIVILEGED, UNKNOWN) else "• " for a in actions]
    lines = [mark + action_text(tr, a, known) for mark, a in zip(lines, actions)]
    if any(a.kind == UNKNOWN for a in actions):
        danger = tr.t("I cannot read what this proposal would do: vote no unless you know what it is.")
    elif any(a.kind == PRIVILEGED for a in actions):
        danger = tr.t("This changes who controls the co-op's contracts or how they work.")
    else:
        return "\n".join(lines)
    if stoppable:
        danger += " " + tr.t("The co-op's board (its guardian) can still stop it until it takes effect.")
    lines.append(f"{WARNING} {danger}")
    return "\n".join(lines)
