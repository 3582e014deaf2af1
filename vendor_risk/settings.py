"""Settings read once from ``VENDOR_RISK_*`` environment variables.

A bad value stops the process at start with a message naming the variable; nothing reads
the environment after that.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from vendor_risk.policy import Policy, PolicyError, load_policy, shipped_policy

PREFIX = "VENDOR_RISK_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Settings that moved: a user who still sets one is told where it went, not just "unknown".
MOVED = {
    f"{PREFIX}TOTP_REQUIRED_ROLES": "the roles that must use a second factor are the policy's "
    f"second_factor_roles (policy.yaml; {PREFIX}POLICY_FILE names your copy)",
}
# Settings a command decides, never read from the environment.
NOT_FROM_ENVIRONMENT = frozenset({"dev_mailbox", "policy"})


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


class DataKey(msgspec.Struct, frozen=True):
    """One AES-256 key for documents at rest, with the id stored beside each ciphertext."""

    key_id: str
    key: bytes


class SigningKey(msgspec.Struct, frozen=True):
    """The Ed25519 private key (its 32-byte seed) that signs audit checkpoints."""

    key_id: str
    seed: bytes


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the service can be configured with.

    Each field maps to ``VENDOR_RISK_<FIELD NAME IN CAPITALS>``; the README's configuration
    table lists them with the same defaults.
    """

    database_url: str | None = None
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    # "id:base64key" pairs, comma separated; the first one encrypts, all of them decrypt.
    data_keys: tuple[DataKey, ...] = ()
    smtp_url: str = "smtp://127.0.0.1:1025"
    mail_from: str = "vendor-risk <no-reply@localhost>"
    log_level: str = "INFO"
    log_json: bool = True
    db_pool_min: int = 2
    db_pool_max: int = 10
    trusted_proxies: tuple[str, ...] = ()
    allow_private_webhooks: bool = False
    portal_link_days: int = 30
    # Requests a minute one portal link may make; one address may make 2.5 times as many
    # (several partners behind one NAT). Raised only for load tests or large firms.
    portal_requests_per_minute: int = 120
    agreement_expiring_days: int = 60
    data_dir: str = ".vendor-risk"
    # `vendor-risk worker` serves its job metrics on this port; 0 serves none.
    worker_metrics_port: int = 0
    # Single sign-on with OpenID Connect; off while no issuer is set.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    # Email domains allowed to sign in through the provider; empty allows none.
    oidc_allowed_domains: tuple[str, ...] = ()
    # The ID token claim whose value is the role of a user created at first sign-in.
    oidc_role_claim: str = "vendor_risk_role"
    # Create unknown users at their first single sign-on (off: they ask an administrator).
    oidc_provision: bool = False
    # Password sign-in; may be switched off only while single sign-on is on.
    password_signin: bool = True
    # Not an environment variable: only `vendor-risk up` sets it, when no SMTP server is
    # configured, so outgoing mail lands in the development mailbox (/ui/dev/mail).
    dev_mailbox: bool = False
    # What one assessment's link may upload as evidence in all (removed files count too).
    evidence_max_files: int = 50
    evidence_max_mb: int = 200
    # /metrics answers only a request bearing this token; unset, there is no /metrics.
    metrics_token: str | None = None
    # Signs CSRF tokens of the portal and the staff pages: the same in every process, and
    # independent of the data keys so that rotating those breaks no open form.
    session_secret: str = ""
    # "id:base64 seed" of the Ed25519 key that signs audit checkpoints.
    audit_signing_key: SigningKey | None = None
    # Signed checkpoints are also appended to this file (JSON lines) when set.
    audit_checkpoint_file: str = ""
    # Delivered outbox messages keep their content this long, then only their metadata.
    outbox_retention_days: int = 30
    # The firm's risk policy file; None reads the shipped policy.yaml.
    policy_file: str | None = None
    # The policy read from it at start (not an environment variable itself).
    policy: Policy = msgspec.field(default_factory=shipped_policy)

    @property
    def assessment_grace_days(self) -> int:
        """Days after its due date an unsubmitted assessment expires: the policy's
        ``assessments.grace_days`` (it was the setting VENDOR_RISK_ASSESSMENT_GRACE_DAYS)."""
        return self.policy.assessments.grace_days

    @property
    def current_data_key(self) -> DataKey:
        if not self.data_keys:
            raise SettingsError(f"{PREFIX}DATA_KEYS is not set: documents cannot be encrypted")
        return self.data_keys[0]


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}: expected true or false, got {raw!r}")


def _parse_int(name: str, raw: str, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {value}")
    return value


def _parse_url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        raise SettingsError(f"{name}: expected a URL starting with {' or '.join(schemes)}://")
    return raw


def parse_data_keys(name: str, raw: str) -> tuple[DataKey, ...]:
    keys: list[DataKey] = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id:
            raise SettingsError(f"{name}: each key is 'id:base64', got {item[:8]!r}…")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise SettingsError(f"{name}: key {key_id!r} is not valid base64") from None
        if len(key) != 32:
            raise SettingsError(f"{name}: key {key_id!r} must be 32 bytes (AES-256)")
        keys.append(DataKey(key_id=key_id, key=key))
    if len({k.key_id for k in keys}) != len(keys):
        raise SettingsError(f"{name}: key ids must be unique")
    return tuple(keys)


MIN_SESSION_SECRET_LENGTH = 32


def parse_signing_key(name: str, raw: str) -> SigningKey:
    key_id, sep, encoded = raw.strip().partition(":")
    if not sep or not key_id:
        raise SettingsError(f"{name}: expected 'id:base64', got {raw[:8]!r}…")
    try:
        seed = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise SettingsError(f"{name}: key {key_id!r} is not valid base64") from None
    if len(seed) != 32:
        raise SettingsError(f"{name}: key {key_id!r} must be a 32-byte Ed25519 seed")
    return SigningKey(key_id=key_id, seed=seed)


def parse_session_secret(name: str, raw: str) -> str:
    secret = raw.strip()
    if len(secret) < MIN_SESSION_SECRET_LENGTH:
        raise SettingsError(f"{name}: must be at least {MIN_SESSION_SECRET_LENGTH} characters")
    return secret


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from the environment (``os.environ`` by default).

    Unknown ``VENDOR_RISK_*`` variables are refused too: a misspelt variable that is
    silently ignored is a production incident waiting to happen.
    """
    env = os.environ if environ is None else environ
    known = {
        f"{PREFIX}{name.upper()}" for name in Settings.__struct_fields__ if name not in NOT_FROM_ENVIRONMENT
    }
    # Test-only variables are read by the test suite, not by the service.
    allowed_extra = {f"{PREFIX}TEST_DATABASE_URL", f"{PREFIX}TEST_REDIS_URL"}
    unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in known | allowed_extra)
    for var in unknown:
        if var in MOVED:
            raise SettingsError(f"{var}: no longer a setting; {MOVED[var]}")
    if unknown:
        raise SettingsError(f"{unknown[0]}: unknown setting (see the README's configuration)")

    values: dict[str, Any] = {}

    def get(field_name: str) -> tuple[str, str] | None:
        var = f"{PREFIX}{field_name.upper()}"
        raw = env.get(var)
        return None if raw is None or raw == "" else (var, raw)

    if item := get("database_url"):
        values["database_url"] = _parse_url(*item, schemes=("postgresql", "postgres"))
    if item := get("redis_url"):
        values["redis_url"] = _parse_url(*item, schemes=("redis", "rediss", "unix"))
    if item := get("public_url"):
        values["public_url"] = _parse_url(*item, schemes=("http", "https")).rstrip("/")
    if item := get("data_keys"):
        values["data_keys"] = parse_data_keys(*item)
    if item := get("smtp_url"):
        values["smtp_url"] = _parse_url(*item, schemes=("smtp", "smtps", "smtp+starttls"))
    if item := get("mail_from"):
        if "@" not in item[1]:
            raise SettingsError(f"{item[0]}: expected an email address")
        values["mail_from"] = item[1]
    if item := get("log_level"):
        level = item[1].upper()
        if level not in LOG_LEVELS:
            raise SettingsError(f"{item[0]}: expected one of {', '.join(LOG_LEVELS)}")
        values["log_level"] = level
    if item := get("log_json"):
        values["log_json"] = _parse_bool(*item)
    for name, minimum in (
        ("db_pool_min", 1),
        ("db_pool_max", 1),
        ("portal_link_days", 1),
        ("portal_requests_per_minute", 10),
        ("agreement_expiring_days", 1),
        ("evidence_max_files", 1),
        ("evidence_max_mb", 1),
        ("outbox_retention_days", 1),
    ):
        if item := get(name):
            values[name] = _parse_int(*item, minimum=minimum)
    if item := get("trusted_proxies"):
        values["trusted_proxies"] = tuple(p.strip() for p in item[1].split(",") if p.strip())
    if item := get("allow_private_webhooks"):
        values["allow_private_webhooks"] = _parse_bool(*item)
    if item := get("metrics_token"):
        if len(item[1]) < 16:
            raise SettingsError(f"{item[0]}: use at least 16 characters")
        values["metrics_token"] = item[1]
    if item := get("data_dir"):
        values["data_dir"] = item[1]
    if item := get("worker_metrics_port"):
        port = _parse_int(*item, minimum=0)
        if port > 65535:
            raise SettingsError(f"{item[0]}: not a port number: {port}")
        values["worker_metrics_port"] = port
    if item := get("oidc_issuer"):
        values["oidc_issuer"] = _parse_url(*item, schemes=("https", "http")).rstrip("/")
    for name in ("oidc_client_id", "oidc_client_secret", "oidc_role_claim"):
        if item := get(name):
            values[name] = item[1].strip()
    if item := get("oidc_allowed_domains"):
        values["oidc_allowed_domains"] = tuple(
            d.strip().lower().lstrip("@") for d in item[1].split(",") if d.strip()
        )
    for name in ("oidc_provision", "password_signin"):
        if item := get(name):
            values[name] = _parse_bool(*item)
    if item := get("session_secret"):
        values["session_secret"] = parse_session_secret(*item)
    if item := get("audit_signing_key"):
        values["audit_signing_key"] = parse_signing_key(*item)
    if item := get("audit_checkpoint_file"):
        values["audit_checkpoint_file"] = item[1]
    if item := get("policy_file"):
        values["policy_file"] = item[1]
        try:
            values["policy"] = load_policy(Path(item[1]))
        except PolicyError as exc:
            # The file's own messages name it and the key; the variable says where it came from.
            raise SettingsError(f"{item[0]}: {exc}") from None
    values.update(overrides)
    settings = Settings(**values)
    if settings.db_pool_min > settings.db_pool_max:
        raise SettingsError(f"{PREFIX}DB_POOL_MIN: must not exceed {PREFIX}DB_POOL_MAX")
    if settings.oidc_issuer and not settings.oidc_client_id:
        raise SettingsError(f"{PREFIX}OIDC_CLIENT_ID: required when {PREFIX}OIDC_ISSUER is set")
    if not settings.password_signin and not settings.oidc_issuer:
        raise SettingsError(
            f"{PREFIX}PASSWORD_SIGNIN: may be false only with single sign-on ({PREFIX}OIDC_ISSUER)"
        )
    return settings
