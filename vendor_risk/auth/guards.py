"""Role guards, declared on controllers so that no route can forget them."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from vendor_risk.auth.models import CurrentUser, Role
from vendor_risk.errors import Problem


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser:
    user = connection.scope.get("user")
    if not isinstance(user, CurrentUser):
        raise Problem(401, "unauthenticated", "an API key is required (Authorization: Bearer)")
    return user


def requires_role(*roles: Role) -> Guard:
    """Allow only the given roles; anonymous callers get 401, other roles 403."""
    allowed = frozenset(roles)
    names = ", ".join(sorted(r.value for r in allowed))

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = current_user(connection)
        if user.role not in allowed:
            raise Problem(403, "forbidden", f"this action needs one of the roles: {names}")

    guard.__name__ = f"requires_{'_or_'.join(sorted(r.value for r in allowed))}"
    return guard


requires_authenticated = requires_role(*Role)
requires_admin = requires_role(Role.ADMIN)
# Staff who read the records; documents and evidence are narrower (see their routes).
requires_reader = requires_role(Role.PROCUREMENT, Role.RISK_OWNER, Role.AUDITOR, Role.ADMIN)
requires_risk_owner = requires_role(Role.RISK_OWNER)
# The firm's client register is its own clients' personal data: risk owners keep it and
# read it with auditors; procurement and admins have no need of it.
requires_client_reader = requires_role(Role.RISK_OWNER, Role.AUDITOR)
