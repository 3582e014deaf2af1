"""Document type sniffing and encryption at rest (no I/O)."""

from __future__ import annotations

import io
import zipfile
from uuid import uuid4

import pytest

from vendor_risk.documents import (
    DOCX,
    JPEG,
    MAX_DOCUMENT_BYTES,
    PDF,
    PNG,
    check_upload,
    clean_filename,
    decrypt,
    encrypt,
    sniff_content_type,
)
from vendor_risk.errors import Problem
from vendor_risk.settings import DataKey

OLD = DataKey(key_id="2024", key=b"o" * 32)
NEW = DataKey(key_id="2025", key=b"n" * 32)


def zipped(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.7\n...", PDF),
        (b"\x89PNG\r\n\x1a\n....", PNG),
        (b"\xff\xd8\xff\xe1....", JPEG),
        (zipped("[Content_Types].xml", "word/document.xml"), DOCX),
        (zipped("[Content_Types].xml", "xl/workbook.xml"), None),
        (zipped("[Content_Types].xml", "word/document.xml", "word/vbaProject.bin"), None),
        (b"PK\x03\x04 truncated zip", None),
        (b"MZ\x90\x00", None),
        (b" %PDF-1.7", None),
        (b"", None),
    ],
)
def test_sniffing_reads_content_not_names(data: bytes, expected: str | None) -> None:
    assert sniff_content_type(data) == expected


@pytest.mark.parametrize(
    ("data", "filename", "status"),
    [
        (b"", "a.pdf", 400),
        (b"%PDF-" + b"0" * MAX_DOCUMENT_BYTES, "a.pdf", 413),
        (b"<svg/>", "a.pdf", 415),
        (b"%PDF-1.7", "a.png", 415),
        (b"%PDF-1.7", "a.PDF", None),
        (b"%PDF-1.7", "no-extension", None),
        (b"\xff\xd8\xff\xe0", "photo.jpeg", None),
    ],
)
def test_check_upload(data: bytes, filename: str, status: int | None) -> None:
    if status is None:
        assert check_upload(data, filename)
        return
    with pytest.raises(Problem) as refused:
        check_upload(data, filename)
    assert refused.value.status_code == status
    assert refused.value.extra["errors"][0]["field"] == "file"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\合同.pdf", "合同.pdf"),
        ('a"b\r\n.pdf', "ab.pdf"),
        ("", "document"),
        (None, "document"),
    ],
)
def test_clean_filename(raw: str | None, clean: str) -> None:
    assert clean_filename(raw) == clean


def test_round_trip_and_rotation() -> None:
    document_id = uuid4()
    nonce, ciphertext = encrypt(OLD, document_id, b"signed contract")
    assert b"signed contract" not in ciphertext
    # After rotation the new key encrypts, the old one still decrypts what it encrypted.
    assert decrypt((NEW, OLD), "2024", document_id, nonce, ciphertext) == b"signed contract"
    with pytest.raises(RuntimeError, match="not configured"):
        decrypt((NEW,), "2024", document_id, nonce, ciphertext)


def test_ciphertext_is_bound_to_its_row_and_tamper_evident() -> None:
    document_id = uuid4()
    nonce, ciphertext = encrypt(NEW, document_id, b"signed contract")
    with pytest.raises(RuntimeError, match="failed authentication"):
        decrypt((NEW,), "2025", uuid4(), nonce, ciphertext)
    tampered = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    with pytest.raises(RuntimeError, match="failed authentication"):
        decrypt((NEW,), "2025", document_id, nonce, tampered)


def test_each_encryption_uses_a_fresh_nonce() -> None:
    document_id = uuid4()
    first = encrypt(NEW, document_id, b"x")
    second = encrypt(NEW, document_id, b"x")
    assert first[0] != second[0]
    assert first[1] != second[1]
