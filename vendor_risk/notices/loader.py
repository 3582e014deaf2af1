"""Read notice files (``notices/*.md``) and render their Markdown safely.

A notice file is YAML front matter between ``---`` lines, then the Chinese body after a
line ``=== zh-CN ===`` and the English one after ``=== en ===``::

    ---
    key: incident-reporting
    version: 1
    kind: requirement        # requirement | guidance | advisory | policy_change
    ack_required: true
    title:
      zh-CN: 安全事件报告指引
      en: Security incident reporting guide
    ---
    === zh-CN ===
    正文（Markdown）
    === en ===
    Body (Markdown)

Every error is one line naming the file (and the field), as for questionnaires, so an
author (and CI) fixes all of them from one run.

Markdown is rendered by markdown-it-py in its CommonMark preset with raw HTML disabled and
only http(s)/mailto links kept: a notice is shown to partners on our own pages, so nothing
in a file can put a script, a style or a form on them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from vendor_risk import content
from vendor_risk.notices.models import Notice, NoticeFront
from vendor_risk.structs import I18nText

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n(.*)\Z", re.DOTALL)
_MARKER = re.compile(r"^=== (zh-CN|en) ===[ \t]*$", re.MULTILINE)
_SAFE_LINK = re.compile(r"^(https?:|mailto:|#)", re.IGNORECASE)
MAX_BODY = 40_000


class NoticeError(content.ContentError):
    """A notice file is invalid; ``messages`` lists every problem found."""


@cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt  # loaded with the first notice rendered, not at start

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.validateLink = lambda url: bool(_SAFE_LINK.match(url.strip()))  # type: ignore[method-assign]
    return md


def render_markdown(text: str) -> str:
    """HTML for a notice body: raw HTML in the source is escaped, unsafe links dropped."""
    return str(_markdown().render(text))


def parse_notice(text: str, filename: str, *, stem: str | None = None) -> Notice:
    """Decode and validate one notice file; raises NoticeError listing every problem."""
    match = _FRONT.match(text)
    if match is None:
        raise NoticeError([f"{filename}: must start with front matter between '---' lines"])
    front = content.decode(match.group(1), filename, NoticeFront, NoticeError)
    checker = content.Checker(filename)
    checker.key_and_version(front.key, front.version, stem)
    checker.text("title", front.title)
    for lang in ("zh_cn", "en"):
        title = getattr(front.title, lang)
        if "\n" in title.strip() or len(title) > 200:
            checker.error(
                f"title.{'zh-CN' if lang == 'zh_cn' else 'en'}", "must be one line of at most 200 characters"
            )
    bodies: dict[str, str] = {}
    parts = _MARKER.split(match.group(2))
    if parts[0].strip():
        checker.error("body", "text before the first '=== zh-CN ===' line")
    for lang, body in zip(parts[1::2], parts[2::2], strict=True):
        if lang in bodies:
            checker.error(f"body.{lang}", "given twice")
        bodies[lang] = body.strip()
    for lang in ("zh-CN", "en"):
        body = bodies.get(lang)
        if body is None:
            checker.error(f"body.{lang}", f"missing: add a line '=== {lang} ===' followed by the text")
        elif not body:
            checker.error(f"body.{lang}", "missing translation")
        elif len(body) > MAX_BODY:
            checker.error(f"body.{lang}", f"longer than {MAX_BODY} characters")
        elif "\x00" in body:
            checker.error(f"body.{lang}", "contains a NUL character")
    if list(bodies) == ["en", "zh-CN"]:
        checker.error("body", "the zh-CN text comes first, then the en text")
    if checker.errors:
        raise NoticeError(checker.errors)
    return Notice(
        key=front.key,
        version=front.version,
        kind=front.kind,
        ack_required=front.ack_required,
        title=I18nText(zh_cn=front.title.zh_cn.strip(), en=front.title.en.strip()),
        body=I18nText(zh_cn=bodies["zh-CN"], en=bodies["en"]),
    )


def load_file(path: Path) -> Notice:
    raw = content.read_file(path, NoticeError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoticeError([f"{path.name}: not UTF-8 text"]) from exc
    return parse_notice(text, path.name, stem=path.stem)


def validate_files(paths: Iterable[Path]) -> list[str]:
    """Every error in every file, in file order; an empty list means all are valid."""
    return content.validate_files(paths, load_file)


def content_hash(notice: Notice) -> str:
    return hashlib.sha256(msgspec.json.encode(notice, order="sorted")).hexdigest()
