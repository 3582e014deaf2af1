"""SQL for assessments, their parts, portal links, evidence, reviews and reminders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk.assessments.models import (
    Assessment,
    AssessmentKind,
    AssessmentStatus,
    Evidence,
    Review,
    ReviewComment,
    RiskLevel,
)
from vendor_risk.audit.service import append_call
from vendor_risk.pagination import Params, page_first, sql_limit
from vendor_risk.questionnaires.models import Answer, Template

# `$1` is today (UTC) wherever OVERDUE_SQL appears.
DUE_STATUSES_SQL = "'sent', 'in_progress', 'changes_requested'"
OVERDUE_SQL = f"(a.status IN ({DUE_STATUSES_SQL}) AND a.due_on < $1::date)"

ASSESSMENT_COLUMNS = f"""
    a.id, a.partner_id, p.name AS partner_name, a.kind, a.status,
    coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'key', t.key, 'version', t.version,
                   'title', jsonb_build_object('zh-CN', t.title_zh, 'en', t.title_en))
               ORDER BY ap.position)
        FROM assessment_parts ap JOIN questionnaire_templates t ON t.id = ap.template_id
        WHERE ap.assessment_id = a.id), '[]') AS questionnaires,
    a.recipient_email, a.recipient_name, a.locale, a.message, a.reason, a.due_on,
    {OVERDUE_SQL} AS overdue,
    a.score, a.sent_by_label, a.sent_at, a.submitted_at, a.submitted_by, a.reviewed_at,
    (SELECT l.expires_at FROM portal_links l
     WHERE l.assessment_id = a.id AND l.revoked_at IS NULL) AS link_expires_at,
    a.receipt_hash, a.previous_assessment_id, a.answers_version, a.version
"""


def to_assessment(row: asyncpg.Record) -> Assessment:
    return msgspec.convert(dict(row), Assessment)


class AssessmentState(msgspec.Struct, kw_only=True):
    """The columns the service works with, beyond what the API shows."""

    id: UUID
    partner_id: UUID
    partner_name: str
    partner_tier: RiskLevel
    partner_owner_id: UUID | None
    kind: AssessmentKind
    status: AssessmentStatus
    recipient_email: str
    recipient_name: str
    locale: str
    due_on: date
    answers_version: int
    previous_assessment_id: UUID | None
    sent_by: UUID | None
    sent_by_label: str
    sent_at: datetime
    submitted_at: datetime | None
    submitted_by: str | None
    receipt_hash: str | None
    score: float | None
    score_breakdown: Any
    version: int


async def get_state(
    conn: asyncpg.Connection, assessment_id: UUID, *, for_update: bool = False
) -> AssessmentState | None:
    """The assessment's working state; ``for_update`` serialises its changes."""
    lock = " FOR UPDATE OF a" if for_update else ""
    row = await conn.fetchrow(
        f"""
        SELECT a.id, a.partner_id, p.name AS partner_name, p.tier AS partner_tier,
               p.owner_id AS partner_owner_id, a.kind, a.status, a.recipient_email,
               a.recipient_name, a.locale, a.due_on, a.answers_version,
               a.previous_assessment_id, a.sent_by, a.sent_by_label, a.sent_at,
               a.submitted_at, a.submitted_by, a.receipt_hash, a.score, a.score_breakdown,
               a.version
        FROM assessments a JOIN partners p ON p.id = a.partner_id
        WHERE a.id = $1{lock}
        """,
        assessment_id,
    )
    return msgspec.convert(dict(row), AssessmentState) if row else None


async def get_assessment(conn: asyncpg.Connection, assessment_id: UUID, today: date) -> Assessment | None:
    row = await conn.fetchrow(
        f"""
        SELECT {ASSESSMENT_COLUMNS}
        FROM assessments a JOIN partners p ON p.id = a.partner_id
        WHERE a.id = $2
        """,
        today,
        assessment_id,
    )
    return to_assessment(row) if row else None


async def get_assessments(
    conn: asyncpg.Connection, ids: Sequence[UUID], today: date
) -> dict[UUID, Assessment]:
    rows = await conn.fetch(
        f"""
        SELECT {ASSESSMENT_COLUMNS}
        FROM assessments a JOIN partners p ON p.id = a.partner_id
        WHERE a.id = ANY($2::uuid[])
        """,
        today,
        list(ids),
    )
    return {row["id"]: to_assessment(row) for row in rows}


class ListFilters(msgspec.Struct, kw_only=True):
    status: AssessmentStatus | None = None
    partner_id: UUID | None = None
    kind: AssessmentKind | None = None
    overdue: bool | None = None


async def list_assessments(
    conn: asyncpg.Connection,
    filters: ListFilters,
    today: date,
    after: Sequence[Any] | None,
    limit: int,
) -> list[Assessment]:
    """Newest first by (sent_at, id); each filter has an index.

    The WHERE clause is assembled from fixed fragments (never from input): with one
    statement for every combination of filters, PostgreSQL's cached generic plan (used
    after five runs when it looks no dearer) could serve no filter's index, and made the
    list ten times slower on a small install.
    """
    param = Params(today)
    where: list[str] = []

    if filters.status is not None:
        where.append(f"a.status = {param(filters.status)}")
    if filters.partner_id is not None:
        where.append(f"a.partner_id = {param(filters.partner_id)}")
    if filters.kind is not None:
        where.append(f"a.kind = {param(filters.kind)}")
    if filters.overdue is False:
        where.append(f"NOT {OVERDUE_SQL}")
    if after is not None:
        where.append(f"(a.sent_at, a.id) < ({param(after[0])}, {param(after[1])}::uuid)")
    conditions, count, order = " AND ".join(where) or "true", sql_limit(limit), "a.sent_at DESC, a.id DESC"
    # The overdue ones (OVERDUE_SQL) from the two indexes of migration 0220.
    overdue_of = DUE_STATUSES_SQL if filters.overdue else None
    page = page_first("assessments a", conditions, order, count, overdue_of=overdue_of)
    rows = await conn.fetch(
        f"""
        SELECT {ASSESSMENT_COLUMNS}
        FROM ({page}) a JOIN partners p ON p.id = a.partner_id
        ORDER BY {order}
        """,
        *param.values,
    )
    return [to_assessment(r) for r in rows]


# An open assessment: the predicate of the unique index that allows one per partner and
# purpose (assessments_one_open_key, 0004), which an ON CONFLICT must repeat to use it.
OPEN = "status IN ('sent', 'in_progress', 'submitted', 'changes_requested')"


async def insert_assessment(conn: asyncpg.Connection, fields: Mapping[str, Any]) -> UUID | None:
    """Insert an assessment; None when the partner already has an open one of this purpose."""
    columns = list(fields)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    assessment_id: UUID | None = await conn.fetchval(
        f"""
        INSERT INTO assessments ({", ".join(columns)}) VALUES ({placeholders})
        ON CONFLICT (partner_id, (kind = 'offboarding')) WHERE {OPEN}
        DO NOTHING
        RETURNING id
        """,
        *fields.values(),
    )
    return assessment_id


async def open_assessment_of(conn: asyncpg.Connection, partner_id: UUID, offboarding: bool) -> UUID | None:
    found: UUID | None = await conn.fetchval(
        f"""
        SELECT id FROM assessments WHERE partner_id = $1 AND (kind = 'offboarding') = $2 AND {OPEN}
        """,
        partner_id,
        offboarding,
    )
    return found


# An incident ``i`` whose containment stands: unfinished, and its playbook killed (or is
# about to kill) the partner's portal links. Resends, the reassessment sweep and
# self-service sign-in all refuse a partner with one.
CONTAINING = """
i.status IN ('suspected', 'open')
AND EXISTS (SELECT 1 FROM incident_action_runs r
            WHERE r.incident_id = i.id AND r.action = 'revoke_portal_links' AND r.status <> 'skipped')
"""


async def containing_incident(
    conn: asyncpg.Connection, partner_id: UUID, exempt: UUID | None = None
) -> tuple[UUID, str] | None:
    """The oldest unfinished incident of the partner whose playbook killed (or is about to
    kill) its portal links, other than ``exempt``: (id, title), or None."""
    row = await conn.fetchrow(
        f"""
        SELECT i.id, i.title FROM incidents i
        WHERE i.partner_id = $1 AND i.id IS DISTINCT FROM $2 AND {CONTAINING}
        ORDER BY i.created_at, i.id
        LIMIT 1
        """,
        partner_id,
        exempt,
    )
    return (row["id"], row["title"]) if row else None


async def set_status(
    conn: asyncpg.Connection, assessment_id: UUID, status: AssessmentStatus, **columns: Any
) -> None:
    # Column names come from the service's call sites, never from a request.
    assignments = "".join(f", {name} = ${i}" for i, name in enumerate(columns, start=3))
    await conn.execute(
        f"""
        UPDATE assessments SET status = $2{assignments}, updated_at = now(), version = version + 1
        WHERE id = $1
        """,
        assessment_id,
        status,
        *columns.values(),
    )


async def bump_answers_version(
    conn: asyncpg.Connection, assessment_id: UUID, status: AssessmentStatus
) -> int:
    version: int = await conn.fetchval(
        """
        UPDATE assessments SET answers_version = answers_version + 1, status = $2, updated_at = now()
        WHERE id = $1 RETURNING answers_version
        """,
        assessment_id,
        status,
    )
    return version


# --- parts ------------------------------------------------------------------------------------


class PartRow(msgspec.Struct, kw_only=True):
    position: int
    template_id: UUID
    template_key: str
    template: Template
    answers: dict[str, Answer]
    saved_sections: dict[str, int]
    prefilled_sections: list[str]
    score: float | None


# Decoded questionnaire versions, as each assessment shows them (the sections that fit the
# partner's service types). A stored version is immutable (content is data, loaded once),
# so decoding its jsonb into Structs once per process is enough: a 120-question section
# costs more to decode than to render. Bounded, as a library holds few versions.
_FULL_TEMPLATES: dict[UUID, Template] = {}
_TEMPLATES: dict[tuple[UUID, tuple[str, ...] | None], Template] = {}
_TEMPLATES_MAX = 256


class _PartFields(msgspec.Struct, kw_only=True):
    position: int
    template_id: UUID
    template_key: str
    answers: dict[str, Answer]
    saved_sections: dict[str, int]
    prefilled_sections: list[str]
    part_score: float | None


_PART_FIELDS = tuple(_PartFields.__struct_fields__)


def _template(template_id: UUID, content: Any, sections: Sequence[str] | None) -> Template:
    """The version as the part shows it; ``content`` is None when this process holds it."""
    key = (template_id, tuple(sections) if sections is not None else None)
    template = _TEMPLATES.get(key)
    if template is None:
        full = _FULL_TEMPLATES.get(template_id)
        if full is None:
            full = msgspec.convert(content, Template)
            if len(_FULL_TEMPLATES) >= _TEMPLATES_MAX:
                _FULL_TEMPLATES.clear()
                _TEMPLATES.clear()
            _FULL_TEMPLATES[template_id] = full
        template = full.only_sections(sections)
        if len(_TEMPLATES) >= _TEMPLATES_MAX:
            _TEMPLATES.clear()
        _TEMPLATES[key] = template
    return template


async def _part_row(conn: asyncpg.Connection, row: asyncpg.Record) -> PartRow:
    f = msgspec.convert({k: row[k] for k in _PART_FIELDS}, _PartFields)
    content = row["template"]
    if content is None and f.template_id not in _FULL_TEMPLATES:
        # Dropped from this process's cache by another request since the query was sent.
        content = await conn.fetchval(
            "SELECT content FROM questionnaire_templates WHERE id = $1", f.template_id
        )
    return PartRow(
        position=f.position,
        template_id=f.template_id,
        template_key=f.template_key,
        template=_template(f.template_id, content, row["sections"]),
        answers=f.answers,
        saved_sections=f.saved_sections,
        prefilled_sections=f.prefilled_sections,
        score=f.part_score,
    )


async def get_parts(conn: asyncpg.Connection, assessment_id: UUID) -> list[PartRow]:
    """The assessment's questionnaires, each as sent: only the sections that fit the
    partner's service types at sending (the portal, completeness and scoring see no other).
    A questionnaire version already decoded by this process is not read again."""
    rows = await conn.fetch(
        """
        SELECT ap.position, ap.template_id, ap.template_key,
               CASE WHEN ap.template_id = ANY($2::uuid[]) THEN NULL ELSE t.content END AS template,
               ap.answers, ap.saved_sections, ap.prefilled_sections, ap.score AS part_score, ap.sections
        FROM assessment_parts ap JOIN questionnaire_templates t ON t.id = ap.template_id
        WHERE ap.assessment_id = $1
        ORDER BY ap.position
        """,
        assessment_id,
        list(_FULL_TEMPLATES),
    )
    return [await _part_row(conn, r) for r in rows]


async def insert_part(
    conn: asyncpg.Connection,
    assessment_id: UUID,
    position: int,
    template_id: UUID,
    template_key: str,
    answers: Mapping[str, Answer],
    prefilled_sections: Sequence[str],
    sections: Sequence[str] | None = None,
) -> None:
    await conn.execute(
        """
        INSERT INTO assessment_parts (assessment_id, position, template_id, template_key, answers,
                                      prefilled_sections, sections)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        assessment_id,
        position,
        template_id,
        template_key,
        dict(answers),
        list(prefilled_sections),
        None if sections is None else list(sections),
    )


async def save_part(
    conn: asyncpg.Connection,
    assessment_id: UUID,
    position: int,
    answers: Mapping[str, Answer],
    section_id: str,
    answers_version: int,
) -> None:
    await conn.execute(
        """
        UPDATE assessment_parts
        SET answers = $3, saved_sections = saved_sections || jsonb_build_object($4::text, $5::int)
        WHERE assessment_id = $1 AND position = $2
        """,
        assessment_id,
        position,
        dict(answers),
        section_id,
        answers_version,
    )


# A section's save: the assessment's answer version bumped if nothing changed it since it
# was read ($6 answers version, $7 row version), the part's answers written, the section
# marked saved at the new version and the save's audit event appended, all at once.
_SAVE_SECTION = """
    WITH bumped AS (
        UPDATE assessments
        SET answers_version = answers_version + 1, updated_at = now(){status}
        WHERE id = $1 AND answers_version = $6 AND version = $7
        RETURNING answers_version
    ), saved AS (
        UPDATE assessment_parts
        SET answers = (answers - $4::text[]) || $5::jsonb,
            saved_sections = saved_sections
                || jsonb_build_object($3::text, (SELECT answers_version FROM bumped))
        WHERE assessment_id = $1 AND position = $2 AND EXISTS (SELECT FROM bumped)
        RETURNING position
    )
    SELECT answers_version, {append} FROM bumped WHERE EXISTS (SELECT FROM saved)
"""
_SAVE_SECTION_SQL = _SAVE_SECTION.format(status="", append=append_call(8))
_SAVE_SECTION_AND_STATUS_SQL = _SAVE_SECTION.format(status=", status = $8", append=append_call(9))


async def save_section_answers(
    conn: asyncpg.Connection,
    assessment_id: UUID,
    position: int,
    *,
    seen: tuple[int, int],
    status: AssessmentStatus | None,
    section_id: str,
    cleared: Sequence[str],
    changed: Mapping[str, Answer],
    event: Sequence[Any],
) -> int | None:
    """A section's save in one statement, if the assessment's (answers version, version)
    are still ``seen``: the answer version bumped (and ``status`` set, when one is given),
    the part's answers ``cleared`` removed and ``changed`` written, the section marked
    saved at the new version, which is returned, and the audit ``event`` appended
    (``audit.service.append_args``). None, with nothing written, when another change came
    first.

    The status is written only when it changes: naming it in the SET list fires the
    status triggers (dashboard counters, last approval) on every save of a long section.
    Outside a transaction block the statement is its own transaction, so the chain's lock
    is held only while it runs.
    """
    args = [assessment_id, position, section_id, list(cleared), dict(changed), *seen]
    if status is None:
        row = await conn.fetchrow(_SAVE_SECTION_SQL, *args, *event)
    else:
        row = await conn.fetchrow(_SAVE_SECTION_AND_STATUS_SQL, *args, status, *event)
    return None if row is None else int(row["answers_version"])


async def set_part_scores(
    conn: asyncpg.Connection, assessment_id: UUID, scores: Sequence[float | None]
) -> None:
    await conn.executemany(
        "UPDATE assessment_parts SET score = $3 WHERE assessment_id = $1 AND position = $2",
        [(assessment_id, position, score) for position, score in enumerate(scores)],
    )


class PreviousAnswers(msgspec.Struct, kw_only=True):
    assessment_id: UUID
    submitted_at: datetime
    template_key: str
    answers: dict[str, Answer]


async def previous_answers(
    conn: asyncpg.Connection, partner_id: UUID, keys: Sequence[str], before: UUID | None = None
) -> list[PreviousAnswers]:
    """Per questionnaire key, the partner's latest submitted answers (any version), from
    assessments submitted before ``before`` when given."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT ON (ap.template_key)
               a.id AS assessment_id, a.submitted_at, ap.template_key, ap.answers
        FROM assessments a JOIN assessment_parts ap ON ap.assessment_id = a.id
        WHERE a.partner_id = $1 AND a.status IN ('submitted', 'approved', 'rejected')
          AND ap.template_key = ANY($2::text[])
          AND ($3::uuid IS NULL OR a.id <> $3)
        ORDER BY ap.template_key, a.submitted_at DESC
        """,
        partner_id,
        list(keys),
        before,
    )
    return [msgspec.convert(dict(r), PreviousAnswers) for r in rows]


async def previous_answers_of(
    conn: asyncpg.Connection, partner_ids: Sequence[UUID], keys: Sequence[str]
) -> dict[UUID, list[PreviousAnswers]]:
    """``previous_answers`` for several partners in one query."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT ON (a.partner_id, ap.template_key)
               a.partner_id, a.id AS assessment_id, a.submitted_at, ap.template_key, ap.answers
        FROM assessments a JOIN assessment_parts ap ON ap.assessment_id = a.id
        WHERE a.partner_id = ANY($1::uuid[]) AND a.status IN ('submitted', 'approved', 'rejected')
          AND ap.template_key = ANY($2::text[])
        ORDER BY a.partner_id, ap.template_key, a.submitted_at DESC
        """,
        list(partner_ids),
        list(keys),
    )
    found: dict[UUID, list[PreviousAnswers]] = {}
    for row in rows:
        values = dict(row)
        found.setdefault(values.pop("partner_id"), []).append(msgspec.convert(values, PreviousAnswers))
    return found


# --- portal links --------------------------------------------------------------------------------


async def insert_link(
    conn: asyncpg.Connection, assessment_id: UUID, token_hash: bytes, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO portal_links (assessment_id, token_hash, expires_at) VALUES ($1, $2, $3)",
        assessment_id,
        token_hash,
        expires_at,
    )


async def revoke_links(conn: asyncpg.Connection, assessment_id: UUID, reason: str) -> int:
    result: str = await conn.execute(
        """
        UPDATE portal_links SET revoked_at = now(), revoked_reason = $2
        WHERE assessment_id = $1 AND revoked_at IS NULL
        """,
        assessment_id,
        reason,
    )
    return int(result.rsplit(" ", 1)[-1])


async def extend_link(conn: asyncpg.Connection, assessment_id: UUID, expires_at: datetime) -> None:
    await conn.execute(
        """
        UPDATE portal_links SET expires_at = greatest(expires_at, $2)
        WHERE assessment_id = $1 AND revoked_at IS NULL
        """,
        assessment_id,
        expires_at,
    )


class LinkRow(msgspec.Struct, kw_only=True):
    id: UUID
    assessment_id: UUID
    expires_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None
    last_used_at: datetime | None
    status: AssessmentStatus
    contact_name: str
    contact_email: str


async def find_link(conn: asyncpg.Connection, token_hash: bytes) -> LinkRow | None:
    """The link with this token hash, with its assessment's status and whom to contact
    (the sender, else the partner's owner)."""
    row = await conn.fetchrow(
        """
        SELECT l.id, l.assessment_id, l.expires_at, l.revoked_at, l.revoked_reason, l.last_used_at,
               a.status,
               coalesce(s.name, o.name, a.sent_by_label) AS contact_name,
               coalesce(s.email, o.email, '') AS contact_email
        FROM portal_links l
        JOIN assessments a ON a.id = l.assessment_id
        JOIN partners p ON p.id = a.partner_id
        LEFT JOIN users s ON s.id = a.sent_by AND s.disabled_at IS NULL
        LEFT JOIN users o ON o.id = p.owner_id AND o.disabled_at IS NULL
        WHERE l.token_hash = $1
        """,
        token_hash,
    )
    return msgspec.convert(dict(row), LinkRow) if row else None


async def touch_link(conn: asyncpg.Connection, link_id: UUID, now: datetime) -> None:
    await conn.execute("UPDATE portal_links SET last_used_at = $2 WHERE id = $1", link_id, now)


async def revoke_partner_links(conn: asyncpg.Connection, partner_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        """
        UPDATE portal_links l SET revoked_at = now(), revoked_reason = 'revoked'
        FROM assessments a
        WHERE a.id = l.assessment_id AND a.partner_id = $1 AND l.revoked_at IS NULL
        RETURNING l.assessment_id
        """,
        partner_id,
    )
    return [r["assessment_id"] for r in rows]


# --- the portal's one read ----------------------------------------------------------------------


class PortalRows(msgspec.Struct, kw_only=True):
    """Everything a portal page needs about the assessment a token opens, read at once."""

    link: LinkRow
    state: AssessmentState
    parts: list[PartRow]
    evidence: list[Evidence]
    review_note: str | None
    review_comments: list[ReviewComment]
    previous_submitted_at: datetime | None


class _PortalHead(msgspec.Struct, kw_only=True):
    previous_submitted_at: datetime | None
    review_note: str | None
    review_comments: list[ReviewComment] | None
    evidence: list[Evidence]


_LINK_FIELDS = tuple(LinkRow.__struct_fields__)
_STATE_FIELDS = tuple(AssessmentState.__struct_fields__)

# One round trip for a portal page: the link (with whom to contact), the assessment, its
# parts (a questionnaire version already decoded by this process is not sent again), its
# evidence, the latest request for changes while the partner makes them, and when the
# previous assessment was submitted. One row per part; the rest repeats on each.
# ``FOR UPDATE OF a, ap`` (the save) locks the assessment and its parts: after waiting for
# another save, PostgreSQL re-reads both locked rows, so the parts are the ones that save
# wrote, never those of the statement's older snapshot. Evidence and reviews change only
# under the same lock (evidence) or once the answers are locked (reviews).
_PORTAL_SQL = """
    SELECT l.id AS link_id, l.assessment_id, l.expires_at, l.revoked_at, l.revoked_reason,
           l.last_used_at,
           coalesce(su.name, o.name, a.sent_by_label) AS contact_name,
           coalesce(su.email, o.email, '') AS contact_email,
           a.id, a.partner_id, p.name AS partner_name, p.tier AS partner_tier,
           p.owner_id AS partner_owner_id, a.kind, a.status, a.recipient_email,
           a.recipient_name, a.locale, a.due_on, a.answers_version,
           a.previous_assessment_id, a.sent_by, a.sent_by_label, a.sent_at,
           a.submitted_at, a.submitted_by, a.receipt_hash, a.score, a.score_breakdown,
           a.version,
           prev.submitted_at AS previous_submitted_at,
           r.note AS review_note, r.comments AS review_comments,
           (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'id', e.id, 'questionnaire', e.template_key, 'question_id', e.question_id,
                       'filename', d.filename, 'content_type', d.content_type,
                       'size_bytes', d.size_bytes, 'sha256', d.sha256, 'uploaded_at', e.created_at)
                       ORDER BY e.created_at, e.id), '[]')
            FROM assessment_evidence e JOIN documents d ON d.id = e.document_id
            WHERE e.assessment_id = a.id AND e.removed_at IS NULL) AS evidence,
           ap.position, ap.template_id, ap.template_key,
           CASE WHEN ap.template_id = ANY($2::uuid[]) THEN NULL ELSE t.content END AS template,
           ap.answers, ap.saved_sections, ap.prefilled_sections, ap.score AS part_score, ap.sections
    FROM portal_links l
    JOIN assessments a ON a.id = l.assessment_id
    JOIN partners p ON p.id = a.partner_id
    JOIN assessment_parts ap ON ap.assessment_id = a.id
    JOIN questionnaire_templates t ON t.id = ap.template_id
    LEFT JOIN users su ON su.id = a.sent_by AND su.disabled_at IS NULL
    LEFT JOIN users o ON o.id = p.owner_id AND o.disabled_at IS NULL
    LEFT JOIN assessments prev ON prev.id = a.previous_assessment_id
    LEFT JOIN LATERAL (
        SELECT rv.note, rv.comments FROM assessment_reviews rv
        WHERE rv.assessment_id = a.id AND a.status = 'changes_requested'
        ORDER BY rv.created_at DESC, rv.id DESC LIMIT 1
    ) r ON true
    WHERE l.token_hash = $1
    ORDER BY ap.position
"""
_PORTAL_SQL_LOCKED = _PORTAL_SQL + " FOR UPDATE OF a, ap"


async def portal_rows(
    conn: asyncpg.Connection, token_hash: bytes, *, lock: bool = False
) -> PortalRows | None:
    """What the link with this token hash opens, in one statement; ``lock`` (inside the
    save's transaction) serialises saves of the assessment."""
    rows = await conn.fetch(_PORTAL_SQL_LOCKED if lock else _PORTAL_SQL, token_hash, list(_FULL_TEMPLATES))
    if not rows:
        return None
    first = dict(rows[0])
    link = msgspec.convert({**{k: first[k] for k in _LINK_FIELDS}, "id": first["link_id"]}, LinkRow)
    state = msgspec.convert({k: first[k] for k in _STATE_FIELDS}, AssessmentState)
    head = msgspec.convert(first, _PortalHead)
    return PortalRows(
        link=link,
        state=state,
        parts=[await _part_row(conn, r) for r in rows],
        evidence=head.evidence,
        review_note=head.review_note,
        review_comments=head.review_comments or [],
        previous_submitted_at=head.previous_submitted_at,
    )


# --- evidence ------------------------------------------------------------------------------------

EVIDENCE_COLUMNS = """
    e.id, e.template_key AS questionnaire, e.question_id, d.filename, d.content_type,
    d.size_bytes, d.sha256, e.created_at AS uploaded_at
"""


async def insert_evidence(
    conn: asyncpg.Connection, assessment_id: UUID, template_key: str, question_id: str, document_id: UUID
) -> Evidence:
    evidence_id = await conn.fetchval(
        """
        INSERT INTO assessment_evidence (assessment_id, template_key, question_id, document_id)
        VALUES ($1, $2, $3, $4) RETURNING id
        """,
        assessment_id,
        template_key,
        question_id,
        document_id,
    )
    found = await get_evidence(conn, assessment_id, evidence_id)
    assert found is not None  # noqa: S101 - inserted just above
    return found


async def evidence_totals(conn: asyncpg.Connection, assessment_id: UUID) -> tuple[int, int]:
    """Files and bytes the assessment's links uploaded in all, removed ones included."""
    row = await conn.fetchrow(
        """
        SELECT count(*) AS files, coalesce(sum(d.size_bytes), 0) AS size
        FROM assessment_evidence e JOIN documents d ON d.id = e.document_id
        WHERE e.assessment_id = $1
        """,
        assessment_id,
    )
    assert row is not None  # noqa: S101 - an aggregate returns a row
    return int(row["files"]), int(row["size"])


async def list_evidence(conn: asyncpg.Connection, assessment_id: UUID) -> list[Evidence]:
    rows = await conn.fetch(
        f"""
        SELECT {EVIDENCE_COLUMNS}
        FROM assessment_evidence e JOIN documents d ON d.id = e.document_id
        WHERE e.assessment_id = $1 AND e.removed_at IS NULL
        ORDER BY e.created_at, e.id
        """,
        assessment_id,
    )
    return [msgspec.convert(dict(r), Evidence) for r in rows]


async def get_evidence(conn: asyncpg.Connection, assessment_id: UUID, evidence_id: UUID) -> Evidence | None:
    row = await conn.fetchrow(
        f"""
        SELECT {EVIDENCE_COLUMNS}
        FROM assessment_evidence e JOIN documents d ON d.id = e.document_id
        WHERE e.assessment_id = $1 AND e.id = $2 AND e.removed_at IS NULL
        """,
        assessment_id,
        evidence_id,
    )
    return msgspec.convert(dict(row), Evidence) if row else None


async def evidence_document(conn: asyncpg.Connection, assessment_id: UUID, evidence_id: UUID) -> UUID | None:
    document_id: UUID | None = await conn.fetchval(
        """
        SELECT document_id FROM assessment_evidence
        WHERE assessment_id = $1 AND id = $2 AND removed_at IS NULL
        """,
        assessment_id,
        evidence_id,
    )
    return document_id


async def remove_evidence(conn: asyncpg.Connection, assessment_id: UUID, evidence_id: UUID) -> bool:
    result: str = await conn.execute(
        """
        UPDATE assessment_evidence SET removed_at = now()
        WHERE assessment_id = $1 AND id = $2 AND removed_at IS NULL
        """,
        assessment_id,
        evidence_id,
    )
    return result.endswith(" 1")


# --- reviews -------------------------------------------------------------------------------------


async def insert_review(
    conn: asyncpg.Connection,
    assessment_id: UUID,
    decision: str,
    note: str,
    comments: Sequence[ReviewComment],
    reviewer_id: UUID | None,
    reviewer_label: str,
) -> None:
    await conn.execute(
        """
        INSERT INTO assessment_reviews (assessment_id, decision, note, comments, reviewer_id, reviewer_label)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        assessment_id,
        decision,
        note,
        msgspec.to_builtins(list(comments)),
        reviewer_id,
        reviewer_label,
    )


async def list_reviews(conn: asyncpg.Connection, assessment_id: UUID) -> list[Review]:
    rows = await conn.fetch(
        """
        SELECT id, decision, note, comments, reviewer_id, reviewer_label, created_at
        FROM assessment_reviews WHERE assessment_id = $1
        ORDER BY created_at DESC, id DESC
        """,
        assessment_id,
    )
    return [msgspec.convert(dict(r), Review) for r in rows]


# --- reminders -----------------------------------------------------------------------------------


class ReminderCandidate(msgspec.Struct, kw_only=True):
    assessment_id: UUID
    due_on: date
    sent: list[str]


async def reminder_candidates(conn: asyncpg.Connection, until: date) -> list[ReminderCandidate]:
    """Assessments awaiting the partner whose due date is at most ``until``, with the
    reminders already sent for that due date: one set-based query."""
    rows = await conn.fetch(
        """
        SELECT a.id AS assessment_id, a.due_on,
               ARRAY(SELECT r.reminder FROM assessment_reminders r
                     WHERE r.assessment_id = a.id AND r.due_on = a.due_on) AS sent
        FROM assessments a
        WHERE a.status IN ('sent', 'in_progress', 'changes_requested') AND a.due_on <= $1
        ORDER BY a.due_on, a.id
        """,
        until,
    )
    return [msgspec.convert(dict(r), ReminderCandidate) for r in rows]


async def record_reminder(conn: asyncpg.Connection, assessment_id: UUID, due_on: date, reminder: str) -> bool:
    """Record a reminder; False when it was recorded already (sent once, ever)."""
    inserted = await conn.fetchval(
        """
        INSERT INTO assessment_reminders (assessment_id, due_on, reminder) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        assessment_id,
        due_on,
        reminder,
    )
    return bool(inserted)


async def overdue_beyond(conn: asyncpg.Connection, before: date) -> list[UUID]:
    rows = await conn.fetch(
        """
        SELECT id FROM assessments
        WHERE status IN ('sent', 'in_progress', 'changes_requested') AND due_on < $1
        ORDER BY due_on, id
        """,
        before,
    )
    return [r["id"] for r in rows]


async def user_contact(conn: asyncpg.Connection, user_id: UUID | None) -> tuple[str, str, str] | None:
    """(name, email, locale) of an enabled user."""
    if user_id is None:
        return None
    row = await conn.fetchrow(
        "SELECT name, email, locale FROM users WHERE id = $1 AND disabled_at IS NULL", user_id
    )
    return (row["name"], row["email"], row["locale"]) if row else None
