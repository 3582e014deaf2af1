"""The partner, agreement and scope pages as procurement, a risk owner and an auditor use
them: forms that keep what was typed and write nothing on bad input, buttons only for what
the role may do, reasons shown before a button is pressed, a fixed number of queries."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.helpers import new_credit_code
from tests.integration.assessments.conftest import PDF, Client, NewPartner, User, csrf_of
from tests.integration.ui.conftest import Browser, OpenBrowser
from tests.integration.ui.querycount import count_queries
from vendor_risk.partners.rules import TIERS
from vendor_risk.policy import DEFAULT_POLICY


async def zh(browser: OpenBrowser, user: User) -> Browser:
    """A browser signed in as ``user`` with its pages in Chinese."""
    me = await browser(user)
    assert (await me.get("/ui", lang="zh-CN")).status_code == 200
    return me


async def post_form(
    me: Browser, page_path: str, action: str, fields: dict[str, Any], **kw: Any
) -> httpx.Response:
    page = await me.get(page_path)
    assert page.status_code == 200, page.text
    return await me.request("POST", action, data={"_csrf_token": csrf_of(page.text), **fields}, **kw)


def field_error(html: str, name: str) -> str | None:
    """The error shown beside field ``name`` (``None`` when there is none)."""
    fid = "f-" + name.replace(".", "-")
    found = re.search(rf'id="{re.escape(fid)}-error" role="alert">([^<]*)<', html)
    return found.group(1) if found else None


def value_of(html: str, name: str) -> str | None:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    return found.group(1) if found else None


async def categories(client: Client, user: User) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        await client.get("/api/v1/data-categories", headers=user["headers"])
    ).json()
    return found


# --- partners ----------------------------------------------------------------------------


async def test_procurement_registers_a_partner_through_the_form(
    browser: OpenBrowser, procurement: User, risk_owner: User, db: asyncpg.Connection
) -> None:
    me = await zh(browser, procurement)
    tag = secrets.token_hex(3)
    code = new_credit_code()
    created = await post_form(
        me,
        "/ui/partners/new",
        "/ui/partners",
        {
            "name": f"金蝶 {tag}",
            "legal_name": f"金蝶软件（中国）有限公司 {tag}",
            "country": "cn",
            "credit_code": code[:6] + " " + code[6:].lower(),
            "services": "云会计\n代理记账\n",
            "business_criticality": "high",
            "owner_id": str(risk_owner["id"]),
            "contacts.0.name": "王芳",
            "contacts.0.email": f"wang.{tag}@kingdee.example.com",
            "contacts.0.locale": "zh-CN",
            "contacts.0.primary": "true",
        },
    )
    assert created.status_code == 303, created.text
    row = await db.fetchrow("SELECT * FROM partners WHERE name = $1", f"金蝶 {tag}")
    assert row is not None
    assert row["credit_code"] == code  # normalized
    assert row["country"] == "CN"
    assert row["services"] == ["云会计", "代理记账"]
    assert row["owner_id"] == risk_owner["id"]
    assert created.headers["location"] == f"/ui/partners/{row['id']}"
    contacts = await db.fetch("SELECT * FROM partner_contacts WHERE partner_id = $1", row["id"])
    assert [(c["name"], c["is_primary"]) for c in contacts] == [("王芳", True)]
    event = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action = 'partner.created'",
        str(row["id"]),
    )
    assert event == 1
    page = await me.get(created.headers["location"])
    assert page.status_code == 200
    assert "业务重要性" in page.text  # the tier factor by its label
    assert "business_criticality" not in page.text


async def test_bad_input_names_each_field_keeps_what_was_typed_and_writes_nothing(
    browser: OpenBrowser, procurement: User, db: asyncpg.Connection
) -> None:
    me = await zh(browser, procurement)
    before = await db.fetchval("SELECT count(*) FROM partners")
    tag = secrets.token_hex(3)
    typed = {
        "name": "",
        "legal_name": f"某某有限公司 {tag}",
        "country": "CN",
        "credit_code": "91310115MA1K4XXXX0",
        "website": "not a url",
        "business_criticality": "enormous",
        "contacts.0.name": "张三",
        "contacts.0.email": "not-an-email",
        "contacts.0.primary": "true",
    }
    refused = await post_form(me, "/ui/partners/new", "/ui/partners", typed)
    assert refused.status_code == 400
    html = refused.text
    assert field_error(html, "name") == "必填。"
    assert field_error(html, "credit_code") is not None
    assert "校验" in (field_error(html, "credit_code") or "") or "位" in (
        field_error(html, "credit_code") or ""
    )
    assert field_error(html, "website") is not None
    assert field_error(html, "business_criticality") is not None
    assert field_error(html, "contacts.0.email") is not None
    # What was typed is still there.
    assert value_of(html, "legal_name") == typed["legal_name"]
    assert value_of(html, "credit_code") == typed["credit_code"]
    assert value_of(html, "contacts.0.email") == "not-an-email"
    assert value_of(html, "website") == "not a url"
    assert await db.fetchval("SELECT count(*) FROM partners") == before
    assert await db.fetchval("SELECT count(*) FROM partner_contacts WHERE name = '张三'") == 0


async def test_a_taken_credit_code_is_refused_beside_its_field(
    browser: OpenBrowser, procurement: User, new_partner: NewPartner, db: asyncpg.Connection
) -> None:
    existing = await new_partner()
    me = await zh(browser, procurement)
    before = await db.fetchval("SELECT count(*) FROM partners")
    refused = await post_form(
        me,
        "/ui/partners/new",
        "/ui/partners",
        {
            "name": "重复的合作方",
            "legal_name": "重复的合作方有限公司",
            "credit_code": existing["credit_code"],
            "business_criticality": "low",
        },
    )
    assert refused.status_code == 400
    assert existing["name"] in (field_error(refused.text, "credit_code") or "")
    assert await db.fetchval("SELECT count(*) FROM partners") == before


async def test_the_credit_code_is_checked_as_you_type(browser: OpenBrowser, procurement: User) -> None:
    me = await zh(browser, procurement)
    good = await me.get("/ui/partners/check-credit-code", credit_code=new_credit_code())
    assert good.status_code == 200
    assert "校验通过" in good.text
    assert "<html" not in good.text  # a fragment htmx swaps in
    code = new_credit_code()
    wrong_check = code[:17] + ("0" if code[17] != "0" else "1")
    bad = await me.get("/ui/partners/check-credit-code", credit_code=wrong_check)
    assert "校验位（第 18 位）应为" in bad.text
    short = await me.get("/ui/partners/check-credit-code", credit_code="9131")
    assert "应为 18 位，当前为 4 位" in short.text
    form = await me.get("/ui/partners/new")
    assert 'hx-get="/ui/partners/check-credit-code"' in form.text
    assert '<script src="/static/htmx.min.js"' in form.text


async def test_editing_with_a_stale_version_shows_both_sides(
    browser: OpenBrowser, client: Client, procurement: User, new_partner: NewPartner, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    me = await zh(browser, procurement)
    path = f"/ui/partners/{partner['id']}/edit"
    form = await me.get(path)
    assert form.status_code == 200
    assert value_of(form.text, "version") == str(partner["version"])
    # Someone else saves first.
    changed = await client.patch(
        f"/api/v1/partners/{partner['id']}",
        json={"version": partner["version"], "name": "别人改的名字"},
        headers=procurement["headers"],
    )
    assert changed.status_code == 200
    fields = {
        "version": str(partner["version"]),
        "name": "我改的名字",
        "legal_name": partner["legal_name"],
        "credit_code": partner["credit_code"],
        "country": "CN",
        "business_criticality": "medium",
        "owner_id": str(partner["owner_id"]),
    }
    for i, c in enumerate(partner["contacts"]):
        fields |= {
            f"contacts.{i}.id": c["id"],
            f"contacts.{i}.name": c["name"],
            f"contacts.{i}.email": c["email"],
            f"contacts.{i}.locale": c["locale"],
        } | ({f"contacts.{i}.primary": "true"} if c["primary"] else {})
    conflict = await me.post(path, {"_csrf_token": csrf_of(form.text), **fields})
    assert conflict.status_code == 409
    assert "我改的名字" in conflict.text
    assert "别人改的名字" in conflict.text
    assert await db.fetchval("SELECT name FROM partners WHERE id = $1", partner["id"]) == "别人改的名字"
    # Applying mine over the new version works.
    mine = await me.post(
        path, {"_csrf_token": csrf_of(conflict.text), **fields, "version": str(partner["version"] + 1)}
    )
    assert mine.status_code == 303, mine.text
    assert await db.fetchval("SELECT name FROM partners WHERE id = $1", partner["id"]) == "我改的名字"


async def test_the_list_sorts_and_keeps_its_filters_in_the_address(
    browser: OpenBrowser, new_partner: NewPartner, risk_owner: User
) -> None:
    tag = secrets.token_hex(3)
    made = [
        await new_partner(name=f"{letter} 排序 {tag}", business_criticality=crit)
        for letter, crit in (("B", "low"), ("A", "critical"), ("C", "medium"))
    ]
    me = await zh(browser, risk_owner)

    def order(html: str) -> list[str]:
        return [n for n in re.findall(r'<a href="/ui/partners/[^"]+">([^<]+)</a>', html) if tag in n]

    by_name = await me.get("/ui/partners", q=f"排序 {tag}", sort="name")
    assert order(by_name.text) == [f"A 排序 {tag}", f"B 排序 {tag}", f"C 排序 {tag}"]
    by_tier = await me.get("/ui/partners", q=f"排序 {tag}", sort="tier")
    assert order(by_tier.text)[0] == f"A 排序 {tag}"  # critical first
    # The sort links keep the search.
    assert f"q=%E6%8E%92%E5%BA%8F+{tag}" in by_name.text or f"q=排序+{tag}" in by_name.text
    soonest = await me.get("/ui/partners", q=f"排序 {tag}", sort="reassessment")
    # Critical business makes A's tier medium (24 months); B and C are low (36), all
    # counted from their creation.
    assert order(soonest.text)[0] == f"A 排序 {tag}"
    assert sorted(order(soonest.text)[1:]) == [f"B 排序 {tag}", f"C 排序 {tag}"]
    assert len(made) == 3


async def test_the_list_pages_by_every_sort(
    browser: OpenBrowser, new_partner: NewPartner, risk_owner: User
) -> None:
    tag = secrets.token_hex(3)
    names = {(await new_partner(name=f"分页 {tag} {i:02d}"))["name"] for i in range(27)}
    me = await zh(browser, risk_owner)
    for sort in ("created", "name", "tier", "reassessment", "rating"):
        page = await me.get("/ui/partners", q=f"分页 {tag}", sort=sort)
        seen = re.findall(rf"分页 {tag} \d\d", page.text)
        link = re.search(r'class="button" href="([^"]+)"', page.text)
        assert link is not None, sort
        page = await me.get(link.group(1).replace("&amp;", "&"))
        seen += re.findall(rf"分页 {tag} \d\d", page.text)
        assert sorted(seen) == sorted(names), sort


async def test_each_role_sees_only_the_buttons_its_api_role_accepts(
    browser: OpenBrowser, new_partner: NewPartner, auditor: User, procurement: User, risk_owner: User
) -> None:
    partner = await new_partner()
    path = f"/ui/partners/{partner['id']}"
    reader = await zh(browser, auditor)
    page = await reader.get(path)
    assert page.status_code == 200
    for action in (
        "/edit",
        "/transitions",
        "/agreements/new",
        "/scopes/new",
        "/sub-processors",
        "/assessments/new",
    ):
        assert f'{path}{action}"' not in page.text, action
    assert "登记合作方" not in (await reader.get("/ui/partners")).text
    refused = await reader.post(
        f"{path}/transitions", {"_csrf_token": csrf_of(page.text), "to": "onboarding"}
    )
    assert refused.status_code == 403
    assert (await reader.get(f"{path}/edit")).status_code == 403

    buyer = await zh(browser, procurement)
    page = await buyer.get(path)
    assert f'{path}/edit"' in page.text
    assert f'href="{path}/assessments/new"' in page.text  # the send page is reached from here
    assert 'name="to" value="onboarding"' in page.text
    assert 'name="to" value="active"' not in page.text  # only a risk owner activates
    owner = await zh(browser, risk_owner)
    assert 'name="to" value="onboarding"' in (await owner.get(path)).text


async def test_lifecycle_buttons_show_their_unmet_conditions_and_move_the_partner(
    browser: OpenBrowser, new_partner: NewPartner, procurement: User, risk_owner: User, db: asyncpg.Connection
) -> None:
    partner = await new_partner(owner_id=None)
    path = f"/ui/partners/{partner['id']}"
    me = await zh(browser, procurement)
    page = await me.get(path)
    # Moving to onboarding needs a risk owner: said in Chinese beside the move, no button.
    assert "请为合作方指定风险负责人。" in page.text
    assert "owner_missing" not in page.text
    refused = await me.post(
        f"{path}/transitions", {"_csrf_token": csrf_of(page.text), "to": "onboarding", "reason": "开始准入"}
    )
    assert refused.status_code == 409
    assert "请为合作方指定风险负责人。" in refused.text
    assert await db.fetchval("SELECT status FROM partners WHERE id = $1", partner["id"]) == "proposed"

    await db.execute("UPDATE partners SET owner_id = $1 WHERE id = $2", risk_owner["id"], partner["id"])
    page = await me.get(path)
    blank = await me.post(
        f"{path}/transitions", {"_csrf_token": csrf_of(page.text), "to": "onboarding", "reason": ""}
    )
    assert blank.status_code == 400
    assert field_error(blank.text, "move-onboarding-reason") == "必填。"
    moved = await me.post(
        f"{path}/transitions",
        {
            "_csrf_token": csrf_of(page.text),
            "to": "onboarding",
            "reason": "开始准入",
            "version": value_of(page.text, "version"),
        },
    )
    assert moved.status_code == 303, moved.text
    assert await db.fetchval("SELECT status FROM partners WHERE id = $1", partner["id"]) == "onboarding"
    owner = await zh(browser, risk_owner)
    page = await owner.get(path)
    # Activation lists what is missing, each by its label.
    assert "没有有效的保密协议。" in page.text
    assert "没有已通过的准入评估。" in page.text


# --- agreements --------------------------------------------------------------------------


def _agreement_fields(kind: str, category_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "title": f"{kind.upper()} 2026",
        "signed_on": "2026-01-05",
        "expires_on": (datetime.now(UTC).date() + timedelta(days=700)).isoformat(),
        "signatories.0.name": "赵总",
        "signatories.1.name": "钱经理",
        "category_ids": [category_id],
    } | extra


async def test_agreements_are_added_with_their_signed_copy_replaced_and_terminated(
    browser: OpenBrowser,
    client: Client,
    new_partner: NewPartner,
    procurement: User,
    auditor: User,
    db: asyncpg.Connection,
) -> None:
    partner = await new_partner()
    category = next(c for c in await categories(client, procurement) if c["sensitivity"] == "personal")
    path = f"/ui/partners/{partner['id']}"
    me = await zh(browser, procurement)

    # Bad input: no partner signatory, clauses on an NDA, a file that is not a document.
    refused = await post_form(
        me,
        f"{path}/agreements/new",
        f"{path}/agreements",
        _agreement_fields("nda", category["id"], **{"signatories.1.name": "", "clauses": ["purpose"]}),
        files={"file": ("nda.pdf", b"MZ not a pdf", "application/pdf")},
    )
    assert refused.status_code == 400
    assert field_error(refused.text, "signatories.0.name") == "双方各需至少一位签署人。"
    assert field_error(refused.text, "clauses") is not None
    assert field_error(refused.text, "file") is not None
    assert value_of(refused.text, "title") == "NDA 2026"
    assert await db.fetchval("SELECT count(*) FROM agreements WHERE partner_id = $1", partner["id"]) == 0

    created = await post_form(
        me,
        f"{path}/agreements/new",
        f"{path}/agreements",
        _agreement_fields("dpa", category["id"], clauses=["purpose", "period"]),
        files={"file": ("dpa.pdf", PDF, "application/pdf")},
    )
    assert created.status_code == 303, created.text
    row = await db.fetchrow("SELECT * FROM agreements WHERE partner_id = $1", partner["id"])
    assert row["kind"] == "dpa"
    assert row["clauses"] == ["purpose", "period"]
    page = await me.get(path)
    assert hashlib.sha256(PDF).hexdigest() in page.text
    assert "委托处理协议" in page.text
    assert "结束时返还或删除个人信息" in page.text  # a missing art. 21 clause, by its label
    aid = row["id"]

    # The auditor reads the signed copy; the admin-only roles never see the upload form.
    reader = await zh(browser, auditor)
    download = await reader.get(f"{path}/agreements/{aid}/document")
    assert download.status_code == 200
    assert download.content == PDF
    assert f'{path}/agreements/{aid}/document" enctype' not in (await reader.get(path)).text

    replaced = await post_form(
        me,
        path,
        f"{path}/agreements/{aid}/document",
        {},
        files={"file": ("v2.pdf", PDF + b"%v2\n", "application/pdf")},
    )
    assert replaced.status_code == 303, replaced.text
    assert hashlib.sha256(PDF + b"%v2\n").hexdigest() in (await me.get(path)).text
    uploads = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action = 'agreement.document_uploaded'",
        str(aid),
    )
    assert uploads == 2

    blank = await post_form(me, path, f"{path}/agreements/{aid}/terminate", {"reason": ""})
    assert blank.status_code == 400
    assert await db.fetchval("SELECT terminated_at FROM agreements WHERE id = $1", aid) is None
    ended = await post_form(me, path, f"{path}/agreements/{aid}/terminate", {"reason": "合作结束"})
    assert ended.status_code == 303
    assert await db.fetchval("SELECT termination_reason FROM agreements WHERE id = $1", aid) == "合作结束"


# --- scopes, impact assessments, sub-processors ------------------------------------------


async def test_a_scope_is_requested_assessed_and_its_reasons_shown_before_approval(
    browser: OpenBrowser,
    client: Client,
    new_partner: NewPartner,
    procurement: User,
    risk_owner: User,
    db: asyncpg.Connection,
) -> None:
    partner = await new_partner()
    personal = next(c for c in await categories(client, procurement) if c["sensitivity"] == "personal")
    path = f"/ui/partners/{partner['id']}"
    me = await zh(browser, procurement)
    fields = {
        "category_id": personal["id"],
        "purpose": "代为核算工资",
        "processing_methods": ["store", "process"],
        "transfer_method": "sftp",
        "starts_on": "2026-01-01",
        "ends_on": "2025-12-31",
        "retention_days": "365",
        "volume_band": "1k_10k",
    }
    refused = await post_form(me, f"{path}/scopes/new", f"{path}/scopes", fields | {"retention_days": "-1"})
    assert refused.status_code == 400
    assert field_error(refused.text, "retention_days") is not None
    assert value_of(refused.text, "purpose") is None  # a textarea: its text is kept inside it
    assert "代为核算工资</textarea>" in refused.text
    assert await db.fetchval("SELECT count(*) FROM scopes WHERE partner_id = $1", partner["id"]) == 0
    wrong_end = await post_form(me, f"{path}/scopes/new", f"{path}/scopes", fields)
    assert wrong_end.status_code == 400
    assert field_error(wrong_end.text, "ends_on") == "结束日期不能早于开始日期。"
    assert await db.fetchval("SELECT count(*) FROM scopes WHERE partner_id = $1", partner["id"]) == 0

    requested = await post_form(me, f"{path}/scopes/new", f"{path}/scopes", fields | {"ends_on": ""})
    assert requested.status_code == 303, requested.text
    scope_id = await db.fetchval("SELECT id FROM scopes WHERE partner_id = $1", partner["id"])

    owner = await zh(browser, risk_owner)
    page = await owner.get(path)
    name = personal["name"]["zh-CN"]
    assert f"没有涵盖“{name}”的有效协议。" in page.text
    assert "没有涵盖该数据范围的个人信息保护影响评估（《个人信息保护法》第五十五条）。" in page.text
    assert f'aria-describedby="scope-{scope_id}-reasons"' in page.text  # the button says why it waits

    # The impact assessment form: bad input writes nothing, then it is recorded.
    ia_path = f"{path}/impact-assessments"
    ia = {
        "scope_ids": [str(scope_id)],
        "purpose": "工资核算",
        "necessity": "必要",
        "risks": "泄露",
        "measures": "加密",
        "conclusion": "可以委托",
        "outcome": "acceptable",
        "assessor": "王芳",
        "assessed_on": (datetime.now(UTC).date() + timedelta(days=3)).isoformat(),
    }
    future = await post_form(me, f"{ia_path}/new", ia_path, ia)
    assert future.status_code == 400
    assert field_error(future.text, "assessed_on") == "日期不能晚于今天。"
    missing = await post_form(me, f"{ia_path}/new", ia_path, ia | {"measures": "", "outcome": ""})
    assert missing.status_code == 400
    assert field_error(missing.text, "measures")
    assert field_error(missing.text, "outcome")
    assert (
        await db.fetchval("SELECT count(*) FROM impact_assessments WHERE partner_id = $1", partner["id"]) == 0
    )
    done = await post_form(
        me, f"{ia_path}/new", ia_path, ia | {"assessed_on": datetime.now(UTC).date().isoformat()}
    )
    assert done.status_code == 303, done.text
    page = await owner.get(path)
    assert "没有涵盖该数据范围的个人信息保护影响评估" not in page.text
    assert "可接受" in page.text

    # Suspend needs a reason; revoking (procurement may) ends it.
    blank = await post_form(owner, path, f"{path}/scopes/{scope_id}/revoke", {"reason": ""})
    assert blank.status_code == 400
    assert field_error(blank.text, f"scope-{scope_id}-reason") == "必填。"
    revoked = await post_form(me, path, f"{path}/scopes/{scope_id}/revoke", {"reason": "不再需要"})
    assert revoked.status_code == 303
    assert await db.fetchval("SELECT status FROM scopes WHERE id = $1", scope_id) == "revoked"


async def test_sub_processors_are_added_and_decided(
    browser: OpenBrowser, new_partner: NewPartner, procurement: User, risk_owner: User, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    path = f"/ui/partners/{partner['id']}"
    me = await zh(browser, procurement)
    bad = await post_form(
        me, path, f"{path}/sub-processors", {"name": "阿里云", "country": "China", "receives": ""}
    )
    assert bad.status_code == 400
    assert field_error(bad.text, "country")
    assert field_error(bad.text, "receives")
    assert value_of(bad.text, "name") == "阿里云"
    assert await db.fetchval("SELECT count(*) FROM sub_processors WHERE partner_id = $1", partner["id"]) == 0
    added = await post_form(
        me, path, f"{path}/sub-processors", {"name": "阿里云", "country": "cn", "receives": "备份"}
    )
    assert added.status_code == 303
    sp = await db.fetchrow("SELECT * FROM sub_processors WHERE partner_id = $1", partner["id"])
    assert sp["country"] == "CN"
    assert sp["status"] == "pending"
    assert f"{path}/sub-processors/{sp['id']}/approve" not in (await me.get(path)).text  # procurement cannot
    owner = await zh(browser, risk_owner)
    approved = await post_form(owner, path, f"{path}/sub-processors/{sp['id']}/approve", {"note": "同意"})
    assert approved.status_code == 303
    assert await db.fetchval("SELECT status FROM sub_processors WHERE id = $1", sp["id"]) == "approved"


# --- queries ----------------------------------------------------------------


async def test_partner_pages_run_a_fixed_number_of_queries(
    browser: OpenBrowser,
    client: Client,
    new_partner: NewPartner,
    procurement: User,
    risk_owner: User,
) -> None:
    cats = await categories(client, procurement)

    async def grow(partner_id: str, n: int) -> None:
        for i in range(n):
            category = cats[i % len(cats)]
            scope = await client.post(
                f"/api/v1/partners/{partner_id}/scopes",
                json={
                    "category_id": category["id"],
                    "purpose": f"用途 {i}",
                    "processing_methods": ["store"],
                    "transfer_method": "api",
                    "starts_on": "2026-01-01",
                    "retention_days": 30,
                    "volume_band": "under_1k",
                },
                headers=procurement["headers"],
            )
            assert scope.status_code == 201, scope.text
            agreement = await client.post(
                f"/api/v1/partners/{partner_id}/agreements",
                json={
                    "kind": "nda",
                    "title": f"NDA {i}",
                    "signed_on": "2026-01-01",
                    "signatories": [{"party": "us", "name": "甲"}, {"party": "partner", "name": "乙"}],
                    "category_ids": [category["id"]],
                },
                headers=procurement["headers"],
            )
            assert agreement.status_code == 201, agreement.text
            sub = await client.post(
                f"/api/v1/partners/{partner_id}/sub-processors",
                json={"name": f"分包 {i}", "country": "CN", "receives": "备份"},
                headers=procurement["headers"],
            )
            assert sub.status_code == 201

    small, large = await new_partner(), await new_partner()
    await grow(small["id"], 1)
    await grow(large["id"], 6)
    me = await zh(browser, risk_owner)
    counts: dict[str, list[int]] = {}
    for partner in (small, large):
        for page_path in (
            f"/ui/partners/{partner['id']}",
            "/ui/partners",
            f"/ui/partners/{partner['id']}/edit",
        ):
            with count_queries() as count:
                response = await me.get(page_path)
            assert response.status_code == 200, (
                page_path,
                response.text.split('<main id="main" tabindex="-1">')[1][:600],
            )
            counts.setdefault(page_path.replace(partner["id"], "{id}"), []).append(count.queries)
    for page_path, (few, many) in counts.items():
        assert few == many, (page_path, few, many)
        assert 1 < many <= 20, (page_path, many)


async def test_the_list_sorts_with_the_rules_own_numbers(db: asyncpg.Connection) -> None:
    """Migration 0040's SQL repeats the tier order and cadences for the list's indexes."""
    for rank, tier in enumerate(TIERS):
        assert await db.fetchval("SELECT tier_rank($1)", tier) == rank
        assert (
            await db.fetchval("SELECT tier_cadence_months($1)", tier) == DEFAULT_POLICY.cadence_months[tier]
        )
