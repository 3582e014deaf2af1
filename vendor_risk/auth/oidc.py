"""Single sign-on with OpenID Connect: the authorization code flow with PKCE.

authlib builds the authorization request (state, nonce, S256 code challenge); the ID token
is verified with joserfc (which authlib builds on) against the issuer's JWKS: signature,
issuer, audience, expiry and the nonce this browser was given. Each refusal has its own
reason, shown to the user as a clear page and written to the audit trail.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import asyncpg
import httpx
import msgspec
import structlog
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from vendor_risk import audit
from vendor_risk.audit.models import Actor
from vendor_risk.auth import repository as repo
from vendor_risk.auth.models import Role, User
from vendor_risk.auth.service import Client, SignedIn, actor_for, open_signed_in
from vendor_risk.settings import Settings

log = structlog.get_logger("vendor_risk.auth")
FLOW_LIFETIME: Final = timedelta(minutes=10)
HTTP_TIMEOUT: Final = 10.0
METADATA_TTL: Final = 3600.0
SCOPE: Final = "openid email profile"
ALGORITHMS: Final = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


class SsoRefused(Exception):
    """Why a single sign-on was refused: ``state``, ``provider``, ``token``, ``nonce``,
    ``audience``, ``claims``, ``domain``, ``unknown``, ``role`` or ``disabled``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class _Provider:
    metadata: dict[str, Any]
    keys: KeySet | None
    fetched: float


_providers: dict[str, _Provider] = {}


def redirect_uri(settings: Settings) -> str:
    return f"{settings.public_url}/ui/sso/callback"


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def _provider(http: httpx.AsyncClient, issuer: str, *, refresh_keys: bool = False) -> _Provider:
    cached = _providers.get(issuer)
    if cached is None or time.monotonic() - cached.fetched > METADATA_TTL:
        response = await http.get(f"{issuer}/.well-known/openid-configuration", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        cached = _Provider(metadata=response.json(), keys=None, fetched=time.monotonic())
        _providers[issuer] = cached
    if cached.keys is None or refresh_keys:
        response = await http.get(cached.metadata["jwks_uri"], timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        cached.keys = KeySet.import_key_set(response.json())
    return cached


async def start(
    conn: asyncpg.Connection, http: httpx.AsyncClient, settings: Settings, next_page: str
) -> tuple[str, str]:
    """Begin a sign-in: the token for this browser's cookie and the provider URL to go to."""
    provider = await _provider(http, settings.oidc_issuer or "")
    token = secrets.token_urlsafe(32)
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    await conn.execute(
        """
        WITH swept AS (DELETE FROM oidc_flows WHERE expires_at <= now())
        INSERT INTO oidc_flows (token_hash, state, nonce, code_verifier, next, expires_at)
        VALUES ($1, $2, $3, $4, $5, now() + $6::interval)
        """,
        _hash(token),
        state,
        nonce,
        verifier,
        next_page,
        FLOW_LIFETIME,
    )
    url = prepare_grant_uri(
        provider.metadata["authorization_endpoint"],
        settings.oidc_client_id or "",
        "code",
        redirect_uri=redirect_uri(settings),
        scope=SCOPE,
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return token, str(url)


async def finish(
    conn: asyncpg.Connection,
    http: httpx.AsyncClient,
    settings: Settings,
    flow_token: str,
    params: dict[str, str],
    client: Client,
) -> SignedIn:
    """Complete a sign-in from the provider's redirect; raises ``SsoRefused`` (audited)."""
    try:
        return await _finish(conn, http, settings, flow_token, params, client)
    except SsoRefused as refused:
        log.warning("single sign-on refused", reason=refused.reason, detail=refused.detail)
        async with conn.transaction():
            await audit.record(
                conn,
                actor=Actor(id=None, label=f"sso:{refused.detail or 'unknown'}"[:300]),
                action="signin.failed",
                entity_type="signin",
                entity_id="sso",
                after={"method": "oidc", "reason": refused.reason, "address": client.address},
            )
        raise


async def _finish(
    conn: asyncpg.Connection,
    http: httpx.AsyncClient,
    settings: Settings,
    flow_token: str,
    params: dict[str, str],
    client: Client,
) -> SignedIn:
    client_id = settings.oidc_client_id or ""
    flow = await conn.fetchrow(
        "DELETE FROM oidc_flows WHERE token_hash = $1 AND expires_at > now() RETURNING *",
        _hash(flow_token) if flow_token else b"",
    )
    state = params.get("state", "")
    if flow is None or not secrets.compare_digest(state.encode(), flow["state"].encode()):
        raise SsoRefused("state")
    if params.get("error") or not params.get("code"):
        raise SsoRefused("provider", params.get("error", "no code")[:100])
    provider = await _provider(http, settings.oidc_issuer or "")
    try:
        response = await http.post(
            provider.metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": redirect_uri(settings),
                "code_verifier": flow["code_verifier"],
                "client_id": client_id,
            },
            auth=(client_id, settings.oidc_client_secret or ""),
            headers={"Accept": "application/json"},
            timeout=HTTP_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise SsoRefused("token", type(exc).__name__) from None
    if response.status_code != 200:
        raise SsoRefused("token", f"HTTP {response.status_code}")
    id_token = response.json().get("id_token")
    if not isinstance(id_token, str):
        raise SsoRefused("token", "no id_token")
    claims = await _verified_claims(http, settings, id_token)
    if not secrets.compare_digest(str(claims.get("nonce", "")).encode(), flow["nonce"].encode()):
        raise SsoRefused("nonce")
    user = await _user_for(conn, settings, claims)
    return await open_signed_in(conn, user, "oidc", client, flow["next"])


async def _verified_claims(http: httpx.AsyncClient, settings: Settings, id_token: str) -> dict[str, Any]:
    issuer = settings.oidc_issuer or ""
    provider = await _provider(http, issuer)
    try:
        try:
            token = jwt.decode(id_token, provider.keys, algorithms=ALGORITHMS)  # type: ignore[arg-type]
        except JoseError:
            # The provider may have rotated its keys since we fetched them.
            provider = await _provider(http, issuer, refresh_keys=True)
            token = jwt.decode(id_token, provider.keys, algorithms=ALGORITHMS)  # type: ignore[arg-type]
    except (JoseError, ValueError) as exc:
        raise SsoRefused("token", type(exc).__name__) from None
    claims: dict[str, Any] = dict(token.claims)
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if settings.oidc_client_id not in audiences or (
        len(audiences) > 1 and claims.get("azp") != settings.oidc_client_id
    ):
        raise SsoRefused("audience", str(audience)[:100])
    registry = JWTClaimsRegistry(
        leeway=60,
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise SsoRefused("claims", type(exc).__name__) from None
    return claims


async def _user_for(conn: asyncpg.Connection, settings: Settings, claims: dict[str, Any]) -> User:
    """The user these verified claims are: by subject once linked, else by a verified email
    in an allowed domain; created only when provisioning is on."""
    email = str(claims.get("email") or "").strip()
    if not email or "@" not in email or claims.get("email_verified") is False:
        raise SsoRefused("claims", "no verified email")
    domain = email.rpartition("@")[2].lower()
    if domain not in settings.oidc_allowed_domains:
        raise SsoRefused("domain", email)
    subject = f"{settings.oidc_issuer} {claims['sub']}"
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""
            SELECT {repo.USER_COLUMNS}, oidc_subject FROM users
            WHERE oidc_subject = $1 OR lower(email) = lower($2)
            ORDER BY oidc_subject = $1 DESC NULLS LAST LIMIT 1 FOR UPDATE
            """,
            subject,
            email,
        )
        if row is not None:
            user = repo.to_user({k: v for k, v in row.items() if k != "oidc_subject"})
            if user.disabled:
                raise SsoRefused("disabled", email)
            if row["oidc_subject"] is None:
                await conn.execute("UPDATE users SET oidc_subject = $2 WHERE id = $1", user.id, subject)
                await audit.record(
                    conn,
                    actor=actor_for(user),
                    action="user.sso_linked",
                    entity_type="user",
                    entity_id=user.id,
                    after={"issuer": settings.oidc_issuer},
                )
            elif row["oidc_subject"] != subject:
                # The email now belongs to another account at the provider.
                raise SsoRefused("unknown", email)
            return user
        if not settings.oidc_provision:
            raise SsoRefused("unknown", email)
        try:
            role = Role(str(claims.get(settings.oidc_role_claim, "")))
        except ValueError:
            raise SsoRefused("role", email) from None
        name = str(claims.get("name") or email.partition("@")[0])[:200]
        locale = "en" if str(claims.get("locale", "")).lower().startswith("en") else "zh-CN"
        user = await repo.insert_user(conn, email, name, role.value, locale, oidc_subject=subject)
        await audit.record(
            conn,
            actor=Actor(id=None, label=f"sso:{settings.oidc_issuer}"),
            action="user.provisioned",
            entity_type="user",
            entity_id=user.id,
            after=msgspec.to_builtins(user),
        )
    return user
