"""hotline112 JSON API. The module's capabilities arrive with its own issue; for now it reports itself."""

from __future__ import annotations

from litestar import Router, get

from kotalive.auth.guards import requires
from kotalive.context import current_tenant


@get("/", summary="Module status for this city", guards=[requires("hotline112.call.take")])
async def module_status() -> dict[str, str]:
    tenant = current_tenant()
    return {"module": "hotline112", "city": tenant.slug, "status": "enabled"}


route_handlers = [Router(path="/api/v1/hotline112", route_handlers=[module_status], tags=["hotline112"])]
