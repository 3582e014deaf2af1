"""Every staff page, as each role, in both languages: in zh-CN no raw code (a snake_case
word, an enum value, a questionnaire:question id) and no ASCII colon right after a Chinese
character; in en no Chinese at all. Only visible text counts: a code may stay as a small
secondary hint (``<small class="code">``, ``<code>``), and what people typed (names, the
test's partner data) is taken out first.

Engineers adding pages: add their paths to ``pages()`` (with the data they need made in
``walk_data``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import asyncpg
import pytest

from tests.integration.assessments.conftest import (
    Client,
    NewPartner,
    Partner,
    Review,
    Send,
    User,
    complete,
)
from tests.integration.ui.conftest import OpenBrowser

CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
CJK_THEN_COLON = re.compile(r"[\u3400-\u9fff]\s?:")
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
QUESTION_ID = re.compile(r"\b[a-z0-9]+(?:-[a-z0-9]+)*:[a-z]+-\d+\b")
# Values of the code lists that are English words: never shown raw on a Chinese page.
CODE_WORDS = {
    "onboarding",
    "periodic",
    "triggered",
    "offboarding",
    "offboarded",
    "proposed",
    "active",
    "suspended",
    "sent",
    "in_progress",
    "submitted",
    "approved",
    "rejected",
    "expired",
    "cancelled",
    "open",
    "remediating",
    "resolved",
    "accepted",
    "low",
    "medium",
    "high",
    "critical",
    "approve",
    "reject",
    "tier",
    "score",
    "rule",
    "manual",
    "nda",
    "dpa",
    "msa",
    "sla",
}
WORD = re.compile(r"\b[a-z]+\b")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class _Text(HTMLParser):
    """The visible text of ``<main>`` and the navigation, without hints and hashes."""

    SKIP = {"script", "style", "code", "pre"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "input", "meta", "link", "img", "hr"):
            return
        classes = (dict(attrs).get("class") or "").split()
        skipping = tag in self.SKIP or "code" in classes or "lang" in classes or "hash" in classes
        self.stack.append(skipping or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "input", "meta", "link", "img", "hr"):
            return
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.parts.append(data)


def visible(html: str, typed: list[str]) -> str:
    body = html.split("<body>", 1)[-1]
    parser = _Text()
    parser.feed(body)
    text = " ".join(parser.parts)
    for value in sorted(typed, key=len, reverse=True):
        text = text.replace(value, " ")
    # Addresses are data too (the test users' are named after their roles).
    return EMAIL.sub(" ", text)


def zh_problems(text: str) -> list[str]:
    found = [f"colon after CJK: {m.group(0)!r}" for m in CJK_THEN_COLON.finditer(text)]
    found += [f"snake_case code: {m.group(0)!r}" for m in SNAKE.finditer(text)]
    found += [f"question id: {m.group(0)!r}" for m in QUESTION_ID.finditer(text)]
    found += [f"code word: {w!r}" for w in WORD.findall(text) if w in CODE_WORDS]
    return found


def en_problems(text: str) -> list[str]:
    return [f"CJK text: {text[max(0, m.start() - 20) : m.end() + 20]!r}" for m in CJK.finditer(text)]


@pytest.fixture
async def walk_data(
    client: Client, new_partner: NewPartner, send: Send, review: Review, risk_owner: User
) -> dict[str, Any]:
    """A partner reassessed once (so the review page has changes), with findings of every
    kind the board shows: raised by a failed answer, one with an owner and a due date."""
    partner = await new_partner(
        name="Acme Tax Walk",
        legal_name="Acme Tax Services Ltd",
        contacts=[
            {"name": "Li Lei", "email": "li.lei.walk@partner.example.com", "primary": True, "locale": "en"}
        ],
    )
    first = await send(partner["id"])
    await complete(Partner(client, first["link"]), **{"dh-1": "none"})
    await review(first["assessment"]["id"], "approve")
    again = await send(partner["id"], kind="periodic")
    await complete(Partner(client, again["link"]), **{"dh-1": "none", "ac-1": "no"})
    manual = await client.post(
        "/api/v1/findings",
        json={
            "partner_id": partner["id"],
            "severity": "critical",
            "title": "Walk finding",
            "owner_id": str(risk_owner["id"]),
            "due_on": (datetime.now(UTC).date() + timedelta(days=3)).isoformat(),
        },
        headers=risk_owner["headers"],
    )
    assert manual.status_code == 201, manual.text
    return {
        "partner": partner,
        "assessment_id": again["assessment"]["id"],
        "first_id": first["assessment"]["id"],
        "typed": [
            partner["name"],
            partner["legal_name"],
            "Li Lei",
            "Walk finding",
            "王芳",
            "采购 赵敏",
            "李雷",
        ],
    }


def pages(data: dict[str, Any]) -> list[str]:
    """Every page to walk (add yours here)."""
    aid = data["assessment_id"]
    pid = data["partner"]["id"]
    return [
        # console-reviews
        "/ui/reviews",
        f"/ui/assessments/{aid}",
        f"/ui/assessments/{aid}?show=failed",
        f"/ui/assessments/{aid}?show=changed",
        f"/ui/assessments/{data['first_id']}",
        f"/ui/partners/{pid}/assessments/new",
        "/ui/findings",
        f"/ui/findings?partner={pid}&severity=critical",
        "/ui/findings?overdue=true&status=open",
    ]


async def typed_data(db: asyncpg.Connection) -> list[str]:
    """What people typed, in whatever language they typed it (other tests' data shows on the
    unfiltered lists too): names, titles of findings raised by hand, who submitted."""
    rows = await db.fetch(
        """
        SELECT name AS v FROM partners UNION SELECT legal_name FROM partners
        UNION SELECT name FROM partner_contacts UNION SELECT name FROM users
        UNION SELECT title->>'zh-CN' FROM findings WHERE source = 'manual'
        UNION SELECT submitted_by FROM assessments WHERE submitted_by IS NOT NULL
        UNION SELECT recipient_name FROM assessments
        UNION SELECT title FROM incidents
        """
    )
    return [r["v"] for r in rows if r["v"]]


async def test_every_page_speaks_one_language_as_every_role(
    browser: OpenBrowser,
    db: asyncpg.Connection,
    walk_data: dict[str, Any],
    risk_owner: User,
    procurement: User,
    auditor: User,
    make_user: Any,
) -> None:
    admin = await make_user("admin", name="Admin Walk")
    typed = [*walk_data["typed"], *await typed_data(db)]
    problems: list[str] = []
    for user in (risk_owner, procurement, auditor, admin):
        me = await browser(user)
        for lang in ("zh-CN", "en"):
            await me.get("/ui", lang=lang)  # the switch is kept for the session
            for path in pages(walk_data):
                response = await me.get(path)
                if response.status_code == 403:
                    continue  # a page this role may not read (the API's guard)
                assert response.status_code == 200, (user.get("role", ""), path)
                text = visible(response.text, typed)
                found = zh_problems(text) if lang == "zh-CN" else en_problems(text)
                problems += [f"{lang} {path}: {p}" for p in found]
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_checks_catch_what_they_look_for() -> None:
    page = (
        "<body><main><p>得分: 80</p><p>tier_factor sensitive_personal</p><p>critical</p>"
        '<small class="code">ac-1</small><p>baseline-security:ac-03</p></main></body>'
    )
    found = zh_problems(visible(page, []))
    assert any("colon" in f for f in found)
    assert any("'sensitive_personal'" in f for f in found)
    assert any("'critical'" in f for f in found)
    assert any("baseline-security:ac-03" in f for f in found)
    assert zh_problems(visible("<body><p>得分：80</p><small class='code'>ac_1</small></body>", [])) == []
    assert en_problems(visible("<body><p>Score 严重</p></body>", []))
    assert en_problems(visible("<body><p>Acme 云账房</p></body>", ["Acme 云账房"])) == []
