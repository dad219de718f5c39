"""Employees' pages: log in through the city's OpenID provider, land on the agency's page, log out;
and the on-demand Simpeg sync of the city admin.

    GET  /staff/login     -> the city's provider (``next`` kept, same-site paths only)
    GET  /staff/callback  <- the provider; a refused login gets a page that says why
    GET  /staff           the employee's home: their agency
    POST /staff/logout    (form with the CSRF token)
    POST /api/v1/employees/sync   queue the city's Simpeg sync (core.employees.sync)
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.response import Redirect
from sqlalchemy import select

from kotalive.auth import audit
from kotalive.auth.crypto import Vault
from kotalive.auth.employees import (
    NotAnEmployee,
    employee_for_login,
    employee_principal,
    simpeg_client,
    simpeg_lookup,
    sync_employees_job,
)
from kotalive.auth.guards import requires, safe_next
from kotalive.auth.models import Employee
from kotalive.auth.oidc import (
    BROWSER_COOKIE,
    STATE_TTL_SECONDS,
    LoginFailed,
    OidcService,
    callback_url,
    is_local_host,
)
from kotalive.auth.principal import current_principal
from kotalive.auth.sessions import cookie_options, end_login
from kotalive.context import current_tenant
from kotalive.db import tenant_session
from kotalive.integrations.http import ConfigError
from kotalive.tenants.city_models import Agency
from kotalive.tenants.integrations import get_integration
from kotalive.web import city_only, client_ip, page

log = logging.getLogger(__name__)

LOGIN_PATH = "/staff/login"
HOME_PATH = "/staff"
MAX_HINT = 254


def default_redirect_uri(request: Request) -> str:
    """This host's callback. https unless the site runs on this machine: behind a TLS-terminating
    proxy the request itself looks like plain http, and the cookies are Secure anyway."""
    secure = request.app.state.settings.cookie_secure and not is_local_host(request.url.hostname or "")
    scheme = "https" if secure else request.url.scheme
    return callback_url(f"{scheme}://{request.url.netloc}")


def refused(request: Request, reason: str, *, status: int = 403, detail: str = "") -> Response[str]:
    response = page(request, "auth/staff_refused.html", status=status, reason=reason, detail=detail)
    response.delete_cookie(BROWSER_COOKIE, path="/staff")
    return response


# ---- login -------------------------------------------------------------------------------------------


@get(LOGIN_PATH, opt={"public": True}, include_in_schema=False, summary="Employee login: to the provider")
async def staff_login(request: Request) -> Response[Any]:
    tenant = current_tenant()
    target = safe_next(request.query_params.get("next"), HOME_PATH)
    principal = current_principal()
    if principal is not None and principal.kind == "employee":
        return Redirect(target, status_code=303)
    oidc: OidcService = request.app.state.oidc
    config = await oidc.config_for(tenant)
    if config is None:
        return refused(request, "not_configured", status=503)
    hint = request.query_params.get("login_hint")
    hint = hint.strip()[:MAX_HINT] if hint and hint.isprintable() else None
    redirect_uri = config.redirect_uri or default_redirect_uri(request)
    try:
        start = await oidc.start_login(
            request.app.state.redis,
            tenant,
            config,
            redirect_uri=redirect_uri,
            next_path=target,
            login_hint=hint,
        )
    except LoginFailed as exc:
        log.warning("%s: employee login could not start: %s", tenant.slug, exc)
        return refused(request, "provider_unavailable", status=503)
    response: Response[Any] = Redirect(start.url, status_code=303)
    response.set_cookie(
        BROWSER_COOKIE,
        start.browser_value,
        max_age=STATE_TTL_SECONDS,
        path="/staff",
        secure=request.app.state.settings.cookie_secure,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us
    )
    return response


REFUSAL_STATUS = {
    "state_unknown": 400,
    "wrong_browser": 400,
    "wrong_city": 400,
    "no_code": 400,
    "provider_error": 403,
    "provider_unavailable": 503,
    "registry_unavailable": 503,
}


@get(
    "/staff/callback",
    opt={"public": True},
    include_in_schema=False,
    summary="Employee login: back from the provider",
)
async def staff_callback(request: Request) -> Response[Any]:
    tenant = current_tenant()
    oidc: OidcService = request.app.state.oidc
    redis = request.app.state.redis
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    ip = client_ip(request)
    try:
        record = await oidc.take_state(redis, params.get("state"))
        config = await oidc.config_for(tenant, fresh=True)
        if config is None:
            return refused(request, "not_configured", status=503)
        claims = await oidc.finish_login(
            redis, tenant, config, record, params=params, browser_value=request.cookies.get(BROWSER_COOKIE)
        )
    except LoginFailed as exc:
        log.info("%s: employee login refused (%s)", tenant.slug, exc)
        async with tenant_session(tenant) as session:
            audit.record(
                session,
                "login.failed",
                target_kind="employee",
                detail={"reason": exc.reason, "detail": exc.detail},
                ip=ip,
            )
            await session.commit()
        return refused(request, exc.reason, status=REFUSAL_STATUS.get(exc.reason, 403))

    async with tenant_session(tenant) as session:
        lookup = None
        simpeg = await get_integration(
            session, Vault.from_settings(request.app.state.settings), "simpeg", required=False
        )
        client = None
        if simpeg is not None:
            try:
                client = simpeg_client(simpeg.merged())[0]
            except ConfigError as exc:  # a login still works for those the last sync knows
                log.error("%s: Simpeg settings are wrong: %s", tenant.slug, exc)
        try:
            if client is not None:
                lookup = simpeg_lookup(client)
            employee = await employee_for_login(session, claims, nip_claim=config.nip_claim, lookup=lookup)
        except NotAnEmployee as exc:
            await session.rollback()
            audit.record(
                session,
                "login.failed",
                target_kind="employee",
                detail={
                    "reason": f"not_employee:{exc.reason}",
                    "sub": claims.get("sub"),
                    "nip": claims.get(config.nip_claim),
                    "email": claims.get("email"),
                },
                ip=ip,
            )
            await session.commit()
            reason = (
                "registry_unavailable"
                if exc.reason == "registry_unavailable"
                else f"not_employee_{exc.reason}"
            )
            return refused(
                request, reason, status=REFUSAL_STATUS.get(reason, 403), detail=str(claims.get("name") or "")
            )
        finally:
            if client is not None:
                await client.aclose()
        principal = await employee_principal(session, employee)
        audit.record(
            session, "login.succeeded", actor=principal, target_kind="employee", target_id=employee.id, ip=ip
        )
        await session.commit()
    token = await request.app.state.auth.sessions.create(principal)
    response: Response[Any] = Redirect(safe_next(record.next, HOME_PATH), status_code=303)
    response.set_cookie(**cookie_options(request.app.state.settings, token))
    response.delete_cookie(BROWSER_COOKIE, path="/staff")
    return response


# ---- the employee's home and logout -------------------------------------------------------------------


@get(
    HOME_PATH,
    guards=[requires("core.staff.home")],
    opt={"login": LOGIN_PATH},
    include_in_schema=False,
    summary="The employee's home: their agency",
)
async def staff_home(request: Request) -> Response[str]:
    principal = current_principal()
    assert principal is not None
    employee = agency = None
    agencies: list[Agency] = []
    async with tenant_session() as session:
        if principal.kind == "employee":
            employee = await session.get(Employee, principal.id)
        if employee is not None and employee.agency_id is not None:
            agency = await session.get(Agency, employee.agency_id)
        others = set(principal.agency_ids) - ({agency.id} if agency else set())
        if others:
            agencies = list(
                await session.scalars(select(Agency).where(Agency.id.in_(others)).order_by(Agency.name))
            )
    return page(
        request,
        "auth/staff_home.html",
        employee=employee,
        agency=agency,
        other_agencies=agencies,
        roles=sorted(principal.roles),
        whole_city=principal.sees_whole_city,
    )


@post("/staff/logout", opt={"public": True}, include_in_schema=False, summary="Employee logout")
async def staff_logout(request: Request) -> Response[Any]:
    principal = current_principal()
    if principal is not None:
        async with tenant_session() as session:
            audit.record(session, "logout", actor=principal, ip=client_ip(request))
            await session.commit()
    response: Response[Any] = Redirect("/", status_code=303)
    await end_login(request, response)
    return response


# ---- the on-demand sync --------------------------------------------------------------------------------


@post(
    "/employees/sync",
    guards=[requires("core.employees.sync")],
    status_code=202,
    summary="Queue this city's Simpeg sync now",
)
async def sync_now(request: Request) -> Response[dict[str, str]]:
    async with tenant_session() as session:
        simpeg = await get_integration(
            session, Vault.from_settings(request.app.state.settings), "simpeg", required=False
        )
        if simpeg is None:
            return Response(
                {"status": "not_configured", "detail": "this city has no Simpeg connected"}, status_code=409
            )
        audit.record(session, "employees.sync_requested", target_kind="simpeg", ip=client_ip(request))
        await session.commit()
    message = await sync_employees_job.send_async()
    return Response({"status": "queued", "message_id": message.message_id}, status_code=202)


route_handlers = [
    Router(
        path="/", route_handlers=[staff_login, staff_callback, staff_home, staff_logout], guards=[city_only]
    ),
    Router(path="/api/v1", route_handlers=[sync_now], guards=[city_only], tags=["employees"]),
]
