"""The generated role matrix: for every route, which roles pass (2xx, or at least not 401/403)
and which get 403; anonymous gets 401 (or, on a page, a redirect to the login page).

Every route is either guarded by ``requires(permission)`` or marked public (``opt={"public": True}``);
a new route that is neither fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from kotalive.auth.guards import permission_of
from kotalive.auth.principal import Principal
from kotalive.auth.roles import ALL_ROLES, CITY_ROLES, PLATFORM_ROLES
from kotalive.auth.sessions import COOKIE_NAME

SCHEMA_PREFIX = "/api/v1/schema"


def _routes(app: Any) -> list[tuple[str, str, Any]]:
    out = []
    for route in app.routes:
        if route.path.startswith(SCHEMA_PREFIX):
            continue  # Litestar's own OpenAPI pages
        for handler in route.route_handlers:
            for method in sorted(getattr(handler, "http_methods", ()) or ()):
                if method in ("HEAD", "OPTIONS"):
                    continue
                out.append((method, route.path, handler))
    return out


def _concrete(path: str) -> str:
    return re.sub(
        r"\{[^}:]+:int\}",
        "1",
        re.sub(r"\{[^}:]+(:str)?\}", "x", re.sub(r"\{[^}]+:path\}", "kotalive.css", path)),
    )


async def _ask(c: Any, method: str, path: str, headers: dict[str, str], handler: Any) -> Any:
    """The answer; a live stream (opt "stream") is asked for its first events only (``once``)."""
    if handler.opt.get("stream"):
        return await c.request(method, path + "?once=true", headers=headers)
    return await c.request(method, path, headers=headers, json={} if method != "GET" else None)


def test_every_route_is_guarded_or_public(app) -> None:
    unmarked = [
        f"{m} {p}" for m, p, h in _routes(app) if permission_of(h) is None and not h.opt.get("public")
    ]
    assert unmarked == [], "declare a permission with requires(...) or opt={'public': True}"


async def test_role_matrix(app, client_for, make_city) -> None:
    city = await make_city("matrix")
    sessions = app.state.auth.sessions
    table = app.state.permissions
    guarded = [(m, p, h, permission_of(h)) for m, p, h in _routes(app) if permission_of(h)]
    assert guarded, "no guarded routes found"
    failures: list[str] = []

    for role in ALL_ROLES:
        platform = role in PLATFORM_ROLES
        kind = "platform_staff" if platform else ("citizen" if role == "citizen" else "employee")
        principal = Principal(
            kind=kind,
            id=900_000 + ALL_ROLES.index(role),
            tenant_id=None if platform else city.id,
            name=f"matrix {role}",
            roles=frozenset({role}),
        )
        token = await sessions.create(principal)
        host = "platform.test" if platform else city.primary_host
        async with client_for(host) as c:
            c.cookies.set(COOKIE_NAME, token)
            csrf = (await c.get("/healthz")).cookies.get("kl_csrf") or (await c.get("/")).cookies.get(
                "kl_csrf"
            )
            headers = {"x-csrftoken": csrf or "", "accept": "application/json"}
            for method, path, _handler, perm in guarded:
                is_platform_route = perm.startswith("platform.")
                if is_platform_route != platform:
                    continue  # a platform login never reaches a city route and vice versa (tested elsewhere)
                r = await _ask(c, method, _concrete(path), headers, _handler)
                allowed = table.allows({role}, perm)
                if allowed and r.status_code in (401, 403):
                    failures.append(f"{role}: {method} {path} ({perm}) -> {r.status_code}, expected access")
                if not allowed and r.status_code != 403:
                    failures.append(f"{role}: {method} {path} ({perm}) -> {r.status_code}, expected 403")

    async with client_for(city.primary_host) as c:
        csrf = (await c.get("/")).cookies.get("kl_csrf") or ""
        for method, path, _handler, perm in guarded:
            if perm.startswith("platform."):
                continue
            r = await c.request(
                method,
                _concrete(path),
                headers={"x-csrftoken": csrf, "accept": "application/json"},
                json={} if method != "GET" else None,
            )
            if r.status_code != 401:
                failures.append(f"anonymous: {method} {path} -> {r.status_code}, expected 401")
    assert failures == []


@pytest.mark.parametrize("role", CITY_ROLES)
def test_every_city_role_holds_some_permission(app, role) -> None:
    assert any(role in holders for holders in app.state.permissions.holders.values())
