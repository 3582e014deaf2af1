"""Loading the questionnaire library into immutable template versions, and reading them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from vendor_risk import audit
from vendor_risk.audit.models import SYSTEM
from vendor_risk.errors import Problem, not_found
from vendor_risk.paths import content_dir
from vendor_risk.questionnaires import repository as repo
from vendor_risk.questionnaires.loader import TemplateError, content_hash, load_file
from vendor_risk.questionnaires.models import (
    AnswerError,
    LoadOutcome,
    LoadReport,
    StoredTemplate,
    Template,
)

LIBRARY_DIR = content_dir("questionnaires")
# Processes that start together (API replicas, workers, `up`) load the library one at a time.
LOAD_LOCK_ID = 0x71756573746E


async def load_library(conn: asyncpg.Connection, directory: Path = LIBRARY_DIR) -> LoadReport:
    """Store each `*.yaml` questionnaire of `directory` as a template version.

    Per file: invalid → refused with its validation errors; content already loaded → no-op;
    a new higher version → stored (and audited); changed content under a version already
    loaded, or below the latest one → refused. Each file commits on its own, so one bad
    file does not hold back the others.
    """
    outcomes: list[LoadOutcome] = []
    for name, parsed in await asyncio.to_thread(_read_library, directory):
        if isinstance(parsed, TemplateError):
            outcomes.append(LoadOutcome(file=name, status="refused", errors=parsed.messages))
        else:
            outcomes.append(await load_template(conn, parsed, name))
    return LoadReport(outcomes=outcomes)


def _read_library(directory: Path) -> list[tuple[str, Template | TemplateError]]:
    parsed: list[tuple[str, Template | TemplateError]] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            parsed.append((path.name, load_file(path)))
        except TemplateError as exc:
            parsed.append((path.name, exc))
    return parsed


async def load_template(conn: asyncpg.Connection, template: Template, filename: str) -> LoadOutcome:
    """Store one validated template unless that content is loaded already (see load_library)."""
    sha256 = content_hash(template)
    key, version = template.key, template.version
    outcome = LoadOutcome(file=filename, status="unchanged", key=key, version=version)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOAD_LOCK_ID)
        loaded = await repo.versions_of(conn, key)
        newest = max(loaded, default=0)
        if version in loaded:
            if loaded[version] == sha256 or await _stored_equal(conn, template):
                return outcome
            outcome.status = "refused"
            outcome.errors = [
                f"{filename}: version {version} of '{key}' is already loaded with different "
                f"content; a loaded version never changes: set version: {newest + 1}"
            ]
            return outcome
        if version < newest:
            outcome.status = "refused"
            outcome.errors = [
                f"{filename}: version {version} is below the loaded version {newest} of "
                f"'{key}': set version: {newest + 1}"
            ]
            return outcome
        outcome.id = await repo.insert_version(conn, template, sha256)
        outcome.status = "stored"
        await audit.record(
            conn,
            actor=SYSTEM,
            action="questionnaire_template.loaded",
            entity_type="questionnaire_template",
            entity_id=outcome.id,
            after={
                "key": key,
                "version": version,
                "content_sha256": sha256,
                "file": filename,
                "sections": len(template.sections),
                "questions": len(template.questions()),
            },
        )
    return outcome


async def _stored_equal(conn: asyncpg.Connection, template: Template) -> bool:
    # The hash covers every field, defaults included: once the format gains a field with a
    # default, a stored version hashes differently although its file did not change.
    stored = await repo.get_version(conn, template.key, template.version)
    return stored is not None and stored.content == template


async def get_template(conn: asyncpg.Connection, key: str, version: int | None = None) -> StoredTemplate:
    """The given (or latest) version of a questionnaire; 404 problem when there is none."""
    stored = await repo.get_version(conn, key, version)
    if stored is None:
        raise not_found("questionnaire", key if version is None else f"{key} version {version}")
    return stored


def invalid_answers(errors: list[AnswerError]) -> Problem:
    """The 400 problem for answers that do not fit their template, naming every field."""
    return Problem(
        400,
        "validation",
        "; ".join(f"{e.field}: {e.message}" for e in errors),
        title="Invalid request",
        errors=[{"field": e.field, "message": e.message} for e in errors],
    )
