"""Staff accounts: invitations, passwords, the second factor, sign-in with its throttling,
sessions and API keys. Every change and every sign-in outcome is audited (never a secret),
in the transaction of the change."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from uuid import UUID

import asyncpg

from vendor_risk import audit
from vendor_risk.audit.models import Actor
from vendor_risk.auth import emails
from vendor_risk.auth import repository as repo
from vendor_risk.auth.cache import notify_auth_changed
from vendor_risk.auth.keys import generate_key
from vendor_risk.auth.models import (
    ApiKey,
    Invited,
    NewApiKey,
    Role,
    User,
    UserCreate,
    UserUpdate,
    UserWithKey,
)
from vendor_risk.auth.passwords import hash_password, password_problem, verify_password
from vendor_risk.auth.secondfactor import (
    matching_step,
    new_recovery_codes,
    new_secret,
    normalise_recovery_code,
    recovery_hash,
)
from vendor_risk.auth.sessions import open_session
from vendor_risk.db import data_keys_of
from vendor_risk.documents import TOTP_SECRET, open_text, seal_text
from vendor_risk.errors import Problem, field_error, not_found, stale_version
from vendor_risk.i18n import translator
from vendor_risk.notify.outbox import enqueue_email
from vendor_risk.settings import Settings

LINK_LIFETIME: Final = timedelta(hours=72)
LINK_BYTES: Final = 32
CHALLENGE_LIFETIME: Final = timedelta(minutes=10)
CHALLENGE_ATTEMPTS: Final = 5
# Per account (by the email typed): three free tries, then 1, 2, 4 … 60 s between tries,
# and at the tenth failure a lock of 15 minutes and an email to the owner.
FREE_FAILURES: Final = 3
LOCK_AFTER: Final = 10
LOCK_FOR: Final = timedelta(minutes=15)
MAX_DELAY: Final = 60
# Per client address, looser: an office behind one address must not lock itself out.
ADDRESS_FREE_FAILURES: Final = 20
ADDRESS_LOCK_AFTER: Final = 100
FAILURES_FORGOTTEN_AFTER: Final = timedelta(days=1)


def _now() -> datetime:
    return datetime.now(UTC)


def link_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def actor_for(user: User) -> Actor:
    return Actor(id=user.id, label=f"{user.name} <{user.email}>")


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request came from, for sessions, throttling and the audit trail."""

    address: str
    user_agent: str


# --- users and invitations ------------------------------------------------------------------------


async def create_user(conn: asyncpg.Connection, actor: Actor, data: UserCreate) -> UserWithKey:
    """Create a user with a first API key, returned once and never stored: for the operator
    at the command line (``users create --api-key``), automation and the tests. People are
    invited (``invite_user``)."""
    async with conn.transaction():
        user = await _insert_user(conn, actor, data)
        issued = await _issue_key(conn, actor, user.id, "default")
    return UserWithKey(user=user, api_key=issued.api_key, key=issued.key)


async def _insert_user(conn: asyncpg.Connection, actor: Actor, data: UserCreate) -> User:
    existing = await repo.find_user_by_email(conn, data.email)
    if existing is not None:
        raise Problem(
            409,
            "duplicate-user",
            f"a user with email {data.email} already exists",
            user_id=str(existing.id),
        )
    try:
        user = await repo.insert_user(conn, data.email, data.name, data.role.value, data.locale)
    except asyncpg.UniqueViolationError:
        raise Problem(409, "duplicate-user", f"a user with email {data.email} already exists") from None
    await audit.record(
        conn, actor=actor, action="user.created", entity_type="user", entity_id=user.id, after=user
    )
    return user


async def invite_user(
    conn: asyncpg.Connection, actor: Actor, data: UserCreate, settings: Settings
) -> tuple[Invited, str]:
    """Create a user and email them a one-time link to set their password. The link is
    returned for the command line only; the API never shows it (whoever sets the password
    is the user)."""
    async with conn.transaction():
        user = await _insert_user(conn, actor, data)
        invited, link = await _invite(conn, actor, user, settings)
    return invited, link


async def resend_invitation(
    conn: asyncpg.Connection, actor: Actor, user_id: UUID, settings: Settings
) -> tuple[Invited, str]:
    """A fresh link for a user who has not set a password yet; the earlier links stop."""
    async with conn.transaction():
        user = await repo.get_user(conn, user_id, for_update=True)
        if user is None:
            raise not_found("user", user_id)
        if user.disabled:
            raise Problem(409, "user-disabled", f"user {user_id} is disabled; enable it first")
        if user.has_password:
            raise Problem(
                409, "invitation-accepted", "this user has set a password already; use a password reset"
            )
        await repo.retire_tokens(conn, user.id, "invitation")
        invited, link = await _invite(conn, actor, user, settings)
    return invited, link


async def _invite(
    conn: asyncpg.Connection, actor: Actor, user: User, settings: Settings
) -> tuple[Invited, str]:
    token = secrets.token_urlsafe(LINK_BYTES)
    expires = await repo.insert_token(conn, user.id, "invitation", link_hash(token), LINK_LIFETIME)
    link = f"{settings.public_url}/ui/password/{token}"
    await enqueue_email(
        conn,
        topic="auth_invitation",
        email=emails.invitation(
            to=user.email,
            lang=user.locale,
            name=user.name,
            role=user.role.value,
            inviter=actor.label,
            link=link,
            expires=expires,
        ),
    )
    await audit.record(
        conn,
        actor=actor,
        action="user.invited",
        entity_type="user",
        entity_id=user.id,
        after={"email": user.email, "role": user.role, "expires_at": expires},
    )
    return Invited(user=user, invitation_expires_at=expires), link


LAST_ADMIN_RULE: Final = "last-admin-credential"


async def _check_admins(conn: asyncpg.Connection, settings: Settings) -> None:
    """Refuse (409, rolling the change back) when no enabled admin could sign in after it."""
    domains = list(settings.oidc_allowed_domains) if settings.oidc_issuer else []
    if await repo.admins_who_can_sign_in(conn, settings.password_signin, domains) == 0:
        raise Problem(
            409,
            LAST_ADMIN_RULE,
            "the last enabled administrator cannot be disabled, demoted or left without a way "
            "to sign in (rule: at least one enabled admin with a password, a key, an open "
            "invitation or single sign-on)",
            rule=LAST_ADMIN_RULE,
        )


async def _lock_admins(conn: asyncpg.Connection) -> None:
    # Two admins disabling each other at once must not both succeed.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('vendor_risk:admins'))")


async def update_user(
    conn: asyncpg.Connection, actor: Actor, user_id: UUID, data: UserUpdate, settings: Settings | None = None
) -> User:
    """Rename, change role or locale, disable or enable. Disabling ends the user's sessions
    and keys at once; the last admin who can sign in cannot be disabled or demoted."""
    async with conn.transaction():
        await _lock_admins(conn)
        before = await repo.get_user(conn, user_id, for_update=True)
        if before is None:
            raise not_found("user", user_id)
        if before.version != data.version:
            raise stale_version("user", data.version, before.version)
        changes: dict[str, object] = {}
        if data.name is not None and data.name != before.name:
            changes["name"] = data.name
        if data.role is not None and data.role != before.role:
            changes["role"] = data.role.value
        if data.locale is not None and data.locale != before.locale:
            changes["locale"] = data.locale
        if data.disabled is not None and data.disabled != before.disabled:
            if data.disabled and actor.id == user_id:
                raise Problem(409, "self-disable", "you cannot disable your own account")
            changes["disabled_at"] = _now() if data.disabled else None
        if not changes:
            return before
        after = await repo.update_user(conn, user_id, changes)
        if before.role == Role.ADMIN and (after.role != Role.ADMIN or after.disabled):
            await _check_admins(conn, settings or Settings())
        await notify_auth_changed(conn)
        await audit.record(
            conn,
            actor=actor,
            action="user.updated",
            entity_type="user",
            entity_id=user_id,
            before=before,
            after=after,
        )
        if after.disabled and not before.disabled:
            await _sessions_ended(conn, actor, user_id, "disabled")
    return after


async def _sessions_ended(conn: asyncpg.Connection, actor: Actor, user_id: UUID, reason: str) -> int:
    ended = await repo.end_sessions(conn, user_id)
    if ended:
        await audit.record(
            conn,
            actor=actor,
            action="sessions.ended",
            entity_type="user",
            entity_id=user_id,
            after={"sessions": ended, "reason": reason},
        )
    return ended


async def end_all_sessions(conn: asyncpg.Connection, actor: Actor, user_id: UUID) -> int:
    """An administrator signs a user out everywhere."""
    async with conn.transaction():
        if await repo.get_user(conn, user_id) is None:
            raise not_found("user", user_id)
        return await _sessions_ended(conn, actor, user_id, "ended_by_admin")


async def end_session(conn: asyncpg.Connection, actor: Actor, user_id: UUID, session_id: UUID) -> bool:
    """A user ends one of their own sessions (another browser, a lost phone)."""
    async with conn.transaction():
        ended = await conn.fetchval(
            "DELETE FROM staff_sessions WHERE id = $1 AND user_id = $2 RETURNING id", session_id, user_id
        )
        if ended is None:
            return False
        await audit.record(
            conn,
            actor=actor,
            action="session.ended",
            entity_type="user",
            entity_id=user_id,
            after={"session_id": session_id, "reason": "ended_by_user"},
        )
    return True


async def sign_out(conn: asyncpg.Connection, token: str) -> None:
    async with conn.transaction():
        row = await conn.fetchrow(
            """
            DELETE FROM staff_sessions s USING users u
            WHERE s.token_hash = $1 AND u.id = s.user_id
            RETURNING s.id, u.id AS user_id, u.name, u.email
            """,
            hashlib.sha256(token.encode()).digest(),
        )
        if row is None:
            return
        await audit.record(
            conn,
            actor=Actor(id=row["user_id"], label=f"{row['name']} <{row['email']}>"),
            action="session.ended",
            entity_type="user",
            entity_id=row["user_id"],
            after={"session_id": row["id"], "reason": "signed_out"},
        )


# --- API keys -------------------------------------------------------------------------------------


async def create_key(conn: asyncpg.Connection, actor: Actor, user_id: UUID, name: str) -> NewApiKey:
    """A new key for the caller only: a key acts as its user, so nobody may mint one for
    someone else (an admin included: that would let them act, audited, as another person)."""
    if actor.id != user_id:
        raise Problem(403, "own-keys-only", "API keys can be created only by their own user")
    async with conn.transaction():
        user = await repo.get_user(conn, user_id)
        if user is None:
            raise not_found("user", user_id)
        if user.disabled:
            raise Problem(409, "user-disabled", f"user {user_id} is disabled; enable it first")
        return await _issue_key(conn, actor, user_id, name)


async def _issue_key(conn: asyncpg.Connection, actor: Actor, user_id: UUID, name: str) -> NewApiKey:
    key = generate_key()
    api_key = await repo.insert_key(conn, user_id, name, key)
    await audit.record(
        conn,
        actor=actor,
        action="api_key.created",
        entity_type="api_key",
        entity_id=api_key.id,
        after=api_key,
    )
    return NewApiKey(api_key=api_key, key=key)


async def revoke_key(
    conn: asyncpg.Connection,
    actor: Actor,
    key_id: UUID,
    settings: Settings | None = None,
    *,
    owner: UUID | None = None,
) -> ApiKey:
    """Revoke a key; with ``owner`` only a key of that user (a user revoking their own)."""
    async with conn.transaction():
        await _lock_admins(conn)
        before = await repo.get_key(conn, key_id)
        if before is None or (owner is not None and before.user_id != owner):
            raise not_found("API key", key_id)
        after = await repo.revoke_key(conn, key_id)
        if not before.revoked:
            await _check_admins(conn, settings or Settings())
        await notify_auth_changed(conn)
        if not before.revoked:
            await audit.record(
                conn,
                actor=actor,
                action="api_key.revoked",
                entity_type="api_key",
                entity_id=key_id,
                before=before,
                after=after,
            )
    return after


# --- passwords ------------------------------------------------------------------------------------


class LinkGone(Problem):
    """A used, expired or unknown one-time link: a page that says so (410), not an error."""

    def __init__(self) -> None:
        super().__init__(410, "link-gone", "this link was used already, has expired or does not exist")


async def link_owner(conn: asyncpg.Connection, token: str) -> tuple[User, str]:
    """The user and purpose (``invitation`` or ``reset``) of a live one-time link."""
    row = await conn.fetchrow(
        """
        SELECT user_id, purpose FROM user_tokens
        WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
        """,
        link_hash(token),
    )
    if row is None:
        raise LinkGone()
    user = await repo.get_user(conn, row["user_id"])
    if user is None or user.disabled:
        raise LinkGone()
    return user, row["purpose"]


def check_new_password(password: str, confirm: str, email: str, lang: str) -> None:
    """A 400 naming ``password`` (or ``confirm``) when the new password cannot be used."""
    t = translator(lang)
    if problem := password_problem(password, email):
        raise field_error("password", t(problem))
    if password != confirm:
        raise field_error("confirm", t("auth_password_mismatch"))


async def set_password(
    conn: asyncpg.Connection, token: str, password: str, confirm: str, client: Client, lang: str
) -> User:
    """Set the password through an invitation or reset link. The link then stops working,
    every session of the user ends, and earlier failed sign-ins are forgotten."""
    user, purpose = await link_owner(conn, token)
    check_new_password(password, confirm, user.email, lang)
    hashed = await hash_password(password)
    async with conn.transaction():
        used = await conn.fetchval(
            """
            UPDATE user_tokens SET used_at = now()
            WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
            RETURNING user_id
            """,
            link_hash(token),
        )
        if used != user.id:
            raise LinkGone()
        await conn.execute(
            """
            UPDATE users SET password_hash = $2, password_changed_at = now(), version = version + 1
            WHERE id = $1
            """,
            user.id,
            hashed,
        )
        await repo.retire_tokens(conn, user.id)
        await conn.execute("DELETE FROM signin_failures WHERE key = $1", _account_key(user.email))
        actor = actor_for(user)
        await audit.record(
            conn,
            actor=actor,
            action="password.set" if purpose == "invitation" else "password.reset",
            entity_type="user",
            entity_id=user.id,
            after={"purpose": purpose, "address": client.address},
        )
        await _sessions_ended(conn, actor, user.id, "password_" + purpose)
        await notify_auth_changed(conn)
    return user


async def request_reset(conn: asyncpg.Connection, settings: Settings, email: str, client: Client) -> None:
    """Email a reset link when ``email`` is an enabled user's; the caller answers the same
    either way, so the page never tells whether an address has an account."""
    async with conn.transaction():
        user = await repo.find_user_by_email(conn, email)
        if user is None or user.disabled:
            return
        token = secrets.token_urlsafe(LINK_BYTES)
        await repo.retire_tokens(conn, user.id, "reset")
        expires = await repo.insert_token(conn, user.id, "reset", link_hash(token), LINK_LIFETIME)
        await enqueue_email(
            conn,
            topic="auth_reset",
            email=emails.reset(
                to=user.email,
                lang=user.locale,
                name=user.name,
                link=f"{settings.public_url}/ui/password/{token}",
                expires=expires,
            ),
        )
        await audit.record(
            conn,
            actor=Actor(id=None, label=f"reset:{client.address}"),
            action="password.reset_requested",
            entity_type="user",
            entity_id=user.id,
            after={"address": client.address, "expires_at": expires},
        )


# --- sign-in --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    user: User
    next: str


@dataclass(frozen=True, slots=True)
class SecondStep:
    """The password was right; a code (``code``) or an enrolment (``enrol``) is still owed."""

    token: str
    stage: str


class SignInRefused(Exception):
    """A refused sign-in: ``throttled`` (with the seconds to wait) or ``invalid``; the page
    says the same for an unknown email and a wrong password."""

    def __init__(self, reason: str, retry_after: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _account_key(email: str) -> str:
    return f"account:{email.strip().lower()[:254]}"


def _address_key(address: str) -> str:
    return f"address:{address}"


def _wait_for(row: asyncpg.Record | None, free: int, now: datetime) -> int:
    """Seconds before this key may try again: the lock, or the backoff after free tries."""
    if row is None:
        return 0
    if row["locked_until"] is not None and row["locked_until"] > now:
        return int((row["locked_until"] - now).total_seconds()) + 1
    if now - row["last_failed_at"] > FAILURES_FORGOTTEN_AFTER or row["failures"] < free:
        return 0
    delay = min(2 ** (row["failures"] - free), MAX_DELAY)
    remaining = (row["last_failed_at"] + timedelta(seconds=delay) - now).total_seconds()
    return max(0, int(remaining + 0.999))


async def _throttled(conn: asyncpg.Connection, email: str, address: str) -> int:
    rows = {
        r["key"]: r
        for r in await conn.fetch(
            "SELECT key, failures, last_failed_at, locked_until FROM signin_failures WHERE key = ANY($1)",
            [_account_key(email), _address_key(address)],
        )
    }
    now = _now()
    return max(
        _wait_for(rows.get(_account_key(email)), FREE_FAILURES, now),
        _wait_for(rows.get(_address_key(address)), ADDRESS_FREE_FAILURES, now),
    )


async def _count_failure(conn: asyncpg.Connection, key: str, lock_after: int) -> bool:
    """One more failure for ``key``; True when it just became locked."""
    failures = await conn.fetchval(
        """
        INSERT INTO signin_failures AS f (key, failures, last_failed_at) VALUES ($1, 1, now())
        ON CONFLICT (key) DO UPDATE SET
            failures = CASE WHEN f.last_failed_at < now() - $2::interval THEN 1 ELSE f.failures + 1 END,
            last_failed_at = now()
        RETURNING failures
        """,
        key,
        FAILURES_FORGOTTEN_AFTER,
    )
    if failures < lock_after:
        return False
    await conn.execute(
        "UPDATE signin_failures SET failures = 0, locked_until = now() + $2::interval WHERE key = $1",
        key,
        LOCK_FOR,
    )
    return True


async def _failed(
    conn: asyncpg.Connection,
    settings: Settings,
    email: str,
    user: User | None,
    client: Client,
    reason: str,
) -> None:
    """Count, audit and (at the lock) announce a failed sign-in, the same way whether or not
    the email belongs to anyone."""
    async with conn.transaction():
        locked = await _count_failure(conn, _account_key(email), LOCK_AFTER)
        await _count_failure(conn, _address_key(client.address), ADDRESS_LOCK_AFTER)
        actor = actor_for(user) if user else Actor(id=None, label=f"sign-in:{email[:254]}")
        entity_type, entity_id = ("user", str(user.id)) if user else ("signin", email.strip().lower()[:254])
        details = {"reason": reason, "address": client.address, "user_agent": client.user_agent[:300]}
        await audit.record(
            conn,
            actor=actor,
            action="signin.failed",
            entity_type=entity_type,
            entity_id=entity_id,
            after=details,
        )
        if locked:
            until = _now() + LOCK_FOR
            await audit.record(
                conn,
                actor=actor,
                action="signin.locked",
                entity_type=entity_type,
                entity_id=entity_id,
                after={"until": until, "failures": LOCK_AFTER, "address": client.address},
            )
            if user is not None:
                await enqueue_email(
                    conn,
                    topic="auth_lockout",
                    email=emails.lockout(
                        to=user.email,
                        lang=user.locale,
                        name=user.name,
                        until=until,
                        failures=LOCK_AFTER,
                        reset_link=f"{settings.public_url}/ui/password/forgot",
                    ),
                )


def needs_second_factor(user: User, settings: Settings) -> bool:
    """The firm's policy (``second_factor_roles``) decides which roles need a second factor."""
    return user.role.value in settings.policy.second_factor_roles


async def sign_in(
    conn: asyncpg.Connection, settings: Settings, email: str, password: str, client: Client, next_page: str
) -> SignedIn | SecondStep:
    """Check an email and password. Throttled callers are refused before any check; an
    unknown email costs the same hash as a wrong password and gets the same refusal."""
    if not settings.password_signin:
        raise SignInRefused("invalid")
    wait = await _throttled(conn, email, client.address)
    if wait:
        raise SignInRefused("throttled", wait)
    row = await conn.fetchrow(
        f"SELECT {repo.USER_COLUMNS}, password_hash FROM users WHERE lower(email) = lower($1)", email
    )
    user = repo.to_user(_without(row, "password_hash")) if row else None
    stored = row["password_hash"] if row and user and not user.disabled else None
    if not await verify_password(stored, password) or user is None:
        await _failed(conn, settings, email, user, client, "password")
        raise SignInRefused("invalid")
    await conn.execute("DELETE FROM signin_failures WHERE key = $1", _account_key(email))
    if user.second_factor or needs_second_factor(user, settings):
        return await _second_step(conn, user, "code" if user.second_factor else "enrol", next_page)
    return await open_signed_in(conn, user, "password", client, next_page)


def _without(row: asyncpg.Record, column: str) -> dict[str, object]:
    return {k: v for k, v in row.items() if k != column}


async def _second_step(conn: asyncpg.Connection, user: User, stage: str, next_page: str) -> SecondStep:
    token = secrets.token_urlsafe(LINK_BYTES)
    await conn.execute(
        """
        WITH swept AS (DELETE FROM signin_challenges WHERE expires_at <= now() OR user_id = $2)
        INSERT INTO signin_challenges (token_hash, user_id, stage, next, expires_at)
        VALUES ($1, $2, $3, $4, now() + $5::interval)
        """,
        link_hash(token),
        user.id,
        stage,
        next_page,
        CHALLENGE_LIFETIME,
    )
    return SecondStep(token=token, stage=stage)


async def open_signed_in(
    conn: asyncpg.Connection, user: User, method: str, client: Client, next_page: str
) -> SignedIn:
    """Open the session of a user who has proven who they are, audited."""
    async with conn.transaction():
        opened = await open_session(
            conn, user.id, method=method, address=client.address, user_agent=client.user_agent
        )
        if opened is None:
            raise SignInRefused("invalid")
        token, session_id = opened
        await audit.record(
            conn,
            actor=actor_for(user),
            action="signin.succeeded",
            entity_type="user",
            entity_id=user.id,
            after={
                "method": method,
                "session_id": session_id,
                "address": client.address,
                "user_agent": client.user_agent[:300],
            },
        )
    return SignedIn(token=token, user=user, next=next_page)


@dataclass(frozen=True, slots=True)
class Pending:
    """A sign-in waiting for its second step."""

    user: User
    stage: str
    next: str


async def pending_sign_in(conn: asyncpg.Connection, token: str) -> Pending | None:
    row = await conn.fetchrow(
        """
        SELECT user_id, stage, next FROM signin_challenges
        WHERE token_hash = $1 AND expires_at > now() AND attempts < $2
        """,
        link_hash(token),
        CHALLENGE_ATTEMPTS,
    )
    if row is None:
        return None
    user = await repo.get_user(conn, row["user_id"])
    if user is None or user.disabled:
        return None
    return Pending(user=user, stage=row["stage"], next=row["next"])


async def verify_second_factor(
    conn: asyncpg.Connection, settings: Settings, token: str, code: str, client: Client
) -> SignedIn:
    """The second step: a TOTP code or an unused recovery code opens the session. Wrong
    codes count as failed sign-ins of the account (the same backoff and lock)."""
    pending = await pending_sign_in(conn, token)
    if pending is None or pending.stage != "code":
        raise SignInRefused("expired")
    user = pending.user
    wait = await _throttled(conn, user.email, client.address)
    if wait:
        raise SignInRefused("throttled", wait)
    async with conn.transaction():
        await conn.execute(
            "UPDATE signin_challenges SET attempts = attempts + 1 WHERE token_hash = $1", link_hash(token)
        )
        method = await _use_code(conn, user, code)
        if method is not None:
            await conn.execute("DELETE FROM signin_challenges WHERE token_hash = $1", link_hash(token))
            await conn.execute("DELETE FROM signin_failures WHERE key = $1", _account_key(user.email))
    if method is None:
        await _failed(conn, settings, user.email, user, client, "code")
        raise SignInRefused("invalid")
    return await open_signed_in(conn, user, "password", client, pending.next)


async def _use_code(conn: asyncpg.Connection, user: User, code: str) -> str | None:
    """``totp`` or ``recovery`` when ``code`` is good (and now spent); None otherwise."""
    row = await conn.fetchrow(
        "SELECT totp_secret, totp_key_id, totp_sealed, totp_last_step FROM users WHERE id = $1 FOR UPDATE",
        user.id,
    )
    secret = (
        _open_totp(conn, user.id, row["totp_secret"], row["totp_key_id"], row["totp_sealed"]) if row else None
    )
    if row is None or secret is None:
        return None
    step = matching_step(secret, code, row["totp_last_step"])
    if step is not None:
        await conn.execute("UPDATE users SET totp_last_step = $2 WHERE id = $1", user.id, step)
        return "totp"
    recovery = normalise_recovery_code(code)
    if not recovery:
        return None
    used = await conn.fetchval(
        """
        UPDATE recovery_codes SET used_at = now()
        WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING user_id
        """,
        user.id,
        recovery_hash(recovery),
    )
    if used is None:
        return None
    left = await conn.fetchval(
        "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL", user.id
    )
    await audit.record(
        conn,
        actor=actor_for(user),
        action="second_factor.recovery_code_used",
        entity_type="user",
        entity_id=user.id,
        after={"codes_left": left},
    )
    return "recovery"


# --- the second factor ----------------------------------------------------------------------------


def _open_totp(
    conn: asyncpg.Connection, user_id: UUID, plain: str | None, key_id: str | None, sealed: bytes | None
) -> str | None:
    if sealed is None or key_id is None:
        return plain  # written before sealing, or with no data key configured
    return open_text(data_keys_of(conn), key_id, TOTP_SECRET, user_id, sealed)


def _seal_totp(
    conn: asyncpg.Connection, user_id: UUID, secret: str
) -> tuple[str | None, str | None, bytes | None]:
    """``(clear, key id, sealed)``: sealed under the current data key when there is one."""
    keys = data_keys_of(conn)
    if not keys:
        return secret, None, None
    key_id, sealed = seal_text(keys, TOTP_SECRET, user_id, secret)
    return None, key_id, sealed


async def enrolment_secret(conn: asyncpg.Connection, user_id: UUID) -> str:
    """The secret being enrolled (kept until confirmed, so a reload shows the same QR code)."""
    async with conn.transaction():
        row = await conn.fetchrow(
            """
            SELECT totp_pending_secret, totp_pending_key_id, totp_pending_sealed
            FROM users WHERE id = $1 FOR UPDATE
            """,
            user_id,
        )
        kept = _open_totp(
            conn, user_id, row["totp_pending_secret"], row["totp_pending_key_id"], row["totp_pending_sealed"]
        )
        if kept is not None:
            return kept
        secret = new_secret()
        await conn.execute(
            """
            UPDATE users SET totp_pending_secret = $2, totp_pending_key_id = $3, totp_pending_sealed = $4
            WHERE id = $1
            """,
            user_id,
            *_seal_totp(conn, user_id, secret),
        )
    return secret


async def confirm_enrolment(
    conn: asyncpg.Connection, actor: Actor, user_id: UUID, code: str
) -> list[str] | None:
    """Confirm the pending secret with one code: the second factor is on, and ten new
    recovery codes are returned (to be shown once). None when the code is wrong."""
    async with conn.transaction():
        row = await conn.fetchrow(
            """
            SELECT totp_pending_secret, totp_pending_key_id, totp_pending_sealed
            FROM users WHERE id = $1 FOR UPDATE
            """,
            user_id,
        )
        secret = (
            _open_totp(
                conn,
                user_id,
                row["totp_pending_secret"],
                row["totp_pending_key_id"],
                row["totp_pending_sealed"],
            )
            if row
            else None
        )
        step = matching_step(secret, code, None) if secret else None
        if secret is None or step is None:
            return None
        # The pending secret is sealed under the same label and row: it moves as it is.
        await conn.execute(
            """
            UPDATE users SET totp_secret = totp_pending_secret, totp_key_id = totp_pending_key_id,
                totp_sealed = totp_pending_sealed, totp_pending_secret = NULL,
                totp_pending_key_id = NULL, totp_pending_sealed = NULL,
                totp_enabled_at = now(), totp_last_step = $2, version = version + 1
            WHERE id = $1
            """,
            user_id,
            step,
        )
        codes = await _new_recovery_codes(conn, user_id)
        await audit.record(
            conn,
            actor=actor,
            action="second_factor.enrolled",
            entity_type="user",
            entity_id=user_id,
            after={"method": "totp", "recovery_codes": len(codes)},
        )
    return codes


async def _new_recovery_codes(conn: asyncpg.Connection, user_id: UUID) -> list[str]:
    codes = new_recovery_codes()
    await conn.execute("DELETE FROM recovery_codes WHERE user_id = $1", user_id)
    await conn.executemany(
        "INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)",
        [(user_id, recovery_hash(code)) for code in codes],
    )
    return codes


async def enrol_at_sign_in(
    conn: asyncpg.Connection, token: str, code: str, client: Client
) -> tuple[SignedIn, list[str]] | None:
    """Enrolment owed at sign-in (the role requires a second factor): a good code turns it
    on and opens the session; None when the code is wrong."""
    pending = await pending_sign_in(conn, token)
    if pending is None or pending.stage != "enrol":
        raise SignInRefused("expired")
    await conn.execute(
        "UPDATE signin_challenges SET attempts = attempts + 1 WHERE token_hash = $1", link_hash(token)
    )
    codes = await confirm_enrolment(conn, actor_for(pending.user), pending.user.id, code)
    if codes is None:
        return None
    await conn.execute("DELETE FROM signin_challenges WHERE token_hash = $1", link_hash(token))
    return await open_signed_in(conn, pending.user, "password", client, pending.next), codes


async def regenerate_recovery_codes(conn: asyncpg.Connection, actor: Actor, user_id: UUID) -> list[str]:
    async with conn.transaction():
        enabled = await conn.fetchval("SELECT totp_enabled_at IS NOT NULL FROM users WHERE id = $1", user_id)
        if not enabled:
            raise Problem(409, "second-factor-off", "turn the second factor on first")
        codes = await _new_recovery_codes(conn, user_id)
        await audit.record(
            conn,
            actor=actor,
            action="second_factor.recovery_codes_replaced",
            entity_type="user",
            entity_id=user_id,
            after={"recovery_codes": len(codes)},
        )
    return codes


async def _clear_second_factor(conn: asyncpg.Connection, user_id: UUID) -> None:
    await conn.execute(
        """
        UPDATE users SET totp_secret = NULL, totp_key_id = NULL, totp_sealed = NULL,
            totp_pending_secret = NULL, totp_pending_key_id = NULL, totp_pending_sealed = NULL,
            totp_enabled_at = NULL, totp_last_step = NULL, version = version + 1
        WHERE id = $1
        """,
        user_id,
    )
    await conn.execute("DELETE FROM recovery_codes WHERE user_id = $1", user_id)


async def disable_second_factor(conn: asyncpg.Connection, user: User, settings: Settings) -> None:
    """A user turns their own second factor off, where their role does not require it."""
    if needs_second_factor(user, settings):
        raise Problem(
            409,
            "second-factor-required",
            f"the role {user.role.value} must use a second factor",
            rule="second-factor-required",
        )
    async with conn.transaction():
        await _clear_second_factor(conn, user.id)
        await audit.record(
            conn,
            actor=actor_for(user),
            action="second_factor.disabled",
            entity_type="user",
            entity_id=user.id,
            after={"method": "totp"},
        )


async def reset_second_factor(conn: asyncpg.Connection, actor: Actor, user_id: UUID) -> User:
    """An administrator clears a user's second factor (a lost phone): the user enrols again
    at their next sign-in, and their sessions end now."""
    async with conn.transaction():
        user = await repo.get_user(conn, user_id, for_update=True)
        if user is None:
            raise not_found("user", user_id)
        await _clear_second_factor(conn, user_id)
        await audit.record(
            conn,
            actor=actor,
            action="second_factor.reset",
            entity_type="user",
            entity_id=user_id,
            after={"by_admin": True},
        )
        await _sessions_ended(conn, actor, user_id, "second_factor_reset")
        after = await repo.get_user(conn, user_id)
    if after is None:
        raise not_found("user", user_id)
    return after
