"""Forms of the staff pages: what was typed, the error beside each field, and the conflict page.

A page reads a posted form with ``read_form``, turns it into the service's Struct with
``Form.decode`` (every bad field gets its own message in the page language, not only the
first), hands a refusal of the service to ``Form.problem``, and re-renders the same template
with the same ``Form`` when ``form.invalid``: the user sees each error beside its field and
finds everything they typed still there. ``templates/ui/_forms.html`` renders a field from a
``Form``; no page hand-writes that markup.
"""

from __future__ import annotations

import re
import types
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final, TypeVar, get_args, overload

import msgspec
from litestar import Request, Response
from litestar.datastructures import UploadFile

from vendor_risk.approvals.service import SecondApprovalRequired
from vendor_risk.errors import Problem
from vendor_risk.hardening import add_field
from vendor_risk.i18n import translator
from vendor_risk.structs import PATTERN_KEYS, PATTERN_MESSAGES
from vendor_risk.ui.web import page, page_lang, problem_text, see_other

T = TypeVar("T")
R = TypeVar("R")
FORM_ERROR: Final = "_form"
# The form's own fields, never data.
_META_FIELDS: Final = frozenset({"_csrf_token"})
_MISSING = re.compile(r"^Object missing required field `([^`]+)`")
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]+)`")
_AT_PATH = re.compile(r" - at `\$\.([^`\[]+)[^`]*`$")
_TOO_LONG = re.compile(r"length <= (\d+)")
_TOO_SHORT = re.compile(r"length >= (\d+)")
_AT_MOST = re.compile(r"<= (-?\d+(?:\.\d+)?)")
_AT_LEAST = re.compile(r">= (-?\d+(?:\.\d+)?)")


class Form:
    """A posted (or about to be shown) form: typed values, uploaded files and errors."""

    def __init__(
        self,
        lang: str,
        values: Mapping[str, str | list[str]] | None = None,
        files: Mapping[str, list[UploadFile]] | None = None,
    ) -> None:
        self.lang = lang
        self.t = translator(lang)
        self.values: dict[str, str | list[str]] = dict(values or {})
        self.files: dict[str, list[UploadFile]] = dict(files or {})
        self.errors: dict[str, str] = {}
        # Gate refusals ({code, message, ...}) shown above the form.
        self.unmet: list[Any] = []

    @classmethod
    def of(cls, lang: str, initial: Mapping[str, Any]) -> Form:
        """A form pre-filled from a record (an edit page) or from defaults (a new one)."""
        values: dict[str, str | list[str]] = {}
        for name, value in initial.items():
            if value is None:
                continue
            if isinstance(value, list | tuple | set | frozenset):
                values[name] = [str(v) for v in value]
            elif isinstance(value, bool):
                values[name] = "true" if value else ""
            else:
                values[name] = str(value)
        return cls(lang, values)

    # --- reading ------------------------------------------------------------------------------------

    def get(self, name: str) -> str:
        """The field's value, stripped; a list's first item; '' when absent."""
        value = self.values.get(name, "")
        if isinstance(value, list):
            value = value[0] if value else ""
        return value.strip()

    def getlist(self, name: str) -> list[str]:
        value = self.values.get(name, [])
        items = value if isinstance(value, list) else [value]
        return [item.strip() for item in items if item.strip()]

    def checked(self, name: str) -> bool:
        return self.get(name) in ("true", "on", "1", "yes")

    def file(self, name: str) -> UploadFile | None:
        uploads = [f for f in self.files.get(name, []) if f.filename]
        return uploads[0] if uploads else None

    def shows(self, name: str, value: str) -> bool:
        """Whether ``value`` is selected or checked for ``name`` (selects and checkboxes)."""
        current = self.values.get(name, [])
        return value in current if isinstance(current, list) else value == current

    # --- errors -------------------------------------------------------------------------------------

    @property
    def invalid(self) -> bool:
        return bool(self.errors or self.unmet)

    def error(self, name: str, message: str) -> None:
        """Record an error for ``name`` (the first one per field stays)."""
        self.errors.setdefault(name, message)

    @overload
    def decode(self, type_: type[T], data: Mapping[str, Any]) -> T | None: ...

    @overload
    def decode(self, type_: types.UnionType, data: Mapping[str, Any]) -> Any: ...

    def decode(self, type_: Any, data: Mapping[str, Any]) -> Any:
        """``data`` (built by the page from ``get``/``getlist``/``checked``) as ``type_``, a
        Struct or a union of Structs tagged by one of their fields (the variant the tag
        names is checked; no tag, or an unknown one, is an error on the tag's field).

        Empty strings count as not given, so a blank optional field takes its default and a
        blank required one is "required". Strings are converted as msgspec's lax mode does
        ("12" to int, "2026-06-30" to a date). Each field is checked on its own first, so
        every bad field gets its message, not only the first; the result is None when any
        failed (the page then re-renders the form).
        """
        given = {k: v for k, v in data.items() if v not in ("", None, [])}
        struct = type_
        if isinstance(type_, types.UnionType):
            variants = get_args(type_)
            tag_field = variants[0].__struct_config__.tag_field
            tag = given.get(tag_field)
            struct = next((v for v in variants if v.__struct_config__.tag == tag), None)
            if struct is None:
                self.error(tag_field, self.t("form_choose" if tag else "form_required"))
                return None
        for field in msgspec.structs.fields(struct):
            name = field.encode_name
            if name not in given:
                if field.required:
                    self.error(name, self.t("form_required"))
                continue
            try:
                msgspec.convert(given[name], field.type, strict=False)
            except msgspec.ValidationError as exc:
                self.error(name, self._explain(str(exc)))
        if self.errors:
            return None
        try:
            return msgspec.convert(given, type_, strict=False)
        except msgspec.ValidationError as exc:
            # A rule over several fields (a Struct's __post_init__), or a field the page
            # passed that the Struct does not know.
            at = _AT_PATH.search(str(exc))
            self.error(at.group(1) if at else FORM_ERROR, self._explain(str(exc)))
            return None

    def _explain(self, raw: str) -> str:
        """msgspec's message for one value, in the page language."""
        t = self.t
        numeric = "Expected `int" in raw or "Expected `float" in raw or "Expected `decimal" in raw
        if "got `null`" in raw or "length >= 1" in raw:
            return t("form_required")
        if too_long := _TOO_LONG.search(raw):
            return t("form_too_long", max=too_long.group(1))
        if too_short := _TOO_SHORT.search(raw):
            return t("form_too_short", min=too_short.group(1))
        if "Invalid enum value" in raw or "Expected `uuid" in raw or "Invalid UUID" in raw:
            return t("form_choose")
        if "matching regex" in raw:
            pattern = next((p for p in PATTERN_KEYS if repr(p)[1:-1] in raw), None)
            return t(PATTERN_KEYS[pattern] if pattern else "form_format")
        if numeric and (at_most := _AT_MOST.search(raw)):
            return t("form_at_most", max=at_most.group(1))
        if numeric and (at_least := _AT_LEAST.search(raw)):
            return t("form_at_least", min=at_least.group(1))
        if numeric:
            return t("form_number")
        if "`date" in raw or "RFC3339" in raw or "`datetime" in raw:
            return t("form_date")
        if _MISSING.match(raw) or _UNKNOWN.match(raw):
            return t("form_invalid")
        # A rule's own message (ValueError in __post_init__) is the service's words.
        return raw.split(" - at `", 1)[0] if not raw.startswith("Expected") else t("form_invalid")

    def problem(self, exc: Problem) -> None:
        """A service's refusal, beside the field it names, or above the form.

        Field errors (``errors: [{field, message}]``) go beside their fields with the
        catalogue's words where the message is one of the shared ones; a gate's unmet
        conditions are kept for ``errors_summary``; anything else is a form-wide error.
        """
        extra = exc.extra if isinstance(exc.extra, dict) else {}
        if unmet := extra.get("unmet"):
            self.unmet = list(unmet)
            return
        errors = extra.get("errors") or []
        if errors:
            for item in errors:
                field = str(item.get("field", "")).removeprefix("data.")
                message = str(item.get("message", ""))
                self.error(field or FORM_ERROR, self._service_message(message))
            return
        self.error(FORM_ERROR, problem_text(self.lang, exc))

    def _service_message(self, message: str) -> str:
        known = {"required": "form_required", "unknown field": "form_invalid"}
        if message in known:
            return self.t(known[message])
        if message == "does not have the expected format":
            return self.t("form_format")
        if key := next((PATTERN_KEYS[p] for p, m in PATTERN_MESSAGES.items() if m == message), None):
            return self.t(key)
        # The service's own words are English: a Chinese page says the field is invalid.
        return message if self.lang == "en" else self.t("form_invalid")


async def read_form(request: Request[Any, Any, Any]) -> Form:
    """The posted form (urlencoded or multipart): values by name (repeated names as lists)
    and uploaded files by name."""
    posted = await request.form()
    values: dict[str, str | list[str]] = {}
    files: dict[str, list[UploadFile]] = {}
    for name, value in posted.multi_items():
        if name in _META_FIELDS:
            continue
        if isinstance(value, UploadFile):
            files.setdefault(name, []).append(value)
            continue
        add_field(values, name, str(value))
    return Form(page_lang(request), values, files)


def choices(codes: Iterable[str], label: Callable[[str], str]) -> list[tuple[str, str]]:
    """``(code, label)`` pairs for a select or a set of checkboxes."""
    return [(code, label(code)) for code in codes]


def form_status(form: Form) -> int:
    """The status of a re-rendered form: 409 for a refused gate, 400 for bad fields."""
    return 409 if form.unmet and not form.errors else 400


async def submit(
    data: T | None,
    act: Callable[[T], Awaitable[R]],
    *,
    done: Callable[[R], str],
    again: Callable[[Problem | None], Awaitable[Response[str]]],
    refused: Callable[[Problem], object] | None = None,
) -> Response[Any]:
    """The shape of every form post: ``data`` decoded from the form (None when a field is
    bad) goes to the service (``act``); done, the browser is sent (303) to ``done(result)``;
    otherwise the page is rendered again (``again``) with the form, its errors and what was
    typed: ``again(None)`` for bad fields, ``again(problem)`` for a refusal of the service,
    recorded on the form first by ``refused`` when given (``again`` may also re-raise what
    is no refusal, a 404 say). A second approval awaited is no refusal: it propagates (202,
    the error handler shows the pending decision)."""
    if data is None:
        return await again(None)
    try:
        result = await act(data)
    except SecondApprovalRequired:
        raise
    except Problem as exc:
        problem = exc
    else:
        return see_other(done(result))
    if refused is not None:
        refused(problem)
    return await again(problem)


def conflict_page(
    request: Request[Any, Any, Any],
    form: Form,
    current: Mapping[str, Any],
    fields: Iterable[tuple[str, str]],
    *,
    action: str,
    back: str,
    version: int,
) -> Response[str]:
    """Someone saved the record since this form was opened: what you typed beside what is
    stored now, field by field, and the form to apply yours again over the new version.

    ``fields`` are ``(name, label)`` pairs; ``current`` the stored values by name; ``action``
    where "keep mine" posts (with ``version`` the stored one); ``back`` the page that shows
    the stored record ("keep theirs")."""
    rows = []
    for name, label in fields:
        yours = form.getlist(name) if isinstance(form.values.get(name), list) else form.get(name)
        stored = current.get(name)
        theirs: str | list[str]
        if isinstance(stored, list | tuple | set | frozenset):
            theirs = [str(v) for v in stored]
        else:
            theirs = "" if stored is None else str(stored)
        differs = (sorted(yours) != sorted(theirs)) if isinstance(yours, list) else yours != theirs
        rows.append({"name": name, "label": label, "yours": yours, "theirs": theirs, "differs": differs})
    hidden = [
        (name, item)
        for name, value in form.values.items()
        if name != "version"
        for item in (value if isinstance(value, list) else [value])
    ]
    return page(
        request,
        "conflict",
        status_code=409,
        rows=rows,
        hidden=hidden,
        action=action,
        back=back,
        version=version,
    )


__all__ = [
    "FORM_ERROR",
    "Form",
    "choices",
    "conflict_page",
    "form_status",
    "page_lang",
    "read_form",
    "submit",
]
