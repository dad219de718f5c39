"""Guards for route handlers: ``requires("permission.name")`` on a handler or router.

Anonymous: 401 (a page redirects to the login page with a safe ``next``); signed in without the
permission: 403. Every route that is not public declares its permission, and the role-matrix
test walks them all.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from kotalive.auth.principal import current_principal
from kotalive.auth.roles import PermissionTable

PERMISSION_OPT = "permission"
PUBLIC_OPT = "public"


def requires(permission: str) -> Any:
    async def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        principal = current_principal()
        if principal is None:
            raise NotAuthorizedException(detail="log in first")
        table: PermissionTable = connection.app.state.permissions
        if not table.allows(principal.roles, permission):
            raise PermissionDeniedException(detail=f"your role does not include {permission}")

    guard.__name__ = f"requires_{permission.replace('.', '_')}"
    guard.kotalive_permission = permission  # type: ignore[attr-defined]
    return guard


def permission_of(handler: BaseRouteHandler) -> str | None:
    """The permission a handler requires, from any layer (router or handler)."""
    for layer in handler.ownership_layers:
        for guard in layer.guards or ():
            perm = getattr(guard, "kotalive_permission", None)
            if perm:
                return str(perm)
    return None


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site relative paths: no scheme, no host, no protocol-relative '//' or '\\'."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(c in target for c in ("\r", "\n", "\\")) or ":" in target.split("?", 1)[0]:
        return default
    return target
