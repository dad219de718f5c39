"""Every identity route, gathered for the app (one line per file of routes)."""

from __future__ import annotations

from typing import Any

from kotalive.auth.access_routes import route_handlers as access_admin
from kotalive.auth.citizen_routes import route_handlers as citizens
from kotalive.auth.controllers import route_handlers as core_identity
from kotalive.auth.employee_routes import route_handlers as employee_login
from kotalive.auth.platform_routes import route_handlers as platform_login

route_handlers: list[Any] = [
    *core_identity,
    *access_admin,
    *citizens,
    *employee_login,
    *platform_login,
]
