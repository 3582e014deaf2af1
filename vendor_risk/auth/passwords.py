"""Passwords: argon2id hashing off the event loop, and the rules a new password must meet.

Hashing costs tens of milliseconds of CPU by design. It runs in a worker thread (the
argon2 library releases the GIL), and at most half the machine's cores hash at once, so
that sign-ins queue behind each other instead of starving the pages other staff are using.
"""

from __future__ import annotations

import asyncio
import os
import re
from functools import cache
from pathlib import Path
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH: Final = 12
MAX_LENGTH: Final = 128
COMMON_FILE: Final = Path(__file__).resolve().parent / "data" / "common-passwords.txt"

# argon2id with RFC 9106's second recommended profile (64 MiB, 3 passes), one lane: one
# hash keeps one core busy, never both.
_hasher: Final = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1)
_HASH_SLOTS: Final = max(1, (os.cpu_count() or 2) // 2)
_slots: dict[int, asyncio.Semaphore] = {}

# Verified against when the email is unknown, so that an unknown email costs the same time
# as a wrong password and the two cannot be told apart.
_DUMMY_HASH: Final = _hasher.hash("not a password anyone has: vendor-risk")


def _slot() -> asyncio.Semaphore:
    loop_id = id(asyncio.get_running_loop())
    slot = _slots.get(loop_id)
    if slot is None:
        slot = _slots[loop_id] = asyncio.Semaphore(_HASH_SLOTS)
    return slot


async def hash_password(password: str) -> str:
    async with _slot():
        return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; with ``stored`` None the same work is done
    against a dummy hash and the answer is False."""
    async with _slot():
        return await asyncio.to_thread(_verify, stored, password)


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip())


_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


def _is_common(password: str) -> bool:
    """On the list as typed, or once the digits and symbols people add around a common word
    are removed, or as a common word repeated ("dragondragon")."""
    lowered = password.lower()
    common = common_passwords()
    core = _EDGES.sub("", lowered)
    if lowered in common or (core and core in common):
        return True
    if len(set(lowered)) <= 2:
        return True
    for size in range(1, len(lowered) // 2 + 1):
        if len(lowered) % size == 0 and lowered[:size] * (len(lowered) // size) == lowered:
            return lowered[:size] in common or size <= 4
    return False


def password_problem(password: str, email: str = "") -> str | None:
    """The catalogue key of what is wrong with a new password, or None when it is fine."""
    if len(password) < MIN_LENGTH:
        return "password_too_short"
    if len(password) > MAX_LENGTH:
        return "password_too_long"
    local = email.partition("@")[0].lower()
    if _is_common(password) or (len(local) >= 4 and local in password.lower()):
        return "password_common"
    return None
