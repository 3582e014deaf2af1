"""Staff pages of assessments: send (with a preview of the email), resend, cancel, the review
queue and the review page.

Every page calls the assessments service, as the API routes do, and every write carries the
API route's own role guard (``requires_sender``, ``requires_risk_owner``), so a page never
allows more than the API. Forms keep what was typed and show each refusal beside its field,
in the page language (``ui.forms``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final
from urllib.parse import quote
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post

from vendor_risk.assessments import repository as assessments_repo
from vendor_risk.assessments import service, views
from vendor_risk.assessments.models import (
    EDITABLE_STATUSES,
    AssessmentCreate,
    AssessmentDetail,
    AssessmentKind,
    Cancel,
    Message,
    QuestionnaireKey,
    Recipient,
    Resend,
    ReviewComment,
    ReviewCreate,
)
from vendor_risk.assessments.routes import requires_evidence_reader, requires_sender
from vendor_risk.assessments.rules import default_due_on, default_questionnaires
from vendor_risk.auth.guards import requires_risk_owner
from vendor_risk.auth.models import Email, Locale
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem
from vendor_risk.i18n import LANGUAGES
from vendor_risk.pagination import decode_cursor, encode_cursor
from vendor_risk.partners import service as partners
from vendor_risk.questionnaires import repository as templates_repo
from vendor_risk.questionnaires.models import Template
from vendor_risk.settings import Settings
from vendor_risk.structs import Base
from vendor_risk.ui.forms import FORM_ERROR, Form, conflict_page, read_form
from vendor_risk.ui.web import allows, page, page_lang, see_other, with_query

PAGE_SIZE: Final = 25
KINDS: Final[tuple[AssessmentKind, ...]] = ("onboarding", "periodic", "triggered", "offboarding")
SEVERITY_ORDER: Final = {"critical": 0, "high": 1, "medium": 2, "low": 3}
# The review page's filter: every answer, only failed ones, only those changed since last time.
SHOW: Final = ("all", "failed", "changed")
OTHER_RECIPIENT: Final = "other"
# A recipient's field as the service names it -> the send form's field.
_SEND_FIELDS: Final = {
    "recipient": "contact_id",
    "recipient.contact_id": "contact_id",
    "recipient.email": "email",
    "recipient.name": "name",
    "questionnaires": "questionnaires",
    "due_on": "due_on",
}
# A service's English field message -> the catalogue's words.
_FIELD_MESSAGES: Final = {
    "must not be in the past": "rv_err_past",
    "give the name of the person the email is for": "form_required",
    "not a contact of this partner": "form_choose",
    "the partner has no primary contact: name a contact or an email": "rv_err_no_primary",
    "say what the partner should change (a note or per-question comments)": "rv_err_changes_note",
}


def _refused(form: Form, exc: Problem, fields: Mapping[str, str] | None = None) -> None:
    """A service refusal in the page language: beside the field it names, else above the
    form by the problem's stable type (``rv_problem_<slug>``)."""
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    errors = extra.get("errors") or []
    for item in errors:
        named = str(item.get("field", "")).split("[", 1)[0]
        name = (fields or {}).get(named, named)
        key = _FIELD_MESSAGES.get(str(item.get("message", "")), "form_invalid")
        form.error(name or FORM_ERROR, form.t(key))
    if not errors:
        form.error(FORM_ERROR, form.t(f"rv_problem_{exc.slug.replace('-', '_')}"))


# --- send ------------------------------------------------------------------------------------------


class SendForm(Base):
    """The send form as posted (flat fields), checked field by field before it becomes an
    ``AssessmentCreate``."""

    kind: AssessmentKind
    questionnaires: Annotated[list[QuestionnaireKey], msgspec.Meta(min_length=1, max_length=10)]
    contact_id: UUID | None = None
    email: Email | None = None
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    locale: Locale | None = None
    due_on: date | None = None
    message: Message = ""
    reason: Annotated[str, msgspec.Meta(max_length=500)] | None = None


def _default_kind(status: str) -> AssessmentKind:
    if status == "offboarding":
        return "offboarding"
    if status in ("active", "suspended"):
        return "periodic"
    return "onboarding"


def _send_data(form: Form) -> AssessmentCreate | None:
    """The posted form as the service's Struct; None (with the errors recorded) when bad."""
    chosen = form.get("contact_id")
    other = chosen == OTHER_RECIPIENT
    if other:
        for name in ("email", "name"):
            if not form.get(name):
                form.error(name, form.t("form_required"))
    data = form.decode(
        SendForm,
        {
            "kind": form.get("kind"),
            "questionnaires": form.getlist("questionnaires"),
            "contact_id": "" if other else chosen,
            "email": form.get("email") if other else "",
            "name": form.get("name") if other else "",
            "locale": form.get("locale"),
            "due_on": form.get("due_on"),
            "message": form.get("message"),
            "reason": form.get("reason"),
        },
    )
    if data is None or form.invalid:
        return None
    recipient = None
    if data.contact_id or data.email or data.locale:
        recipient = Recipient(
            contact_id=data.contact_id, email=data.email, name=data.name, locale=data.locale
        )
    return AssessmentCreate(
        kind=data.kind,
        questionnaires=data.questionnaires,
        recipient=recipient,
        due_on=data.due_on,
        message=data.message,
        reason=data.reason,
    )


async def _send_page(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    partner_id: UUID,
    form: Form | None,
    *,
    preview: Any = None,
    status_code: int = 200,
) -> Response[str]:
    lang = page_lang(request)
    partner = await partners.load(db, partner_id, settings)
    library = await templates_repo.latest_versions(db)
    if form is None:
        kind = _default_kind(partner.status)
        loaded = {t.key for t in library}
        primary = next((c for c in partner.contacts if c.primary), None)
        form = Form.of(
            lang,
            {
                "kind": kind,
                "questionnaires": [
                    k
                    for k in default_questionnaires(
                        partner.tier, kind, partner.service_types, settings.policy.questionnaires
                    )
                    if k in loaded
                ],
                "contact_id": str(primary.id) if primary else OTHER_RECIPIENT,
                "due_on": default_due_on(partners.today_utc(), settings.policy.assessments).isoformat(),
            },
        )
        # The email the defaults would send, shown at once; nothing to preview (no primary
        # contact, no questionnaire loaded) leaves the form to say what is missing on post.
        data = _send_data(form)
        if data is not None:
            try:
                email = await service.preview_invitation(
                    db, actor_of(request), partner_id, data, settings, now=datetime.now(UTC)
                )
                preview = {"email": email}
            except Problem:
                preview = None
        form.errors.clear()
    t = form.t
    contacts = [
        (str(c.id), t("rv_contact_choice", name=c.name, email=c.email, language=t(f"rv_lang_{c.locale}")))
        for c in partner.contacts
    ]
    return page(
        request,
        "assessments/send",
        status_code=status_code,
        partner=partner,
        form=form,
        preview=preview,
        kinds=[(k, t(f"kind_{k}")) for k in KINDS],
        questionnaires=[(q.key, f"{q.title.get(lang)} · v{q.version}") for q in library],
        contacts=[*contacts, (OTHER_RECIPIENT, t("rv_other_recipient"))],
        languages=[(code, t(f"rv_lang_{code}")) for code in LANGUAGES],
        due_days=settings.policy.assessments.due_days,
    )


@get("/partners/{partner_id:uuid}/assessments/new", guards=[requires_sender], name="ui:send-assessment")
async def send_page(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID
) -> Response[str]:
    """The send form, pre-filled for the partner: the kind its status calls for, the
    questionnaires of its tier, its primary contact in the contact's language, the usual
    due date; and the email the partner would get."""
    return await _send_page(request, db, settings, partner_id, None)


@post(
    "/partners/{partner_id:uuid}/assessments/new",
    guards=[requires_sender],
    name="ui:send-assessment-post",
    status_code=303,
)
async def send_post(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID
) -> Response[Any]:
    """``action=preview`` shows the email as it would be sent (nothing written);
    ``action=send`` sends it and opens the assessment's page."""
    form = await read_form(request)
    data = _send_data(form)
    if data is None:
        return await _send_page(request, db, settings, partner_id, form, status_code=400)
    now = datetime.now(UTC)
    try:
        if form.get("action") == "send":
            sent = await service.send_assessment(db, actor_of(request), partner_id, data, settings, now=now)
            return see_other(f"/ui/assessments/{sent.assessment.id}?done=sent")
        email = await service.preview_invitation(db, actor_of(request), partner_id, data, settings, now=now)
    except Problem as exc:
        if exc.status_code >= 500:
            raise
        _refused(form, exc, _SEND_FIELDS)
        open_id = (exc.extra or {}).get("open_assessment_id") if isinstance(exc.extra, dict) else None
        return await _send_page(
            request,
            db,
            settings,
            partner_id,
            form,
            preview={"open_assessment_id": open_id} if open_id else None,
            status_code=409 if exc.status_code == 409 else 400,
        )
    return await _send_page(request, db, settings, partner_id, form, preview={"email": email})


# --- the review queue ------------------------------------------------------------------------------


@get("/reviews", name="ui:reviews")
async def review_queue(
    request: Request[Any, Any, Any], db: DbConnection, cursor: str | None = None
) -> Response[str]:
    """The review queue: submitted assessments, newest first (``status=submitted``)."""
    after = decode_cursor(cursor, datetime, UUID)
    rows = await assessments_repo.list_assessments(
        db,
        assessments_repo.ListFilters(status="submitted"),
        partners.today_utc(),
        after,
        PAGE_SIZE + 1,
    )
    items = rows[:PAGE_SIZE]
    more = None
    if len(rows) > PAGE_SIZE:
        more = with_query("/ui/reviews", {"cursor": encode_cursor(items[-1].sent_at, items[-1].id)})
    return page(request, "assessments/queue", items=items, more=more, today=partners.today_utc())


# --- the review page -------------------------------------------------------------------------------


def _question_labels(templates: list[Template], lang: str) -> dict[str, str]:
    """``questionnaire:question`` -> "1.2 the question's text", for every question shown by
    its id elsewhere (findings, failed critical questions, changes, comments)."""
    labels: dict[str, str] = {}
    for template in templates:
        for section in template.sections:
            for question in section.questions:
                number = views.question_number(template, section, question)
                labels[f"{template.key}:{question.id}"] = f"{number} {question.text.get(lang)}"
    return labels


def _review_view(
    detail: AssessmentDetail, templates: list[Template], lang: str, t: Any, show: str, form: Form
) -> dict[str, Any]:
    """What the review page shows: parts and sections (for the navigation, with how many
    answers failed and changed in each), the answers the filter keeps, findings most severe
    first, and every question id as its number and text."""
    breakdown = (
        {p.questionnaire: p.result for p in detail.score_breakdown.parts} if detail.score_breakdown else {}
    )
    changed = {(c.questionnaire, c.question_id): c for c in (detail.diff.changes if detail.diff else [])}
    evidence: dict[tuple[str, str], list[Any]] = {}
    for item in detail.evidence:
        evidence.setdefault((item.questionnaire, item.question_id), []).append(item)
    answers = {p.questionnaire: p.answers for p in detail.answers}
    parts: list[dict[str, Any]] = []
    for index, template in enumerate(templates):
        scores = breakdown.get(template.key)
        by_question = {q.question_id: q for s in (scores.sections if scores else []) for q in s.questions}
        by_section = {s.section_id: s for s in (scores.sections if scores else [])}
        sections: list[dict[str, Any]] = []
        for section in template.sections:
            rows: list[dict[str, Any]] = []
            failed = changes = 0
            for question in section.questions:
                score = by_question.get(question.id)
                change = changed.get((template.key, question.id))
                is_failed = bool(score and score.failed)
                failed += is_failed
                changes += change is not None
                if (show == "failed" and not is_failed) or (show == "changed" and change is None):
                    continue
                before = views.describe(question, change.before, lang, t) if change else None
                name = f"c:{template.key}:{question.id}"
                rows.append(
                    {
                        "id": question.id,
                        "anchor": f"q-{template.key}-{question.id}",
                        "number": views.question_number(template, section, question),
                        "text": question.text.get(lang),
                        "shown": views.describe(
                            question, answers.get(template.key, {}).get(question.id), lang, t
                        ),
                        "score": score,
                        "failed": is_failed,
                        "change": change.change if change else None,
                        "before": before,
                        "evidence": evidence.get((template.key, question.id), []),
                        "comment_name": name,
                        "comment": form.get(name),
                        "comment_error": form.errors.get(name),
                    }
                )
            sections.append(
                {
                    "anchor": f"s-{index}-{section.id}",
                    "title": section.title.get(lang),
                    "score": by_section.get(section.id),
                    "failed": failed,
                    "changed": changes,
                    "rows": rows,
                }
            )
        parts.append(
            {
                "key": template.key,
                "title": template.title.get(lang),
                "version": template.version,
                "sections": sections,
            }
        )
    findings = sorted(detail.findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.created_at))
    return {
        "parts": parts,
        "findings": findings,
        "labels": _question_labels(templates, lang),
        "titles": {template.key: template.title.get(lang) for template in templates},
        "failed_total": sum(s["failed"] for p in parts for s in p["sections"]),
        "changed_total": len(changed),
    }


def _rating_params(t: Any) -> Any:
    """A rating step's numbers for its catalogue entry: levels by their labels, scores as
    the page shows them."""

    def params(step: Any) -> dict[str, str]:
        shown: dict[str, str] = {}
        for name, value in step.params.items():
            if name in ("tier", "floor"):
                shown[name] = t(f"tier_{value}")
            elif isinstance(value, float):
                shown[name] = f"{value:g}"
            else:
                shown[name] = str(value)
        return shown

    return params


async def _assessment_page(
    request: Request[Any, Any, Any],
    db: DbConnection,
    assessment_id: UUID,
    *,
    show: str = "all",
    form: Form | None = None,
    panel: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    lang = page_lang(request)
    form = form or Form(lang)
    show = show if show in SHOW else "all"
    settings: Settings = request.app.state.settings
    detail, templates = await service.detail_with_templates(
        db, assessment_id, partners.today_utc(), rating_policy=settings.policy.rating
    )
    is_sender = await allows(requires_sender, request)
    view = _review_view(detail, templates, lang, form.t, show, form)
    return page(
        request,
        "assessments/review",
        status_code=status_code,
        a=detail,
        view=view,
        show=show,
        form=form,
        blank_form=Form(lang),
        rating_params=_rating_params(form.t),
        panel=panel,
        done=request.query_params.get("done") if request.method == "GET" else None,
        filters=[(s, with_query(request.url.path, {"show": s if s != "all" else None})) for s in SHOW],
        can_review=await allows(requires_risk_owner, request) and detail.status == "submitted",
        # The XLSX round trip is the record keepers' (the workbook pages' own guard).
        can_workbook=await allows(requires_sender, request),
        can_download=await allows(requires_evidence_reader, request),
        can_resend=is_sender and detail.status not in ("cancelled", "expired"),
        can_cancel=is_sender and detail.status in EDITABLE_STATUSES,
        today=partners.today_utc(),
    )


@get("/assessments/{assessment_id:uuid}", name="ui:assessment")
async def assessment_page(
    request: Request[Any, Any, Any], db: DbConnection, assessment_id: UUID, show: str = "all"
) -> Response[str]:
    """The review page: the decision panel and the findings (most severe first) at the top,
    a navigation by section with how many answers failed or changed in each, the answers
    (failed ones highlighted; ``show=failed`` or ``show=changed`` keeps only those), the
    score and rating with their steps, and what changed since last time."""
    return await _assessment_page(request, db, assessment_id, show=show)


@post(
    "/assessments/{assessment_id:uuid}/review",
    guards=[requires_risk_owner],
    name="ui:review",
    status_code=303,
)
async def review(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, assessment_id: UUID
) -> Response[Any]:
    """Approve, reject or request changes, with a note and per-question comments
    (fields ``c:{questionnaire}:{question}``); a refusal shows the page again with
    everything typed."""
    form = await read_form(request)
    comments = []
    for name in form.values:
        if name.startswith("c:") and name.count(":") >= 2 and form.get(name):
            _, questionnaire, question_id = name.split(":", 2)
            if len(form.get(name)) > 4000:
                form.error(name, form.t("form_too_long", max=4000))
                continue
            comments.append(
                ReviewComment(questionnaire=questionnaire, question_id=question_id, comment=form.get(name))
            )
    version = form.get("version")
    if form.get("decision") not in ("approve", "reject", "request_changes"):
        form.error("decision", form.t("form_choose"))
    if len(form.get("note")) > 10_000:
        form.error("note", form.t("form_too_long", max=10_000))
    if not form.invalid:
        data = ReviewCreate(
            decision=form.get("decision"),  # type: ignore[arg-type]
            note=form.get("note"),
            comments=comments,
            version=int(version) if version.isdigit() else None,
        )
        try:
            await service.review(db, actor_of(request), assessment_id, data, settings, now=datetime.now(UTC))
        except Problem as exc:
            if exc.slug == "stale-version":
                current = await service.detail(
                    db, assessment_id, partners.today_utc(), rating_policy=settings.policy.rating
                )
                last = current.reviews[0] if current.reviews else None
                t = form.t
                return conflict_page(
                    request,
                    form,
                    # The decision posted again is a code: only the notes are compared.
                    {"note": last.note if last else ""},
                    [("note", t("review_note"))],
                    action=f"/ui/assessments/{assessment_id}/review",
                    back=f"/ui/assessments/{assessment_id}",
                    version=current.version,
                )
            if exc.status_code >= 500 or exc.status_code == 404:
                raise
            _refused(form, exc, {"comments": FORM_ERROR})
        else:
            return see_other(f"/ui/assessments/{assessment_id}?done=reviewed")
    return await _assessment_page(
        request,
        db,
        assessment_id,
        form=form,
        panel="review",
        status_code=400 if form.errors.keys() - {FORM_ERROR} else 409,
    )


@post(
    "/assessments/{assessment_id:uuid}/resend",
    guards=[requires_sender],
    name="ui:resend-assessment",
    status_code=303,
)
async def resend(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, assessment_id: UUID
) -> Response[Any]:
    """A new link by email (the old one dies at once), with a new due date or message."""
    form = await read_form(request)
    data = form.decode(Resend, {"due_on": form.get("due_on"), "message": form.get("message") or None})
    if data is not None:
        try:
            await service.resend(db, actor_of(request), assessment_id, data, settings, now=datetime.now(UTC))
        except Problem as exc:
            if exc.status_code >= 500 or exc.status_code == 404:
                raise
            _refused(form, exc)
        else:
            return see_other(f"/ui/assessments/{assessment_id}?done=resent")
    return await _assessment_page(
        request,
        db,
        assessment_id,
        form=form,
        panel="resend",
        status_code=400 if "due_on" in form.errors else 409,
    )


@post(
    "/assessments/{assessment_id:uuid}/cancel",
    guards=[requires_sender],
    name="ui:cancel-assessment",
    status_code=303,
)
async def cancel(request: Request[Any, Any, Any], db: DbConnection, assessment_id: UUID) -> Response[Any]:
    """Cancel with a reason; the partner's link dies at once."""
    form = await read_form(request)
    data = form.decode(Cancel, {"reason": form.get("reason")})
    if data is not None:
        try:
            await service.cancel(db, actor_of(request), assessment_id, data, now=datetime.now(UTC))
        except Problem as exc:
            if exc.status_code >= 500 or exc.status_code == 404:
                raise
            _refused(form, exc)
        else:
            return see_other(f"/ui/assessments/{assessment_id}?done=cancelled")
    return await _assessment_page(
        request,
        db,
        assessment_id,
        form=form,
        panel="cancel",
        status_code=400 if "reason" in form.errors else 409,
    )


@get(
    "/assessments/{assessment_id:uuid}/evidence/{evidence_id:uuid}",
    guards=[requires_evidence_reader],
    name="ui:evidence",
)
async def evidence(
    db: DbConnection, settings: Settings, assessment_id: UUID, evidence_id: UUID
) -> Response[bytes]:
    """An evidence file, always as a download: a partner's file never renders in our origin."""
    info, content = await service.evidence_file(db, assessment_id, evidence_id, settings)
    ascii_name = info.filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(info.filename)}"
    return Response(
        content, media_type="application/octet-stream", headers={"Content-Disposition": disposition}
    )


PAGES = [send_page, send_post, review_queue, assessment_page, review, resend, cancel, evidence]
