"""Single sign-on against a real OpenID provider on loopback (oidc-provider-mock): the full
code flow, and each refusal as a clear page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from oidc_provider_mock import run_server_in_thread

from tests.integration.auth.conftest import Browser
from vendor_risk.app import create_app
from vendor_risk.settings import Settings

CLIENT_ID = "vendor-risk-test"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


def sso_settings(settings: Settings, provider: str, **overrides: Any) -> Settings:
    return msgspec.structs.replace(
        settings,
        oidc_issuer=provider,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret="test-secret",
        oidc_allowed_domains=("firm.example.com",),
        **overrides,
    )


@pytest.fixture(scope="module")
async def sso_client(settings: Settings, provider: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(
        app=create_app(sso_settings(settings, provider)), base_url="http://testserver.local"
    ) as client:
        yield client


async def set_claims(provider: str, sub: str, **claims: Any) -> None:
    async with httpx.AsyncClient() as http:
        stored = await http.put(f"{provider}/users/{sub}", json=claims)
        assert stored.status_code == 204, stored.text


async def through_provider(
    me: Browser, sub: str, *, tamper: dict[str, str] | None = None, state: str | None = None
) -> httpx.Response:
    """Start at the sign-in page's button, let the provider authorize ``sub``, come back."""
    started = await me.get("/ui/sso/start")
    assert started.status_code == 303, started.text
    authorize = urlsplit(started.headers["location"])
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert query["code_challenge_method"] == "S256"
    assert all(query[name] for name in ("state", "nonce", "code_challenge"))
    query.update(tamper or {})
    url = urlunsplit(authorize._replace(query=urlencode(query)))
    async with httpx.AsyncClient() as http:
        granted = await http.post(url, data={"sub": sub})
    assert granted.status_code == 302, granted.text
    back = urlsplit(granted.headers["location"])
    assert back.path == "/ui/sso/callback"
    params = {k: v[0] for k, v in parse_qs(back.query).items()}
    if state is not None:
        params["state"] = state
    return await me.get("/ui/sso/callback", **params)


async def test_a_known_user_signs_in_through_the_provider(
    sso_client: AsyncTestClient[Litestar], provider: str, make_user: Any, pool: asyncpg.Pool
) -> None:
    user = await make_user("auditor", email="li.lei@firm.example.com")
    await set_claims(provider, "li-lei", email="li.lei@firm.example.com", email_verified=True, name="李雷")
    me = Browser(sso_client)
    login = await me.get("/ui/login", lang="zh-CN")
    assert "/ui/sso/start" in login.text
    assert "使用单点登录" in login.text
    done = await through_provider(me, "li-lei")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/ui"
    assert (await me.get("/ui")).status_code == 200
    linked = await pool.fetchval("SELECT oidc_subject FROM users WHERE id = $1", user["id"])
    assert linked == f"{provider} li-lei"
    method = await pool.fetchval(
        "SELECT after->>'method' FROM audit_events WHERE entity_id = $1 AND action = 'signin.succeeded'"
        " ORDER BY seq DESC LIMIT 1",
        str(user["id"]),
    )
    assert method == "oidc"


@pytest.mark.parametrize(
    ("case", "reason_text"),
    [
        ("state", "登录请求已过期或不是从本页面发起的"),
        ("nonce", "nonce 不匹配"),
        ("audience", "受众不匹配"),
        ("domain", "您的邮箱所属域不允许登录本系统"),
        ("unknown", "请联系管理员为您开通"),
    ],
)
async def test_each_refusal_is_a_clear_page(
    sso_client: AsyncTestClient[Litestar],
    provider: str,
    make_user: Any,
    pool: asyncpg.Pool,
    case: str,
    reason_text: str,
) -> None:
    email = {"domain": "x@elsewhere.example.org", "unknown": "new.person@firm.example.com"}.get(
        case, "known@firm.example.com"
    )
    if case in ("state", "nonce", "audience") and not await pool.fetchval(
        "SELECT 1 FROM users WHERE email = $1", email
    ):
        await make_user("procurement", email=email)
    claims: dict[str, Any] = {"email": email, "email_verified": True}
    if case == "audience":
        claims["aud"] = "another-client"  # the provider signs a token for someone else
    await set_claims(provider, f"sub-{case}", **claims)
    me = Browser(sso_client)
    refused = await through_provider(
        me,
        f"sub-{case}",
        tamper={"nonce": "not-the-nonce-we-sent"} if case == "nonce" else None,
        state="forged-state" if case == "state" else None,
    )
    assert refused.status_code == 403, refused.text
    assert "单点登录未成功" in refused.text
    assert reason_text in refused.text
    assert "vr_ui_session" not in me.cookies
    assert (await me.get("/ui")).status_code == 303
    logged = await pool.fetchval(
        "SELECT after->>'reason' FROM audit_events WHERE action = 'signin.failed' AND entity_type = 'signin'"
        " ORDER BY seq DESC LIMIT 1"
    )
    assert logged == case
    if case == "unknown":
        assert await pool.fetchval("SELECT count(*) FROM users WHERE email = $1", email) == 0


async def test_provisioning_creates_an_unknown_user_with_the_claimed_role(
    settings: Settings, provider: str, pool: asyncpg.Pool
) -> None:
    own = sso_settings(settings, provider, oidc_provision=True, password_signin=False)
    async with AsyncTestClient(app=create_app(own), base_url="http://testserver.local") as client:
        await set_claims(
            provider,
            "zhao-min",
            email="zhao.min@firm.example.com",
            name="赵敏",
            vendor_risk_role="procurement",
        )
        me = Browser(client)
        login = await me.get("/ui/login")
        assert 'name="password"' not in login.text  # password sign-in is off
        done = await through_provider(me, "zhao-min")
        assert done.status_code == 303, done.text
        row = await pool.fetchrow("SELECT name, role FROM users WHERE email = 'zhao.min@firm.example.com'")
        assert (row["name"], row["role"]) == ("赵敏", "procurement")
