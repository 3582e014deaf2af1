import base64

import pytest

from vendor_risk.settings import SettingsError, load_settings

KEY = base64.b64encode(b"x" * 32).decode()


def test_defaults_need_nothing() -> None:
    settings = load_settings({})
    assert settings.database_url is None
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.data_keys == ()


def test_reads_every_kind_of_value() -> None:
    settings = load_settings(
        {
            "VENDOR_RISK_DATABASE_URL": "postgresql://u@db/vr",
            "VENDOR_RISK_REDIS_URL": "redis://cache:6379/1",
            "VENDOR_RISK_PUBLIC_URL": "https://risk.example.com/",
            "VENDOR_RISK_DATA_KEYS": f"k2:{KEY}, k1:{KEY}",
            "VENDOR_RISK_LOG_LEVEL": "debug",
            "VENDOR_RISK_LOG_JSON": "false",
            "VENDOR_RISK_DB_POOL_MAX": "20",
            "VENDOR_RISK_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2",
        }
    )
    assert settings.public_url == "https://risk.example.com"
    assert [k.key_id for k in settings.data_keys] == ["k2", "k1"]
    assert settings.current_data_key.key == b"x" * 32
    assert settings.log_level == "DEBUG"
    assert settings.log_json is False
    assert settings.db_pool_max == 20
    assert settings.trusted_proxies == ("10.0.0.1", "10.0.0.2")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("VENDOR_RISK_DATABASE_URL", "mysql://x", "VENDOR_RISK_DATABASE_URL"),
        ("VENDOR_RISK_REDIS_URL", "http://x", "VENDOR_RISK_REDIS_URL"),
        ("VENDOR_RISK_PUBLIC_URL", "ftp://x", "VENDOR_RISK_PUBLIC_URL"),
        ("VENDOR_RISK_DATA_KEYS", "nokey", "VENDOR_RISK_DATA_KEYS"),
        ("VENDOR_RISK_DATA_KEYS", "k:notbase64!", "not valid base64"),
        ("VENDOR_RISK_DATA_KEYS", f"k:{base64.b64encode(b'short').decode()}", "32 bytes"),
        ("VENDOR_RISK_DATA_KEYS", f"k:{KEY},k:{KEY}", "unique"),
        ("VENDOR_RISK_LOG_LEVEL", "LOUD", "VENDOR_RISK_LOG_LEVEL"),
        ("VENDOR_RISK_LOG_JSON", "maybe", "VENDOR_RISK_LOG_JSON"),
        ("VENDOR_RISK_DB_POOL_MAX", "many", "VENDOR_RISK_DB_POOL_MAX"),
        ("VENDOR_RISK_DB_POOL_MAX", "0", "at least 1"),
        ("VENDOR_RISK_MAIL_FROM", "nobody", "VENDOR_RISK_MAIL_FROM"),
        ("VENDOR_RISK_DATABSE_URL", "postgresql://x", "VENDOR_RISK_DATABSE_URL: unknown setting"),
        ("VENDOR_RISK_SESSION_SECRET", "too-short", "VENDOR_RISK_SESSION_SECRET: must be at least 32"),
        ("VENDOR_RISK_AUDIT_SIGNING_KEY", KEY, "VENDOR_RISK_AUDIT_SIGNING_KEY: expected 'id:base64'"),
        ("VENDOR_RISK_AUDIT_SIGNING_KEY", "a:short", "VENDOR_RISK_AUDIT_SIGNING_KEY: key 'a' is not valid"),
        ("VENDOR_RISK_OUTBOX_RETENTION_DAYS", "0", "VENDOR_RISK_OUTBOX_RETENTION_DAYS: must be at least 1"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({variable: value})


def test_pool_bounds_are_consistent() -> None:
    with pytest.raises(SettingsError, match="DB_POOL_MIN"):
        load_settings({"VENDOR_RISK_DB_POOL_MIN": "5", "VENDOR_RISK_DB_POOL_MAX": "2"})


def test_missing_data_key_is_explained() -> None:
    with pytest.raises(SettingsError, match="VENDOR_RISK_DATA_KEYS"):
        _ = load_settings({}).current_data_key


def test_trust_settings_are_read() -> None:
    settings = load_settings(
        {
            "VENDOR_RISK_SESSION_SECRET": "s" * 32,
            "VENDOR_RISK_AUDIT_SIGNING_KEY": f"a1:{KEY}",
            "VENDOR_RISK_AUDIT_CHECKPOINT_FILE": "/var/lib/vr/checkpoints.jsonl",
            "VENDOR_RISK_OUTBOX_RETENTION_DAYS": "90",
        }
    )
    assert settings.session_secret == "s" * 32
    assert settings.audit_signing_key is not None
    assert (settings.audit_signing_key.key_id, settings.audit_signing_key.seed) == ("a1", b"x" * 32)
    assert settings.audit_checkpoint_file == "/var/lib/vr/checkpoints.jsonl"
    assert settings.outbox_retention_days == 90
