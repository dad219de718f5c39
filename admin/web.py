"""What the admin's handlers share: rendering an admin page, reading a form, redirecting with a
notice, and writing the audit row of a change.

An admin page gets the platform's page context (language, city, principal, CSRF token) plus
``errors`` (field -> messages, shown next to the field by ``admin/forms.html``), ``form`` (the
values sent, so a refused form keeps what was typed) and ``notice`` (a flash text: the key of a
text in the catalogues, passed along a redirect as ``?notice=``; anything else is ignored).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from kotalive.auth import audit as _audit
from kotalive.db import TenantSession
from kotalive.i18n.catalogues import CATALOGUES
from kotalive.web import client_ip, page, request_language

MAX_FIELD = 20_000  # a boundary GeoJSON or a module's config fits; anything longer is cut
NOTICE_PREFIX = "admin."


class FormErrors(dict[str, list[str]]):
    """field -> messages; ``add`` keeps the first message of a field first."""

    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def notice_of(request: Request) -> str | None:
    key = request.query_params.get("notice")
    if key and key.startswith(NOTICE_PREFIX) and key in CATALOGUES["id"]:
        return key
    return None


def admin_page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    errors: Mapping[str, list[str]] | None = None,
    form: Mapping[str, Any] | None = None,
    **context: Any,
) -> Response[str]:
    """An admin page: the platform's page context plus errors, the form's values and a notice."""
    return page(
        request,
        template,
        status=status,
        errors=dict(errors or {}),
        form=dict(form or {}),
        notice=notice_of(request),
        path=request.url.path,
        **context,
    )


def lang_of(request: Request) -> str:
    return request_language(request)


async def form_data(request: Request) -> dict[str, str]:
    """The form's fields as stripped strings (the last value of a repeated field; files ignored).
    A JSON body (an API client, the role-matrix walk) is read the same way."""
    content_type = request.headers.get("content-type", "")
    raw: dict[str, Any]
    if content_type.startswith("application/json"):
        try:
            body = await request.json()
        except Exception:
            body = None
        raw = body if isinstance(body, dict) else {}
    else:
        form = await request.form()
        raw = {k: v for k, v in form.multi_items()}
    out: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, bool):
            out[key] = "on" if value else ""
        elif isinstance(value, str | int | float):
            out[key] = str(value).strip()[:MAX_FIELD]
    return out


async def form_lists(request: Request, *names: str) -> dict[str, list[str]]:
    """Every value of the repeated fields ``names`` (check boxes, several rows)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        return {n: [] for n in names}
    form = await request.form()
    return {
        n: [v.strip()[:MAX_FIELD] for k, v in form.multi_items() if k == n and isinstance(v, str)]
        for n in names
    }


def redirect(path: str, notice: str | None = None, **query: str) -> Response[Any]:
    """303 to ``path`` (a same-site path), carrying a notice key and query values."""
    params = {**query, **({"notice": notice} if notice else {})}
    return Redirect(path + ("?" + urlencode(params) if params else ""), status_code=303)


def audit(
    session: AsyncSession,
    request: Request,
    action: str,
    *,
    tenant_id: int | None = None,
    target_kind: str | None = None,
    target_id: object = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """The audit row of a change, in the caller's transaction: the city's log on a city session,
    the platform's log otherwise (``tenant_id``: the city a platform change concerns)."""
    ip = client_ip(request)
    if isinstance(session, TenantSession):
        _audit.record(session, action, target_kind=target_kind, target_id=target_id, detail=detail, ip=ip)
    else:
        _audit.record_platform(
            session,
            action,
            tenant_id=tenant_id,
            target_kind=target_kind,
            target_id=target_id,
            detail=detail,
            ip=ip,
        )
