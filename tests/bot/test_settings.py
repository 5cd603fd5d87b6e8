"""Settings from the environment: secrets never show in their printed form; COOP_DEV is a clear switch."""
import pytest

from bot.settings import Settings, SettingsError

SECRETS = {
    "COOP_MASTER_KEY": "master-key-0123456789",
    "COOP_OPERATOR_KEY": "0x" + "ab" * 32,
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
