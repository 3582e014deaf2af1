"""The questionnaire library: loading versions, reading them and scoring over HTTP."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeUser
from vendor_risk.questionnaires.loader import load_file, validate_files
from vendor_risk.questionnaires.service import LIBRARY_DIR, load_library
from vendor_risk.settings import Settings

Client = AsyncTestClient[Litestar]
EXAMPLE = Path(__file__).parents[1] / "fixtures" / "questionnaires" / "valid-example.yaml"
WORKED_ANSWERS = {
    "ac-1": {"value": "yes"},
    "ac-2": {"value": 3},
    "dh-1": {"value": "other"},
    "dh-3": {"value": ["offline", "encrypted"]},
}


def write_example(directory: Path, key: str, *, version: int = 1, edit: str = "") -> Path:
    """valid-example.yaml under another key (the file name follows), optionally changed."""
    text = EXAMPLE.read_text(encoding="utf-8").replace("key: valid-example", f"key: {key}")
    text = text.replace("version: 1", f"version: {version}")
    if edit:
        text = text.replace("Test questionnaire", edit)
    path = directory / f"{key}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def key() -> str:
    return f"it-{secrets.token_hex(4)}"


async def test_the_library_is_loaded_at_start_and_listed(client: Client, make_user: MakeUser) -> None:
    auditor = await make_user("auditor")
    files = sorted(LIBRARY_DIR.glob("*.yaml"))
    assert validate_files(files) == []

    response = await client.get("/api/v1/questionnaires", headers=auditor["headers"])

    assert response.status_code == 200
    listed = {item["key"]: item for item in response.json()}
    for path in files:
        template = load_file(path)
        item = listed[template.key]
        assert item["version"] == template.version
        assert item["title"] == {"zh-CN": template.title.zh_cn, "en": template.title.en}
        assert item["section_count"] == len(template.sections)
        assert item["question_count"] == len(template.questions())


async def test_load_stores_a_version_once_and_audits_it(
    db: asyncpg.Connection, tmp_path: Path, key: str
) -> None:
    write_example(tmp_path, key)

    first = await load_library(db, tmp_path)
    again = await load_library(db, tmp_path)

    [stored] = first.outcomes
    assert (stored.status, stored.key, stored.version, stored.errors) == ("stored", key, 1, [])
    assert [o.status for o in again.outcomes] == ["unchanged"]
    assert await db.fetchval("SELECT count(*) FROM questionnaire_templates WHERE key = $1", key) == 1
    event = await db.fetchrow(
        "SELECT actor_id, actor_label, action, after FROM audit_events WHERE entity_id = $1",
        str(stored.id),
    )
    assert event is not None
    assert (event["actor_id"], event["actor_label"], event["action"]) == (
        None,
        "system",
        "questionnaire_template.loaded",
    )
    assert event["after"]["key"] == key
    assert len(event["after"]["content_sha256"]) == 64


async def test_a_change_needs_a_higher_version(
    db: asyncpg.Connection, client: Client, admin: dict[str, Any], tmp_path: Path, key: str
) -> None:
    write_example(tmp_path, key)
    await load_library(db, tmp_path)

    write_example(tmp_path, key, edit="Changed title")
    same_version = await load_library(db, tmp_path)
    write_example(tmp_path, key, version=2, edit="Changed title")
    higher = await load_library(db, tmp_path)
    write_example(tmp_path, key, version=1, edit="Changed again")
    lower_again = await load_library(db, tmp_path)

    assert [o.status for o in same_version.outcomes] == ["refused"]
    assert same_version.errors == [
        f"{key}.yaml: version 1 of '{key}' is already loaded with different content; "
        "a loaded version never changes: set version: 2"
    ]
    assert [o.status for o in higher.outcomes] == ["stored"]
    assert lower_again.errors == [
        f"{key}.yaml: version 1 of '{key}' is already loaded with different content; "
        "a loaded version never changes: set version: 3"
    ]
    latest = (await client.get(f"/api/v1/questionnaires/{key}", headers=admin["headers"])).json()
    first = (
        await client.get(f"/api/v1/questionnaires/{key}", params={"version": 1}, headers=admin["headers"])
    ).json()
    assert (latest["version"], latest["content"]["title"]["en"]) == (2, "Changed title")
    assert (first["version"], first["content"]["title"]["en"]) == (1, "Test questionnaire")


async def test_a_version_below_the_latest_is_refused(
    db: asyncpg.Connection, tmp_path: Path, key: str
) -> None:
    write_example(tmp_path, key, version=3)
    await load_library(db, tmp_path)
    write_example(tmp_path, key, version=2, edit="Older")

    report = await load_library(db, tmp_path)

    assert report.errors == [
        f"{key}.yaml: version 2 is below the loaded version 3 of '{key}': set version: 4"
    ]


async def test_an_invalid_file_is_refused_and_the_others_still_load(
    db: asyncpg.Connection, tmp_path: Path, key: str
) -> None:
    write_example(tmp_path, key)
    (tmp_path / "broken.yaml").write_text("key: broken\nversion: 1\n", encoding="utf-8")

    report = await load_library(db, tmp_path)

    assert [(o.file, o.status) for o in report.outcomes] == [
        ("broken.yaml", "refused"),
        (f"{key}.yaml", "stored"),
    ]
    assert report.errors == ["broken.yaml: missing field `title`"]


async def test_stored_versions_cannot_be_changed_or_deleted(
    db: asyncpg.Connection, tmp_path: Path, key: str
) -> None:
    write_example(tmp_path, key)
    await load_library(db, tmp_path)

    with pytest.raises(asyncpg.RaiseError, match="immutable"):
        await db.execute("UPDATE questionnaire_templates SET title_en = 'x' WHERE key = $1", key)
    with pytest.raises(asyncpg.RaiseError, match="immutable"):
        await db.execute("DELETE FROM questionnaire_templates WHERE key = $1", key)


async def test_get_returns_the_full_content(
    db: asyncpg.Connection, client: Client, make_user: MakeUser, tmp_path: Path, key: str
) -> None:
    path = write_example(tmp_path, key)
    await load_library(db, tmp_path)
    procurement = await make_user("procurement")

    response = await client.get(f"/api/v1/questionnaires/{key}", headers=procurement["headers"])

    assert response.status_code == 200
    body = response.json()
    assert body["content"] == msgspec.to_builtins(load_file(path))
    assert len(body["content_sha256"]) == 64


async def test_unknown_questionnaire_or_version_is_404(client: Client, admin: dict[str, Any]) -> None:
    missing = await client.get("/api/v1/questionnaires/no-such-thing", headers=admin["headers"])
    no_version = await client.get(
        "/api/v1/questionnaires/baseline-security",
        params={"version": 999},
        headers=admin["headers"],
    )

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "urn:vendor-risk:problem:not-found"
    assert no_version.status_code == 404
    assert "version 999" in no_version.json()["detail"]


async def test_score_returns_the_breakdown_without_storing(
    db: asyncpg.Connection, client: Client, make_user: MakeUser, tmp_path: Path, key: str
) -> None:
    write_example(tmp_path, key)
    await load_library(db, tmp_path)
    risk_owner = await make_user("risk_owner")
    audit_events = await db.fetchval("SELECT count(*) FROM audit_events")

    response = await client.post(
        f"/api/v1/questionnaires/{key}/score",
        json={"answers": WORKED_ANSWERS},
        headers=risk_owner["headers"],
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["key"], body["version"]) == (key, 1)
    assert body["result"]["score"] == 72.2
    assert [s["points_earned"] for s in body["result"]["sections"]] == [50.0, 22.2]
    assert body["completeness"] == {
        "complete": False,
        "missing_answers": [],
        "missing_evidence": ["dh-3"],
    }
    assert await db.fetchval("SELECT count(*) FROM audit_events") == audit_events


async def test_score_a_failed_critical_answer_caps_and_raises_a_finding(
    db: asyncpg.Connection, client: Client, admin: dict[str, Any], tmp_path: Path, key: str
) -> None:
    write_example(tmp_path, key)
    await load_library(db, tmp_path)
    answers = {**WORKED_ANSWERS, "ac-1": {"value": "no"}, "ac-2": {"value": 1}}

    response = await client.post(
        f"/api/v1/questionnaires/{key}/score",
        json={"answers": answers, "evidence": ["dh-3"]},
        headers=admin["headers"],
    )

    result = response.json()["result"]
    assert (result["score"], result["raw_score"]) == (40.0, 55.6)
    assert result["cap"] == {"cap": 40.0, "points": -15.6, "failed_critical": ["ac-1"]}
    assert [(f["question_id"], f["severity"]) for f in result["findings"]] == [("ac-1", "critical")]
    assert response.json()["completeness"]["complete"] is True


async def test_score_refuses_answers_that_do_not_fit_naming_each_field(
    client: Client, admin: dict[str, Any]
) -> None:
    response = await client.post(
        "/api/v1/questionnaires/baseline-security/score",
        json={"answers": {"no-such-question": {"value": "yes"}}},
        headers=admin["headers"],
    )
    misspelt = await client.post(
        "/api/v1/questionnaires/baseline-security/score",
        json={"answers": {}, "evidnce": []},
        headers=admin["headers"],
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:vendor-risk:problem:validation"
    assert response.json()["errors"] == [
        {"field": "answers.no-such-question", "message": "unknown question 'no-such-question'"}
    ]
    assert misspelt.status_code == 400
    assert "evidnce" in misspelt.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/questionnaires"),
        ("GET", "/api/v1/questionnaires/baseline-security"),
        ("POST", "/api/v1/questionnaires/baseline-security/score"),
    ],
)
async def test_anonymous_callers_get_401(client: Client, method: str, path: str) -> None:
    response = await client.request(method, path, json={"answers": {}})

    assert response.status_code == 401


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")}
    env["VENDOR_RISK_DATABASE_URL"] = settings.database_url or ""
    return subprocess.run(
        [sys.executable, "-m", "vendor_risk", "questionnaires", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_cli_load_prints_what_it_did_and_fails_on_a_refusal(
    settings: Settings, tmp_path: Path, key: str
) -> None:
    write_example(tmp_path, key)

    stored = await asyncio.to_thread(run_cli, settings, "load", str(tmp_path))
    write_example(tmp_path, key, edit="Edited without a new version")
    refused = await asyncio.to_thread(run_cli, settings, "load", str(tmp_path))

    assert stored.returncode == 0, stored.stderr
    assert f"loaded questionnaire {key} version 1 ({key}.yaml)" in stored.stdout
    assert refused.returncode == 1
    assert f"version 1 of '{key}' is already loaded with different content" in refused.stderr


def test_cli_validate_passes_the_library_and_names_errors_in_broken_files() -> None:
    library = subprocess.run(
        [sys.executable, "-m", "vendor_risk", "questionnaires", "validate"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    broken = subprocess.run(
        [
            sys.executable,
            "-m",
            "vendor_risk",
            "questionnaires",
            "validate",
            str(EXAMPLE),
            str(EXAMPLE.with_name("show-if-unknown-question.yaml")),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert library.returncode == 0, library.stderr
    assert broken.returncode == 1
    assert (
        "show-if-unknown-question.yaml: sections[1].questions[1].show_if: unknown question 'ac-9'"
        in broken.stderr
    )
