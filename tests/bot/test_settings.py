"""Settings from the environment: secrets never show in their printed form; COOP_DEV is a clear switch."""
import pytest

from bot.settings import Settings, SettingsError

SECRETS = {
    "COOP_MASTER_KEY": "master-key-0123456789",
    "COOP_REGISTRAR_KEY": "0x" + "a1" * 32,
    "COOP_CERTIFIER_KEY": "0x" + "a2" * 32,
    "COOP_TREASURER_KEY": "0x" + "a3" * 32,
    "COOP_GAS_PAYER_KEY": "0x" + "a4" * 32,
    "TELEGRAM_BOT_TOKEN": "123456:telegram-token-xyz",
    "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-xyz",
    "WHATSAPP_TOKEN": "whatsapp-token-xyz",
    "WHATSAPP_APP_SECRET": "app-secret-xyz",
    "WHATSAPP_VERIFY_TOKEN": "verify-token-xyz",
    "COOP_DATABASE_URL": "postgresql+asyncpg://coop:db-password-xyz@db/coop",
    "COOP_MQTT_URL": "mqtts://coop:mqtt-password-xyz@broker:8883",
    "COOP_CHAIN_RPC_URL": "https://node.example/v3/rpc-api-key-xyz",
    "COOP_BUNDLER_URL": "https://bundler.example/?apikey=bundler-api-key-xyz",
}


def test_no_key_token_or_secret_shows_in_the_settings_repr_or_str(tmp_path):
    settings = Settings.from_env(SECRETS, data_dir=tmp_path)
    assert settings.telegram_token == SECRETS["TELEGRAM_BOT_TOKEN"]  # read, only not shown
    for shown in (repr(settings), str(settings), f"{settings!r}"):
        assert "Settings(" in shown and "data_dir=" in shown
        leaked = [name for name, value in SECRETS.items() if value in shown
                  or value.split("@")[0].split(":")[-1] in shown]
        assert leaked == []


@pytest.mark.parametrize("value, dev", [("1", True), ("true", True), ("0", False), ("", False), (None, False)])
def test_coop_dev_is_a_switch(tmp_path, value, dev):
    env = {} if value is None else {"COOP_DEV": value}
    assert Settings.from_env(env, data_dir=tmp_path).dev is dev


def test_a_malformed_coop_dev_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="COOP_DEV"):
        Settings.from_env({"COOP_DEV": "yes please"}, data_dir=tmp_path)


ROLE_KEYS = {name: SECRETS[name] for name in ("COOP_REGISTRAR_KEY", "COOP_CERTIFIER_KEY", "COOP_TREASURER_KEY",
                                              "COOP_GAS_PAYER_KEY")}
NODE = {"COOP_CHAIN_RPC_URL": "http://node.example", "COOP_MASTER_KEY": "master-key-0123456789"}


def test_each_role_key_is_read_into_its_own_account(tmp_path):
    keys = Settings.from_env({**NODE, **ROLE_KEYS}, data_dir=tmp_path).role_keys()
    assert len({a.address for a in keys.accounts()}) == 4
    assert keys.treasurer.key.hex().removeprefix("0x") == "a3" * 32


def test_the_retired_operator_key_is_refused_with_the_four_settings_that_replace_it(tmp_path):
    for env in ({"COOP_OPERATOR_KEY": "0x" + "ab" * 32}, {**NODE, **ROLE_KEYS, "COOP_OPERATOR_KEY": "0x" + "ab" * 32}):
        with pytest.raises(SettingsError, match="COOP_OPERATOR_KEY is no longer read") as refused:
            Settings.from_env(env, data_dir=tmp_path)
        assert all(name in str(refused.value) for name in ROLE_KEYS) and "ab" * 32 not in str(refused.value)


@pytest.mark.parametrize("same", [("COOP_REGISTRAR_KEY", "COOP_CERTIFIER_KEY"),
                                  ("COOP_TREASURER_KEY", "COOP_GAS_PAYER_KEY")])
def test_one_key_for_two_roles_is_refused_in_production(tmp_path, same):
    first, second = same
    env = {**NODE, **ROLE_KEYS, second: ROLE_KEYS[first].removeprefix("0x")}  # the same key, written otherwise
    with pytest.raises(SettingsError, match=f"{first} and {second} are the same key") as refused:
        Settings.from_env(env, data_dir=tmp_path).require_production_secrets()
    assert ROLE_KEYS[first][2:] not in str(refused.value)
    Settings.from_env({**env, "COOP_DEV": "1"}, data_dir=tmp_path).require_production_secrets()  # development may


def test_a_role_key_that_is_not_a_key_is_refused_by_name(tmp_path):
    env = {**NODE, **ROLE_KEYS, "COOP_CERTIFIER_KEY": "not a key"}
    with pytest.raises(SettingsError, match="COOP_CERTIFIER_KEY is not a private key") as refused:
        Settings.from_env(env, data_dir=tmp_path).require_production_secrets()
    assert "not a key" not in str(refused.value)


def test_the_embedded_default_needs_no_role_keys(tmp_path):
    Settings.from_env({}, data_dir=tmp_path).require_production_secrets()


def test_the_governance_delays_are_durations_with_the_pilots_defaults(tmp_path):
    pilot = Settings.from_env({}, data_dir=tmp_path).deploy_params()
    assert (pilot.voting_delay, pilot.voting_period, pilot.timelock_delay) == (86400, 7 * 86400, 2 * 86400)
    short = Settings.from_env({"COOP_VOTING_DELAY": "1m", "COOP_VOTING_PERIOD": "10m", "COOP_TIMELOCK_DELAY": "0"},
                              data_dir=tmp_path)
    assert (short.voting_delay, short.voting_period, short.timelock_delay) == (60, 600, 0)
    assert Settings.from_env({"COOP_VOTING_PERIOD": "2h"}, data_dir=tmp_path).deploy_params(voting_period=90) \
        .voting_period == 90  # `coop deploy --params` overrides


@pytest.mark.parametrize("name, value", [("COOP_VOTING_DELAY", "soon"), ("COOP_TIMELOCK_DELAY", "-5m"),
                                         ("COOP_VOTING_PERIOD", "30s"), ("COOP_VOTING_PERIOD", "1w")])
def test_a_governance_delay_that_is_not_a_duration_is_refused_by_name(tmp_path, name, value):
    with pytest.raises(SettingsError, match=f"{name} must be a duration"):
        Settings.from_env({name: value}, data_dir=tmp_path)
