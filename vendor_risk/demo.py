"""The demo firm: a bookkeeping agency's dozen partners across tiers and statuses, with
agreements, scopes, answered assessments, findings and one open incident, loaded through
the services (so every row is audited and consistent, as if staff had done it).

Idempotent: a partner already present (by its credit code) is left as it is, so a
second ``vendor-risk demo`` adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import asyncpg

from vendor_risk.agreements import service as agreements
from vendor_risk.agreements.models import AgreementCreate, Signatory
from vendor_risk.assessments import service as assessments
from vendor_risk.assessments.models import AssessmentCreate, ReviewCreate
from vendor_risk.audit.models import SYSTEM, Actor
from vendor_risk.auth import repository as auth_repo
from vendor_risk.auth import service as auth
from vendor_risk.auth.models import CurrentUser, Role, UserCreate
from vendor_risk.errors import Problem
from vendor_risk.incidents import service as incidents
from vendor_risk.incidents.models import IncidentCreate
from vendor_risk.partners import service as partners
from vendor_risk.partners.models import ContactIn, PartnerCreate, Transition
from vendor_risk.partners.rules import credit_code_check_char, org_code_check_char
from vendor_risk.questionnaires.models import Answer
from vendor_risk.scopes import repository as scopes_repo
from vendor_risk.scopes import service as scopes
from vendor_risk.scopes.models import ScopeApproval, ScopeCreate
from vendor_risk.settings import Settings

STAFF: Final = (
    ("demo-risk@localhost", "王芳（演示）", Role.RISK_OWNER),
    ("demo-procurement@localhost", "赵敏（演示）", Role.PROCUREMENT),
    ("demo-auditor@localhost", "Audrey Lin (demo)", Role.AUDITOR),
)


@dataclass(frozen=True)
class DemoPartner:
    org: str  # the 8 characters that make its credit code unique
    name: str
    legal_name: str
    criticality: str
    services: tuple[str, ...]
    contact: tuple[str, str, str]  # name, email, locale
    # What happens to it: "proposed", "onboarding", "submitted", "active", "suspended",
    # "offboarding", and whether its answers raise findings.
    becomes: str
    categories: tuple[str, ...] = ()
    weak: bool = False
    incident: bool = False


PARTNERS: Final = (
    DemoPartner(
        "DM000001",
        "金蝶云星辰",
        "金蝶软件（中国）有限公司",
        "critical",
        ("cloud accounting",),
        ("陈静", "chen.jing@kingdee.example.com", "zh-CN"),
        "active",
        ("financial_statements", "invoices"),
        incident=True,
    ),
    DemoPartner(
        "DM000002",
        "税友亿企赢",
        "税友软件集团股份有限公司",
        "high",
        ("tax filing",),
        ("刘伟", "liu.wei@servyou.example.com", "zh-CN"),
        "active",
        ("invoices",),
    ),
    DemoPartner(
        "DM000003",
        "薪人薪事",
        "北京薪人薪事科技有限公司",
        "high",
        ("payroll",),
        ("孙丽", "sun.li@xinrenxinshi.example.com", "zh-CN"),
        "submitted",
        ("financial_statements",),
        weak=True,
    ),
    DemoPartner(
        "DM000004",
        "顺丰速运",
        "顺丰速运有限公司",
        "medium",
        ("courier",),
        ("周强", "zhou.qiang@sf.example.com", "zh-CN"),
        "active",
        ("contracts",),
    ),
    DemoPartner(
        "DM000005",
        "档案宝",
        "上海档案宝数据管理有限公司",
        "medium",
        ("archive",),
        ("吴敏", "wu.min@danganbao.example.com", "zh-CN"),
        "suspended",
        ("contracts",),
    ),
    DemoPartner(
        "DM000006",
        "云印通",
        "杭州云印通印务有限公司",
        "low",
        ("printing",),
        ("郑浩", "zheng.hao@yunyin.example.com", "zh-CN"),
        "onboarding",
        ("invoices",),
    ),
    DemoPartner(
        "DM000007",
        "蓝海IT外包",
        "深圳蓝海信息技术服务有限公司",
        "high",
        ("IT outsourcing",),
        ("Grace Wong", "grace.wong@bluesea.example.com", "en"),
        "submitted",
        ("financial_statements", "contracts"),
        weak=True,
    ),
    DemoPartner(
        "DM000008",
        "诺诺发票",
        "浙江诺诺网络科技有限公司",
        "medium",
        ("e-invoicing",),
        ("钱进", "qian.jin@nuonuo.example.com", "zh-CN"),
        "onboarding",
        ("invoices",),
    ),
    DemoPartner(
        "DM000009",
        "安信数据",
        "北京安信数据服务有限公司",
        "low",
        ("data entry",),
        ("冯雪", "feng.xue@anxin.example.com", "zh-CN"),
        "proposed",
    ),
    DemoPartner(
        "DM000010",
        "明德律师事务所",
        "北京明德律师事务所",
        "low",
        ("legal",),
        ("David Ma", "david.ma@mingde.example.com", "en"),
        "proposed",
    ),
    DemoPartner(
        "DM000011",
        "速达物流",
        "广州速达物流有限公司",
        "low",
        ("courier",),
        ("何芳", "he.fang@suda.example.com", "zh-CN"),
        "offboarding",
        ("contracts",),
    ),
    DemoPartner(
        "DM000012",
        "Cloudledger Ltd",
        "Cloudledger Pte. Ltd.",
        "medium",
        ("cloud accounting",),
        ("Priya Nair", "priya.nair@cloudledger.example.com", "en"),
        "active",
        ("financial_statements",),
    ),
)
ANSWERS_GOOD: Final = {
    "ls-01": "yes",
    "ls-02": "yes",
    "ls-03": "yes",
    "ls-04": "yes",
    "ls-05": "yes",
    "ls-06": "yes",
    "ls-07": "yes",
    "ls-08": "yes",
    "ls-09": "no",
    "ls-10": 24,
    "ls-11": "yes",
    "ls-12": "yes",
    "ls-13": "机房位于上海，数据不出境。",
}
ANSWERS_WEAK: Final = ANSWERS_GOOD | {"ls-04": "no", "ls-06": "no", "ls-10": 96, "ls-11": "no"}
SECTIONS: Final = {
    "basics": ("ls-01", "ls-02", "ls-03"),
    "protection": ("ls-04", "ls-05", "ls-06", "ls-07", "ls-08"),
    "data-handling": ("ls-09", "ls-10", "ls-11", "ls-12", "ls-13"),
}


def credit_code(org: str) -> str:
    first17 = "91" + "310115" + org + org_code_check_char(org)
    return first17 + credit_code_check_char(first17)


@dataclass
class DemoReport:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


async def _staff(conn: asyncpg.Connection) -> dict[Role, CurrentUser]:
    people: dict[Role, CurrentUser] = {}
    for email, name, role in STAFF:
        user = await auth_repo.find_user_by_email(conn, email)
        if user is None:
            user = (await auth.create_user(conn, SYSTEM, UserCreate(email=email, name=name, role=role))).user
        people[role] = CurrentUser(
            id=user.id, email=user.email, name=user.name, role=role, locale=user.locale
        )
    return people


def _actor(user: CurrentUser) -> Actor:
    return Actor(id=user.id, label=user.label)


async def _answer(
    conn: asyncpg.Connection, link: str, answers: dict[str, Any], settings: Settings, now: datetime
) -> None:
    """Answer the lite screening through the portal's own service and submit it."""
    token = urlsplit(link).path.rsplit("/", 1)[-1]
    opened = await assessments.open_link(conn, token, now)
    for section, questions in SECTIONS.items():
        version = (await assessments.load(conn, opened.assessment_id, now.date())).answers_version
        given: dict[str, Answer | None] = {q: Answer(value=answers[q]) for q in questions}

        def read(
            _: object, given: dict[str, Answer | None] = given
        ) -> tuple[dict[str, Answer | None], dict[str, str]]:
            return given, {}

        await assessments.save_section(
            conn,
            token,
            part_index=0,
            section_id=section,
            read=read,
            base_version=version,
            uploads=[],
            remove=None,
            settings=settings,
            now=now,
        )
    await assessments.submit(conn, opened, opened.contact_name, settings, now=now)


async def _one(
    conn: asyncpg.Connection,
    spec: DemoPartner,
    staff: dict[Role, CurrentUser],
    settings: Settings,
    report: DemoReport,
) -> None:
    now = datetime.now(UTC)
    buyer, owner = _actor(staff[Role.PROCUREMENT]), _actor(staff[Role.RISK_OWNER])
    name, email, locale = spec.contact
    partner = await partners.create_partner(
        conn,
        buyer,
        PartnerCreate(
            name=spec.name,
            legal_name=spec.legal_name,
            business_criticality=spec.criticality,  # type: ignore[arg-type]
            credit_code=credit_code(spec.org),
            services=list(spec.services),
            owner_id=staff[Role.RISK_OWNER].id,
            contacts=[ContactIn(name=name, email=email, primary=True, locale=locale)],
        ),
        settings,
    )
    report.created.append(spec.name)
    if spec.becomes == "proposed":
        return
    categories = {c.code: c.id for c in await scopes_repo.list_categories(conn)}
    signed = date.today() - timedelta(days=300)  # noqa: DTZ011 - a demo date, not a rule
    await agreements.create_agreement(
        conn,
        buyer,
        partner.id,
        AgreementCreate(
            kind="nda",
            title="保密协议",
            signed_on=signed,
            expires_on=signed + timedelta(days=365 if spec.org != "DM000004" else 330),
            signatories=[Signatory(party="us", name="张总"), Signatory(party="partner", name=name)],
            category_ids=[categories[c] for c in spec.categories],
        ),
        settings,
    )
    await partners.transition(
        conn, buyer, partner.id, Transition(to="onboarding", reason="演示：开始准入"), settings
    )
    for code in spec.categories:
        scope = await scopes.request_scope(
            conn,
            buyer,
            partner.id,
            ScopeCreate(
                category_id=categories[code],
                purpose="代理记账服务",
                processing_methods=["store", "process"],
                transfer_method="api",
                starts_on=signed,
                retention_days=365,
                volume_band="1k_10k",
            ),
        )
        if spec.becomes not in ("onboarding",):
            try:
                await scopes.approve_scope(conn, owner, partner.id, scope.id, ScopeApproval(), settings)
            except Problem as exc:
                report.refused.append(f"{spec.name}: scope {code}: {exc.detail}")
    if spec.becomes == "onboarding":
        return
    sent = await assessments.send_assessment(
        conn,
        buyer,
        partner.id,
        AssessmentCreate(kind="onboarding", questionnaires=["lite-screening"]),
        settings,
        now=now,
    )
    await _answer(conn, sent.link, ANSWERS_WEAK if spec.weak else ANSWERS_GOOD, settings, now)
    if spec.becomes == "submitted":
        return
    await assessments.review(
        conn,
        owner,
        sent.assessment.id,
        ReviewCreate(decision="approve", note="演示：审核通过"),
        settings,
        now=now,
    )
    moves = {
        "active": ["active"],
        "suspended": ["active", "suspended"],
        "offboarding": ["active", "offboarding"],
    }
    for to in moves.get(spec.becomes, []):
        try:
            await partners.transition(conn, owner, partner.id, Transition(to=to, reason="演示"), settings)  # type: ignore[arg-type]
        except Problem as exc:
            report.refused.append(f"{spec.name}: {to}: {exc.detail}")
            break
    if spec.incident:
        await incidents.open_incident(
            conn,
            staff[Role.RISK_OWNER],
            partner.id,
            IncidentCreate(
                title="共享邮箱疑似被钓鱼，发票数据可能外泄",
                severity="high",
                detected_at=now - timedelta(hours=3),
                playbook="partner-data-leak",
                affected_categories=["invoices"],
                description="合作方报告其客服共享邮箱的密码被钓鱼网站窃取，邮箱内有我所客户的发票。",
            ),
            settings,
            now=now,
        )


async def load_demo(conn: asyncpg.Connection, settings: Settings) -> DemoReport:
    """Load the demo firm through the services; partners already there are skipped."""
    report = DemoReport()
    staff = await _staff(conn)
    existing = {
        r["credit_code"]
        for r in await conn.fetch(
            "SELECT credit_code FROM partners WHERE credit_code = ANY($1::text[])",
            [credit_code(p.org) for p in PARTNERS],
        )
    }
    for spec in PARTNERS:
        if credit_code(spec.org) in existing:
            report.skipped.append(spec.name)
            continue
        await _one(conn, spec, staff, settings, report)
    return report


__all__ = ["PARTNERS", "DemoReport", "load_demo"]
