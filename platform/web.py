"""What every page and API handler shares: which site, which language, how a page is rendered."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.utils.scope.state import ScopeState

from kotalive.auth.principal import current_principal
from kotalive.context import current_tenant_or_none
from kotalive.i18n import pick_language
from kotalive.pages import render_page

NO_STORE = {"cache-control": "no-store"}


async def city_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A city's route: on the platform host it does not exist. (Guards are async: Litestar runs a
    sync guard in a worker thread on every request.)"""
    if current_tenant_or_none() is None:
        raise NotFoundException()


def request_language(request: Request) -> str:
    """``?lang=`` or the cookie, then the browser's languages, then the city's, then Indonesian."""
    explicit = request.query_params.get("lang") or request.cookies.get("lang")
    tenant = current_tenant_or_none()
    default = request.headers.get("accept-language") or (tenant.locale if tenant else None)
    return pick_language(default, explicit)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def module_links(request: Request, audience: str) -> list[tuple[str, str]]:
    """(text key, path) of the ways into the city's switched-on modules for this audience that the
    signed-in person may use (ModuleSpec.links)."""
    tenant = current_tenant_or_none()
    modules = getattr(request.app.state, "modules", None)
    if tenant is None or modules is None:
        return []
    principal = current_principal()
    table = request.app.state.permissions
    out = []
    for name, link in modules.links_for(audience):
        if not tenant.has_module(name):
            continue
        if link.permission and (principal is None or not table.allows(principal.roles, link.permission)):
            continue
        out.append((link.text_key, link.path))
    return out


def language_switch(request: Request, lang: str) -> str:
    """This page in the other language: the same path and query (filters, paging), ``lang`` set."""
    from urllib.parse import urlencode

    from kotalive.auth.guards import safe_next

    # ``next`` goes along only when it leads back into this site: never echo a foreign address.
    query = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k != "lang" and (k != "next" or safe_next(v, "") == v)
    ]
    return request.url.path + "?" + urlencode([*query, ("lang", lang)])


def page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    cache: bool = False,
    **context: Any,
) -> Response[str]:
    """A server-rendered page with its language, the city, the signed-in person and the CSRF token
    its forms send back; a page never lands in a shared cache unless it says so."""
    lang = request_language(request)
    ctx: dict[str, Any] = {
        "city": current_tenant_or_none(),
        "principal": current_principal(),
        "csrf_token": ScopeState.from_scope(request.scope).csrf_token or "",
        "module_links": lambda audience: module_links(request, audience),
        "lang_switch": language_switch(request, "en" if lang == "id" else "id"),
    }
    ctx.update(context)
    response = Response(
        render_page(template, lang=lang, **ctx),
        status_code=status,
        media_type="text/html",
        headers={**({} if cache else NO_STORE), **(headers or {})},
    )
    if request.query_params.get("lang") in ("id", "en"):
        response.set_cookie("lang", lang, max_age=365 * 86400, httponly=True, samesite="lax")
    return response
