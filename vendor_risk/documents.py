"""Encrypted document storage shared by agreements and assessment evidence.

Uploads are checked by content, never by name: PDF, PNG, JPEG and DOCX are accepted, a
file whose bytes are something else (or another allowed type than its name says) is a
415. The plaintext's SHA-256 is recorded and shown so both sides can prove which file
was meant. Bytes are stored AES-256-GCM encrypted under the current data key; the key id
is stored beside them so old documents still open after a key rotation, and the row id is
bound as associated data so a ciphertext copied onto another row does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from datetime import datetime
from pathlib import PurePath
from typing import Final
from urllib.parse import quote
from uuid import UUID, uuid4

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from litestar import Response

from vendor_risk.audit.models import Actor
from vendor_risk.errors import field_error
from vendor_risk.settings import DataKey
from vendor_risk.structs import Base

MAX_DOCUMENT_BYTES: Final = 20 * 1024 * 1024
# Room for the multipart envelope around a file of the maximum size.
MAX_UPLOAD_BODY_BYTES: Final = MAX_DOCUMENT_BYTES + 64 * 1024

PDF: Final = "application/pdf"
PNG: Final = "image/png"
JPEG: Final = "image/jpeg"
DOCX: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# The extension a stored file gets for each type it may be (the first is the usual one).
CANONICAL_EXTENSIONS: Final = {PDF: (".pdf",), PNG: (".png",), JPEG: (".jpg", ".jpeg"), DOCX: (".docx",)}

_EXTENSIONS: Final = {
    ".pdf": PDF,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".docx": DOCX,
}
ACCEPTED_TYPES: Final = "PDF, PNG, JPEG or DOCX"


class DocumentInfo(Base):
    """What the API shows about a stored document (never its bytes)."""

    id: UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


def sniff_content_type(data: bytes) -> str | None:
    """The accepted type the bytes really are, or ``None``."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04") and _is_docx(data):
        return DOCX
    return None


def _is_docx(data: bytes) -> bool:
    # Only the central directory is read, nothing is decompressed: a zip bomb costs nothing.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        return False
    # A macro-enabled document (.docm) carries a VBA project: refused like any other type.
    return (
        "word/document.xml" in names and "[Content_Types].xml" in names and "word/vbaProject.bin" not in names
    )


def check_upload(data: bytes, filename: str, field: str = "file") -> str:
    """The content type of an acceptable upload; otherwise a 400, 413 or 415 naming ``field``."""
    if not data:
        raise field_error(field, "the file is empty")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise field_error(field, f"the file is larger than {MAX_DOCUMENT_BYTES // 2**20} MB", 413)
    content_type = sniff_content_type(data)
    if content_type is None:
        raise field_error(field, f"the content is not a {ACCEPTED_TYPES} document", 415)
    claimed = _EXTENSIONS.get(PurePath(filename).suffix.lower())
    if claimed is not None and claimed != content_type:
        raise field_error(
            field,
            f"the name says {claimed} but the content is {content_type}",
            415,
        )
    return content_type


def clean_filename(filename: str | None) -> str:
    """The last path component, without control characters, at most 200 characters."""
    name = PurePath((filename or "").replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable() and c not in '"')
    return name[:200] or "document"


def stored_filename(filename: str | None, content_type: str) -> str:
    """The cleaned name with the extension of the type the bytes really are: ``evil.html``
    with PDF bytes is stored, listed and served as ``evil.pdf``, so no browser or desktop
    ever opens it as HTML, SVG or a program."""
    name = clean_filename(filename)
    allowed = CANONICAL_EXTENSIONS[content_type]
    path = PurePath(name)
    if path.suffix.lower() in allowed:
        return name
    stem = path.stem if path.suffix else name
    return (stem or "document")[: 200 - len(allowed[0])] + allowed[0]


def download(info: DocumentInfo, content: bytes) -> Response[bytes]:
    """The original bytes as an attachment, with their SHA-256 in ``Repr-Digest``."""
    ascii_name = info.filename.encode("ascii", "replace").decode().replace("?", "_")
    digest = base64.b64encode(bytes.fromhex(info.sha256)).decode()
    return Response(
        content,
        media_type=info.content_type,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(info.filename)}"
            ),
            "Repr-Digest": f"sha-256=:{digest}:",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


# What a sealed value is: its row id and this label are bound as associated data, so a
# ciphertext copied onto another row, or into another kind of column, does not open.
DOCUMENT: Final = "document"
OUTBOX_PAYLOAD: Final = "outbox"
WEBHOOK_SECRET: Final = "webhook-secret"  # noqa: S105 - a label, not a secret
TOTP_SECRET: Final = "totp-secret"  # noqa: S105 - a label, not a secret
CHAT_URL: Final = "chat-url"
CLIENT_ID_NUMBER: Final = "client-id-number"


def _aad(kind: str, row_id: UUID) -> bytes:
    return f"vendor-risk:{kind}:".encode() + row_id.bytes


def seal(key: DataKey, kind: str, row_id: UUID, plaintext: bytes) -> tuple[bytes, bytes]:
    """``(nonce, ciphertext)`` of ``plaintext`` under ``key`` (AES-256-GCM), bound to
    ``kind`` and ``row_id``. Documents, outbox payloads and webhook secrets all use it."""
    nonce = os.urandom(12)
    return nonce, AESGCM(key.key).encrypt(nonce, plaintext, _aad(kind, row_id))


def unseal(
    keys: tuple[DataKey, ...], key_id: str, kind: str, row_id: UUID, nonce: bytes, ciphertext: bytes
) -> bytes:
    """Plaintext of a sealed value; fails loudly if its key is gone or it was altered."""
    key = next((k for k in keys if k.key_id == key_id), None)
    if key is None:
        raise RuntimeError(f"{kind} {row_id}: data key {key_id!r} is not configured")
    try:
        return AESGCM(key.key).decrypt(nonce, ciphertext, _aad(kind, row_id))
    except InvalidTag:
        raise RuntimeError(f"{kind} {row_id}: ciphertext failed authentication") from None


def seal_text(keys: tuple[DataKey, ...], kind: str, row_id: UUID, text: str) -> tuple[str, bytes]:
    """``(key id, nonce || ciphertext)`` of a short secret under the current key: one column
    holds what a document keeps in two."""
    nonce, sealed = seal(keys[0], kind, row_id, text.encode())
    return keys[0].key_id, nonce + sealed


def open_text(keys: tuple[DataKey, ...], key_id: str, kind: str, row_id: UUID, blob: bytes) -> str:
    """The secret ``seal_text`` sealed; fails loudly if its key is gone or it was altered."""
    return unseal(keys, key_id, kind, row_id, blob[:12], blob[12:]).decode()


def encrypt(key: DataKey, document_id: UUID, plaintext: bytes) -> tuple[bytes, bytes]:
    """``(nonce, ciphertext)`` of ``plaintext`` under ``key``, bound to ``document_id``."""
    return seal(key, DOCUMENT, document_id, plaintext)


def decrypt(
    keys: tuple[DataKey, ...], key_id: str, document_id: UUID, nonce: bytes, ciphertext: bytes
) -> bytes:
    """Plaintext of a stored document; fails loudly if its key is gone or it was altered."""
    return unseal(keys, key_id, DOCUMENT, document_id, nonce, ciphertext)


async def store_document(
    conn: asyncpg.Connection,
    *,
    key: DataKey,
    data: bytes,
    filename: str,
    content_type: str,
    purpose: str,
    actor: Actor,
) -> DocumentInfo:
    """Encrypt and insert a checked upload (see ``check_upload``); returns its info."""
    document_id = uuid4()
    sha256 = hashlib.sha256(data).hexdigest()
    nonce, ciphertext = encrypt(key, document_id, data)
    row = await conn.fetchrow(
        """
        INSERT INTO documents (id, purpose, filename, content_type, size_bytes, sha256,
                               key_id, nonce, ciphertext, uploaded_by, uploaded_by_label)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        RETURNING created_at
        """,
        document_id,
        purpose,
        filename,
        content_type,
        len(data),
        sha256,
        key.key_id,
        nonce,
        ciphertext,
        actor.id,
        actor.label,
    )
    return DocumentInfo(
        id=document_id,
        filename=filename,
        content_type=content_type,
        size_bytes=len(data),
        sha256=sha256,
        uploaded_by=actor.label,
        uploaded_at=row["created_at"],
    )


async def read_document(
    conn: asyncpg.Connection, keys: tuple[DataKey, ...], document_id: UUID
) -> tuple[DocumentInfo, bytes] | None:
    """A document's info and original bytes, or ``None`` if there is no such document."""
    row = await conn.fetchrow(
        """
        SELECT id, filename, content_type, size_bytes, sha256,
               uploaded_by_label AS uploaded_by, created_at AS uploaded_at,
               key_id, nonce, ciphertext
        FROM documents WHERE id = $1
        """,
        document_id,
    )
    if row is None:
        return None
    plaintext = decrypt(keys, row["key_id"], document_id, row["nonce"], row["ciphertext"])
    info = DocumentInfo(
        **{k: row[k] for k in DocumentInfo.__struct_fields__},
    )
    return info, plaintext
