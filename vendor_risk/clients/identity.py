"""Clients' ID numbers and credit codes at rest: sealed with the data keys (bound to the
client's row), and found by a keyed digest, never kept or compared in the clear.

A person's ID number is sensitive personal information, and the register exists only so
that an incident can name the clients a partner's leak touches: the number is needed for
nothing but matching a re-imported register, so it is never shown. The digest is
HMAC-SHA-256 under a key derived (HKDF) from the data key that sealed the number; a plain
hash would not do, since ID numbers are few enough to enumerate. Rotation re-seals the
number and recomputes its digest under the new key, and a lookup tries every configured
key, so a register re-imported half-way through a rotation still matches.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from uuid import UUID

import asyncpg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vendor_risk.db import data_keys_of
from vendor_risk.documents import CLIENT_ID_NUMBER, seal_text
from vendor_risk.settings import DataKey


@lru_cache(maxsize=16)
def _digest_key(key: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"vendor-risk:client-id-number-digest"
    ).derive(key)


def digest(key: DataKey, id_number: str) -> bytes:
    return hmac.new(_digest_key(key.key), id_number.encode(), hashlib.sha256).digest()


def digests(keys: tuple[DataKey, ...], id_number: str) -> list[bytes]:
    """The number's digest under each configured key (the current one first)."""
    return [digest(key, id_number) for key in keys]


def seal_number(keys: tuple[DataKey, ...], client_id: UUID, id_number: str) -> tuple[str, bytes, bytes]:
    """``(key id, sealed, digest)`` of the number under the current key."""
    key_id, sealed = seal_text(keys, CLIENT_ID_NUMBER, client_id, id_number)
    return key_id, sealed, digest(keys[0], id_number)


def keys_of(conn: asyncpg.Connection) -> tuple[DataKey, ...]:
    keys = data_keys_of(conn)
    if not keys:
        raise RuntimeError("VENDOR_RISK_DATA_KEYS is not set: client ID numbers cannot be sealed")
    return keys
