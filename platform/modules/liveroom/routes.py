"""Every Live Room route, gathered for the app (one line per file of routes)."""

from __future__ import annotations

from typing import Any

from kotalive.modules.liveroom.controllers import route_handlers as board
from kotalive.modules.liveroom.pages import route_handlers as pages
from kotalive.modules.liveroom.shift_routes import route_handlers as shift_routes

route_handlers: list[Any] = [*board, *shift_routes, *pages]
