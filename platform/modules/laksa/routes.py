"""Every Laksa route, gathered for the app (one line per file of routes)."""

from __future__ import annotations

from typing import Any

from kotalive.modules.laksa.controllers import route_handlers as api
from kotalive.modules.laksa.open311 import route_handlers as open311
from kotalive.modules.laksa.pages import route_handlers as pages

route_handlers: list[Any] = [*api, *open311, *pages]
