"""Find the city of a request from its host (ARCHITECTURE §4 rule 1).

Raw ASGI middleware: it runs before any handler, sets the city in context for the request's task
and clears it after. ``X-Forwarded-Host`` counts only when the peer is a configured proxy.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import msgspec
from litestar.types import ASGIApp

from kotalive.context import reset_tenant, set_tenant
from kotalive.i18n import pick_language, translate
from kotalive.pages import render_page
from kotalive.settings import Settings
from kotalive.tenants.directory import TenantDirectory

# Paths that answer on every host, known or not.
HOST_FREE_EXACT = ("/healthz", "/readyz")
HOST_FREE_PREFIXES = ("/static/", "/api/v1/schema")

SITE_KEY = "kotalive_site"  # scope["state"][SITE_KEY] is "platform" or "city"


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _strip_port(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("["):  # [::1]:8000
        return host.split("]")[0] + "]"
    return host.split(":", 1)[0]


def effective_host(scope: dict[str, Any], settings: Settings) -> str:
    host = _header(scope, b"host") or ""
    forwarded = _header(scope, b"x-forwarded-host")
    if forwarded and settings.trusted_proxies and scope.get("client"):
        try:
            peer = ipaddress.ip_address(scope["client"][0])
        except ValueError:
            peer = None
        if peer is not None and any(peer in net for net in settings.trusted_proxies):
            host = forwarded.split(",")[0]
    return _strip_port(host)


def wants_json(scope: dict[str, Any]) -> bool:
    if scope.get("path", "").startswith(("/api/", "/hotline112/", "/open311/")):
        return True
    accept = _header(scope, b"accept") or ""
    return "application/json" in accept and "text/html" not in accept


async def send_error(
    scope: dict[str, Any], send: Any, status: int, code: str, message_key: str, **params: str
) -> None:
    lang = pick_language(_header(scope, b"accept-language"), None)
    message = translate(message_key, lang, **params)
    if wants_json(scope):
        body = msgspec.json.encode({"status_code": status, "error": code, "detail": message})
        content_type = b"application/json"
    else:
        body = render_page("error.html", lang=lang, status=status, code=code, message=message).encode()
        content_type = b"text/html; charset=utf-8"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if status == 503:
        headers.append((b"retry-after", b"300"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TenantResolutionMiddleware:
    def __init__(self, app: ASGIApp, directory: TenantDirectory, settings: Settings) -> None:
        self.app = app
        self.directory = directory
        self.settings = settings

    # ASGI-typed loosely on purpose: the scope is read as a plain mapping.
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        path = scope.get("path", "")
        host = effective_host(scope, self.settings)
        if path in HOST_FREE_EXACT or path.startswith(HOST_FREE_PREFIXES):
            state[SITE_KEY] = "platform" if host == self.settings.platform_host else "any"
            await self.app(scope, receive, send)
            return
        if host == self.settings.platform_host:
            state[SITE_KEY] = "platform"
            token = set_tenant(None)
            try:
                await self.app(scope, receive, send)
            finally:
                reset_tenant(token)
            return
        tenant = await self.directory.by_host(host) if host else None
        if tenant is None or tenant.status == "archived":
            if scope["type"] == "http":
                await send_error(scope, send, 404, "unknown_host", "error.unknown_host", host=host or "?")
            else:
                await send({"type": "websocket.close", "code": 4404})
            return
        if tenant.status != "active":
            if scope["type"] == "http":
                key = "error.suspended" if tenant.status == "suspended" else "error.provisioning"
                await send_error(scope, send, 503, f"city_{tenant.status}", key, city=tenant.name)
            else:
                await send({"type": "websocket.close", "code": 4503})
            return
        state[SITE_KEY] = "city"
        token = set_tenant(tenant)
        try:
            await self.app(scope, receive, send)
        finally:
            reset_tenant(token)
