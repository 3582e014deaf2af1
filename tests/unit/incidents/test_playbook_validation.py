import re
from pathlib import Path

import pytest

from vendor_risk.cli import main
from vendor_risk.incidents.loader import (
    PLAYBOOKS_DIR,
    PlaybookError,
    library,
    load_file,
    parse_playbook,
    validate_files,
)
from vendor_risk.incidents.playbook import (
    Notify,
    RevokePortalLinks,
    SendTriggeredAssessment,
    SuspendPartner,
    SuspendScopes,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "playbooks"
ROLES = "(roles: admin, procurement, risk_owner, auditor)"

# One broken fixture per rule, each with the one message it must produce.
BROKEN = [
    (
        "unknown-action",
        "steps[3].actions[0].action: unknown action 'delete_partner' (known: suspend_scopes, "
        "revoke_portal_links, suspend_partner, send_triggered_assessment, notify)",
    ),
    ("dependency-cycle", "steps[2].depends_on: forms a cycle: notify -> review -> notify"),
    ("unknown-dependency", "steps[3].depends_on: unknown step 'x'"),
    ("self-dependency", "steps[2].depends_on: step 'notify' depends on itself"),
    ("missing-translation", "steps[2].title.en: missing translation"),
    ("empty-translation", "steps[0].instructions.zh-CN: missing translation"),
    ("unknown-owner-role", f"steps[2].owner: unknown role 'ciso' {ROLES}"),
    ("notify-unknown-role", f"steps[0].actions[1].roles[1]: unknown role 'dpo' {ROLES}"),
    ("missing-deadline", "steps[1].deadline.critical: missing: the playbook applies to critical incidents"),
    (
        "deadline-for-other-severity",
        "steps[0].deadline.low: the playbook does not apply to low incidents (severities: high, critical)",
    ),
    ("bad-duration", "steps[2].deadline.high: '2 days' is not a duration such as 30m, 4h, 3d or 1d12h"),
    ("zero-deadline", "steps[0].deadline.critical: must be after detection (greater than 0)"),
    (
        "deadline-before-dependency",
        "steps[2].deadline.critical: 6h is earlier than the deadline of its dependency 'assess' (12h)",
    ),
    ("duplicate-step-id", "steps[3].id: duplicate step id 'notify' (first at steps[2])"),
    ("escalation-not-increasing", "escalation[1].after: 3h must be later than the previous level's"),
    ("notify-without-target", "steps[0].actions[1]: notify needs roles, an event, or both"),
    (
        "bad-event",
        "steps[0].actions[1].event: 'partner.contained' must be an incident event such as incident.contained",
    ),
    (
        "uncatalogued-event",
        "steps[0].actions[1].event: 'incident.exploded' is not in the webhook event catalogue "
        "(vendor_risk/notify/events.py)",
    ),
    (
        "action-severity-not-applicable",
        "steps[0].actions[0].severities[0]: the playbook does not apply to low incidents",
    ),
    ("duplicate-action", "steps[0].actions[1]: duplicate of actions[0] (suspend_scopes when ready)"),
    (
        "unknown-severity",
        "severities[1]: unknown severity 'urgent' (severities: low, medium, high, critical)",
    ),
    ("no-steps", "steps: a playbook needs at least one step"),
    ("key-not-file-name", "key: 'partner-data-leak' must equal the file name 'key-not-file-name'"),
    ("unknown-field", "steps[1]: unknown field `sla`"),
    ("duplicate-yaml-key", "line 37: duplicate key 'owner'"),
    ("yaml-syntax-error", "line 35: expected ',' or '}', but got ':'"),
]


@pytest.mark.parametrize(("name", "message"), BROKEN, ids=[name for name, _ in BROKEN])
def test_each_broken_fixture_is_refused_naming_file_and_path(name: str, message: str) -> None:
    path = FIXTURES / f"{name}.yaml"

    assert validate_files([path]) == [f"{name}.yaml: {message}"]
    with pytest.raises(PlaybookError) as refused:
        load_file(path)
    assert refused.value.messages == [f"{name}.yaml: {message}"]


def test_every_fixture_but_the_valid_one_is_covered_by_the_table() -> None:
    names = {path.stem for path in FIXTURES.glob("*.yaml")}

    assert names - {name for name, _ in BROKEN} == {"valid-example"}


def test_valid_fixture_loads_with_defaults_filled_in() -> None:
    playbook = load_file(FIXTURES / "valid-example.yaml")

    assert [s.id for s in playbook.steps] == ["contain", "assess", "notify", "review"]
    contain, review = playbook.steps[0], playbook.steps[3]
    assert contain.actions == [
        SuspendScopes(categories="affected", when="ready"),
        Notify(roles=["admin"], event="incident.contained", when="completed"),
    ]
    assert review.actions == [SendTriggeredAssessment(when="closed")]


def test_several_errors_in_one_file_are_all_reported() -> None:
    text = (FIXTURES / "valid-example.yaml").read_text(encoding="utf-8")
    broken = (
        text.replace("key: valid-example", "key: several")
        .replace("    owner: risk_owner\n    deadline: {high: 1d", "    owner: boss\n    deadline: {high: 1d")
        .replace("    depends_on: [assess]\n", "    depends_on: [asses]\n")
        .replace("  - after: 4h\n", "  - after: soon\n")
    )

    with pytest.raises(PlaybookError) as refused:
        parse_playbook(broken, "several.yaml")

    assert refused.value.messages == [
        f"several.yaml: steps[1].owner: unknown role 'boss' {ROLES}",
        "several.yaml: steps[2].depends_on: unknown step 'asses'",
        "several.yaml: escalation[0].after: 'soon' is not a duration such as 30m, 4h, 3d or 1d12h",
    ]


def test_an_unreadable_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    assert validate_files([tmp_path / "absent.yaml"]) == [
        "absent.yaml: cannot read: No such file or directory"
    ]


# --- the shipped playbooks ------------------------------------------------------------


def test_the_shipped_playbooks_are_valid() -> None:
    assert validate_files(sorted(PLAYBOOKS_DIR.glob("*.yaml"))) == []
    assert set(library()) == {"partner-data-leak", "partner-credential-compromise", "partner-unavailable"}


def test_data_leak_contains_at_once_and_reassesses_on_close() -> None:
    playbook = library()["partner-data-leak"]
    contain = playbook.steps[0]

    assert contain.id == "contain"
    assert not contain.depends_on
    assert SuspendScopes(categories="affected", when="ready") in contain.actions
    assert RevokePortalLinks(when="ready") in contain.actions
    assert SuspendPartner(when="ready", severities=["critical"]) in contain.actions
    assert [s.id for s in playbook.steps] == [
        "contain",
        "assess",
        "notify-authority",
        "notify-persons",
        "remediate",
        "review",
    ]
    assert playbook.steps[-1].actions == [SendTriggeredAssessment(when="closed")]
    assert playbook.severities == ["low", "medium", "high", "critical"]


def test_every_shipped_playbook_reassesses_the_partner_when_it_closes() -> None:
    for playbook in library().values():
        closing = [a for s in playbook.steps for a in s.actions if a.when == "closed"]
        assert SendTriggeredAssessment(when="closed") in closing, playbook.key


CJK = re.compile(r"[\u4e00-\u9fff]")


def test_shipped_texts_are_written_in_each_language() -> None:
    """A text copied into the wrong language slot is caught: zh-CN has Chinese, en has none."""
    for playbook in library().values():
        texts = [("title", playbook.title), ("description", playbook.description)]
        for step in playbook.steps:
            texts += [(f"{step.id}.title", step.title), (f"{step.id}.instructions", step.instructions)]
            texts += [
                (f"{step.id}.message", a.message) for a in step.actions if isinstance(a, Notify) and a.message
            ]
        for where, text in texts:
            assert CJK.search(text.zh_cn), f"{playbook.key}: {where}.zh-CN"
            assert not CJK.search(text.en), f"{playbook.key}: {where}.en"


# --- the command ----------------------------------------------------------------------


def test_validate_command_passes_on_the_shipped_playbooks(capsys: pytest.CaptureFixture[str]) -> None:
    main(["playbooks", "validate"])

    assert capsys.readouterr().out == "3 playbook(s) valid\n"


def test_validate_command_fails_listing_every_error(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(FIXTURES / "unknown-dependency.yaml"), str(FIXTURES / "valid-example.yaml")]
    files.append(str(FIXTURES / "unknown-owner-role.yaml"))

    with pytest.raises(SystemExit) as exited:
        main(["playbooks", "validate", *files])

    assert exited.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        "unknown-dependency.yaml: steps[3].depends_on: unknown step 'x'",
        f"unknown-owner-role.yaml: steps[2].owner: unknown role 'ciso' {ROLES}",
    ]
