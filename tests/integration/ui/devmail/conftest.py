"""The staff pages as `vendor-risk up` serves them with no SMTP server: the development
mailbox on. The same database and helpers as the other staff page tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.assessments.conftest import Client
from vendor_risk.app import create_app
from vendor_risk.settings import Settings


@pytest.fixture(scope="package")
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, dev_mailbox=True)


@pytest.fixture(scope="package")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="package")
async def client(app: Litestar) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield client
