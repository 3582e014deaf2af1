"""Emails and portal fragments render in both languages, escaping only where it must."""

import re
from datetime import UTC, date, datetime

import pytest

from vendor_risk.assessments import emails
from vendor_risk.assessments.views import describe, known_answers, question_views, questions_html
from vendor_risk.i18n import translator
from vendor_risk.questionnaires.models import Answer, Template

SCRIPT = "<script>alert(1)</script> & co"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_invitation_carries_link_due_date_and_message_in_the_recipients_language(lang: str) -> None:
    email = emails.invitation(
        to="li@example.com",
        lang=lang,
        recipient_name="李雷",
        partner_name="云账房",
        questionnaires=["测试问卷"],
        due_on=date(2025, 6, 30),
        message=SCRIPT,
        link="https://vr.example.com/q/" + "A" * 43,
        expires=datetime(2025, 7, 14, 15, 59, tzinfo=UTC),
        sender_name="王芳",
        sender_email="wang@example.com",
    )
    assert email.lang == lang
    assert ("2025年6月30日" if lang == "zh-CN" else "30 Jun 2025") in email.subject
    assert "https://vr.example.com/q/" + "A" * 43 in email.text
    # Plain text is plain: the message as typed. HTML escapes it.
    assert SCRIPT in email.text
    assert email.html is not None
    assert SCRIPT not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in email.html
    # The link's expiry is shown in China Standard Time.
    assert ("2025年7月14日 23:59" if lang == "zh-CN" else "14 Jul 2025 23:59") in email.text


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_other_email_renders(lang: str) -> None:
    rendered = [
        emails.reminder(
            to="a@example.com",
            lang=lang,
            recipient_name="A",
            partner_name="P",
            due_on=date(2025, 6, 30),
            days=3,
            overdue=False,
            sent_on=date(2025, 6, 1),
            sender_name="S",
            sender_email="s@example.com",
        ),
        emails.changes_requested(
            to="a@example.com",
            lang=lang,
            recipient_name="A",
            partner_name="P",
            note=SCRIPT,
            sender_name="S",
            sender_email="s@example.com",
        ),
        emails.submitted(
            to="r@example.com",
            lang=lang,
            partner_name="P",
            kind="periodic",
            submitter=SCRIPT,
            submitted_at=datetime(2025, 6, 1, tzinfo=UTC),
            score=72.5,
            opened=2,
            critical=1,
            review_url="https://vr.example.com/ui/assessments/x",
        ),
        emails.escalation(
            to="o@example.com",
            lang=lang,
            partner_name="P",
            kind="onboarding",
            due_on=date(2025, 6, 30),
            recipient="A",
            url="https://vr.example.com/ui/assessments/x",
        ),
    ]
    for email in rendered:
        assert email.subject
        assert email.text.strip()
        assert email.html is not None
        assert "<script>" not in email.html
    assert "72.5" in rendered[2].subject


def test_questions_show_stored_answers_and_conditions(example: Template) -> None:
    t = translator("en")
    data = next(s for s in example.sections if s.id == "data")
    answers = {"dh-1": Answer(value="none"), "dh-2": Answer(value=SCRIPT, comment="c")}
    views = {v["id"]: v for v in question_views(example, data, answers, lang="en", t=t)}
    assert views["dh-1"]["choices"][2] == {"value": "none", "label": "Not encrypted", "checked": True}
    assert views["dh-2"]["visible"] is True
    assert views["dh-2"]["value"] == SCRIPT
    assert '"question":"dh-1"' in views["dh-2"]["show_if"]
    assert views["dh-4"]["visible"] is True  # not (dh-3 == tested): dh-3 is unanswered
    hidden = question_views(example, data, {"dh-1": Answer(value="aes256")}, lang="en", t=t)
    assert [v["id"] for v in hidden if not v["visible"]] == ["dh-2"]
    # An error keeps a question in view whatever its condition says.
    errors = question_views(example, data, {}, lang="en", t=t, errors={"dh-2": "too_long"})
    assert next(v for v in errors if v["id"] == "dh-2")["error"] == "This is too long."


def test_question_html_follows_each_state_it_is_shown_in(example: Template) -> None:
    """The fragments kept per question state never show another state's answer."""
    t = translator("en")
    data = next(s for s in example.sections if s.id == "data")

    def html(answers: dict[str, Answer], **extra: object) -> str:
        views = question_views(example, data, answers, lang="en", t=t, version="v1", **extra)  # type: ignore[arg-type]
        return str(questions_html(views, "en", t))

    first = html({"dh-1": Answer(value="none"), "dh-2": Answer(value=SCRIPT)})
    again = html({"dh-1": Answer(value="none"), "dh-2": Answer(value=SCRIPT)})
    assert first == again
    assert 'value="none" data-value-input checked' in first
    assert SCRIPT not in first
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in first
    assert not re.search(r'id="q-dh-2"[^>]* hidden>', first)
    other = html({"dh-1": Answer(value="aes256")})
    assert 'value="none" data-value-input checked' not in other
    assert 'value="aes256" data-value-input checked' in other
    assert SCRIPT not in other
    assert "&lt;script&gt;" not in other
    # dh-2 is hidden by its condition now, and shown again by an error beside it.
    assert re.search(r'id="q-dh-2"[^>]* hidden>', other)
    assert 'id="err-dh-2"' not in other
    errors = html({"dh-1": Answer(value="aes256")}, errors={"dh-2": "too_long"})
    assert '<p class="field-error" id="err-dh-2">This is too long.</p>' in errors
    assert not re.search(r'id="q-dh-2"[^>]* hidden>', errors)


def test_known_answers_give_the_script_only_what_conditions_read(example: Template) -> None:
    access = next(s for s in example.sections if s.id == "access")
    data = next(s for s in example.sections if s.id == "data")
    assert known_answers(example, access, {"dh-1": Answer(value="none")}) == {}
    assert known_answers(example, data, {"ac-1": Answer(value="yes")}) == {}


def test_answers_are_described_in_words(example: Template) -> None:
    t = translator("zh-CN")
    questions = {q.id: q for _, q in example.questions()}
    assert (
        describe(questions["dh-3"], Answer(value=["offline", "tested"]), "zh-CN", t).text
        == "离线副本；定期恢复演练"
    )  # type: ignore[union-attr]
    assert describe(questions["ac-2"], Answer(value=3), "zh-CN", t).text == "3 天"  # type: ignore[union-attr]
    assert describe(questions["dh-1"], Answer(na=True), "zh-CN", t).text == "不适用"  # type: ignore[union-attr]
    assert describe(questions["dh-1"], None, "zh-CN", t) is None
