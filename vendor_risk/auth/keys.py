"""API key material: generation and hashing (pure, no I/O)."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "vrk_"
# 32 random bytes = 256 bits, rendered as 43 URL-safe characters.
KEY_BYTES = 32
DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 6


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def hash_key(key: str) -> bytes:
    # A fast hash is right for 256-bit random secrets: there is nothing to brute-force,
    # and a slow KDF would cost every request.
    return hashlib.sha256(key.encode()).digest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX) and 40 <= len(value) <= 100
