"""The reports' tests run on the assessment tests' service (a database of their own, the
test questionnaire loaded, a real SMTP server) and read every download back: openpyxl for
XLSX, csv for CSV, poppler's pdftotext and pdffonts for PDF."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import openpyxl
import pytest

from tests.integration.assessments.conftest import (  # noqa: F401 - fixtures shared with this package
    Client,
    User,
    app,
    auditor,
    client,
    fresh_rate_limits,
    make_user,
    new_partner,
    pool,
    procurement,
    review,
    risk_owner,
    send,
    settings,
    smtp,
)


@pytest.fixture(scope="package")
async def categories(client: Client, procurement: User) -> dict[str, dict[str, Any]]:  # noqa: F811
    response = await client.get("/api/v1/data-categories", headers=procurement["headers"])
    assert response.status_code == 200, response.text
    return {c["code"]: c for c in response.json()}


Post = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def post(client: Client) -> Post:  # noqa: F811
    """POST as ``user`` and insist on 201 (or ``expect``); the created body."""

    async def run(path: str, body: dict[str, Any], user: User, expect: int = 201) -> dict[str, Any]:
        response = await client.post(path, json=body, headers=user["headers"])
        assert response.status_code == expect, response.text
        created: dict[str, Any] = response.json()
        return created

    return run


def sheet_rows(response: httpx.Response) -> list[list[Any]]:
    """An XLSX download's first sheet as rows of values (the header first)."""
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=False)
    sheet = book.worksheets[0]
    assert sheet.freeze_panes == "A2"
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.content.startswith(b"\xef\xbb\xbf"), "CSV for Excel in China starts with a BOM"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
