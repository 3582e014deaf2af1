"""Portal link tokens (pure, no I/O).

A token is the only credential a partner has: 32 random bytes (256 bits) shown once in the
API response and in the email, and stored only as its SHA-256. A fast hash is right for a
256-bit random secret: there is nothing to brute-force, and a slow KDF would cost every
portal request.
"""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters of the URL-safe base64 alphabet.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def generate_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def looks_like_token(value: str) -> bool:
    """Whether ``value`` could be a token at all; anything else is refused without a query."""
    return bool(_TOKEN_SHAPE.match(value))


def token_fingerprint(token: str) -> str:
    """A short, non-reversible name for a token, for rate-limit keys (never the token)."""
    return hashlib.sha256(b"rate:" + token.encode()).hexdigest()[:32]
