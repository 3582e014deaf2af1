"""What questionnaire and playbook loaders share: strict YAML, one-line errors, the file walk.

Every error is one line naming the file and the path inside it, so that an author (and CI)
can fix all of them from one run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from vendor_risk.structs import I18nText

T = TypeVar("T")
KEY_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ContentError(Exception):
    """A content file is invalid; ``messages`` lists every problem found."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, which PyYAML would silently overwrite."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

# Turns a msgspec message and its path into an author-facing (path, message), or None to
# fall back to the generic wording.
Explain = Callable[[str, str], tuple[str, str] | None]


def _validation_error(filename: str, error: msgspec.ValidationError, explain: Explain | None) -> str:
    text = str(error)
    if " - at `key` in `$" in text:
        # A bad mapping key: msgspec names the mapping, not the key; say it is the key.
        text = text.replace(" - at `key` in `$", " (a key) - at `$").replace("[...]`", "`")
    message, _, where = text.partition(" - at `$")
    path = where.rstrip("`").lstrip(".")
    explained = explain(message, path) if explain is not None else None
    if explained is not None:
        path, message = explained
    else:
        message = message.replace("Object contains unknown field", "unknown field").replace(
            "Object missing required field", "missing field"
        )
        if "got `bool`" in message:
            # YAML 1.1 reads unquoted yes/no/on/off as booleans.
            message += " (quote yes/no/on/off in YAML)"
        message = message[:1].lower() + message[1:]
    return f"{filename}: {path}: {message}" if path else f"{filename}: {message}"


def decode(
    text: str | bytes,
    filename: str,
    type_: type[T],
    error: type[ContentError],
    *,
    explain: Explain | None = None,
) -> T:
    """Parse YAML strictly and convert it to ``type_``; raises ``error`` naming the problem."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise error([f"{filename}: {line}{exc.problem or exc}"]) from exc
    except yaml.YAMLError as exc:
        raise error([f"{filename}: {exc}"]) from exc
    try:
        return msgspec.convert(data, type_, strict=True)
    except msgspec.ValidationError as exc:
        raise error([_validation_error(filename, exc, explain)]) from exc


def read_file(path: Path, error: type[ContentError]) -> bytes:
    """The bytes of ``path``; raises ``error`` when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error([f"{path.name}: cannot read: {exc.strerror}"]) from exc


def validate_files(paths: Iterable[Path], load_file: Callable[[Path], object]) -> list[str]:
    """Every error ``load_file`` raises for every file, in file order; empty when all are valid."""
    errors: list[str] = []
    for path in paths:
        try:
            load_file(path)
        except ContentError as exc:
            errors.extend(exc.messages)
    return errors


class Checker:
    """Collects the semantic errors of one decoded file, each as ``file: path: message``."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{self.filename}: {path}: {message}")

    def text(self, path: str, text: I18nText) -> None:
        if not text.zh_cn.strip():
            self.error(f"{path}.zh-CN", "missing translation")
        if not text.en.strip():
            self.error(f"{path}.en", "missing translation")

    def key_and_version(self, key: str, version: int, stem: str | None) -> None:
        """The key names the file (``stem``, when given) and the version counts from 1."""
        if not KEY_PATTERN.match(key):
            self.error("key", f"{key!r} must be lowercase letters, digits and hyphens")
        elif stem is not None and key != stem:
            self.error("key", f"{key!r} must equal the file name {stem!r}")
        if version < 1:
            self.error("version", "must be an integer >= 1")
