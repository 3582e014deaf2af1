"""The worker's settings: read from the environment, refused with the variable's name."""

from __future__ import annotations

import pytest

from vendor_risk.settings import SettingsError, load_settings


def test_worker_settings_defaults_and_values() -> None:
    defaults = load_settings({})
    assert (defaults.worker_metrics_port, defaults.assessment_grace_days) == (0, 14)
    configured = load_settings({"VENDOR_RISK_WORKER_METRICS_PORT": "9108"})
    assert configured.worker_metrics_port == 9108


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VENDOR_RISK_WORKER_METRICS_PORT", "70000"),
        ("VENDOR_RISK_WORKER_METRICS_PORT", "-1"),
        # The grace days moved to the policy file; the old variable is refused, not ignored.
        ("VENDOR_RISK_ASSESSMENT_GRACE_DAYS", "14"),
    ],
)
def test_bad_worker_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})
