"""Where the content folders (migrations/, questionnaires/) are.

In a checkout they sit beside the package; an installed image copies them into its
working directory.
"""

from __future__ import annotations

from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def content_dir(name: str) -> Path:
    for candidate in (_SOURCE_ROOT / name, Path.cwd() / name):
        if candidate.is_dir():
            return candidate
    return _SOURCE_ROOT / name
