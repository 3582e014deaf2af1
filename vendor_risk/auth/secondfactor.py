"""The second factor: TOTP secrets and codes, QR codes as inline SVG, recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import time
from typing import Final

import pyotp

ISSUER: Final = "vendor-risk"
RECOVERY_CODES: Final = 10
# No 0/O, 1/I/L: a code copied from paper is typed right.
_ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG (no request leaves the page)."""
    import segno  # only when a second factor is set up: `serve` starts without it

    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def matching_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The time step (30 s) whose code is ``code``, allowing one step of clock drift either
    way; None when it matches none, or only a step at or before ``last_step`` (a code is
    accepted once)."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // totp.interval)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (last_step is None or step > last_step):
            return step
    return None


def new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalise_recovery_code(code: str) -> str:
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    return f"{cleaned[:5]}-{cleaned[5:]}" if len(cleaned) == 10 else ""


def recovery_hash(code: str) -> bytes:
    # 50 random bits, usable only online and once: a fast hash is enough.
    return hashlib.sha256(f"vendor-risk:recovery:{code}".encode()).digest()
