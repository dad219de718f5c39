"""Platform staff login on the platform host: e-mail, password and a TOTP code; logout.

    GET  /login    the form (``next``: a same-site path to return to)
    POST /login    checks, rate-limited per account and per address; a session for the platform
    POST /logout   ends it

None of these answer on a city's host (404): a platform account has nothing to do there, and its
session would be refused there anyway (ARCHITECTURE §4 rule 5).
"""

from __future__ import annotations

import math
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from kotalive.auth import audit
from kotalive.auth.guards import safe_next
from kotalive.auth.platform_staff import LoginRefused, authenticate
from kotalive.auth.principal import current_principal
from kotalive.auth.ratelimit import RateLimiter
from kotalive.auth.sessions import cookie_options, end_login
from kotalive.context import current_tenant_or_none
from kotalive.web import client_ip, page

MAX_FIELD = 512


def platform_site(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if current_tenant_or_none() is not None:
        raise NotFoundException()


def _form(request: Request, **values: Any) -> dict[str, Any]:
    return {"email": "", "next": "/", "error": None, "retry_minutes": 0, **values}


@get("/login", opt={"public": True}, include_in_schema=False, summary="Platform staff login form")
async def login_form(request: Request) -> Response[Any]:
    target = safe_next(request.query_params.get("next"), "/")
    principal = current_principal()
    if principal is not None and principal.kind == "platform_staff" and "next" in request.query_params:
        return Redirect(target, status_code=303)
    return page(request, "auth/platform_login.html", **_form(request, next=target))


@post("/login", opt={"public": True}, include_in_schema=False, summary="Platform staff login")
async def login(request: Request) -> Response[Any]:
    form = await request.form()

    def field(name: str) -> str:
        value = form.get(name)
        return value[:MAX_FIELD] if isinstance(value, str) else ""

    email, target = field("email").strip(), safe_next(field("next"), "/")
    limiter = RateLimiter(request.app.state.redis)
    async with request.app.state.db.platform_session() as session:
        try:
            principal = await authenticate(
                session,
                request.app.state.settings,
                limiter,
                email=email,
                password=field("password"),
                code=field("code"),
                ip=client_ip(request),
            )
        except LoginRefused as exc:
            await session.commit()  # the audit rows of the refusal
            if exc.reason == "locked":
                minutes = max(1, math.ceil(exc.retry_after / 60))
                response = page(
                    request,
                    "auth/platform_login.html",
                    status=429,
                    **_form(request, email=email, next=target, error="locked", retry_minutes=minutes),
                )
                response.headers["retry-after"] = str(exc.retry_after)
                return response
            return page(
                request,
                "auth/platform_login.html",
                status=400,
                **_form(request, email=email, next=target, error="invalid"),
            )
        await session.commit()
    token = await request.app.state.auth.sessions.create(principal)
    done: Response[Any] = Redirect(target, status_code=303)
    done.set_cookie(**cookie_options(request.app.state.settings, token))
    return done


@post("/logout", opt={"public": True}, include_in_schema=False, summary="Platform staff logout")
async def logout(request: Request) -> Response[Any]:
    principal = current_principal()
    if principal is not None:
        async with request.app.state.db.platform_session() as session:
            audit.record_platform(session, "staff.logout", actor=principal, ip=client_ip(request))
            await session.commit()
    response: Response[Any] = Redirect("/login", status_code=303)
    await end_login(request, response)
    return response


route_handlers = [Router(path="/", route_handlers=[login_form, login, logout], guards=[platform_site])]
