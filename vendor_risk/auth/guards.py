"""Role guards, declared on controllers so that no route can forget them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from vendor_risk.auth.models import CurrentUser, Role
from vendor_risk.errors import Problem

if TYPE_CHECKING:
    from litestar import Litestar


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


def fuse_guards(app: Litestar) -> None:
    """Run each handler's layered guards (router, controller, handler) as one guard.

    Litestar hands every guard its own shallow copy of the handler, per request; with the
    API key check and a role guard that is two copies per request. Our guards only read
    the handler, so one fused guard given the handler once does the same checks, in the
    same order, for one copy.
    """
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            guards = handler.resolve_guards()
            if len(guards) > 1:
                handler._resolved_guards = [_all_of(tuple(guards))]


def _all_of(guards: tuple[Guard, ...]) -> Guard:
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        for one in guards:
            await one(connection, handler)  # type: ignore[misc]

    guard.__name__ = "+".join(getattr(g, "__name__", "guard") for g in guards)
    return guard


# The firm's client register is its own clients' personal data: risk owners keep it and
# read it with auditors; procurement and admins have no need of it.
requires_client_reader = requires_role(Role.RISK_OWNER, Role.AUDITOR)
