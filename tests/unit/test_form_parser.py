"""The app's url-encoded form parser reads every body as Litestar's own parser does."""

from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st
from litestar._parsers import parse_url_encoded_form_data

from vendor_risk.hardening import parse_url_encoded

_text = st.text(alphabet=st.sampled_from("aq-1:_ 注释+&=%/\n\x00é"), max_size=12)


@given(st.lists(st.tuples(_text, _text), max_size=12))
def test_encoded_forms_read_as_litestar_reads_them(pairs: list[tuple[str, str]]) -> None:
    body = urlencode(pairs).encode()
    assert parse_url_encoded(body) == parse_url_encoded_form_data.__wrapped__(body)


@given(st.text(alphabet=st.sampled_from("a=&%2b+3A注é"), max_size=40))
def test_any_body_reads_as_litestar_reads_it(raw: str) -> None:
    body = raw.encode()
    assert parse_url_encoded(body) == parse_url_encoded_form_data.__wrapped__(body)


def test_a_section_form() -> None:
    body = urlencode(
        [
            ("_csrf_token", "t"),
            ("present", "q-1"),
            ("present", "q-2"),
            ("a:q-1", "yes"),
            ("c:q-1", "见 附件 & 说明"),
        ]
    ).encode()
    assert parse_url_encoded(body) == {
        "_csrf_token": "t",
        "present": ["q-1", "q-2"],
        "a:q-1": "yes",
        "c:q-1": "见 附件 & 说明",
    }
