"""The staff page that shows the policy in force, read-only, with its source and hash.

Every role may read it: the thresholds and rules decide what the pages ask of everyone.
The policy changes only by editing its file and restarting (see policy.yaml).
"""

from __future__ import annotations

from typing import Any, get_args

from litestar import Request, Response, get

from vendor_risk.policy import (
    DECISION_KINDS,
    SERVICE_TYPES,
    Criticality,
    ProcessingMethod,
    Sensitivity,
    Tier,
    VolumeBand,
)
from vendor_risk.settings import Settings
from vendor_risk.ui.web import page


@get("/policy", name="ui:policy")
async def policy_page(request: Request[Any, Any, Any], settings: Settings) -> Response[str]:
    """The effective policy: every number and rule the services read, each by its label."""
    return page(
        request,
        "policy/policy",
        policy=settings.policy,
        tiers=get_args(Tier),
        sensitivities=get_args(Sensitivity),
        volumes=get_args(VolumeBand),
        methods=get_args(ProcessingMethod),
        criticalities=get_args(Criticality),
        service_types=SERVICE_TYPES,
        decisions=DECISION_KINDS,
    )


POLICY_PAGES = [policy_page]
