"""The PIPL art. 57 closing rule: which fields of the notification record are still missing."""

from datetime import UTC, datetime
from uuid import UUID

import msgspec
import pytest

from vendor_risk.incidents.loader import library
from vendor_risk.incidents.models import NotificationRecord
from vendor_risk.incidents.rules import notification_record_gaps

WHEN = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)
EMPTY = NotificationRecord(
    incident_id=UUID("0b9c8f7e-0000-4000-8000-000000000001"),
    categories=[],
    persons_affected_approx=None,
    affected_persons="",
    cause="",
    possible_harm="",
    remedial_measures="",
    individual_measures="",
    contact="",
    authority_name="",
    authority_notified_at=None,
    authority_notified_how="",
    persons_notified_at=None,
    persons_notified_how="",
    persons_not_notified_reason="",
    updated_at=None,
    updated_by_label=None,
    version=0,
)
COMPLETE = msgspec.structs.replace(
    EMPTY,
    categories=["invoices"],
    persons_affected_approx=0,
    cause="钓鱼邮件",
    possible_harm="诈骗",
    remedial_measures="暂停共享",
    individual_measures="警惕来电",
    contact="privacy@example.com",
    authority_name="北京市互联网信息办公室",
    authority_notified_at=WHEN,
    authority_notified_how="书面报告",
    persons_notified_at=WHEN,
    persons_notified_how="短信",
)


def test_an_empty_record_misses_every_field_art_57_requires_in_the_record_order() -> None:
    assert notification_record_gaps(EMPTY) == [
        "categories",
        "persons_affected_approx",
        "cause",
        "possible_harm",
        "remedial_measures",
        "individual_measures",
        "contact",
        "authority_name",
        "authority_notified_at",
        "authority_notified_how",
        "persons_notified_at",
        "persons_notified_how",
    ]


def test_a_complete_record_misses_nothing_and_zero_persons_is_a_number() -> None:
    assert notification_record_gaps(COMPLETE) == []


@pytest.mark.parametrize("field", ["cause", "contact", "authority_notified_how", "persons_notified_how"])
def test_blank_text_counts_as_missing(field: str) -> None:
    assert notification_record_gaps(msgspec.structs.replace(COMPLETE, **{field: "  \n"})) == [field]


def test_a_recorded_reason_stands_in_for_telling_the_persons() -> None:
    # Art. 57 para. 2: measures that effectively avoid harm, recorded as the reason.
    reason = msgspec.structs.replace(
        COMPLETE,
        persons_notified_at=None,
        persons_notified_how="",
        persons_not_notified_reason="措施已有效避免危害",
    )
    assert notification_record_gaps(reason) == []
    assert notification_record_gaps(msgspec.structs.replace(reason, persons_not_notified_reason="")) == [
        "persons_notified_at",
        "persons_notified_how",
    ]


def test_only_the_data_leak_playbook_requires_the_record() -> None:
    assert {key for key, p in library().items() if p.notification_record} == {"partner-data-leak"}
