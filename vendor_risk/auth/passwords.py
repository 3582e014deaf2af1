"""Passwords: argon2id hashing off the event loop, and the rules a new password must meet.

Hashing costs tens of milliseconds of CPU by design. It runs in threads of its own (the
argon2 library releases the GIL), at most half the machine's cores at once, and those
threads run at a lower scheduling priority (nice +10): when the CPU is short, the event
loop serving other staff's pages goes first and sign-ins wait a little longer instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH: Final = 12
MAX_LENGTH: Final = 128
COMMON_FILE: Final = Path(__file__).resolve().parent / "data" / "common-passwords.txt"

# argon2id as OWASP's password storage guidance sets it (19 MiB, 2 passes, one lane): one
# hash keeps one core busy, never more. Stored hashes carry their own parameters, so these
# can be raised later without breaking existing passwords.
_hasher: Final = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_HASH_SLOTS: Final = max(1, (os.cpu_count() or 2) // 2)


def _lower_priority() -> None:
    # On Linux a thread has its own nice value; elsewhere this is a no-op.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


# Threads start on first use, not at import.
_executor: Final = ThreadPoolExecutor(
    max_workers=_HASH_SLOTS, thread_name_prefix="argon2", initializer=_lower_priority
)


@cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so that an unknown email costs the same
    time as a wrong password and the two cannot be told apart. Made on first use, in a
    hashing thread: at import it cost every process start a hash (~5% of `serve`'s start)."""
    return _hasher.hash("not a password anyone has: vendor-risk")


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_executor, _hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; with ``stored`` None the same work is done
    against a dummy hash and the answer is False."""
    return await asyncio.get_running_loop().run_in_executor(_executor, _verify, stored, password)


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
