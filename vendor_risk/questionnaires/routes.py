"""The questionnaire library: list, read and try a template's scoring."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.status_codes import HTTP_200_OK

from vendor_risk.auth.guards import requires_authenticated
from vendor_risk.db import DbConnection
from vendor_risk.questionnaires import repository as repo
from vendor_risk.questionnaires import service
from vendor_risk.questionnaires.models import (
    ScorePreview,
    ScoreRequest,
    StoredTemplate,
    TemplateSummary,
)
from vendor_risk.questionnaires.scoring import InvalidAnswers, check_completeness, score


class QuestionnaireController(Controller):
    path = "/api/v1/questionnaires"
    tags = ["questionnaires"]
    guards = [requires_authenticated]

    @get("/", operation_id="ListQuestionnaires")
    async def list_questionnaires(self, db: DbConnection) -> list[TemplateSummary]:
        """The latest version of each questionnaire (the library is a handful of files, so
        the list is not paged)."""
        return await repo.latest_versions(db)

    @get("/{key:str}", operation_id="GetQuestionnaire")
    async def get_questionnaire(
        self, db: DbConnection, key: str, version: int | None = None
    ) -> StoredTemplate:
        """A questionnaire's full content: its latest version, or `?version=`."""
        return await service.get_template(db, key, version)

    @post("/{key:str}/score", operation_id="ScoreQuestionnaire", status_code=HTTP_200_OK)
    async def score_answers(
        self, db: DbConnection, key: str, data: ScoreRequest, version: int | None = None
    ) -> ScorePreview:
        """Score an answer set with its breakdown and findings, storing nothing."""
        stored = await service.get_template(db, key, version)
        try:
            result = score(stored.content, data.answers)
        except InvalidAnswers as exc:
            raise service.invalid_answers(exc.errors) from exc
        return ScorePreview(
            key=stored.key,
            version=stored.version,
            result=result,
            completeness=check_completeness(stored.content, data.answers, set(data.evidence)),
        )
