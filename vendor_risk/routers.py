"""Routers mounted without Litestar's deep copy."""

from __future__ import annotations

from typing import Any, Self

from litestar import Router


class MountedOnce(Router):
    """A router built for one app and mounted there only.

    Litestar deep-copies every router it mounts, so that one router could be mounted in
    several places. Each of ours is built by ``create_app`` for its own app and mounted
    once, so copying it (some 500 handlers with their parsed signatures) only cost time:
    about a fifth of what building the app cost.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self
