"""Jinja2 rendering of the portal pages and the emails.

One environment for both: autoescaping is on for ``.html`` (pages and HTML mail), so a
partner who types ``<script>`` sees it as text, and off for ``.txt`` mail, which is plain
text. Undefined names raise, so a template typo fails a test instead of rendering blank.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


class _Environment(jinja2.Environment):
    """Reads ``q.text`` on a dict as ``q["text"]`` first. Jinja tries the attribute first,
    and on a dict that raises AttributeError before the item is found: in a form of 120
    questions with a dozen fields each, that exception was half the rendering time. A
    name that is not a key still finds the attribute (``d.items``), as before."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@cache
def environment() -> jinja2.Environment:
    env = _Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["filesize"] = filesize
    return env


def render(name: str, context: dict[str, Any]) -> str:
    return environment().get_template(name).render(context)


def filesize(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
