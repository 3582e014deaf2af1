"""Every page walked as each staff role in zh-CN and in en, and the partner-facing pages
(self-service ``/p``, the questionnaire portal ``/q``, the notice link ``/n``) in both.

The GET routes are read from the app itself, so a new page is walked without being listed
here; path parameters are filled by name from one data set seeded once for the module (the
demo firm plus what the areas' own tests make: a reviewed and re-answered assessment,
findings raised by hand and one being verified, an incident with its art. 57 record, a
notice publication, a client, a certificate and a contact-change proposal sent from
self-service).

In zh-CN a page fails on a raw code (a snake_case word, a questionnaire:question id, an
English word from the code lists) or an ASCII ``:`` ``(`` ``)`` ``,`` right after a
Chinese character; in en on any Chinese text. What people typed (names, titles, notes,
read from the database) is data, not the page's words, and is taken out first. A 403 is
accepted (the role may not open the page: the API's guard decides); a 500 never is. Each
staff page also runs at most ``PAGE_QUERIES`` statements (counted with ``count_queries``).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar

from tests.conftest import Settings
from tests.helpers import new_credit_code, outbox_emails
from tests.integration.assessments.conftest import PDF, Client, Partner, User, complete, csrf_of
from tests.integration.selfservice.conftest import Contact, latest_link
from tests.integration.ui.conftest import Browser
from tests.integration.ui.querycount import count_queries
from vendor_risk.demo import load_demo
from vendor_risk.incidents.loader import library
from vendor_risk.incidents.playbook import ACTION_NAMES
from vendor_risk.ui.web import LANGUAGE_NAMES

ROLES = ("admin", "procurement", "risk_owner", "auditor")
LANGS = ("zh-CN", "en")

# Routes not walked for their text, and why. Downloads (files, CSV, PDF, workbooks, exports)
# are not HTML: they are fetched for their status only (never a 500).
DOWNLOAD = re.compile(
    r"/(document|file|evidence|(evidence|proofs)/\{[^}]+\}|clients\.csv|letters\.pdf|export|download)$"
)
DOWNLOAD_PREFIXES = (
    "/ui/reports/documents/",
    "/ui/reports/exports/",
    "/ui/reports/import/template",
    "/ui/clients/import/template",
)
SKIPPED = {
    # Signing in: a signed-in staff member is sent on; the sign-in pages are walked signed out.
    "/ui/login/code",
    "/ui/login/enrol",
    # The OpenID provider's round trip (tests/integration/auth covers it).
    "/ui/sso/start",
    "/ui/sso/callback",
    # A password-reset link's token is emailed; the page is walked by the auth tests.
    "/ui/password/{token}",
    # An htmx fragment answering one typed code, not a page.
    "/ui/partners/check-credit-code",
}
PAGE_QUERIES = 25
SIGNED_OUT = ("/ui/login", "/ui/password/forgot", "/p/sign-in", "/p/sign-in/sent")

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
CJK_THEN_ASCII = re.compile(r"[\u3400-\u9fff][ \u00a0]*[:(),]")
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
QUESTION_ID = re.compile(r"\b[a-z0-9]+(?:-[a-z0-9]+)*:[a-z]+-\d+\b")
WORD = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
EMAIL = re.compile(r"[\w.+-]+@[\w.-]+")
# Values of the code lists that must only ever show by their label on a Chinese page.
CODE_WORDS = {
    *("onboarding", "periodic", "triggered", "offboarding", "offboarded", "proposed", "active"),
    *("suspended", "sent", "submitted", "approved", "rejected", "expired", "cancelled"),
    *("open", "remediating", "resolved", "accepted", "verifying", "low", "medium", "high"),
    *("critical", "approve", "reject", "manual", "nda", "dpa", "msa", "sla", "suspected"),
    *("dismissed", "pending", "skipped", "succeeded", "procurement", "auditor", "personal"),
    *("confidential", "requirement", "guidance", "advisory", "store", "api", "person", "company"),
    *ACTION_NAMES,
    *library(),
    *(step.id for playbook in library().values() for step in playbook.steps),
}


class _Text(HTMLParser):
    """The visible text of the body, without code hints, hashes, verbatim records and the
    language switch (which names each language in itself)."""

    VOID = {"br", "input", "meta", "link", "img", "hr", "source", "wbr"}
    SKIP = {"script", "style", "code", "pre", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        named = dict(attrs)
        classes = (named.get("class") or "").split()
        skipping = (
            tag in self.SKIP
            or bool({"code", "lang", "hash", "who"} & set(classes))
            or "data-verbatim" in named
            or ("lang" in named and tag in ("a", "span", "option"))
        )
        self.stack.append(skipping or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.parts.append(data)


def visible(html: str, typed: list[str]) -> str:
    parser = _Text()
    parser.feed(html.split("<body", 1)[-1])
    text = " ".join(parser.parts)
    for value in typed:
        text = text.replace(value, " ")
    return EMAIL.sub(" ", text)


def problems(text: str, lang: str) -> list[str]:
    def near(m: re.Match[str]) -> str:
        return repr(text[max(0, m.start() - 25) : m.end() + 15])

    if lang == "en":
        return [f"Chinese text {near(m)}" for m in CJK.finditer(text)]
    found = [f"ASCII punctuation after Chinese {near(m)}" for m in CJK_THEN_ASCII.finditer(text)]
    found += [f"snake_case code {m.group(0)!r}" for m in SNAKE.finditer(text)]
    found += [f"question id {m.group(0)!r}" for m in QUESTION_ID.finditer(text)]
    found += [f"code word {w!r}" for w in WORD.findall(text) if w in CODE_WORDS]
    return found


def test_the_checks_catch_what_they_look_for() -> None:
    page = (
        "<body><main><p>得分: 80</p><p>提交(第一部分)</p><p>tier_factor</p><p>critical</p>"
        '<small class="code">ac-1</small><p>baseline-security:ac-03</p></main></body>'
    )
    found = problems(visible(page, []), "zh-CN")
    assert sum("punctuation" in f for f in found) == 3, found
    assert any("'tier_factor'" in f for f in found)
    assert any("'critical'" in f for f in found)
    assert any("baseline-security:ac-03" in f for f in found)
    assert (
        problems(visible("<body><p>得分：80（合格）</p><small class='code'>ac_1</small></body>", []), "zh-CN")
        == []
    )
    assert problems(visible("<body><p>Score 严重</p></body>", []), "en")
    assert problems(visible("<body><p>Acme 云账房</p></body>", ["Acme 云账房"]), "en") == []


# --- the data set, seeded once ------------------------------------------------------------


async def _ok(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def _contact(client: Client, pool: asyncpg.Pool, settings: Settings, email: str, lang: str) -> Contact:
    me = Contact(client, email, lang)
    assert (await me.ask_link()).status_code == 303
    async with pool.acquire() as db:
        link = await latest_link(db, settings, email)
    assert link
    page = await me.get(link)
    assert (await me.post(link, {"_csrf_token": csrf_of(page.text)})).status_code == 303
    return me


@pytest.fixture(scope="module")
async def world(
    client: Client, pool: asyncpg.Pool, settings: Settings, procurement: User, make_user: Any
) -> dict[str, Any]:
    # A risk owner of the walk's own: what the seed emails them is not in other tests' inboxes.
    risk_owner = await make_user("risk_owner", name="Walk Owner")
    async with pool.acquire() as conn:
        await load_demo(conn, settings)
    api, owner = procurement["headers"], risk_owner["headers"]
    tag = secrets.token_hex(3)
    email = f"ann-{tag}@partner.example.com"
    partner = await _ok(
        await client.post(
            "/api/v1/partners",
            json={
                "name": f"Walk Payroll {tag}",
                "legal_name": f"Walk Payroll Ltd {tag}",
                "credit_code": new_credit_code(),
                "country": "CN",
                "business_criticality": "high",
                "services": ["payroll"],
                "owner_id": str(risk_owner["id"]),
                "contacts": [
                    {"name": "Ann Lee", "email": email, "primary": True, "locale": "en"},
                    {"name": "Bo Chen", "email": f"bo-{tag}@partner.example.com", "locale": "en"},
                ],
            },
            headers=api,
        )
    )
    pid = partner["id"]
    categories = (await client.get("/api/v1/data-categories", headers=api)).json()
    sensitive = next(c for c in categories if c["sensitivity"] == "sensitive_personal")
    scope = await _ok(
        await client.post(
            f"/api/v1/partners/{pid}/scopes",
            json={
                "category_id": sensitive["id"],
                "purpose": "Payroll",
                "processing_methods": ["store", "access_remotely"],
                "transfer_method": "api",
                "starts_on": "2026-01-01",
                "retention_days": 30,
                "volume_band": "1k_10k",
                "cross_border": True,
            },
            headers=api,
        )
    )
    agreement = await _ok(
        await client.post(
            f"/api/v1/partners/{pid}/agreements",
            json={
                "kind": "dpa",
                "title": "DPA 2026",
                "signed_on": "2026-01-01",
                "signatories": [{"party": "us", "name": "Us"}, {"party": "partner", "name": "Them"}],
                "category_ids": [sensitive["id"]],
                "clauses": ["purpose"],
            },
            headers=api,
        )
    )
    # Answered, reviewed, then re-answered with a failure: the review page has changes.
    first = await _ok(
        await client.post(
            f"/api/v1/partners/{pid}/assessments",
            json={"kind": "onboarding", "questionnaires": ["valid-example"]},
            headers=api,
        )
    )
    await complete(Partner(client, first["link"]), **{"dh-1": "none"})
    await _ok(
        await client.post(
            f"/api/v1/assessments/{first['assessment']['id']}/review",
            json={"decision": "approve"},
            headers=owner,
        ),
        200,
    )
    again = await _ok(
        await client.post(
            f"/api/v1/partners/{pid}/assessments",
            json={"kind": "periodic", "questionnaires": ["valid-example"]},
            headers=api,
        )
    )
    await complete(Partner(client, again["link"]), **{"dh-1": "none", "ac-1": "no"})
    # An open one at a second partner: the portal's pages.
    second = await _ok(
        await client.post(
            "/api/v1/partners",
            json={
                "name": f"Walk Ledger {tag}",
                "legal_name": f"Walk Ledger Ltd {tag}",
                "credit_code": new_credit_code(),
                "country": "CN",
                "business_criticality": "low",
                "owner_id": str(risk_owner["id"]),
                "contacts": [{"name": "Dee Ma", "email": f"dee-{tag}@partner.example.com", "primary": True}],
            },
            headers=api,
        )
    )
    open_ = await _ok(
        await client.post(
            f"/api/v1/partners/{second['id']}/assessments",
            json={"kind": "triggered", "questionnaires": ["valid-example", "lite-screening"]},
            headers=api,
        )
    )
    finding = await _ok(
        await client.post(
            "/api/v1/findings",
            json={
                "partner_id": pid,
                "severity": "critical",
                "title": "Walk finding",
                "remediation": "Turn on MFA",
                "owner_id": str(risk_owner["id"]),
                "due_on": (datetime.now(UTC).date() + timedelta(days=3)).isoformat(),
            },
            headers=owner,
        )
    )
    # The contact signs in to self-service first: the incident's containment (queued, not
    # run here) lets no contact of the partner sign in while the incident stands, and this
    # session is the one the partner pages are walked with.
    me = await _contact(client, pool, settings, email, "en")
    incident = await _ok(
        await client.post(
            f"/api/v1/partners/{pid}/incidents",
            json={
                "title": "Mailbox leak",
                "severity": "critical",
                "detected_at": (datetime.now(UTC) - timedelta(days=3)).isoformat(),
                "playbook": "partner-data-leak",
                "affected_categories": ["invoices"],
                "description": "Phishing",
            },
            headers=owner,
        )
    )
    iid = incident["id"]
    await _ok(
        await client.post(
            f"/api/v1/incidents/{iid}/steps/contain/complete",
            json={"note": "handled", "evidence": ["SEC-1"]},
            headers=owner,
        ),
        200,
    )
    await _ok(
        await client.put(
            f"/api/v1/incidents/{iid}/notification-record",
            json={"version": 0, "categories": ["invoices"], "cause": "phishing"},
            headers=owner,
        ),
        200,
    )
    publication = await _ok(
        await client.post(
            "/api/v1/notice-publications",
            json={
                "notice_key": "entrusted-processing-pipl21",
                "notice_version": 1,
                "audience": "partner",
                "audience_value": pid,
                "due_on": (datetime.now(UTC).date() + timedelta(days=9)).isoformat(),
            },
            headers=owner,
        )
    )
    async with pool.acquire() as db:
        [notice_email] = await outbox_emails(
            db, settings.data_keys, "topic = 'notice.published' AND payload->>'to' = $1", email
        )
    notice_token = re.search(r"/n/([A-Za-z0-9_-]{43})", notice_email["text"])
    assert notice_token is not None
    # A client of the firm whose data the partner's scope carries.
    staff = Browser(client)
    await staff.sign_in_as(risk_owner)
    form = await staff.get("/ui/clients/new")
    saved = await staff.post(
        "/ui/clients",
        {
            "_csrf_token": csrf_of(form.text),
            "name": f"Client {tag}",
            "kind": "company",
            "contact_name": "Ann",
            "contact_email": "ann@client.example.com",
            "scope_ids": [scope["id"]],
        },
    )
    assert saved.status_code == 303, saved.text
    # From self-service: the finding fixed (now verifying), a certificate, a contact change.
    page = await me.get("/p/findings")
    fixed = await me.post(
        f"/p/findings/{finding['id']}/fix",
        {"_csrf_token": csrf_of(page.text), "note": "MFA on"},
        files=[("proof", ("mfa.pdf", PDF))],
    )
    assert fixed.status_code == 303, fixed.text
    page = await me.get("/p/certificates/new")
    uploaded = await me.request(
        "POST",
        "/p/certificates",
        params={"lang": "en"},
        data={
            "_csrf_token": csrf_of(page.text),
            "kind": "iso27001",
            "issuer": "CQC",
            "number": "ISMS-2026-0042",
            "scope": "Cloud bookkeeping",
            "issued_on": "2026-01-10",
            "expires_on": (datetime.now(UTC).date() + timedelta(days=400)).isoformat(),
        },
        files={"file": ("iso.pdf", PDF)},
    )
    assert uploaded.status_code == 303, uploaded.text
    current = await _ok(await client.get(f"/api/v1/partners/{pid}", headers=api), 200)
    first_contact = next(c for c in current["contacts"] if c["primary"])
    proposed = await me.submit(
        "/p/contacts",
        "/p/contacts",
        {
            "version": str(current["version"]),
            "contacts.0.id": first_contact["id"],
            "contacts.0.name": first_contact["name"],
            "contacts.0.email": first_contact["email"],
            "contacts.0.phone": "010-88886666",
            "contacts.0.locale": "en",
            "contacts.0.primary": "true",
            "contacts.2.name": "Cy Wu",
            "contacts.2.email": f"cy-{tag}@partner.example.com",
            "contacts.2.locale": "en",
            "note": "Cy replaces Bo",
        },
    )
    assert proposed.status_code == 303, proposed.text
    async with pool.acquire() as db:
        ids = await db.fetchrow(
            """
            SELECT (SELECT id FROM clients ORDER BY created_at DESC LIMIT 1) AS client_id,
                   (SELECT id FROM certificates WHERE partner_id = $1 LIMIT 1) AS certificate_id,
                   (SELECT id FROM users WHERE id <> $2 ORDER BY created_at LIMIT 1) AS user_id,
                   (SELECT id FROM assessment_evidence WHERE assessment_id = $3 LIMIT 1) AS evidence_id,
                   (SELECT document_id FROM finding_proofs WHERE finding_id = $4 LIMIT 1) AS document_id,
                   (SELECT id FROM notice_recipients WHERE publication_id = $5 LIMIT 1) AS recipient_id
            """,
            pid,
            risk_owner["id"],
            again["assessment"]["id"],
            finding["id"],
            publication["id"],
        )
    return {
        "partner_id": pid,
        "agreement_id": agreement["id"],
        "assessment_id": again["assessment"]["id"],
        "finding_id": finding["id"],
        "incident_id": iid,
        "publication_id": publication["id"],
        "key": "entrusted-processing-pipl21",
        "version": "1",
        "segment": "partners",
        **{k: str(v) for k, v in dict(ids).items() if v is not None},
        "portal": Partner(client, open_["link"]).base,
        "notice_link": f"/n/{notice_token.group(1)}",
        "contact_email": email,
        "contact": me,
    }


async def typed(pool: asyncpg.Pool) -> list[str]:
    """What people typed, in whatever script they typed it (the demo firm's is Chinese),
    longest first so a name is taken out before a part of it."""
    async with pool.acquire() as db:
        rows = await db.fetch(
            """
            SELECT name AS v FROM partners UNION SELECT legal_name FROM partners
            UNION SELECT unnest(services) FROM partners
            UNION SELECT name FROM partner_contacts UNION SELECT name FROM users
            UNION SELECT title FROM agreements UNION SELECT purpose FROM scopes
            UNION SELECT title->>'zh-CN' FROM findings WHERE source = 'manual'
            UNION SELECT title->>'en' FROM findings WHERE source = 'manual'
            UNION SELECT submitted_by FROM assessments WHERE submitted_by IS NOT NULL
            UNION SELECT recipient_name FROM assessments
            UNION SELECT title FROM incidents UNION SELECT description FROM incidents
            UNION SELECT name FROM clients UNION SELECT contact_name FROM clients
            """
        )
    # Each language's name in itself (the language choices) is not the page's language either.
    values = {r["v"] for r in rows if r["v"]} | set(LANGUAGE_NAMES.values())
    return sorted(values, key=len, reverse=True)


def staff_paths(app: Litestar, world: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(pages to read, downloads to fetch for their status) under ``/ui``."""
    pages, downloads = [], []
    for route in app.routes:
        if "GET" not in getattr(route, "methods", ()) or not route.path.startswith("/ui"):
            continue
        template = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        if template in SKIPPED or template in SIGNED_OUT:
            continue
        path = template.format(**world)
        if DOWNLOAD.search(template) or template.startswith(DOWNLOAD_PREFIXES):
            downloads.append(path)
        else:
            pages.append(path)
    return sorted(set(pages)), sorted(set(downloads))


def check(page: httpx.Response, path: str, lang: str, typed: list[str]) -> list[str]:
    assert page.status_code != 500, (path, page.text[:2000])
    if page.status_code != 200:
        return []
    if not page.headers.get("content-type", "").startswith("text/html"):
        return []  # a download the lists above missed: its status is what the walk checks
    assert f'<html lang="{lang}"' in page.text, path
    return [f"{lang} {path}: {p}" for p in problems(visible(page.text, typed), lang)]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("role", ROLES)
async def test_every_staff_page_speaks_one_language(
    role: str,
    lang: str,
    app: Litestar,
    client: Client,
    pool: asyncpg.Pool,
    world: dict[str, Any],
    make_user: Any,
) -> None:
    me = Browser(client)
    await me.sign_in_as(await make_user(role, locale=lang))
    assert (await me.get("/ui", lang=lang)).status_code == 200
    pages, downloads = staff_paths(app, world)
    words = await typed(pool)
    found, walked = [], 0
    for path in pages:
        with count_queries() as counted:
            page = await me.get(path)
        # A ceiling for every page, new ones included (the pages' own tests pin theirs
        # against growing data): the partner page, the busiest, runs 20 today.
        assert counted.queries <= PAGE_QUERIES, (path, counted.queries, counted.statements)
        assert page.status_code in (200, 403), (role, path, page.status_code, page.text[:1500])
        walked += page.status_code == 200
        found += check(page, path, lang, words)
    for path in downloads:
        got = await me.get(path)
        # 404: nothing on file (no signed copy of the seeded agreement); 409: no workbook yet.
        assert got.status_code in (200, 403, 404, 409), (role, path, got.status_code)
    assert walked >= 10, (role, walked)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("lang", LANGS)
async def test_the_partner_pages_speak_one_language(
    lang: str, app: Litestar, client: Client, pool: asyncpg.Pool, settings: Settings, world: dict[str, Any]
) -> None:
    words = await typed(pool)
    found: list[str] = []
    out = Contact(client, "nobody@example.com", lang)
    for path in (*SIGNED_OUT, "/n/" + "x" * 43):
        page = await (out.get(path) if path.startswith("/p") else client.get(path, params={"lang": lang}))
        found += check(page, path, lang, words)
    found += check(await client.get(world["notice_link"], params={"lang": lang}), "/n/{token}", lang, words)
    portal = Partner(client, "http://x" + world["portal"], lang)
    for path in ("", "/s/0/access", "/s/0/data", "/findings", "/submit"):
        found += check(await portal.get(path), f"/q/{{token}}{path}", lang, words)
    me = world["contact"]
    me.lang = lang
    for route in app.routes:
        if "GET" not in getattr(route, "methods", ()) or not route.path.startswith("/p"):
            continue
        template = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        if template in SIGNED_OUT or template == "/p/link/{token}":
            continue
        path = template.format(**world)
        page = await me.get(path)
        if DOWNLOAD.search(template):
            # The seeded agreement has no signed copy on file for the partner to download.
            assert page.status_code in (200, 403, 404), (path, page.status_code)
            continue
        assert page.status_code in (200, 303), (path, page.status_code, page.text[:1500])
        found += check(page, path, lang, words)
    assert not found, "\n".join(found)
