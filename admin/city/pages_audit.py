"""The city's audit log: filters (action or its prefix, who, when), keyset paging, and the CSV of
the same filter (the core's /api/v1/audit/export.csv, which audits the export itself)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar import Request, Response, get

from kotalive.admin.city.common import city_page, parse_int
from kotalive.admin.web import FormErrors, lang_of
from kotalive.auth import access
from kotalive.context import current_tenant
from kotalive.db import tenant_session
from kotalive.i18n import translate

PAGE_SIZE = 50
ACTOR_KINDS = ("employee", "citizen", "platform_staff", "system", "anonymous")


def _day(
    value: str | None, field: str, errors: FormErrors, lang: str, *, end: bool = False
) -> dt.datetime | None:
    """A day of the city's calendar as the moment it starts (``end``: the next day's start)."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        errors.add(field, translate("admin.city.error.audit.day", lang))
        return None
    if end:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(current_tenant().timezone))


@get("/audit", summary="The audit log with filters")
async def audit_page(request: Request) -> Response[Any]:
    lang = lang_of(request)
    q = request.query_params
    errors = FormErrors()
    action = (q.get("action") or "").strip()[:64] or None
    actor_kind = q.get("actor_kind") or None
    if actor_kind not in (None, *ACTOR_KINDS):
        errors.add("actor_kind", translate("admin.city.error.audit.actor_kind", lang))
        actor_kind = None
    since = _day(q.get("since"), "since", errors, lang)
    until = _day(q.get("until"), "until", errors, lang, end=True)
    before = parse_int(q.get("before"))
    before_id = before if isinstance(before, int) else None
    flt = access.AuditFilter(action, actor_kind, None, since, until, before_id)
    async with tenant_session() as session:
        rows = await access.audit_page(session, flt, PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    kept = {k: v for k, v in (("action", action), ("actor_kind", actor_kind)) if v}
    export = {
        **kept,
        **({"since": since.isoformat()} if since else {}),
        **({"until": until.isoformat()} if until else {}),
    }
    form = {k: q.get(k) or "" for k in ("action", "actor_kind", "since", "until")}
    next_query = urlencode({**form, "before": rows[-1].id}) if more and rows else None
    return city_page(
        request,
        "admin/city/audit.html",
        "audit",
        status=422 if errors else 200,
        errors=errors,
        form=form,
        rows=rows,
        actor_kinds=ACTOR_KINDS,
        next_query=next_query,
        export_url="/api/v1/audit/export.csv" + ("?" + urlencode(export) if export else ""),
    )


route_handlers = [audit_page]
