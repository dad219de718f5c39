"""The city admin's route handlers: every page under /admin/ on a city's host, for city admins.

On the platform host they do not exist (404); anonymous people are sent to the employees' login;
anyone without ``admin.city.manage`` gets 403. A section whose module is off for the city answers
404 (each such handler carries ``module_on``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router

from kotalive.admin.city import (
    pages_112,
    pages_agencies,
    pages_audit,
    pages_branding,
    pages_connections,
    pages_home,
    pages_laksa,
    pages_people,
)
from kotalive.admin.city.permissions import MANAGE
from kotalive.auth.guards import requires
from kotalive.web import city_only


async def load_branding(request: Request) -> None:
    """The city's branding for the admin's frame (its display name in the top bar); a cached read."""
    from kotalive.admin.city import branding
    from kotalive.context import current_tenant_or_none
    from kotalive.db import tenant_session

    if current_tenant_or_none() is None:
        return None
    async with tenant_session() as session:
        request.state.branding = await branding.current(session)
    return None


route_handlers: list[Any] = [
    Router(
        path="/admin",
        route_handlers=[
            *pages_home.route_handlers,
            *pages_agencies.route_handlers,
            *pages_laksa.route_handlers,
            *pages_people.route_handlers,
            *pages_112.route_handlers,
            *pages_connections.route_handlers,
            *pages_branding.admin_handlers,
            *pages_audit.route_handlers,
        ],
        guards=[city_only, requires(MANAGE)],
        opt={"login": "/staff/login"},
        include_in_schema=False,
        before_request=load_branding,
    ),
    pages_branding.public_router,
]
