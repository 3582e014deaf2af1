"""The partner's side of remediation, shared by every portal a partner reaches (the
assessment link ``/q/{token}/findings`` and the standing self-service portal): its
findings to remediate as rows for ``templates/findings/_partner.html``, and the checks of
the plan and fix forms, in the partner's language.

Every read and write takes the ``partner_id`` the caller is signed in as; the repository
selects by it and the service refuses (404) another partner's finding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, Final
from uuid import UUID

import asyncpg
import msgspec
from litestar.datastructures import UploadFile

from vendor_risk.assessments.emails import format_date, format_time
from vendor_risk.assessments.forms import CONTROL, MAX_TEXT
from vendor_risk.errors import Problem
from vendor_risk.findings import repository as repo
from vendor_risk.findings import service
from vendor_risk.findings.models import Finding
from vendor_risk.settings import Settings

# The service's refusals of a fix, by message start, as catalogue keys.
_FIX_MESSAGES: Final = (
    ("say what was done", "rm_err_fix_note"),
    ("attach at least one", "rm_err_proof_required"),
    ("at most", "rm_err_proof_count"),
    ("the file is larger", "rm_err_proof_size"),
    ("the file is empty", "rm_err_proof_type"),
    ("the content is not", "rm_err_proof_type"),
    ("the name says", "rm_err_proof_type"),
)


class Refused(msgspec.Struct, kw_only=True):
    """A form shown again beside its finding: which form, why, and what was typed."""

    finding_id: UUID
    form: str  # "plan" or "fix"
    error: str  # a catalogue key
    values: dict[str, str]


class Urls(msgspec.Struct, frozen=True, kw_only=True):
    plan: Callable[[UUID], str]
    fix: Callable[[UUID], str]


async def rows(
    conn: asyncpg.Connection,
    partner_id: UUID,
    lang: str,
    t: Callable[..., str],
    urls: Urls,
    *,
    refused: Refused | None = None,
    question_text: Mapping[tuple[str, str], str] | None = None,
    references: Callable[[Any], str | None] = lambda _: None,
) -> list[dict[str, Any]]:
    """The partner's findings (open, remediating, verifying) as template rows."""
    found = []
    for f in await repo.partner_open_findings(conn, partner_id):
        row: dict[str, Any] = {
            "id": f.id,
            "title": (f.title or {}).get(lang) or (f.title or {}).get("en", ""),
            "severity": f.severity,
            "status": f.status,
            "question": (question_text or {}).get((f.questionnaire or "", f.question_id or "")),
            "remediation": (f.remediation or {}).get(lang) if f.remediation else None,
            "references": references(f.references),
            "due_on": format_date(f.due_on, lang) if f.due_on else None,
            "plan": f.partner_plan or "",
            "planned_on": f.partner_planned_on.isoformat() if f.partner_planned_on else "",
            "responded_on": format_date(f.partner_responded_at.date(), lang)
            if f.partner_responded_at
            else None,
            "fix_note": "",
            "fixed_note": f.partner_fix_note,
            "fixed_at": format_time(f.partner_fixed_at, lang) if f.partner_fixed_at else None,
            "proofs": f.proofs,
            "sent_back_note": f.sent_back_note,
            "plan_url": urls.plan(f.id),
            "fix_url": urls.fix(f.id),
            "plan_error": None,
            "fix_error": None,
        }
        if refused is not None and refused.finding_id == f.id:
            row[f"{refused.form}_error"] = t(refused.error)
            row.update(refused.values)
        found.append(row)
    return found


def check_plan(plan: str, typed_on: str, today: date) -> tuple[str | None, date | None]:
    """``(error key, planned date)``: the error is None when the plan can be saved."""
    try:
        planned_on: date | None = date.fromisoformat(typed_on)
    except ValueError:
        planned_on = None
    if not plan or len(plan) > MAX_TEXT:
        return "error_plan_required", None
    if CONTROL.search(plan):
        return "error_control", None
    if planned_on is None:
        return "error_date", None
    if planned_on < today:
        return "error_planned_on_past", None
    return None, planned_on


async def proofs_of(files: Sequence[Any]) -> list[service.ProofUpload]:
    """The uploaded proof files of a multipart form (blank file inputs are skipped)."""
    return [
        service.ProofUpload(filename=f.filename, data=await f.read())
        for f in files
        if isinstance(f, UploadFile) and f.filename
    ]


async def submit_fix(
    conn: asyncpg.Connection,
    actor: Any,
    partner_id: UUID,
    finding_id: UUID,
    note: str,
    proofs: Sequence[service.ProofUpload],
    settings: Settings,
    today: date,
) -> tuple[Finding | None, str | None]:
    """Send the fix; ``(finding, None)`` when saved, ``(None, error key)`` when refused
    (the form is then shown again with what was typed). Another partner's finding, or one
    no longer open to a fix, is a 404 raised to the caller."""
    if CONTROL.search(note) or len(note) > MAX_TEXT:
        return None, "error_control" if CONTROL.search(note) else "rm_err_fix_note"
    try:
        return await service.submit_fix(
            conn, actor, partner_id, finding_id, note, proofs, settings, today
        ), None
    except Problem as exc:
        if exc.status_code == 404:
            raise
        extra = exc.extra if isinstance(exc.extra, dict) else {}
        message = str(((extra.get("errors") or [{}])[0]).get("message", ""))
        key = next((k for start, k in _FIX_MESSAGES if message.startswith(start)), None)
        if key is None:
            raise
        return None, key
