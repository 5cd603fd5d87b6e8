"""Settings: one object, built once at start-up from the environment (modules never read it themselves).

Names and meanings: docs/settings.md.
"""
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from bot.identity import IdentityError, identity_key, parse_identity
from chain.roles import KEY_SETTINGS, RETIRED_MESSAGE, RETIRED_SETTING, Role, RoleKeyError, RoleKeys, role_keys

DEFAULT_DATA_DIR = Path.home() / ".coop"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says what to do."""


@dataclass(frozen=True)
class Settings:
    # Keys, tokens and secrets stay out of repr (and so out of logs, test reports and tracebacks that print
    # the settings); so do URLs, which may carry a password (database, MQTT) or an API key (node, bundler).
    data_dir: Path
    database_url: str = field(repr=False)
    chain_rpc_url: str | None = field(repr=False)  # None: the embedded chain in the data dir
    master_key: str | None = field(repr=False)  # COOP_MASTER_KEY; the embedded default keeps a generated one
    # One key per role on chain (chain.roles): COOP_REGISTRAR_KEY, COOP_CERTIFIER_KEY, COOP_TREASURER_KEY and
    # COOP_GAS_PAYER_KEY; the embedded default makes its own.
    registrar_key: str | None = field(repr=False)
    certifier_key: str | None = field(repr=False)
    treasurer_key: str | None = field(repr=False)
    gas_payer_key: str | None = field(repr=False)
    bundler_url: str | None = field(repr=False)
    mqtt_url: str | None = field(repr=False)
    timezone: str
    admins: frozenset[str]  # identities, "channel:id" (bot/identity.py)
    dev: bool = False  # COOP_DEV=1: `coop run`/`telegram`/`whatsapp` may use the embedded development chain
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_base: str = "https://api.telegram.org"
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    telegram_webhook_url: str | None = None  # the public URL of /webhooks/telegram, given to setWebhook
    group_chat_id: str | None = None
    whatsapp_token: str | None = field(default=None, repr=False)
    whatsapp_phone_number_id: str | None = None
    whatsapp_api_base: str = "https://graph.facebook.com/v21.0"
    whatsapp_app_secret: str | None = field(default=None, repr=False)
    whatsapp_verify_token: str | None = field(default=None, repr=False)
    whatsapp_template_notify: str | None = None  # the approved template for messages outside the 24-hour window
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    keeper_interval: float = 30.0  # seconds between the keepers' looks at orders and proposals
    mqtt_share_group: str = "coop"  # `coop ingest` processes split the telemetry stream in this MQTT 5 group
    quiet_hours: str | None = "22:00-07:00"  # warnings wait until the end (criticals never do); None: never quiet
    sensor_offline_after: float = 600.0  # seconds of silence before a sensor counts as offline
    alert_remind_after: float = 3600.0  # seconds between reminders of a critical alert that lasts
    readings_raw_days: float = 7.0  # raw sensor readings kept this long, then per-minute aggregates
    max_fee_gwei: Decimal = Decimal(100)  # the most each account pays per gas: stuck transactions not bumped past it
    fee_bump_after: float = 30.0  # seconds a sent transaction may wait unmined before its fee is raised
    confirm_ttl: float = 900.0  # seconds an offer's confirm button works
    leader_lease: float = 15.0  # seconds a replica that stopped renewing the leader lease keeps it (chain/lease.py)
    whatsapp_number: str | None = None  # the business number's digits, for click-to-chat invite links
    crash_at: str | None = None  # COOP_TEST_CRASH_AT, tests only: SIGKILL at a named stage (chain.transactions)
    # Governance timing (seconds) for a deployment this process makes: the embedded chain's first start,
    # `coop deploy`. A chain already deployed keeps the delays it was deployed with.
    voting_delay: int = 24 * 3600
    voting_period: int = 7 * 24 * 3600
    timelock_delay: int = 2 * 24 * 3600

    @property
    def embedded(self) -> bool:
        """True on the embedded defaults: the dev chain in the data dir, no external node."""
        return self.chain_rpc_url is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, data_dir: Path | None = None,
                 admins: tuple[str, ...] = (), admin_channel: str | None = None) -> "Settings":
        """Reads every setting from `env` (default os.environ); command-line options override. `admins`
        (`--admin`) may leave out the channel when `admin_channel` (the command's own) says it."""
        env = os.environ if env is None else env
        if env.get(RETIRED_SETTING):  # it would silently do nothing: say what replaced it
            raise SettingsError(RETIRED_MESSAGE)
        data_dir = Path(data_dir or env.get("COOP_DATA_DIR") or DEFAULT_DATA_DIR).expanduser().resolve()
        port = env.get("COOP_HTTP_PORT", "8080")
        if not port.isdigit():
            raise SettingsError(f"COOP_HTTP_PORT must be a port number, not {port!r}")
        quiet = env.get("COOP_QUIET_HOURS", cls.quiet_hours).strip()
        if quiet and not _quiet_hours(quiet):
            raise SettingsError(f"COOP_QUIET_HOURS must look like 22:00-07:00 (or be empty: never quiet), not {quiet!r}")
        try:
            listed = {identity_key(*parse_identity(a)) for a in env.get("COOP_ADMINS", "").split(",") if a.strip()}
            listed |= {identity_key(*parse_identity(a, admin_channel)) for a in admins}
        except IdentityError as e:
            raise SettingsError(f"COOP_ADMINS / --admin: {e}") from None
        number = env.get("COOP_WHATSAPP_NUMBER", "").strip()
        try:  # written as WhatsApp writes numbers (wa_id digits), by the same rule as a whatsapp: identity
            number = parse_identity(number, "whatsapp")[1] if number else ""
        except IdentityError:
            raise SettingsError("COOP_WHATSAPP_NUMBER must be the business phone number with its country code, "
                                f"e.g. +15551234567, not {number!r}") from None
        return cls(
            data_dir=data_dir,
            database_url=env.get("COOP_DATABASE_URL") or default_database_url(data_dir),
            chain_rpc_url=env.get("COOP_CHAIN_RPC_URL") or None,
            master_key=env.get("COOP_MASTER_KEY") or None,
            **{f"{role}_key": env.get(name) or None for role, name in KEY_SETTINGS.items()},
            bundler_url=env.get("COOP_BUNDLER_URL") or None,
            mqtt_url=env.get("COOP_MQTT_URL") or None,
            mqtt_share_group=_share_group(env.get("COOP_MQTT_SHARE_GROUP") or cls.mqtt_share_group),
            timezone=env.get("COOP_TIMEZONE", "America/New_York"),
            admins=frozenset(listed),
            dev=_switch(env, "COOP_DEV"),
            telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_api_base=env.get("TELEGRAM_API_BASE") or cls.telegram_api_base,
            telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
            telegram_webhook_url=env.get("TELEGRAM_WEBHOOK_URL") or None,
            group_chat_id=env.get("COOP_GROUP_CHAT_ID") or None,
            whatsapp_token=env.get("WHATSAPP_TOKEN") or None,
            whatsapp_phone_number_id=env.get("WHATSAPP_PHONE_NUMBER_ID") or None,
            whatsapp_api_base=env.get("WHATSAPP_API_BASE") or cls.whatsapp_api_base,
            whatsapp_app_secret=env.get("WHATSAPP_APP_SECRET") or None,
            whatsapp_verify_token=env.get("WHATSAPP_VERIFY_TOKEN") or None,
            whatsapp_template_notify=env.get("WHATSAPP_TEMPLATE_NOTIFY") or None,
            http_host=env.get("COOP_HTTP_HOST", "127.0.0.1"),
            http_port=int(port),
            keeper_interval=_seconds(env, "COOP_KEEPER_INTERVAL", cls.keeper_interval),
            quiet_hours=quiet or None,
            sensor_offline_after=_seconds(env, "COOP_SENSOR_OFFLINE_AFTER", cls.sensor_offline_after),
            alert_remind_after=_seconds(env, "COOP_ALERT_REMIND_AFTER", cls.alert_remind_after),
            readings_raw_days=_positive(env, "COOP_READINGS_RAW_DAYS", cls.readings_raw_days, "a number of days"),
            max_fee_gwei=_gwei(env, "COOP_MAX_FEE_GWEI", cls.max_fee_gwei),
            fee_bump_after=_seconds(env, "COOP_FEE_BUMP_AFTER", cls.fee_bump_after),
            confirm_ttl=_seconds(env, "COOP_CONFIRM_TTL", cls.confirm_ttl),
            leader_lease=_seconds(env, "COOP_LEADER_LEASE", cls.leader_lease),
            whatsapp_number=number or None,
            crash_at=env.get("COOP_TEST_CRASH_AT") or None,
            voting_delay=_duration(env, "COOP_VOTING_DELAY", cls.voting_delay),
            voting_period=_duration(env, "COOP_VOTING_PERIOD", cls.voting_period, least=60),
            timelock_delay=_duration(env, "COOP_TIMELOCK_DELAY", cls.timelock_delay),
        )

    def deploy_params(self, **overrides):
        """The contracts' deployment parameters with these settings' governance delays (then `overrides`)."""
        from chain.deploy import DeployParams  # web3 and the artifacts: only for a deployment

        return DeployParams(**{"voting_delay": self.voting_delay, "voting_period": self.voting_period,
                               "timelock_delay": self.timelock_delay, **overrides})

    @property
    def max_fee_wei(self) -> int:
        return int(self.max_fee_gwei * 10**9)

    def require_production_secrets(self) -> None:
        """Outside the embedded default the custodial keys need COOP_MASTER_KEY, and each role its own key."""
        if self.embedded:
            return
        missing = [name for name, value in (("COOP_MASTER_KEY", self.master_key),
                                            *((KEY_SETTINGS[role], self.key_of(role)) for role in KEY_SETTINGS))
                   if not value]
        if missing:
            raise SettingsError(f"{' and '.join(missing)} must be set when COOP_CHAIN_RPC_URL points at a node")
        self.role_keys()

    def key_of(self, role: Role) -> str | None:
        return getattr(self, f"{role}_key")

    def role_keys(self) -> RoleKeys:
        """The accounts of the role keys; two roles may share a key only in development (COOP_DEV=1)."""
        try:
            return role_keys({role: self.key_of(role) for role in KEY_SETTINGS}, shared_allowed=self.dev)
        except RoleKeyError as e:
            raise SettingsError(str(e)) from None


def default_database_url(data_dir: Path) -> str:
    """SQLite in the data dir: the database when COOP_DATABASE_URL is not set."""
    return f"sqlite+aiosqlite:///{data_dir / 'coop.db'}"


def _switch(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name} must be 1 (on) or 0 (off), not {text!r}")


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    return _positive(env, name, default, "a number of seconds")


UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(env: Mapping[str, str], name: str, default: int, least: int = 0) -> int:
    """Whole seconds from `90`, `90s`, `10m`, `2h` or `1d`; at least `least`."""
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    match = re.fullmatch(r"(\d+)\s*([smhd]?)", text)
    if not match or int(match[1]) * UNITS[match[2]] < least:
        floor = f" of at least {least} seconds" if least else ""
        raise SettingsError(f"{name} must be a duration{floor} such as 90s, 10m, 2h or 1d, not {text!r}")
    return int(match[1]) * UNITS[match[2]]


def _gwei(env: Mapping[str, str], name: str, default: Decimal) -> Decimal:
    text = env.get(name, str(default)).strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(0)
    if not (value.is_finite() and value * 10**9 >= 1):
        raise SettingsError(f"{name} must be a fee in gwei (for example 100, or 0.05 on an L2), not {text!r}")
    return value


def _positive(env: Mapping[str, str], name: str, default: float, what: str) -> float:
    text = env.get(name, str(default))
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not value > 0:
        raise SettingsError(f"{name} must be {what}, not {text!r}")
    return value


def _share_group(name: str) -> str:
    """A shared subscription's group name is one topic level: no '/', and no wildcard."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise SettingsError("COOP_MQTT_SHARE_GROUP must be a name of letters, digits, '.', '_' or '-' "
                            f"(one MQTT topic level), not {name!r}")
    return name


def _quiet_hours(text: str) -> bool:
    if not re.fullmatch(r"\d\d:\d\d-\d\d:\d\d", text):
        return False
    try:
        for part in text.split("-"):
            time.fromisoformat(part)
    except ValueError:  # 24:00, 07:61
        return False
    return True
