"""Defences every request shares: bounded JSON bodies.

Kept apart from the domains so that the app wires them in one place.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from vendor_risk.errors import field_error


class BoundedRequest(Request[Any, Any, Any]):
    """A request whose JSON body may not nest deeper than the decoder can follow.

    Litestar decodes a body to plain values before converting it to the handler's Struct;
    msgspec stops at the interpreter's recursion limit (about a thousand levels) with a
    ``RecursionError``, which would otherwise be a 500. No request of this API nests more
    than a few levels, so such a body is a 400 naming ``body``.
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise field_error("body", "JSON nested too deeply") from None
