"""Auth Structs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import msgspec

from vendor_risk.structs import NAME, Base, Version


class Role(StrEnum):
    ADMIN = "admin"
    PROCUREMENT = "procurement"
    RISK_OWNER = "risk_owner"
    AUDITOR = "auditor"


# No control character anywhere (CR/LF would split the header of every email sent to it).
Email = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+$(?!\n)",
        max_length=254,
    ),
]
Locale = Annotated[str, msgspec.Meta(pattern=r"^(zh-CN|en)$(?!\n)")]


class CurrentUser(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: set on ``request.user`` by the ``authenticate`` guard."""

    id: UUID
    email: str
    name: str
    role: Role
    locale: str
    key_id: UUID | None = None

    @property
    def label(self) -> str:
        return f"{self.name} <{self.email}>"


class User(Base):
    id: UUID
    email: str
    name: str
    role: Role
    locale: str
    disabled: bool
    created_at: datetime
    version: int


class UserCreate(Base):
    email: Email
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200), NAME]
    role: Role
    locale: Locale = "zh-CN"


class UserUpdate(Base):
    version: Version
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200), NAME] | None = None
    role: Role | None = None
    locale: Locale | None = None
    disabled: bool | None = None


class ApiKey(Base):
    id: UUID
    user_id: UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class ApiKeyCreate(Base):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100), NAME] = "default"


class NewApiKey(Base):
    """Returned once, when a key is created: ``key`` is never shown again."""

    api_key: ApiKey
    key: str


class UserWithKey(Base):
    user: User
    api_key: ApiKey
    key: str
