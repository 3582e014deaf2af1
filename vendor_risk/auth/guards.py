"""Role guards, declared on controllers so that no route can forget them."""

from __future__ import annotations

import warnings
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


def guard_in_place(app: Litestar) -> None:
    """Hand each handler's guards the handler itself, not a copy of it per request.

    Litestar's ``authorize_connection`` gives every guard a shallow copy of the handler
    (so that a guard cannot change it for later requests); copying a handler's sixty-odd
    slots through ``copy.copy`` was a tenth of the CPU of a short API read. Our guards only
    read the handler (its ``opt``), so each guarded handler's class is swapped for a
    subclass whose ``authorize_connection`` runs the same guards, in the same order, given
    the handler.
    """
    for route in app.routes:
        handlers: list[BaseRouteHandler] = getattr(route, "route_handlers", [])
        for handler in handlers:
            if handler.resolve_guards():
                handler.__class__ = _guarded_in_place(type(handler))


async def _authorize_in_place(
    handler: BaseRouteHandler, connection: ASGIConnection[Any, Any, Any, Any]
) -> None:
    for guard in handler.resolve_guards():
        await guard(connection, handler)  # type: ignore[misc]


_IN_PLACE: dict[type[BaseRouteHandler], type[BaseRouteHandler]] = {}


def _guarded_in_place(cls: type[BaseRouteHandler]) -> type[BaseRouteHandler]:
    found = _IN_PLACE.get(cls)
    if found is None:
        # No slots of its own: __class__ may be assigned only between classes of one layout.
        namespace = {"__slots__": (), "__module__": cls.__module__}
        with warnings.catch_warnings():
            # Litestar 2.25 warns on any subclass of its get/post/… classes (3.0 makes them
            # functions returning a plain HTTPRouteHandler); this one declares no routes.
            warnings.simplefilter("ignore", DeprecationWarning)
            found = type(cls.__name__, (cls,), {**namespace, "authorize_connection": _authorize_in_place})
        # Another app may register a copy of a handler already swapped: it keeps its class.
        _IN_PLACE[cls] = _IN_PLACE[found] = found
    return found


# The firm's client register is its own clients' personal data: risk owners keep it and
# read it with auditors; procurement and admins have no need of it.
requires_client_reader = requires_role(Role.RISK_OWNER, Role.AUDITOR)
