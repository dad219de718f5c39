"""Core identity API: who am I, and log out. Citizen and employee login live beside this."""

from __future__ import annotations

import msgspec
from litestar import Request, Response, Router, get, post

from kotalive.auth.guards import requires
from kotalive.auth.principal import current_principal
from kotalive.auth.sessions import end_login
from kotalive.context import current_tenant_or_none


class MeOut(msgspec.Struct):
    kind: str
    id: int
    name: str
    roles: list[str]
    agency_ids: list[int]
    city: str | None
    via: str


@get("/me", guards=[requires("core.profile.view")], summary="The signed-in person", sync_to_thread=False)
def me() -> MeOut:
    p = current_principal()
    assert p is not None
    tenant = current_tenant_or_none()
    return MeOut(
        p.kind, p.id, p.name, sorted(p.roles), sorted(p.agency_ids), tenant.slug if tenant else None, p.via
    )


@post("/logout", summary="End this login session", status_code=200, opt={"public": True})
async def logout(request: Request) -> Response[dict[str, str]]:
    response = Response({"status": "logged_out"})
    await end_login(request, response)
    return response


route_handlers = [Router(path="/api/v1", route_handlers=[me, logout], tags=["identity"])]
