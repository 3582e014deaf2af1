from pathlib import Path

import pytest

from vendor_risk.questionnaires.loader import (
    TemplateError,
    content_hash,
    load_file,
    parse_template,
    validate_files,
)
from vendor_risk.questionnaires.models import Template

# One broken fixture per rule, each with the one message it must produce.
BROKEN = [
    (
        "duplicate-question-id",
        "sections[1].questions[3].id: duplicate question id 'ac-2' (first at sections[0].questions[1])",
    ),
    (
        "duplicate-section-id",
        "sections[1].id: duplicate section id 'access' (first at sections[0])",
    ),
    ("show-if-unknown-question", "sections[1].questions[1].show_if: unknown question 'ac-9'"),
    (
        "show-if-later-question",
        "sections[1].questions[1].show_if: question 'dh-4' comes later in the file; "
        "show_if may only name earlier questions",
    ),
    ("show-if-cycle", "sections[1].questions[1].show_if: forms a cycle: dh-2 -> dh-4 -> dh-2"),
    ("show-if-self", "sections[1].questions[1].show_if: question 'dh-2' refers to itself"),
    ("show-if-unknown-choice", "sections[1].questions[1].show_if: 'weak' is not a choice of 'dh-1'"),
    (
        "show-if-two-forms",
        "sections[1].questions[3].show_if: give exactly one of question, all, any, not",
    ),
    ("missing-translation", "sections[1].title: missing field `en`"),
    ("empty-translation", "sections[1].questions[2].choices[0].label.en: missing translation"),
    (
        "choice-score-out-of-range",
        "sections[1].questions[2].choices[1].score: score 1.5 is not in [0, 1]",
    ),
    ("band-score-out-of-range", "sections[0].questions[1].bands[2].score: score -0.5 is not in [0, 1]"),
    (
        "critical-without-failing-choice",
        "sections[1].questions[0].critical: a critical question must be able to fail: "
        "no answer scores below fails_below 0.5",
    ),
    (
        "critical-unscored",
        "sections[1].questions[1].critical: a critical question must be able to fail: "
        "text questions are not scored",
    ),
    (
        "finding-never-raised",
        "sections[1].questions[0].finding: never raised: no answer scores below fails_below 0.5",
    ),
    (
        "choice-type-without-choices",
        "sections[1].questions[0].choices: single_choice questions need at least two choices",
    ),
    (
        "yes-no-wrong-choices",
        "sections[0].questions[0].choices: yes_no choices must be exactly 'yes' and 'no'",
    ),
    (
        "choices-on-text",
        "sections[1].questions[1].choices: only yes_no and *_choice questions take choices",
    ),
    (
        "bands-not-ascending",
        "sections[0].questions[1].bands[1].max: 0.5 must be above the previous band's max 1.0: bands ascend",
    ),
    (
        "bands-without-else",
        "sections[0].questions[1].bands: the last band must have no max (it is the 'else')",
    ),
    ("weight-not-positive", "sections[1].weight: 0.0 must be > 0"),
    ("key-not-file-name", "key: 'baseline-security' must equal the file name 'key-not-file-name'"),
    ("unknown-field", "sections[1].questions[0]: unknown field `optional`"),
    (
        "unquoted-yes",
        "sections[1].questions[0].choices[0].value: expected `str`, got `bool` (quote yes/no/on/off in YAML)",
    ),
    (
        "unknown-iso-control",
        "sections[0].questions[0].references.iso27001[0]: 'A.8.35' is not an "
        "ISO/IEC 27001:2022 Annex A control",
    ),
    ("duplicate-yaml-key", "line 25: duplicate key 'weight'"),
    ("yaml-syntax-error", "line 8: expected ',' or '}', but got '<scalar>'"),
]


@pytest.mark.parametrize(("name", "message"), BROKEN, ids=[name for name, _ in BROKEN])
def test_each_broken_fixture_is_refused_naming_file_and_path(
    fixtures_dir: Path, name: str, message: str
) -> None:
    path = fixtures_dir / f"{name}.yaml"

    assert validate_files([path]) == [f"{name}.yaml: {message}"]
    with pytest.raises(TemplateError) as refused:
        load_file(path)
    assert refused.value.messages == [f"{name}.yaml: {message}"]


def test_every_fixture_but_the_valid_one_is_covered_by_the_table(fixtures_dir: Path) -> None:
    names = {path.stem for path in fixtures_dir.glob("*.yaml")}

    assert names - {name for name, _ in BROKEN} == {"valid-example"}


def test_valid_fixture_loads(example: Template) -> None:
    assert example.key == "valid-example"
    assert [s.id for s in example.sections] == ["access", "data"]
    assert [q.id for _, q in example.questions()] == ["ac-1", "ac-2", "dh-1", "dh-2", "dh-3", "dh-4"]
    assert example.critical_cap == 40


def test_validate_files_reports_every_file_and_every_error(fixtures_dir: Path) -> None:
    paths = [fixtures_dir / "show-if-self.yaml", fixtures_dir / "valid-example.yaml"]
    text = (fixtures_dir / "valid-example.yaml").read_text(encoding="utf-8")
    several = parse_errors(
        text.replace("key: valid-example", "key: several")
        .replace("    weight: 1\n", "    weight: -1\n")
        .replace("{max: 7, score: 0.5}", "{max: 7, score: 2}"),
        "several.yaml",
    )

    assert validate_files(paths) == [
        "show-if-self.yaml: sections[1].questions[1].show_if: question 'dh-2' refers to itself"
    ]
    assert several == [
        "several.yaml: sections[0].questions[1].bands[1].score: score 2.0 is not in [0, 1]",
        "several.yaml: sections[1].weight: -1.0 must be > 0",
    ]


def parse_errors(text: str, filename: str) -> list[str]:
    try:
        parse_template(text, filename)
    except TemplateError as exc:
        return exc.messages
    return []


def test_an_unreadable_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    assert validate_files([tmp_path / "absent.yaml"]) == [
        "absent.yaml: cannot read: No such file or directory"
    ]


def test_content_hash_ignores_layout_and_sees_content(fixtures_dir: Path) -> None:
    text = (fixtures_dir / "valid-example.yaml").read_text(encoding="utf-8")
    original = parse_template(text, "valid-example.yaml")
    # Same content: comments, key order and explicit defaults do not matter.
    relaid = parse_template(
        "# a comment\n"
        + text.replace("    weight: 2\n", "    weight: 2.0\n").replace(
            "        type: number\n", "        type: number\n        required: true\n"
        ),
        "valid-example.yaml",
    )
    changed = parse_template(text.replace("{max: 7, score: 0.5}", "{max: 7, score: 0.4}"), "x.yaml")

    assert content_hash(original) == content_hash(relaid)
    assert content_hash(original) != content_hash(changed)
    assert len(content_hash(original)) == 64


def test_key_must_be_lowercase_and_version_positive() -> None:
    text = (
        "key: Bad_Key\nversion: 0\ntitle: {zh-CN: 标题, en: Title}\n"
        "description: {zh-CN: 说明, en: About}\nsections: []\n"
    )

    assert parse_errors(text, "Bad_Key.yaml") == [
        "Bad_Key.yaml: key: 'Bad_Key' must be lowercase letters, digits and hyphens",
        "Bad_Key.yaml: version: must be an integer >= 1",
        "Bad_Key.yaml: sections: a questionnaire needs at least one section",
    ]


SERVICE_SECTIONS = """
key: svc
version: 1
title: {zh-CN: 标题, en: Title}
description: {zh-CN: 说明, en: About}
sections:
  - id: cloud
    service_types: [cloud_saas]
    title: {zh-CN: 云, en: Cloud}
    questions:
      - {id: c1, type: yes_no, text: {zh-CN: 问, en: Q}}
  - id: everyone
    service_types: SERVICES
    title: {zh-CN: 全部, en: All}
    questions:
      - {id: e1, type: yes_no, text: {zh-CN: 问, en: Q}, show_if: {question: c1, equals: "yes"}}
"""


def test_sections_declare_service_types_and_show_if_stays_within_their_partners() -> None:
    fits = parse_template(SERVICE_SECTIONS.replace("SERVICES", "[cloud_saas]"), "svc.yaml")
    assert fits.sections_for(["cloud_saas", "printing"]) == ["cloud", "everyone"]
    assert fits.sections_for(["printing"]) == []
    assert [s.id for s in fits.only_sections(["everyone"]).sections] == ["everyone"]
    wider = parse_errors(SERVICE_SECTIONS.replace("SERVICES", "[]"), "svc.yaml")
    assert wider == [
        "svc.yaml: sections[1].questions[0].show_if: question 'c1' is asked only of partners providing "
        "cloud_saas; show_if may only name a question asked of at least the same partners"
    ]
    unknown = parse_errors(SERVICE_SECTIONS.replace("SERVICES", "[gardening]"), "svc.yaml")
    assert len(unknown) == 1
    assert "sections[1].service_types[0]" in unknown[0]
