"""Who is asking: a session cookie or a bearer token, always checked against the request's city.

Runs after host resolution. A session or token of another city (or of the platform on a city
host, or of a city on the platform host) is refused with 401 and never silently accepted
(ARCHITECTURE §4 rule 5). CSRF protection covers every cookie-authenticated unsafe request;
a request that carries only a bearer token has no ambient credentials and skips it.

Machine endpoints (webhooks, Open311, a 112 unit's terminal) say what they are in their route's
``opt``: ``MACHINE_ENDPOINT`` (they take no cookies, so no CSRF; they authenticate by their own means)
and, where their bearer token is no person's, ``OWN_BEARER`` (this middleware leaves it to the
handler instead of asking the city's OpenID provider).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any

import msgspec
from litestar.config.csrf import CSRFConfig
from litestar.middleware.csrf import CSRFMiddleware

from kotalive.auth.principal import Principal, reset_principal, set_principal
from kotalive.auth.sessions import COOKIE_NAME, SessionStore
from kotalive.context import TenantContext, current_tenant_or_none
from kotalive.settings import Settings
from kotalive.tenants.resolution import SITE_KEY, wants_json

log = logging.getLogger(__name__)

BearerVerifier = Callable[[str, TenantContext], Awaitable[Principal]]
CSRF_COOKIE = "kl_csrf"
CSRF_HEADER = "x-csrftoken"
# Route opts of machine endpoints (see the module docstring).
MACHINE_ENDPOINT: dict[str, Any] = {"public": True, "exclude_from_csrf": True}
OWN_BEARER: dict[str, Any] = {**MACHINE_ENDPOINT, "own_bearer": True}


class AuthError(Exception):
    """A credential that must be refused; ``reason`` is safe to show."""

    def __init__(self, reason: str, code: str = "invalid_token") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


async def _no_bearer(token: str, tenant: TenantContext) -> Principal:
    raise AuthError("this city accepts no bearer tokens yet (no OpenID provider configured)")


class AuthRuntime:
    """What the auth middleware needs that only exists once the app runs (Redis, the verifier)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sessions: SessionStore | None = None
        self.bearer: BearerVerifier = _no_bearer

    def start(self, redis: Any) -> None:
        self.sessions = SessionStore(redis, self.settings.session_max_age)


def _cookie(scope: dict[str, Any], name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                return None
            if name in jar:
                return jar[name].value
    return None


def _authorization(scope: dict[str, Any]) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            return value.decode("latin-1")
    return None


def clear_cookie_header(settings: Settings) -> tuple[bytes, bytes]:
    secure = "; Secure" if settings.cookie_secure else ""
    return (b"set-cookie", f"{COOKIE_NAME}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax{secure}".encode())


async def refuse(
    scope: dict[str, Any], send: Any, reason: str, code: str, settings: Settings, *, clear: bool = False
) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4401})
        return
    body = msgspec.json.encode({"status_code": 401, "error": code, "detail": reason})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", f'Bearer error="{code}"'.encode()),
    ]
    if clear:
        headers.append(clear_cookie_header(settings))
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    def __init__(self, app: Any, runtime: AuthRuntime) -> None:
        self.app = app
        self.runtime = runtime
        self.settings = runtime.settings

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("state", {}).get(SITE_KEY) == "any":
            await self.app(scope, receive, send)
            return
        site = scope.get("state", {}).get(SITE_KEY)
        tenant = current_tenant_or_none()
        principal: Principal | None = None
        authorization = _authorization(scope)
        handler = scope.get("route_handler")
        own_bearer = bool(handler is not None and handler.opt.get("own_bearer"))
        if authorization and authorization[:7].lower() == "bearer " and not own_bearer:
            if tenant is None:
                await refuse(
                    scope,
                    send,
                    "bearer tokens are accepted on a city's host only",
                    "invalid_request",
                    self.settings,
                )
                return
            try:
                principal = await self.runtime.bearer(authorization[7:].strip(), tenant)
            except AuthError as exc:
                log.info("bearer token refused for %s: %s", tenant.slug, exc.reason)
                await refuse(scope, send, exc.reason, exc.code, self.settings)
                return
            if principal.tenant_id != tenant.id:  # a verifier must never hand back another city's person
                await refuse(
                    scope, send, "this token belongs to another city", "invalid_token", self.settings
                )
                return
        else:
            token = _cookie(scope, COOKIE_NAME)
            if token and self.runtime.sessions is not None:
                data = await self.runtime.sessions.load(token)
                if data is not None:
                    own_city = (
                        site == "city"
                        and tenant is not None
                        and data.kind != "platform_staff"
                        and data.tenant_id == tenant.id
                    )
                    own_platform = site == "platform" and data.kind == "platform_staff"
                    if not (own_city or own_platform):
                        log.warning(
                            "session of %s:%s (city %s) refused on %s",
                            data.kind,
                            data.subject_id,
                            data.tenant_id,
                            tenant.slug if tenant else "the platform host",
                        )
                        await refuse(
                            scope,
                            send,
                            "this login belongs to another site; log in here",
                            "wrong_site",
                            self.settings,
                            clear=True,
                        )
                        return
                    principal = data.principal()
        scope.setdefault("state", {})["principal"] = principal
        token_ = set_principal(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            reset_principal(token_)


def csrf_config(settings: Settings) -> CSRFConfig:
    return CSRFConfig(
        secret=settings.secret_key,
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        cookie_secure=settings.cookie_secure,
        cookie_httponly=False,  # pages' scripts send it back in the header
        cookie_samesite="lax",
        exclude_from_csrf_key="exclude_from_csrf",
    )


class CsrfUnlessBearer:
    """Litestar's CSRF check, except for requests whose only credential is a bearer token."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.csrf = CSRFMiddleware(app, csrf_config(settings))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            authorization = _authorization(scope) or ""
            if authorization[:7].lower() == "bearer " and _cookie(scope, COOKIE_NAME) is None:
                await self.app(scope, receive, send)
                return
            await self.csrf(scope, receive, send)
            return
        await self.app(scope, receive, send)


__all__ = ["AuthError", "AuthMiddleware", "AuthRuntime", "CsrfUnlessBearer", "wants_json"]
