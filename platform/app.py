"""``create_app(settings) -> Litestar``. Nothing happens at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, Router, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath
from litestar.static_files import create_static_files_router
from sqlalchemy import select

from kotalive import live
from kotalive.auth.guards import safe_next
from kotalive.auth.middleware import AuthMiddleware, AuthRuntime, CsrfUnlessBearer
from kotalive.auth.oidc import OidcService
from kotalive.auth.roles import PermissionTable
from kotalive.auth.routes import route_handlers as identity_routes
from kotalive.context import current_tenant, current_tenant_or_none
from kotalive.db import Database, current_database, install_database, tenant_session
from kotalive.events import wait_for_relays
from kotalive.jobs import install_jobs
from kotalive.notify.dispatch import wait_for_hand_overs
from kotalive.notify.pages import route_handlers as notify_pages
from kotalive.notify.routes import route_handlers as notify_routes
from kotalive.pages import STATIC_DIR
from kotalive.registry import (
    LoadedModules,
    ModuleConfigError,
    discover_surfaces,
    import_surface_jobs,
    import_surface_texts,
    load,
    resolve,
    surface_permissions,
    surface_routes,
)
from kotalive.settings import Settings
from kotalive.tenants.city_models import Agency
from kotalive.tenants.directory import TenantDirectory, listen_for_invalidation
from kotalive.tenants.resolution import TenantResolutionMiddleware
from kotalive.web import city_only, page

log = logging.getLogger(__name__)


# ---- guards: which site a route belongs to ------------------------------------------------------


def module_guard(name: str) -> Any:
    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        tenant = current_tenant_or_none()
        # A module switched off for a city answers exactly like a route that does not exist.
        if tenant is None or not tenant.has_module(name):
            raise NotFoundException()

    guard.__name__ = f"module_guard_{name}"
    return guard


# ---- core routes ---------------------------------------------------------------------------------


@get("/healthz", summary="The process is alive", sync_to_thread=False, opt={"public": True})
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", summary="Database and Redis answer", opt={"public": True})
async def readyz(request: Request) -> Response[dict[str, str]]:
    checks: dict[str, str] = {}
    db: Database = request.app.state.db
    try:
        await asyncio.wait_for(db.ping(), 2.0)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await asyncio.wait_for(request.app.state.redis.ping(), 2.0)
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return Response({"status": "ready" if ok else "not_ready", **checks}, status_code=200 if ok else 503)


class CityOut(msgspec.Struct):
    slug: str
    name: str
    timezone: str
    locale: str
    modules: list[str]


class AgencyOut(msgspec.Struct):
    id: int
    code: str
    abbreviation: str
    name: str
    kind: str
    parent_id: int | None
    active: bool


@get("/city", summary="The city this host belongs to", sync_to_thread=False)
def city_info() -> CityOut:
    t = current_tenant()
    return CityOut(t.slug, t.name, t.timezone, t.locale, sorted(t.modules))


AGENCY_LIST_SQL = (
    "SELECT id, code, abbreviation, name, kind, parent_id, active FROM {city}.agency ORDER BY id"
)
AGENCY_BY_ID_SQL = (
    "SELECT id, code, abbreviation, name, kind, parent_id, active FROM {city}.agency WHERE id = $1"
)


def _agency_row(r: Any) -> AgencyOut:
    return AgencyOut(r["id"], r["code"], r["abbreviation"], r["name"], r["kind"], r["parent_id"], r["active"])


# The two reads the benchmark measures: a tuned query each (ARCHITECTURE §10), one round trip.
@get("/agencies", summary="The city's agencies")
async def list_agencies(request: Request) -> list[AgencyOut]:
    db: Database = request.app.state.db
    rows = await db.city_fetch(current_tenant(), AGENCY_LIST_SQL)
    return [_agency_row(r) for r in rows]


@get("/agencies/{agency_id:int}", summary="One agency of the city")
async def get_agency(agency_id: FromPath[int], request: Request) -> AgencyOut:
    db: Database = request.app.state.db
    rows = await db.city_fetch(current_tenant(), AGENCY_BY_ID_SQL, agency_id)
    if not rows:
        raise NotFoundException(detail=f"agency {agency_id} does not exist in this city")
    return _agency_row(rows[0])


@get(
    "/",
    summary="Home page: the city's, or the platform console's",
    include_in_schema=False,
    opt={"public": True},
)
async def home(request: Request) -> Response[str]:
    tenant = current_tenant_or_none()
    if tenant is None:
        directory: TenantDirectory = request.app.state.directory
        cities = [c for c in await directory.all() if c.status == "active"]
        port = request.url.port
        return page(request, "platform_home.html", cities=cities, port_suffix=f":{port}" if port else "")
    async with tenant_session() as session:
        agencies = list(
            await session.scalars(select(Agency).where(Agency.active).order_by(Agency.abbreviation))
        )
    modules = [m for m in request.app.state.modules.names if tenant.has_module(m)]
    return page(request, "city_home.html", city=tenant, modules=modules, agencies=agencies)


def login_redirect(request: Request, exc: NotAuthorizedException) -> Response[Any]:
    """Anonymous on a page: to the login page, back here afterwards; on the API: 401 JSON."""
    accept = request.headers.get("accept", "")
    if request.url.path.startswith("/api/") or "text/html" not in accept:
        return Response({"status_code": 401, "detail": exc.detail}, status_code=401)
    login = request.route_handler.opt.get("login") or ("/masuk" if current_tenant_or_none() else "/login")
    target = safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    from urllib.parse import quote

    return Response("", status_code=303, headers={"location": f"{login}?next={quote(target, safe='/')}"})


def internal_error(request: Request, exc: Exception) -> Response[Any]:
    """A bug: logged with its traceback (Litestar logs exceptions only in debug mode), answered
    without details."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return Response({"status_code": 500, "detail": "Internal Server Error"}, status_code=500)


# ---- assembly ------------------------------------------------------------------------------------


def module_routers(modules: LoadedModules) -> list[Router]:
    """One router per module, guarded by its per-city switch; duplicate paths refuse to start."""
    routers: list[Router] = []
    owners: dict[str, str] = {}
    for spec in modules.specs:
        if not spec.routes:
            continue
        handlers: Sequence[Any] = resolve(spec.routes)
        router = Router(path="/", route_handlers=list(handlers), guards=[module_guard(spec.name)])
        for route in router.routes:
            for method in sorted(getattr(route, "methods", {"WS"})):
                key = f"{method} {route.path}"
                if key in owners:
                    raise ModuleConfigError(
                        f"route {key} is declared by both {owners[key]!r} and {spec.name!r}"
                    )
                owners[key] = spec.name
        routers.append(router)
    return routers


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    modules: LoadedModules | None = None,
) -> Litestar:
    settings = (settings or Settings.from_env()).require_services()
    modules = modules if modules is not None else load(settings.modules)
    modules.import_models()
    routers = module_routers(modules)
    # Surfaces (the admin) beside the modules: found by entry point, always mounted.
    surfaces = discover_surfaces()
    import_surface_texts(surfaces)
    import_surface_jobs(surfaces)
    surface_handlers = surface_routes(surfaces)

    # Creating the engine connects nothing: connections open in the server's loop on first use.
    db = database or Database(settings)
    auth = AuthRuntime(settings)
    oidc = OidcService(settings)  # per-city OpenID: provider and key caches, bearer checks
    auth.bearer = oidc.verify_bearer
    directory = TenantDirectory(db, settings.tenant_cache_seconds)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        import redis.asyncio as aioredis

        previous = current_database()
        install_database(db)
        undo_jobs = install_jobs(settings, modules)  # events reach Dramatiq right after commit
        app.state.redis = aioredis.from_url(settings.redis_url)
        undo_live = live.use_loop_client(app.state.redis)
        auth.start(app.state.redis)
        stop = asyncio.Event()
        listener = asyncio.create_task(listen_for_invalidation(settings.redis_url, directory, stop))
        try:
            yield
        finally:
            # Let relays of events committed by the last requests finish (the sweeper would
            # send them later anyway, but a clean shutdown should not leave that to it).
            await wait_for_relays(within=5.0)
            await wait_for_hand_overs(within=5.0)
            stop.set()
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            undo_live()
            await app.state.redis.aclose()
            if database is None:
                await db.dispose()
            install_database(previous)
            undo_jobs()

    city_api = Router(
        path="/api/v1",
        route_handlers=[city_info, list_agencies, get_agency],
        guards=[city_only],
        tags=["city"],
        opt={"public": True},
    )
    # One Redis subscription per process fans live updates out to every screen it serves.
    import redis.asyncio as aioredis
    from litestar.channels import ChannelsPlugin
    from litestar.channels.backends.redis import RedisChannelsPubSubBackend

    channels = ChannelsPlugin(
        backend=RedisChannelsPubSubBackend(redis=aioredis.from_url(settings.redis_url)),
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=1000,
        subscriber_backlog_strategy="dropleft",
    )
    app = Litestar(
        plugins=[channels],
        route_handlers=[
            healthz,
            readyz,
            home,
            city_api,
            *identity_routes,
            *notify_routes,
            *notify_pages,
            *routers,
            *surface_handlers,
            create_static_files_router(
                path="/static", directories=[STATIC_DIR], include_in_schema=False, opt={"public": True}
            ),
        ],
        # Outermost first: find the city, check CSRF, then who is asking (against that city).
        middleware=[
            DefineMiddleware(TenantResolutionMiddleware, directory=directory, settings=settings),
            DefineMiddleware(CsrfUnlessBearer, settings=settings),
            DefineMiddleware(AuthMiddleware, runtime=auth),
        ],
        exception_handlers={NotAuthorizedException: login_redirect, 500: internal_error},
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(title="Kota Live API", version="1", path="/api/v1/schema"),
        debug=settings.log_level == "DEBUG",
    )
    app.state.settings = settings
    app.state.modules = modules
    app.state.db = db
    app.state.auth = auth
    app.state.oidc = oidc
    app.state.permissions = PermissionTable.build(modules, surface_permissions(surfaces))
    app.state.directory = directory
    app.state.channels = channels
    return app
