"""The staff form helper names every bad field in the page language and keeps what was typed."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

from vendor_risk.errors import Problem, field_error, gate_refused
from vendor_risk.ui.forms import FORM_ERROR, Form, form_status


class Thing(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=5)]
    count: Annotated[int, msgspec.Meta(ge=0, le=10)] | None = None
    due: date | None = None
    tags: list[str] = msgspec.field(default_factory=list)


def test_every_bad_field_gets_its_own_message_and_nothing_decodes() -> None:
    form = Form("en", {"name": "far too long", "count": "11", "due": "soon"})
    assert (
        form.decode(Thing, {"name": form.get("name"), "count": form.get("count"), "due": form.get("due")})
        is None
    )
    assert form.errors == {
        "name": "At most 5 characters.",
        "count": "At most 10.",
        "due": "Enter a date (year-month-day).",
    }
    # What was typed is still there to re-render.
    assert form.get("name") == "far too long"
    assert form_status(form) == 400


class Everyone(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, tag_field="kind", tag="all"):
    pass


class Some(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, tag_field="kind", tag="some"):
    count: Annotated[int, msgspec.Meta(ge=1, le=10)]


def test_a_tagged_union_decodes_the_variant_its_tag_names() -> None:
    form = Form("en", {})
    assert form.decode(Everyone | Some, {"kind": "all", "count": ""}) == Everyone()
    assert form.decode(Everyone | Some, {"kind": "some", "count": "3"}) == Some(count=3)
    assert form.errors == {}
    assert form.decode(Everyone | Some, {"kind": "some", "count": "11"}) is None
    assert form.errors == {"count": "At most 10."}
    # No tag, or one no variant has: the error is on the tag's field.
    for kind in ("", "many"):
        form = Form("en", {})
        assert form.decode(Everyone | Some, {"kind": kind}) is None
        assert list(form.errors) == ["kind"]


def test_blank_required_field_is_required_in_chinese_and_blank_optional_takes_its_default() -> None:
    form = Form("zh-CN", {"name": "  ", "count": ""})
    assert form.decode(Thing, {"name": form.get("name"), "count": form.get("count")}) is None
    assert form.errors == {"name": "必填。"}


def test_good_values_decode_from_strings() -> None:
    form = Form("en", {"name": "abc", "count": "3", "due": "2026-06-30", "tags": ["a", "b"]})
    thing = form.decode(
        Thing,
        {
            "name": form.get("name"),
            "count": form.get("count"),
            "due": form.get("due"),
            "tags": form.getlist("tags"),
        },
    )
    assert thing == Thing(name="abc", count=3, due=date(2026, 6, 30), tags=["a", "b"])
    assert not form.invalid
    assert form.shows("tags", "a")
    assert not form.shows("tags", "c")


def test_a_service_refusal_goes_beside_its_field_or_above_the_form() -> None:
    form = Form("en")
    form.problem(field_error("credit_code", "check character does not match"))
    assert form.errors == {"credit_code": "check character does not match"}
    refused = Form("en")
    refused.problem(gate_refused("approve", [{"code": "nda_missing", "message": "no NDA in force"}]))
    assert refused.unmet == [{"code": "nda_missing", "message": "no NDA in force"}]
    assert form_status(refused) == 409
    other = Form("en")
    other.problem(Problem(409, "conflict", "already offboarded"))
    assert other.errors == {FORM_ERROR: "already offboarded"}


def test_a_record_prefills_the_form() -> None:
    form = Form.of("en", {"name": "x", "count": 3, "tags": ["a"], "flag": True, "none": None})
    assert form.values == {"name": "x", "count": "3", "tags": ["a"], "flag": "true"}
    assert form.checked("flag")


def test_the_field_macro_shows_the_typed_value_and_the_error_beside_it() -> None:
    from vendor_risk.assessments.rendering import environment

    form = Form("en", {"name": "<b>x</b>", "kind": "dpa"})
    form.error("name", "At most 5 characters.")
    macros = environment().get_template("ui/_forms.html").module
    html = str(macros.field(form, "name", "Name", required=True, hint="Short"))  # type: ignore[attr-defined]
    assert 'value="&lt;b&gt;x&lt;/b&gt;"' in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="f-name-hint f-name-error"' in html
    assert "At most 5 characters." in html
    select = str(macros.field(form, "kind", "Kind", kind="select", choices=[("nda", "NDA"), ("dpa", "DPA")]))  # type: ignore[attr-defined]
    assert '<option value="dpa" selected>' in select
    assert '<option value="nda">' in select


def test_a_chinese_page_shows_a_refusal_in_chinese_never_the_service_english() -> None:
    stale = Problem(409, "stale-version", "thing was changed by someone else")
    zh, en = Form("zh-CN"), Form("en")
    zh.problem(stale)
    en.problem(stale)
    assert zh.errors[FORM_ERROR] == "该记录已被他人修改，请重新加载后再提交。"
    assert en.errors[FORM_ERROR].startswith("Someone else changed this record")
    # A refusal without catalogue words: its English detail on English pages only.
    odd = Problem(409, "something-new", "the widget is frozen")
    zh, en = Form("zh-CN"), Form("en")
    zh.problem(odd)
    en.problem(odd)
    assert zh.errors[FORM_ERROR] == "请求未能完成，请检查填写的内容后重试。"
    assert en.errors[FORM_ERROR] == "the widget is frozen"
    # A field's message the catalogue does not know is not shown in English on a zh page.
    zh = Form("zh-CN")
    zh.problem(field_error("name", "must not mention widgets"))
    assert zh.errors["name"] == zh.t("form_invalid")
