"""The questionnaire round trip for a partner who will not use the portal.

Export: an XLSX with one sheet per section, each question on a row with its help text,
choices as drop-down lists, and only the answer, N/A and comment cells unlocked (the
sheets are protected). A very hidden sheet names the assessment, its answer version and
where each section's sheet is, signed with an HMAC-SHA256 keyed from the data key, so a
file from another assessment, an older version or an edited hidden sheet is refused.

Upload: the answers are read back, converted exactly as the portal's form would convert
them, validated with the portal's own section validation
(``assessments.rules.validate_section``) and merged as the partner's answers in one
transaction, audited with the uploader's name. With ``submit`` the assessment is then
submitted as from the portal, so it is scored by the same engine: the same answers give
the same score.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Final
from uuid import UUID, uuid4

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.assessments import repository as assessments_repo
from vendor_risk.assessments import service as assessments
from vendor_risk.assessments.models import MissingItem
from vendor_risk.assessments.rules import merge_section, validate_section
from vendor_risk.audit.models import Actor
from vendor_risk.errors import Problem, not_found
from vendor_risk.i18n import translator
from vendor_risk.questionnaires.models import Answer, Question, Template
from vendor_risk.reports.imports import MAX_IMPORT_BYTES, _check_zip
from vendor_risk.settings import Settings

META_SHEET: Final = "_meta"
FIRST_ROW: Final = 3  # rows 1-2: the section's title and the column headers
EDITABLE: Final = ("sent", "in_progress", "changes_requested")
SPLIT: Final = re.compile(r"\s*[;；,，、\n]\s*")


def _key(settings: Settings) -> bytes:
    if not settings.data_keys:
        raise Problem(503, "no-data-key", "no data key is configured to sign workbooks")
    return hashlib.sha256(b"vendor-risk:questionnaire-workbook:" + settings.data_keys[0].key).digest()


def signature(settings: Settings, assessment_id: UUID, version: int, layout: str) -> str:
    message = f"{assessment_id}:{version}:{layout}".encode()
    return hmac.new(_key(settings), message, hashlib.sha256).hexdigest()


def _sheet_name(part: int, number: int, title: str, used: set[str]) -> str:
    clean = re.sub(r"[\[\]:*?/\\']", " ", title).strip()
    name = f"{part + 1}.{number} {clean}"[:31]
    while name in used:
        name = f"{name[:28]}~{len(used)}"
    used.add(name)
    return name


def _choice_labels(question: Question, lang: str) -> list[str]:
    return [c.label.get(lang) for c in question.effective_choices()]


class Section(msgspec.Struct, frozen=True, kw_only=True):
    sheet: str
    part: int
    section_id: str


def _layout(sections: Sequence[Section]) -> str:
    return "|".join(f"{s.sheet}\t{s.part}\t{s.section_id}" for s in sections)


async def export_workbook(
    conn: asyncpg.Connection, actor: Actor, assessment_id: UUID, lang: str, settings: Settings
) -> bytes:
    """The assessment's questionnaires as a workbook to fill in offline, with the answers
    saved so far; the export is audited."""
    state = await assessments_repo.get_state(conn, assessment_id)
    if state is None:
        raise not_found("assessment", assessment_id)
    if state.status not in EDITABLE:
        raise Problem(
            409, "assessment-locked", f"the assessment is {state.status}: answers can no longer change"
        )
    parts = await assessments_repo.get_parts(conn, assessment_id)
    t = translator(lang)
    import xlsxwriter  # spreadsheets are rare: `serve` starts without it

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    title = book.add_format({"bold": True, "font_size": 13})
    header = book.add_format(
        {"bold": True, "bg_color": "#E8EEF4", "border": 1, "text_wrap": True, "locked": True}
    )
    locked = book.add_format({"text_wrap": True, "valign": "top", "locked": True})
    answer = book.add_format(
        {"text_wrap": True, "valign": "top", "locked": False, "bg_color": "#FFFBE6", "border": 1}
    )
    sections: list[Section] = []
    used: set[str] = {META_SHEET}
    for part in parts:
        template = part.template
        for number, section in enumerate(template.sections, start=1):
            name = _sheet_name(part.position, number, section.title.get(lang), used)
            sections.append(Section(sheet=name, part=part.position, section_id=section.id))
            sheet = book.add_worksheet(name)
            sheet.write_string(0, 0, f"{template.title.get(lang)} · {section.title.get(lang)}", title)
            columns = (
                ("rpt_wb_id", 10),
                ("rpt_wb_question", 48),
                ("rpt_wb_help", 36),
                ("rpt_wb_answer", 28),
                ("rpt_wb_na", 8),
                ("rpt_wb_comment", 30),
                ("rpt_wb_how", 34),
            )
            for index, (key, width) in enumerate(columns):
                sheet.set_column(index, index, width)
                sheet.write_string(1, index, t(key), header)
            sheet.freeze_panes(FIRST_ROW - 1, 0)
            for offset, question in enumerate(section.questions):
                row = FIRST_ROW - 1 + offset
                saved = part.answers.get(question.id)
                sheet.write_string(row, 0, question.id, locked)
                text = question.text.get(lang) + (f" [{t('critical')}]" if question.critical else "")
                sheet.write_string(row, 1, text, locked)
                sheet.write_string(row, 2, question.help.get(lang) if question.help else "", locked)
                sheet.write_string(row, 3, _shown(question, saved, lang), answer)
                sheet.write_string(row, 4, t("rpt_yes") if saved and saved.na else "", answer)
                sheet.write_string(row, 5, (saved.comment or "") if saved else "", answer)
                sheet.write_string(row, 6, _how(question, lang), locked)
                if question.type in ("yes_no", "single_choice"):
                    sheet.data_validation(
                        row, 3, row, 3, {"validate": "list", "source": _choice_labels(question, lang)}
                    )
                elif question.type == "number":
                    sheet.data_validation(
                        row, 3, row, 3, {"validate": "decimal", "criteria": ">=", "value": 0}
                    )
                if question.na_allowed:
                    sheet.data_validation(row, 4, row, 4, {"validate": "list", "source": [t("rpt_yes")]})
            sheet.protect("", {"format_columns": True, "format_rows": True})
    meta = book.add_worksheet(META_SHEET)
    layout = _layout(sections)
    meta.write_string(0, 0, str(assessment_id))
    meta.write_number(0, 1, state.answers_version)
    meta.write_string(0, 2, signature(settings, assessment_id, state.answers_version, layout))
    meta.write_string(0, 3, lang)
    for index, s in enumerate(sections, start=1):
        meta.write_string(index, 0, s.sheet)
        meta.write_number(index, 1, s.part)
        meta.write_string(index, 2, s.section_id)
    meta.very_hidden()
    meta.protect("")
    book.close()
    async with conn.transaction():
        await audit.record(
            conn,
            actor=actor,
            action="assessment.workbook_exported",
            entity_type="assessment",
            entity_id=assessment_id,
            after={"answers_version": state.answers_version, "lang": lang},
        )
    return buffer.getvalue()


def _shown(question: Question, saved: Answer | None, lang: str) -> str:
    if saved is None or saved.value is None:
        return ""
    labels = {c.value: c.label.get(lang) for c in question.effective_choices()}
    if isinstance(saved.value, list):
        return "; ".join(labels.get(str(v), str(v)) for v in saved.value)
    if question.type in ("yes_no", "single_choice"):
        return labels.get(str(saved.value), str(saved.value))
    if isinstance(saved.value, float) and saved.value.is_integer():
        return str(int(saved.value))
    return str(saved.value)


def _how(question: Question, lang: str) -> str:
    t = translator(lang)
    if question.type in ("yes_no", "single_choice"):
        return t("rpt_wb_how_choice")
    if question.type == "multi_choice":
        return t("rpt_wb_how_multi", choices="; ".join(_choice_labels(question, lang)))
    unit = f" ({question.unit.get(lang)})" if question.unit else ""
    return t(f"rpt_wb_how_{question.type}") + unit


# --- upload -----------------------------------------------------------------------------------------


class WorkbookError(msgspec.Struct, frozen=True, kw_only=True):
    sheet: str
    row: int
    question_id: str
    message: str


class WorkbookResult(msgspec.Struct, kw_only=True):
    assessment_id: UUID
    answers_version: int
    saved_sections: int
    submitted: bool
    missing: list[MissingItem]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _to_answer(
    question: Question, raw: str, na: bool, comment: str, lang: str
) -> tuple[Answer | None, str | None]:
    """The answer as the portal's form would make it, or the catalogue key of what is wrong."""
    comment_value = comment or None
    if na:
        return Answer(na=True, comment=comment_value), None
    if not raw:
        return (Answer(comment=comment_value), None) if comment_value else (None, None)
    by_label: dict[str, str] = {}
    for c in question.effective_choices():
        for name in (c.value, c.label.get("zh-CN"), c.label.get("en")):
            by_label[name.strip().lower()] = c.value
    if question.type in ("yes_no", "single_choice"):
        value = by_label.get(raw.lower())
        return (Answer(value=value, comment=comment_value), None) if value else (None, "rpt_wb_bad_choice")
    if question.type == "multi_choice":
        values = [by_label.get(p.lower()) for p in SPLIT.split(raw) if p]
        if any(v is None for v in values):
            return None, "rpt_wb_bad_choice"
        return Answer(value=[v for v in values if v], comment=comment_value), None
    if question.type == "number":
        try:
            return Answer(value=float(raw.replace(",", "")), comment=comment_value), None
        except ValueError:
            return None, "rpt_wb_bad_number"
    if question.type == "date":
        try:
            return Answer(value=date.fromisoformat(raw[:10]).isoformat(), comment=comment_value), None
        except ValueError:
            return None, "rpt_wb_bad_date"
    return Answer(value=raw, comment=comment_value), None


def _refuse(t: Any, slug: str, key: str, status: int = 400) -> Problem:
    return Problem(status, slug, t(key), errors=[{"field": "file", "message": t(key)}])


async def upload_workbook(
    conn: asyncpg.Connection,
    actor: Actor,
    assessment_id: UUID,
    content: bytes,
    lang: str,
    settings: Settings,
    *,
    submit: bool = False,
    now: datetime | None = None,
) -> WorkbookResult:
    """Merge a filled workbook as the partner's answers (and, with ``submit``, submit)."""
    now = now or datetime.now(UTC)
    t = translator(lang)
    if len(content) > MAX_IMPORT_BYTES:
        raise _refuse(t, "workbook-too-large", "rpt_wb_unreadable", 413)
    _check_zip(content, t)
    import openpyxl  # spreadsheets are rare: `serve` starts without it

    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (KeyError, ValueError, OSError):
        raise _refuse(t, "workbook-unreadable", "rpt_wb_unreadable") from None
    try:
        if META_SHEET not in book.sheetnames:
            raise _refuse(t, "workbook-unsigned", "rpt_wb_unsigned")
        meta = [[_text(v) for v in row] for row in book[META_SHEET].iter_rows(values_only=True)]
        head = meta[0] + [""] * 4 if meta else ["", "", "", ""]
        sections = [
            Section(sheet=r[0], part=int(float(r[1] or 0)), section_id=r[2])
            for r in meta[1:]
            if len(r) >= 3 and r[0]
        ]
        try:
            file_id, file_version = UUID(head[0]), int(float(head[1]))
        except ValueError:
            raise _refuse(t, "workbook-unsigned", "rpt_wb_unsigned") from None
        expected = signature(settings, file_id, file_version, _layout(sections))
        if not hmac.compare_digest(expected, head[2]):
            raise _refuse(t, "workbook-unsigned", "rpt_wb_unsigned")
        if file_id != assessment_id:
            raise _refuse(t, "workbook-other-assessment", "rpt_wb_other_assessment", 409)
        rows = {
            s.sheet: [
                [_text(v) for v in row]
                for row in book[s.sheet].iter_rows(min_row=FIRST_ROW, values_only=True)
            ]
            for s in sections
            if s.sheet in book.sheetnames
        }
    finally:
        book.close()

    async with conn.transaction():
        state = await assessments_repo.get_state(conn, assessment_id, for_update=True)
        if state is None:
            raise not_found("assessment", assessment_id)
        if state.status not in EDITABLE:
            raise Problem(
                409, "assessment-locked", f"the assessment is {state.status}: answers can no longer change"
            )
        if state.answers_version != file_version:
            raise _refuse(t, "workbook-stale", "rpt_wb_stale", 409)
        parts = await assessments_repo.get_parts(conn, assessment_id)
        errors: list[WorkbookError] = []
        plans: list[tuple[int, str, dict[str, Answer | None]]] = []
        for s in sections:
            if not 0 <= s.part < len(parts):
                raise _refuse(t, "workbook-unsigned", "rpt_wb_unsigned")
            template: Template = parts[s.part].template
            section = next((x for x in template.sections if x.id == s.section_id), None)
            if section is None:
                raise _refuse(t, "workbook-unsigned", "rpt_wb_unsigned")
            questions = {q.id: q for q in section.questions}
            given: dict[str, Answer | None] = dict.fromkeys(questions)
            for offset, values in enumerate(rows.get(s.sheet, [])):
                values = values + [""] * 6
                qid = values[0]
                if qid not in questions:
                    continue
                answer, problem = _to_answer(questions[qid], values[3], bool(values[4]), values[5], lang)
                if problem:
                    errors.append(
                        WorkbookError(
                            sheet=s.sheet, row=FIRST_ROW + offset, question_id=qid, message=t(problem)
                        )
                    )
                given[qid] = answer
            # The portal's own validation of a section's answers.
            for error in validate_section(
                template, s.section_id, {k: v for k, v in given.items() if v is not None}
            ):
                qid = error.field.split(".")[-1]
                row = next(
                    (FIRST_ROW + i for i, r in enumerate(rows.get(s.sheet, [])) if r and r[0] == qid), 0
                )
                errors.append(WorkbookError(sheet=s.sheet, row=row, question_id=qid, message=error.message))
            plans.append((s.part, s.section_id, given))
        if errors:
            raise Problem(
                400,
                "workbook-invalid",
                t("rpt_wb_invalid", n=len(errors)),
                errors=[msgspec.to_builtins(e) for e in errors],
            )
        merged = {p.position: dict(p.answers) for p in parts}
        for part_index, section_id, given in plans:
            question_ids = [
                q.id for x in parts[part_index].template.sections if x.id == section_id for q in x.questions
            ]
            merged[part_index] = merge_section(merged[part_index], question_ids, given)
        version = await assessments_repo.bump_answers_version(
            conn, assessment_id, "in_progress" if state.status == "sent" else state.status
        )
        for part_index, section_id, _ in plans:
            await assessments_repo.save_part(
                conn, assessment_id, part_index, merged[part_index], section_id, version
            )
        # As the portal's save: only the answers the upload changed, and a digest of each
        # questionnaire's answers as saved, not every answer of the assessment twice.
        changed = {
            i: sorted(
                q
                for q in parts[i].answers.keys() | merged[i].keys()
                if parts[i].answers.get(q) != merged[i].get(q)
            )
            for i in merged
        }
        await audit.record(
            conn,
            actor=actor,
            action="assessment.workbook_uploaded",
            entity_type="assessment",
            entity_id=assessment_id,
            before={
                "answers": {
                    parts[i].template_key: {
                        q: parts[i].answers[q] for q in changed[i] if q in parts[i].answers
                    }
                    for i in merged
                }
            },
            after={
                "uploaded_by": actor.label,
                "on_behalf_of": state.recipient_email,
                "answers": {
                    parts[i].template_key: {q: merged[i][q] for q in changed[i] if q in merged[i]}
                    for i in merged
                },
                "answers_sha256": {
                    parts[i].template_key: hashlib.sha256(
                        msgspec.json.encode(merged[i], order="sorted")
                    ).hexdigest()
                    for i in merged
                },
                "answers_version": version,
            },
        )
    result = WorkbookResult(
        assessment_id=assessment_id,
        answers_version=version,
        saved_sections=len(plans),
        submitted=False,
        missing=[],
    )
    if submit:
        link = assessments_repo.LinkRow(
            id=uuid4(),
            assessment_id=assessment_id,
            expires_at=now,
            revoked_at=None,
            revoked_reason=None,
            last_used_at=None,
            status=state.status,
            contact_name="",
            contact_email="",
        )
        outcome = await assessments.submit(conn, link, f"{actor.label} (workbook upload)", settings, now=now)
        result.submitted, result.missing = outcome.submitted, outcome.missing
    return result
