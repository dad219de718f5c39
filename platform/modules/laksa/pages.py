"""Laksa's pages (Bahasa Indonesia by default, ``?lang=en``), server-rendered, mobile first.

Citizens: /lapor (report: description with #hashtags, category and its questions, a point on the
map or an address, photos), /laporan-saya (my complaints), /laporan/{id} (one complaint: the
public's view, or the reporter's with their photos and their actions: confirm, reopen, rate;
others support it). The public: /peta (map with a list that works without scripts or tiles) and
/statistik. Staff: /staff/laksa (the inbox, the Live Room's triage queue with ``?queue=triage``)
and /staff/laksa/{id} with the action forms the state and the person's permissions allow.

Forms post with the CSRF token and answer with a redirect (303) when done, or the same page with
what went wrong next to the fields (422), or the reason above them when the complaint moved on
meanwhile (409). What a page shows of a complaint is decided by ``reads.complaint_view``.
Scripts (``/static/laksa/*.js``) only add to pages that work without them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get, post
from litestar.exceptions import ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.response import Redirect
from sqlalchemy import select

from kotalive.auth.guards import requires
from kotalive.auth.models import Employee
from kotalive.auth.principal import current_principal
from kotalive.context import current_tenant
from kotalive.db import tenant_session
from kotalive.i18n import translate
from kotalive.modules.laksa import configuration as config
from kotalive.modules.laksa import reads
from kotalive.modules.laksa.domain import (
    AGENCY_STATES,
    OPEN_STATES,
    PRIORITIES,
    STATES,
    TRANSITIONS,
    Conflict,
    Forbidden,
    InputErrors,
    LaksaConfig,
    LaksaError,
    NotFound,
    Problem,
    RateLimited,
)
from kotalive.modules.laksa.services import Actor, ComplaintService, NewComplaint, Upload
from kotalive.modules.laksa.web import (
    MAX_UPLOAD_BODY,
    actor,
    as_bool,
    as_int,
    as_int_list,
    problem_text,
    read_submission,
    refusal,
    required_actor,
)
from kotalive.tenants.city_models import Agency
from kotalive.web import city_only, page, request_language

PUBLIC = {"public": True}
STAFF_LOGIN = {"login": "/staff/login"}
MINE_PAGE = 50  # reads.mine's page size
MAP_LIST_LIMIT = 200  # the list under the public map; the map itself asks the API for more
PERIODS = {"30": 30, "90": 90, "365": 365}

# What a redirect may ask a page to say (``?pesan=...``): never free text from the URL.
NOTICES = {
    "terkirim": "laksa.page.notice.submitted",
    "didukung": "laksa.page.notice.supported",
    "sudah-didukung": "laksa.page.notice.already_supported",
    "ditutup": "laksa.page.notice.closed",
    "dibuka-kembali": "laksa.page.notice.reopened",
    "dinilai": "laksa.page.notice.rated",
    "diterima": "laksa.page.notice.acknowledged",
    "dimulai": "laksa.page.notice.started",
    "selesai": "laksa.page.notice.resolved",
    "dikembalikan": "laksa.page.notice.returned",
    "dipindahkan": "laksa.page.notice.transferred",
    "diteruskan": "laksa.page.notice.forwarded",
    "duplikat": "laksa.page.notice.duplicate",
    "ditugaskan": "laksa.page.notice.assigned",
    "dicatat": "laksa.page.notice.noted",
    "dibalas": "laksa.page.notice.replied",
    "diklasifikasi": "laksa.page.notice.classified",
}


# ---- shared ----------------------------------------------------------------------------------------


def _service(session: Any, request: Request) -> ComplaintService:
    return ComplaintService(session, redis=request.app.state.redis)


def _config() -> LaksaConfig:
    return LaksaConfig.of(current_tenant().module_config.get("laksa"))


def _errors(problems: list[Problem], lang: str) -> dict[str, list[str]]:
    """Texts by field; ``photos[2]`` goes with ``photos`` (one file input)."""
    out: dict[str, list[str]] = {}
    for p in problems:
        name = "photos" if p.field.startswith("photos[") else p.field
        out.setdefault(name, []).append(problem_text(p, lang))
    return out


def _text(fields: dict[str, Any], name: str, limit: int = 10_000) -> str:
    """A form value as text (the first one of a repeated field), bounded."""
    value = fields.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or isinstance(value, dict):
        return ""
    return str(value)[:limit]


def _notice(request: Request, lang: str) -> str | None:
    key = NOTICES.get(request.query_params.get("pesan", ""))
    return translate(key, lang) if key else None


def _render(request: Request, template: str, *, status: int = 200, **context: Any) -> Response[str]:
    lang = request_language(request)
    context.setdefault("notice", _notice(request, lang))
    context.setdefault("alert", None)
    context.setdefault("errors", {})
    context.setdefault("values", {})
    return page(request, f"laksa/{template}", status=status, **context)


def _not_found(request: Request, exc: NotFound | None = None) -> Response[str]:
    lang = request_language(request)
    message = (
        translate(f"laksa.not_found.{exc.what}", lang, id=exc.ident)
        if exc is not None
        else translate("laksa.page.not_found", lang)
    )
    return _render(request, "not_found.html", status=404, message=message)


def _category_name(category: Any, lang: str) -> str:
    return str((category.name_en if lang == "en" and category.name_en else None) or category.name)


def _allows(request: Request, permission: str) -> bool:
    principal = current_principal()
    return principal is not None and request.app.state.permissions.allows(principal.roles, permission)


def _refused(exc: LaksaError, lang: str) -> tuple[int, str, dict[str, str]]:
    """(status, the sentence to show, headers) of a refusal that is not about a field."""
    status, body, headers = refusal(exc, lang)
    return status, str(body.get("detail", "")), headers


async def _choices(session: Any, lang: str) -> dict[str, Any]:
    """What filter and form selects offer: categories (grouped), kecamatan, the city's bounds."""
    categories = await config.list_categories(session)
    index = await config.area_index(session)
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in categories:
        groups.setdefault(c.group_name or translate("laksa.page.category.other_group", lang), []).append(
            {
                "code": c.code,
                "name": _category_name(c, lang),
                "emergency": c.emergency,
                "attributes": sorted(c.attributes or [], key=lambda a: a.get("order", 0)),
            }
        )
    return {
        "category_groups": list(groups.items()),
        "categories": [item for _, items in groups.items() for item in items],
        "kecamatan": [{"code": a.code, "name": a.name} for a in index.kecamatan()],
        "bounds": index.bounds(),
    }


def _state_texts(lang: str) -> dict[str, str]:
    return {s: translate(f"laksa.state.{s}", lang) for s in STATES}


# ---- citizens: report ------------------------------------------------------------------------------


REPORT_SCRIPT_TEXTS = (
    "laksa.page.report.preview.empty",
    "laksa.page.report.preview.agency",
    "laksa.page.report.preview.triage",
    "laksa.page.report.preview.category",
    "laksa.page.report.preview.tags",
    "laksa.page.report.preview.no_tags",
    "laksa.page.report.preview.emergency",
    "laksa.page.report.preview.sla",
    "laksa.page.report.preview.kecamatan",
    "laksa.page.report.preview.failed",
    "laksa.page.report.nearby.title",
    "laksa.page.report.nearby.intro",
    "laksa.page.report.nearby.support",
    "laksa.page.report.nearby.open",
    "laksa.page.report.nearby.distance",
    "laksa.page.report.nearby.supporters",
    "laksa.page.report.nearby.no_summary",
    "laksa.page.report.map.tiles_failed",
    "laksa.page.report.map.point_set",
    "laksa.page.report.locate.busy",
    "laksa.page.report.locate.failed",
    "laksa.page.report.locate.unsupported",
    "laksa.page.report.photos.too_many",
    "laksa.page.report.sending",
)


async def _report_page(
    request: Request,
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    alert: str | None = None,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    lang = request_language(request)
    cfg = _config()
    async with tenant_session() as session:
        choices = await _choices(session, lang)
    response = _render(
        request,
        "report.html",
        status=status,
        values=values or {},
        errors=errors or {},
        alert=alert,
        idempotency_key=key or uuid.uuid4().hex,
        cfg=cfg,
        tile_url=cfg.tile_url,
        script_texts={
            **{k.rsplit("laksa.page.report.", 1)[-1]: translate(k, lang) for k in REPORT_SCRIPT_TEXTS},
            "states": _state_texts(lang),
            "priorities": {p: translate(f"laksa.priority.{p}", lang) for p in PRIORITIES},
        },
        **choices,
    )
    response.headers.update(headers or {})
    return response


@get(
    "/lapor",
    guards=[requires("laksa.complaint.submit")],
    summary="Report a problem (form)",
    include_in_schema=False,
)
async def report_form(request: Request) -> Response[str]:
    category = request.query_params.get("kategori") or ""
    return await _report_page(request, values={"category": category[:64]})


def _report_values(fields: dict[str, Any]) -> dict[str, Any]:
    """What the form sends back when it is shown again (never the photos: browsers cannot)."""
    attributes = fields.get("attributes") if isinstance(fields.get("attributes"), dict) else {}
    return {
        "description": _text(fields, "description", 8000),
        "category": _text(fields, "category", 64),
        "lat": _text(fields, "lat", 32),
        "lon": _text(fields, "lon", 32),
        "address": _text(fields, "address", 500),
        "kecamatan_code": _text(fields, "kecamatan_code", 32),
        "anonymous": as_bool(fields.get("anonymous", False)),
        "attributes": {str(k)[:64]: v for k, v in (attributes or {}).items()},
    }


def _attributes(raw: Any) -> dict[str, Any]:
    """Without scripts every category's questions are on the page; a code two categories share
    arrives twice, and only the answered one counts."""
    out: dict[str, Any] = {}
    for code, value in (raw if isinstance(raw, dict) else {}).items():
        if isinstance(value, list):
            answered = [v for v in value if v not in ("", None)]
            value = answered[0] if len(answered) == 1 else answered
        out[str(code)] = value
    return out


@post(
    "/lapor",
    guards=[requires("laksa.complaint.submit")],
    summary="Report a problem (form post, multipart with photos)",
    include_in_schema=False,
    request_max_body_size=MAX_UPLOAD_BODY,
    status_code=303,
)
async def report_submit(request: Request) -> Response[Any]:
    who = required_actor()
    lang = request_language(request)
    fields: dict[str, Any] = {}
    uploads: list[Upload] = []
    key = None
    try:
        fields, uploads = await read_submission(request)
        key = _text(fields, "idempotency_key", 200) or None
        new = NewComplaint(
            description=_text(fields, "description", 100_000),
            category_code=_text(fields, "category", 200) or None,
            lat=_text(fields, "lat", 64) or None,
            lon=_text(fields, "lon", 64) or None,
            address=_text(fields, "address", 1000) or None,
            kecamatan_code=_text(fields, "kecamatan_code", 64) or None,
            anonymous=as_bool(fields.get("anonymous", False)),
            photos=uploads,
            attributes=_attributes(fields.get("attributes")),
            idempotency_key=key,
            source="web",
        )
        async with tenant_session() as session:
            done = await _service(session, request).submit(who, new)
    except InputErrors as exc:
        errors = _errors(exc.problems, lang)
        alert = translate("laksa.error.form", lang)
        if uploads and "photos" not in errors:
            errors["photos"] = [translate("laksa.page.report.photos.again", lang)]
        return await _report_page(
            request, status=422, values=_report_values(fields), errors=errors, alert=alert, key=key
        )
    except (Conflict, RateLimited, Forbidden) as exc:
        status, detail, headers = _refused(exc, lang)
        # A key reused with other content gets a fresh one: the next try is a new complaint.
        return await _report_page(
            request,
            status=status,
            values=_report_values(fields),
            alert=detail,
            key=None if isinstance(exc, Conflict) else key,
            headers=headers,
        )
    return Redirect(f"/laporan/{done.complaint.id}?pesan=terkirim", status_code=303)


# ---- citizens: their complaints ------------------------------------------------------------------


@get(
    "/laporan-saya",
    guards=[requires("laksa.complaint.submit")],
    summary="My complaints",
    include_in_schema=False,
)
async def my_complaints(request: Request) -> Response[str]:
    who = required_actor()
    before_raw = request.query_params.get("sebelum")
    before = int(before_raw) if before_raw and before_raw.isdigit() else None
    async with tenant_session() as session:
        rows = await reads.mine(session, who.id or 0, before=before, limit=MINE_PAGE)
    more = rows[-1]["id"] if len(rows) == MINE_PAGE else None
    return _render(request, "mine.html", rows=rows, before=before, more=more)


OWNER_ACTIONS = ("close", "reopen", "rate", "support")


async def _complaint_page(
    request: Request,
    complaint_id: int,
    *,
    status: int = 200,
    action: str | None = None,
    errors: dict[str, list[str]] | None = None,
    alert: str | None = None,
    values: dict[str, Any] | None = None,
) -> Response[Any]:
    who = actor()
    staff_view = False
    async with tenant_session() as session:
        try:
            view = await reads.complaint_view(session, who, complaint_id)
            if view.audience == "staff":
                # Staff see here what the public sees, and go to their own page for the rest.
                staff_view = True
                try:
                    view = await reads.complaint_view(session, None, complaint_id)
                except NotFound:
                    return Redirect(f"/staff/laksa/{complaint_id}", status_code=303)
        except NotFound as exc:
            return _not_found(request, exc)
    cfg = _config()
    now = dt.datetime.now(dt.UTC)
    owner = view.audience == "owner"
    done = view.state in ("resolved", "closed")
    reopen_until = None
    if view.resolved_at is not None:
        reopen_until = view.resolved_at + dt.timedelta(days=cfg.reopen_within_days)
    principal = current_principal()
    citizen = principal is not None and principal.kind == "citizen"
    return _render(
        request,
        "complaint.html",
        status=status,
        view=view,
        owner=owner,
        staff_view=staff_view,
        can_close=owner and view.state == "resolved",
        can_reopen=owner and done and (reopen_until is None or now <= reopen_until),
        reopen_until=reopen_until,
        can_rate=owner and done,
        can_support=citizen and not owner and view.state in OPEN_STATES and not view.supported_by_me,
        may_log_in_to_support=principal is None and view.state in OPEN_STATES,
        action=action,
        errors=errors or {},
        alert=alert,
        values=values or {},
        cfg=cfg,
        tile_url=cfg.tile_url,
    )


@get(
    "/laporan/{complaint_id:int}",
    summary="One complaint (the public's view, or the reporter's)",
    include_in_schema=False,
    opt=PUBLIC,
)
async def complaint_page(complaint_id: int, request: Request) -> Response[Any]:
    return await _complaint_page(request, complaint_id)


async def _owner_step(
    request: Request,
    complaint_id: int,
    action: str,
    run: Callable[[ComplaintService, Actor, dict[str, Any]], Awaitable[str]],
) -> Response[Any]:
    """Run a citizen's action and redirect to the complaint, or show the page with why not."""
    who = required_actor()
    lang = request_language(request)
    fields: dict[str, Any] = {}
    try:
        fields, _ = await read_submission(request)
        async with tenant_session() as session:
            notice = await run(_service(session, request), who, fields)
    except NotFound as exc:
        return _not_found(request, exc)
    except InputErrors as exc:
        values = {k: _text(fields, k, 4000) for k in ("reason", "rating", "comment")}
        return await _complaint_page(
            request,
            complaint_id,
            status=422,
            action=action,
            errors=_errors(exc.problems, lang),
            alert=translate("laksa.error.form", lang),
            values=values,
        )
    except LaksaError as exc:
        status, detail, _ = _refused(exc, lang)
        return await _complaint_page(request, complaint_id, status=status, action=action, alert=detail)
    return Redirect(f"/laporan/{complaint_id}?pesan={notice}", status_code=303)


@post(
    "/laporan/{complaint_id:int}/tutup",
    guards=[requires("laksa.complaint.submit")],
    summary="Confirm the result: close my resolved complaint (form)",
    include_in_schema=False,
    status_code=303,
)
async def close_submit(complaint_id: int, request: Request) -> Response[Any]:
    async def run(service: ComplaintService, who: Actor, fields: dict[str, Any]) -> str:
        await service.close(who, complaint_id)
        return "ditutup"

    return await _owner_step(request, complaint_id, "close", run)


@post(
    "/laporan/{complaint_id:int}/buka-kembali",
    guards=[requires("laksa.complaint.submit")],
    summary="Not fixed: reopen my complaint with the reason (form)",
    include_in_schema=False,
    status_code=303,
)
async def reopen_submit(complaint_id: int, request: Request) -> Response[Any]:
    async def run(service: ComplaintService, who: Actor, fields: dict[str, Any]) -> str:
        await service.reopen(who, complaint_id, _text(fields, "reason", 10_000))
        return "dibuka-kembali"

    return await _owner_step(request, complaint_id, "reopen", run)


@post(
    "/laporan/{complaint_id:int}/nilai",
    guards=[requires("laksa.complaint.submit")],
    summary="Rate the result, 1 to 5, with a comment (form)",
    include_in_schema=False,
    status_code=303,
)
async def rate_submit(complaint_id: int, request: Request) -> Response[Any]:
    async def run(service: ComplaintService, who: Actor, fields: dict[str, Any]) -> str:
        rating = as_int(_text(fields, "rating", 16), "rating")
        if rating is None:
            raise InputErrors([Problem("rating", "invalid")])
        await service.rate(who, complaint_id, rating, _text(fields, "comment", 10_000) or None)
        return "dinilai"

    return await _owner_step(request, complaint_id, "rate", run)


@post(
    "/laporan/{complaint_id:int}/dukung",
    guards=[requires("laksa.complaint.submit")],
    summary="I have this problem too: support an open complaint (form)",
    include_in_schema=False,
    status_code=303,
)
async def support_submit(complaint_id: int, request: Request) -> Response[Any]:
    async def run(service: ComplaintService, who: Actor, fields: dict[str, Any]) -> str:
        _, added = await service.support(who, complaint_id)
        return "didukung" if added else "sudah-didukung"

    return await _owner_step(request, complaint_id, "support", run)


# ---- the public: map and statistics ----------------------------------------------------------------


@get("/peta", summary="The public map of complaints", include_in_schema=False, opt=PUBLIC)
async def public_map(request: Request) -> Response[str]:
    lang = request_language(request)
    q = request.query_params
    filters = {
        "status": (q.get("status") or "")[:16],
        "category": (q.get("kategori") or "")[:64],
        "kecamatan": (q.get("kecamatan") or "")[:32],
    }
    items: list[dict[str, Any]] = []
    alert, status, errors = None, 200, {}
    async with tenant_session() as session:
        choices = await _choices(session, lang)
        try:
            items = await reads.public_complaints(
                session,
                reads.PublicQuery(
                    status=filters["status"] or None,
                    category_code=filters["category"] or None,
                    kecamatan_code=filters["kecamatan"] or None,
                    limit=MAP_LIST_LIMIT,
                ),
            )
        except InputErrors as exc:
            errors = _errors(exc.problems, lang)
            alert, status = translate("laksa.error.form", lang), 422
    api_query = urlencode({k: v for k, v in filters.items() if v})
    cfg = _config()
    return _render(
        request,
        "map.html",
        status=status,
        items=items,
        filters=filters,
        errors=errors,
        alert=alert,
        source="/api/v1/laksa/public/complaints" + (f"?{api_query}" if api_query else ""),
        exports=api_query,
        tile_url=cfg.tile_url,
        list_limit=MAP_LIST_LIMIT,
        script_texts={
            "states": _state_texts(lang),
            "tiles_failed": translate("laksa.page.map.tiles_failed", lang),
            "blurred": translate("laksa.page.map.blurred", lang),
            "open": translate("laksa.page.map.open_complaint", lang),
            "failed": translate("laksa.page.map.failed", lang),
            "count": translate("laksa.page.map.count", lang),
        },
        **choices,
    )


@get(
    "/statistik", summary="Complaint statistics per agency and kecamatan", include_in_schema=False, opt=PUBLIC
)
async def statistics(request: Request) -> Response[str]:
    period = request.query_params.get("periode") or ""
    days = PERIODS.get(period)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days) if days else None
    async with tenant_session() as session:
        by_agency = await reads.statistics_by(session, "agency", since=since)
        by_kecamatan = await reads.statistics_by(session, "kecamatan", since=since)
    exports = urlencode({"since": since.date().isoformat()}) if since else ""
    return _render(
        request,
        "statistics.html",
        by_agency=by_agency,
        by_kecamatan=by_kecamatan,
        period=period if days else "",
        periods=list(PERIODS),
        exports=exports,
    )


# ---- staff: the inbox ------------------------------------------------------------------------------

INBOX_FILTERS = (
    "agency",
    "state",
    "priority",
    "kecamatan",
    "category",
    "sla",
    "assignee",
    "emergency",
    "sort",
)


@get(
    "/staff/laksa",
    guards=[requires("laksa.complaint.read")],
    summary="The complaints inbox (and the triage queue)",
    include_in_schema=False,
    opt=STAFF_LOGIN,
)
async def inbox_page(request: Request) -> Response[str]:
    who = required_actor()
    lang = request_language(request)
    q = request.query_params
    may_triage = _allows(request, "laksa.complaint.triage")
    queue = "triage" if q.get("queue") == "triage" and may_triage else None
    filters = {name: (q.get(name) or "")[:64] for name in INBOX_FILTERS}
    if filters["assignee"] not in ("", "me", "none"):
        filters["assignee"] = ""
    errors: dict[str, list[str]] = {}
    rows: list[reads.InboxRow] = []
    next_cursor = None
    status, alert = 200, None
    async with tenant_session() as session:
        choices = await _choices(session, lang)
        agencies = list(
            await session.scalars(select(Agency).where(Agency.active).order_by(Agency.abbreviation))
        )
        if not who.whole_city:
            agencies = [a for a in agencies if a.id in who.agency_ids]
        try:
            query = reads.InboxQuery(
                agency_id=as_int(filters["agency"], "agency_id"),
                states=[filters["state"]] if filters["state"] and not queue else (),
                priority=filters["priority"] or None,
                kecamatan_code=filters["kecamatan"] or None,
                category_code=filters["category"] or None,
                sla=filters["sla"] or None,
                assignee=filters["assignee"] or None,
                emergency=True if filters["emergency"] else None,
                queue=queue,
                sort=filters["sort"] or "newest",
                cursor=q.get("cursor") or None,
                limit=25,
            )
            found = await reads.inbox(session, who, query)
            rows, next_cursor = found.rows, found.next_cursor
        except InputErrors as exc:
            errors = _errors(exc.problems, lang)
            status, alert = 422, translate("laksa.error.form", lang)
        except NotFound as exc:
            status, alert = 404, translate(f"laksa.not_found.{exc.what}", lang, id=exc.ident)
    kept = {k: v for k, v in filters.items() if v}
    if queue:
        kept["queue"] = queue
    return _render(
        request,
        "inbox.html",
        status=status,
        alert=alert,
        errors=errors,
        rows=rows,
        filters=filters,
        queue=queue,
        may_triage=may_triage,
        agencies=agencies,
        show_agency_filter=who.whole_city or len(agencies) > 1,
        states=STATES,
        priorities=PRIORITIES,
        sla_values=reads.SLA_FILTERS,
        sorts=reads.SORTS,
        paged=bool(q.get("cursor")),
        first_page="/staff/laksa" + (f"?{urlencode(kept)}" if kept else ""),
        next_page=f"/staff/laksa?{urlencode({**kept, 'cursor': next_cursor})}" if next_cursor else None,
        **choices,
    )


# ---- staff: one complaint and its actions -------------------------------------------------------------


def _staff_actions(request: Request, who: Actor, view: reads.ComplaintView) -> dict[str, bool]:
    """Which action forms the page offers: what the state allows and the person's permissions
    allow (the services check again when the form is sent)."""
    holds = view.agency_id is not None and view.agency_id in who.agency_ids
    in_charge = who.whole_city or holds

    def can(action: str) -> bool:
        return view.state in TRANSITIONS[action].from_states

    work = _allows(request, "laksa.complaint.work") and holds
    return {
        "acknowledge": work and can("acknowledge"),
        "start": work and can("start"),
        "resolve": work and can("resolve"),
        "return": work and can("return"),
        "transfer": _allows(request, "laksa.complaint.transfer") and in_charge and can("transfer"),
        "forward": _allows(request, "laksa.complaint.triage") and can("forward"),
        "duplicate": _allows(request, "laksa.complaint.duplicate") and in_charge and can("mark_duplicate"),
        "assign": _allows(request, "laksa.complaint.assign") and in_charge and view.state in AGENCY_STATES,
        "assign_others": who.whole_city or "agency_supervisor" in who.roles,
        "note": _allows(request, "laksa.complaint.note"),
        "reply": _allows(request, "laksa.complaint.note") and holds,
        "classify": _allows(request, "laksa.complaint.classify") and in_charge and view.state in OPEN_STATES,
    }


async def _staff_page(
    request: Request,
    complaint_id: int,
    *,
    status: int = 200,
    action: str | None = None,
    errors: dict[str, list[str]] | None = None,
    alert: str | None = None,
    values: dict[str, Any] | None = None,
) -> Response[str]:
    who = required_actor()
    lang = request_language(request)
    async with tenant_session() as session:
        try:
            view = await reads.complaint_view(session, who, complaint_id)
        except NotFound as exc:
            return _not_found(request, exc)
        if view.audience != "staff":
            return _not_found(request, NotFound("complaint", complaint_id))
        actions = _staff_actions(request, who, view)
        agencies = list(await session.scalars(select(Agency).where(Agency.active).order_by(Agency.name)))
        employees: list[Employee] = []
        if actions["assign"] and view.agency_id is not None:
            employees = list(
                await session.scalars(
                    select(Employee)
                    .where(Employee.agency_id == view.agency_id, Employee.active)
                    .order_by(Employee.name)
                    .limit(500)
                )
            )
        templates = (
            await config.templates_for(session, None if who.whole_city else sorted(who.agency_ids))
            if actions["note"]
            else []
        )
        choices = await _choices(session, lang)
    agency_names = {a.id: a.name for a in agencies}
    return _render(
        request,
        "staff_complaint.html",
        status=status,
        view=view,
        who=who,
        actions=actions,
        action=action,
        errors=errors or {},
        alert=alert,
        values=values or {},
        agencies=agencies,
        agency_names=agency_names,
        employees=employees,
        templates=templates,
        priorities=PRIORITIES,
        tile_url=_config().tile_url,
        **choices,
    )


@get(
    "/staff/laksa/{complaint_id:int}",
    guards=[requires("laksa.complaint.read")],
    summary="One complaint for staff, with the actions they may take",
    include_in_schema=False,
    opt=STAFF_LOGIN,
)
async def staff_complaint(complaint_id: int, request: Request) -> Response[str]:
    return await _staff_page(request, complaint_id)


StaffRun = Callable[[Any, ComplaintService, Actor, int, dict[str, Any], list[Upload]], Awaitable[str]]


def _staff_step(path: str, permission: str, summary: str, run: StaffRun, *, uploads: bool = False) -> Any:
    """A POST /staff/laksa/{id}/<path> form: run the step, then back to the complaint (303), or the
    complaint again with the form's errors (422) or the reason it no longer applies (409)."""

    async def handler(complaint_id: int, request: Request) -> Response[Any]:
        who = required_actor()
        lang = request_language(request)
        fields: dict[str, Any] = {}
        try:
            fields, files = await read_submission(request)
            async with tenant_session() as session:
                notice = await run(session, _service(session, request), who, complaint_id, fields, files)
        except NotFound as exc:
            return _not_found(request, exc)
        except InputErrors as exc:
            return await _staff_page(
                request,
                complaint_id,
                status=422,
                action=path,
                errors=_errors(exc.problems, lang),
                alert=translate("laksa.error.form", lang),
                values={k: _text(fields, k, 4000) for k in fields if k not in ("_csrf_token", "attributes")},
            )
        except LaksaError as exc:
            status, detail, _ = _refused(exc, lang)
            return await _staff_page(request, complaint_id, status=status, action=path, alert=detail)
        return Redirect(f"/staff/laksa/{complaint_id}?pesan={notice}", status_code=303)

    handler.__name__ = f"staff_{path}"
    options: dict[str, Any] = {
        "guards": [requires(permission)],
        "summary": summary,
        "include_in_schema": False,
        "status_code": 303,
        "opt": STAFF_LOGIN,
        "name": f"laksa-staff-{path}",
    }
    if uploads:
        options["request_max_body_size"] = MAX_UPLOAD_BODY
    return post(f"/staff/laksa/{{complaint_id:int}}/{path}", **options)(handler)


def _optional(fields: dict[str, Any], name: str) -> str | None:
    return _text(fields, name, 10_000) or None


async def _forward(session: Any, s: ComplaintService, w: Actor, i: int, f: dict[str, Any], u: Any) -> str:
    await s.forward(
        w,
        i,
        as_int(_text(f, "agency_id", 32), "agency_id"),
        copy_agency_ids=as_int_list(f.get("copy_agency_ids"), "copy_agency_ids"),
        note=_optional(f, "note"),
    )
    return "diteruskan"


async def _acknowledge(session: Any, s: ComplaintService, w: Actor, i: int, f: dict[str, Any], u: Any) -> str:
    await s.acknowledge(w, i, _optional(f, "note"))
    return "diterima"


async def _start(session: Any, s: ComplaintService, w: Actor, i: int, f: dict[str, Any], u: Any) -> str:
    await s.start(w, i, _optional(f, "note"))
    return "dimulai"


async def _resolve(session: Any, s: ComplaintService, w: Actor, i: int, f: dict[str, Any], u: Any) -> str:
    await s.resolve(w, i, _optional(f, "note"), u)
    return "selesai"


async def _return(session: Any, s: ComplaintService, w: Actor, i: int, f: dict[str, Any], u: Any) -> str:
    await s.return_to_triage(w, i, _optional(f, "reason"))
    return "dikembalikan"


async def _transfer(session: Any, s: ComplaintService, w: Actor, i: int, f: dict[str, Any], u: Any) -> str:
    await s.transfer(w, i, as_int(_text(f, "agency_id", 32), "agency_id"), _optional(f, "reason"))
    return "dipindahkan"


async def _duplicate(session: Any, s: ComplaintService, w: Actor, i: int, f: dict[str, Any], u: Any) -> str:
    original = as_int(_text(f, "duplicate_of", 32).lstrip("#"), "duplicate_of")
    await s.mark_duplicate(w, i, original, _optional(f, "note"))
    return "duplikat"


async def _assign(session: Any, s: ComplaintService, w: Actor, i: int, f: dict[str, Any], u: Any) -> str:
    choice = _text(f, "employee_id", 32)
    employee_id = w.id if choice == "me" else as_int(choice, "employee_id")
    await s.assign(w, i, employee_id)
    return "ditugaskan"


async def _note(session: Any, s: ComplaintService, w: Actor, i: int, f: dict[str, Any], u: Any) -> str:
    public = as_bool(f.get("public", False))
    body = _optional(f, "body")
    chosen = _text(f, "template_id", 32)
    template_id = int(chosen) if chosen.isdigit() else None
    if body is None and template_id is not None:
        # Without scripts the template picker cannot fill the text box: an empty box with a
        # template chosen sends the template as it is.
        allowed = await config.templates_for(session, None if w.whole_city else sorted(w.agency_ids))
        body = next((t.body for t in allowed if t.id == template_id), None)
    await s.add_note(w, i, body, public=public)
    return "dibalas" if public else "dicatat"


async def _classify(session: Any, s: ComplaintService, w: Actor, i: int, f: dict[str, Any], u: Any) -> str:
    emergency = _text(f, "emergency", 8)
    await s.classify(
        w,
        i,
        category_code=_optional(f, "category"),
        priority=_optional(f, "priority"),
        emergency=as_bool(emergency) if emergency else None,
    )
    return "diklasifikasi"


STAFF_STEPS = [
    _staff_step("acknowledge", "laksa.complaint.work", "Acknowledge (form)", _acknowledge),
    _staff_step("start", "laksa.complaint.work", "Start work (form)", _start),
    _staff_step(
        "resolve", "laksa.complaint.work", "Resolve with a note and photos (form)", _resolve, uploads=True
    ),
    _staff_step("return", "laksa.complaint.work", "Not our authority: back to triage (form)", _return),
    _staff_step("transfer", "laksa.complaint.transfer", "Transfer to another agency (form)", _transfer),
    _staff_step("forward", "laksa.complaint.triage", "Forward from triage (form)", _forward),
    _staff_step("duplicate", "laksa.complaint.duplicate", "Mark as a duplicate (form)", _duplicate),
    _staff_step("assign", "laksa.complaint.assign", "Assign (form)", _assign),
    _staff_step("note", "laksa.complaint.note", "Internal note or public reply (form)", _note),
    _staff_step(
        "classify", "laksa.complaint.classify", "Correct category, priority, emergency (form)", _classify
    ),
]


# ---- what goes wrong before a handler runs ---------------------------------------------------------


def _too_large(request: Request, exc: RequestEntityTooLarge) -> Response[Any]:
    lang = request_language(request)
    reason = translate("laksa.error.photos.body_too_large", lang, mb=MAX_UPLOAD_BODY // 1024 // 1024)
    return _render(request, "not_found.html", status=413, message=reason, title_key="laksa.page.too_large")


def _bad_request(request: Request, exc: ValidationException) -> Response[Any]:
    lang = request_language(request)
    return _render(
        request,
        "not_found.html",
        status=400,
        message=translate("laksa.page.bad_request", lang),
        title_key="laksa.page.bad_request.title",
    )


pages = Router(
    path="/",
    route_handlers=[
        report_form,
        report_submit,
        my_complaints,
        complaint_page,
        close_submit,
        reopen_submit,
        rate_submit,
        support_submit,
        public_map,
        statistics,
        inbox_page,
        staff_complaint,
        *STAFF_STEPS,
    ],
    guards=[city_only],
    exception_handlers={RequestEntityTooLarge: _too_large, ValidationException: _bad_request},
)

route_handlers: list[Any] = [pages]
