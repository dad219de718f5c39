"""Laksa JSON API under /api/v1/laksa (thin: parse, call a service, shape the answer).

Citizens submit (multipart with photos, or JSON), follow, support, confirm, reopen and rate;
agency staff work their inbox; the Live Room forwards from triage; the city admin configures;
anyone sees categories, rules, the routing preview, nearby complaints and the public map and
statistics. Refusals answer 400/422 with ``errors: [{field, reason, code}]``, 404 for what is not
this reader's to see (another city's id included), 409 for a state that forbids the action.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, delete, get, post, put
from litestar.exceptions import ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from kotalive.auth import audit
from kotalive.auth.guards import requires
from kotalive.context import current_tenant
from kotalive.db import tenant_session
from kotalive.modules.laksa import configuration as config
from kotalive.modules.laksa import reads
from kotalive.modules.laksa.domain import (
    InputErrors,
    LaksaError,
    Problem,
    extract_hashtags,
    route,
)
from kotalive.modules.laksa.schemas import (
    CategoryOut,
    InboxOut,
    RuleOut,
    StatOut,
    category_out,
    complaint_out,
    inbox_out,
    rule_out,
    stat_out,
)
from kotalive.modules.laksa.services import Actor, ComplaintService, NewComplaint
from kotalive.modules.laksa.web import (
    MAX_UPLOAD_BODY,
    actor,
    api_refusal,
    as_bool,
    as_int,
    as_int_list,
    city_time,
    read_submission,
    required_actor,
    shape_error,
    too_large,
)
from kotalive.web import NO_STORE, city_only, client_ip

PUBLIC = {"public": True}


def _service(session: Any, request: Request) -> ComplaintService:
    return ComplaintService(session, redis=request.app.state.redis)


async def _complaint_answer(
    session: Any, who: Actor | None, complaint_id: int, status: int = 200
) -> Response[Any]:
    view = await reads.complaint_view(session, who, complaint_id)
    return Response(complaint_out(view), status_code=status, headers=NO_STORE)


# ---- public: what exists, where a complaint would go ------------------------------------------


@get("/categories", summary="The city's complaint categories (Open311 services)", opt=PUBLIC)
async def list_categories() -> list[CategoryOut]:
    async with tenant_session() as session:
        return [category_out(c) for c in await config.list_categories(session)]


@get(
    "/rules",
    summary="Hashtag routing rules of this city (public: citizens see where a tag goes)",
    opt=PUBLIC,
)
async def list_rules() -> list[RuleOut]:
    async with tenant_session() as session:
        return [rule_out(r) for r in await config.list_rules(session)]


class PreviewIn(msgspec.Struct, forbid_unknown_fields=True):
    description: str
    category: str | None = None
    lat: float | None = None
    lon: float | None = None
    kecamatan_code: str | None = None


@post(
    "/routing/preview",
    summary="Which rule a complaint text would match, and why (nothing is stored)",
    status_code=200,
    # It changes nothing, so there is nothing to forge: any page or app may ask without a token.
    opt={**PUBLIC, "exclude_from_csrf": True},
)
async def routing_preview(data: JSONBody[PreviewIn], request: Request) -> Response[Any]:
    if len(data.description) > 4000:
        return api_refusal(
            request, InputErrors([Problem("description", "too_long", max=4000, length=len(data.description))])
        )
    async with tenant_session() as session:
        categories = await config.category_views(session)
        category = categories.get(data.category) if data.category else None
        if data.category and category is None:
            return api_refusal(
                request, InputErrors([Problem("category", "unknown", code=data.category[:64])])
            )
        kecamatan_code, kecamatan = data.kecamatan_code, None
        if data.lat is not None and data.lon is not None:
            located = (await config.area_index(session)).locate(data.lat, data.lon)
            kecamatan_code, kecamatan = located.kecamatan_code, located.kecamatan
        tags = extract_hashtags(data.description)
        decision = route(tags, kecamatan_code, await config.rule_views(session), category, categories)
        agency = None
        if decision.agency_id is not None:
            from kotalive.tenants.city_models import Agency

            row = await session.get(Agency, decision.agency_id)
            agency = {"id": row.id, "name": row.name, "abbreviation": row.abbreviation} if row else None
    return Response(
        {
            "hashtags": tags,
            "kecamatan": kecamatan,
            "kecamatan_code": kecamatan_code,
            "agency": agency,
            "priority": decision.priority,
            "emergency": decision.emergency,
            "sla_hours": decision.sla_hours,
            **decision.explanation(),
        }
    )


@get("/nearby", summary="Open complaints near a point (support one instead of filing another)", opt=PUBLIC)
async def nearby(
    request: Request,
    lat: FromQuery[float],
    lon: FromQuery[float],
    category: FromQuery[str | None] = None,
    description: FromQuery[str | None] = None,
) -> Response[Any]:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return api_refusal(request, InputErrors([Problem("location", "out_of_range")]))
    async with tenant_session() as session:
        categories = await config.category_views(session)
        chosen = categories.get(category) if category else None
        if category and chosen is None:
            return api_refusal(request, InputErrors([Problem("category", "unknown", code=category[:64])]))
        if chosen is None and description:
            decision = route(
                extract_hashtags(description[:4000]), None, await config.rule_views(session), None, categories
            )
            chosen = categories.get(decision.category_code or "")
        service = _service(session, request)
        found = await service.nearby(lat, lon, chosen.id if chosen else None)
        items = []
        for f in found:
            r = f["row"]
            items.append(
                {
                    "id": r.id,
                    "distance_m": f["distance_m"],
                    "state": r.state,
                    "summary": "" if r.sensitive else reads.public_text(r.description)[:200],
                    "support_count": r.support_count,
                    "submitted_at": city_time(r.submitted_at),
                }
            )
    return Response(
        {
            "radius_m": service.config.duplicate_radius_m,
            "category": chosen.code if chosen else None,
            "items": items,
        }
    )


@get("/areas", summary="The city's kecamatan and kelurahan boundaries (GeoJSON)", opt=PUBLIC)
async def areas() -> Response[Any]:
    async with tenant_session() as session:
        return Response(await config.areas_geojson(session), media_type="application/geo+json")


# ---- citizens ------------------------------------------------------------------------------------


def _new_complaint(
    fields: dict[str, Any], uploads: list[Any], idempotency_key: str | None, source: str
) -> NewComplaint:
    attributes = fields.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise InputErrors([Problem("attributes", "invalid")])
    description = fields.get("description")
    if description is not None and not isinstance(description, str):
        raise InputErrors([Problem("description", "invalid")])
    return NewComplaint(
        description=description or "",
        category_code=(str(fields["category"]) if fields.get("category") else None),
        lat=fields.get("lat"),
        lon=fields.get("lon"),
        address=str(fields["address"]) if fields.get("address") else None,
        kecamatan_code=str(fields["kecamatan_code"]) if fields.get("kecamatan_code") else None,
        anonymous=as_bool(fields.get("anonymous", False)),
        photos=uploads,
        attributes=attributes,
        idempotency_key=idempotency_key
        or (str(fields["idempotency_key"]) if fields.get("idempotency_key") else None),
        source=source,
    )


@post(
    "/complaints",
    guards=[requires("laksa.complaint.submit")],
    summary="Report a problem: description with #hashtags, location, up to 5 photos (multipart)",
    description=(
        "multipart/form-data (photos in `photos`) or JSON. Fields: description, category, lat, lon, "
        "address, kecamatan_code, anonymous, attribute[code]. An `Idempotency-Key` header makes a "
        "retry return the first complaint (200) instead of creating another."
    ),
    request_max_body_size=MAX_UPLOAD_BODY,
    status_code=201,
)
async def submit_complaint(request: Request) -> Response[Any]:
    who = required_actor()
    try:
        fields, uploads = await read_submission(request)
        new = _new_complaint(fields, uploads, request.headers.get("idempotency-key"), "api")
        async with tenant_session() as session:
            done = await _service(session, request).submit(who, new)
            view = await reads.complaint_view(session, who, done.complaint.id)
    except LaksaError as exc:
        return api_refusal(request, exc)
    body = {
        "complaint": complaint_out(view),
        "replayed": done.replayed,
        "routing": done.routing,
        "nearby": [{"id": n["id"], "distance_m": n["distance_m"]} for n in done.nearby],
    }
    headers = {**NO_STORE, "location": f"/api/v1/laksa/complaints/{view.id}"}
    if done.replayed:
        headers["idempotent-replayed"] = "true"
    return Response(body, status_code=200 if done.replayed else 201, headers=headers)


@get("/complaints/mine", guards=[requires("laksa.complaint.submit")], summary="My complaints, newest first")
async def my_complaints(before: FromQuery[int | None] = None) -> Response[Any]:
    who = required_actor()
    async with tenant_session() as session:
        rows = await reads.mine(session, who.id or 0, before=before)
    items = [
        {**r, "submitted_at": city_time(r["submitted_at"]), "updated_at": city_time(r["updated_at"])}
        for r in rows
    ]
    return Response(
        {"items": items, "before": items[-1]["id"] if len(items) == 50 else None}, headers=NO_STORE
    )


@get(
    "/complaints/{complaint_id:int}",
    summary="One complaint: the staff view, its reporter's, or the public's",
    opt=PUBLIC,
)
async def get_complaint(complaint_id: FromPath[int], request: Request) -> Response[Any]:
    try:
        async with tenant_session() as session:
            return await _complaint_answer(session, actor(), complaint_id)
    except LaksaError as exc:
        return api_refusal(request, exc)


class ReasonIn(msgspec.Struct):
    reason: str | None = None


class RatingIn(msgspec.Struct):
    rating: int
    comment: str | None = None


@post(
    "/complaints/{complaint_id:int}/support",
    guards=[requires("laksa.complaint.submit")],
    status_code=200,
    summary="I have this problem too: support an open complaint",
)
async def support(complaint_id: FromPath[int], request: Request) -> Response[Any]:
    who = required_actor()
    try:
        async with tenant_session() as session:
            complaint, added = await _service(session, request).support(who, complaint_id)
    except LaksaError as exc:
        return api_refusal(request, exc)
    return Response({"id": complaint.id, "support_count": complaint.support_count, "added": added})


async def _citizen_step(
    request: Request, complaint_id: int, step: str, body: dict[str, Any]
) -> Response[Any]:
    who = required_actor()
    try:
        async with tenant_session() as session:
            service = _service(session, request)
            if step == "close":
                await service.close(who, complaint_id)
            elif step == "reopen":
                await service.reopen(who, complaint_id, body.get("reason"))
            else:
                await service.rate(who, complaint_id, body.get("rating"), body.get("comment"))
            return await _complaint_answer(session, who, complaint_id)
    except LaksaError as exc:
        return api_refusal(request, exc)


@post(
    "/complaints/{complaint_id:int}/close",
    guards=[requires("laksa.complaint.submit")],
    status_code=200,
    summary="Confirm the result: close my resolved complaint",
)
async def close(complaint_id: FromPath[int], request: Request) -> Response[Any]:
    return await _citizen_step(request, complaint_id, "close", {})


@post(
    "/complaints/{complaint_id:int}/reopen",
    guards=[requires("laksa.complaint.submit")],
    status_code=200,
    summary="Not fixed: reopen my complaint (within the city's window), with the reason",
)
async def reopen(complaint_id: FromPath[int], data: JSONBody[ReasonIn], request: Request) -> Response[Any]:
    return await _citizen_step(request, complaint_id, "reopen", {"reason": data.reason})


@post(
    "/complaints/{complaint_id:int}/rating",
    guards=[requires("laksa.complaint.submit")],
    status_code=200,
    summary="Rate the result, 1 to 5, with a comment",
)
async def rate(complaint_id: FromPath[int], data: JSONBody[RatingIn], request: Request) -> Response[Any]:
    return await _citizen_step(
        request, complaint_id, "rate", {"rating": data.rating, "comment": data.comment}
    )


# ---- agency staff and the Live Room --------------------------------------------------------------


@get("/inbox", guards=[requires("laksa.complaint.read")], summary="The agency inbox (keyset paging)")
async def inbox(
    request: Request,
    agency_id: FromQuery[int | None] = None,
    states: Annotated[list[str] | None, QueryParameter(name="state")] = None,
    priority: FromQuery[str | None] = None,
    kecamatan: FromQuery[str | None] = None,
    category: FromQuery[str | None] = None,
    sla: FromQuery[str | None] = None,
    assignee: FromQuery[str | None] = None,
    emergency: FromQuery[bool | None] = None,
    queue: FromQuery[str | None] = None,
    sort: FromQuery[str] = "newest",
    cursor: FromQuery[str | None] = None,
    limit: FromQuery[int] = 25,
) -> Response[Any]:
    who = required_actor()
    query = reads.InboxQuery(
        agency_id=agency_id,
        states=states or (),
        priority=priority,
        kecamatan_code=kecamatan,
        category_code=category,
        sla=sla,
        assignee=assignee,
        emergency=emergency,
        queue=queue,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    try:
        async with tenant_session() as session:
            page = await reads.inbox(session, who, query)
    except LaksaError as exc:
        return api_refusal(request, exc)
    out: InboxOut = inbox_out(page)
    return Response(out, headers=NO_STORE)


async def _staff_step(request: Request, complaint_id: int, run: Any) -> Response[Any]:
    """Read the body (JSON or form, photos allowed), run the step, answer the staff view."""
    who = required_actor()
    try:
        fields, uploads = await read_submission(request)
        async with tenant_session() as session:
            await run(_service(session, request), who, fields, uploads)
            return await _complaint_answer(session, who, complaint_id)
    except LaksaError as exc:
        return api_refusal(request, exc)


def _step(path: str, permission: str, summary: str, run: Any, *, uploads: bool = False) -> Any:
    async def handler(complaint_id: FromPath[int], request: Request) -> Response[Any]:
        return await _staff_step(request, complaint_id, lambda s, w, f, u: run(s, w, complaint_id, f, u))

    handler.__name__ = f"step_{path.replace('-', '_')}"
    path_ = f"/complaints/{{complaint_id:int}}/{path}"
    guards = [requires(permission)]
    if uploads:
        return post(
            path_, guards=guards, summary=summary, status_code=200, request_max_body_size=MAX_UPLOAD_BODY
        )(handler)
    return post(path_, guards=guards, summary=summary, status_code=200)(handler)


STEPS = [
    _step(
        "forward",
        "laksa.complaint.triage",
        "Forward a complaint from triage to an agency (with copies and a note)",
        lambda s, w, i, f, u: s.forward(
            w,
            i,
            as_int(f.get("agency_id"), "agency_id"),
            copy_agency_ids=as_int_list(f.get("copy_agency_ids"), "copy_agency_ids"),
            note=f.get("note"),
        ),
    ),
    _step(
        "acknowledge",
        "laksa.complaint.work",
        "Acknowledge: the agency has seen it",
        lambda s, w, i, f, u: s.acknowledge(w, i, f.get("note")),
    ),
    _step(
        "start",
        "laksa.complaint.work",
        "Work has started",
        lambda s, w, i, f, u: s.start(w, i, f.get("note")),
    ),
    _step(
        "resolve",
        "laksa.complaint.work",
        "Resolved, with a note and optional photos of the result (multipart)",
        lambda s, w, i, f, u: s.resolve(w, i, f.get("note"), u),
        uploads=True,
    ),
    _step(
        "return",
        "laksa.complaint.work",
        "Not our authority (bukan wewenang): back to triage with the reason",
        lambda s, w, i, f, u: s.return_to_triage(w, i, f.get("reason")),
    ),
    _step(
        "transfer",
        "laksa.complaint.transfer",
        "Transfer to another agency, with the reason",
        lambda s, w, i, f, u: s.transfer(w, i, as_int(f.get("agency_id"), "agency_id"), f.get("reason")),
    ),
    _step(
        "duplicate",
        "laksa.complaint.duplicate",
        "Mark as a duplicate of another complaint",
        lambda s, w, i, f, u: s.mark_duplicate(
            w, i, as_int(f.get("duplicate_of"), "duplicate_of"), f.get("note")
        ),
    ),
    _step(
        "assign",
        "laksa.complaint.assign",
        "Assign to an employee of the agency (null: nobody)",
        lambda s, w, i, f, u: s.assign(w, i, as_int(f.get("employee_id"), "employee_id")),
    ),
    _step(
        "notes",
        "laksa.complaint.note",
        "An internal note, or a public reply to the citizen (public=true)",
        lambda s, w, i, f, u: s.add_note(w, i, f.get("body"), public=as_bool(f.get("public", False))),
    ),
    _step(
        "classify",
        "laksa.complaint.classify",
        "Correct the category, priority or emergency flag",
        lambda s, w, i, f, u: s.classify(
            w,
            i,
            category_code=f.get("category"),
            priority=f.get("priority"),
            emergency=(as_bool(f["emergency"]) if "emergency" in f else None),
        ),
    ),
]


@get("/photos/{media_id:int}", summary="A photo (re-encoded, no EXIF) for its reporter and staff", opt=PUBLIC)
async def photo(media_id: FromPath[int], request: Request, variant: FromQuery[str] = "full") -> Response[Any]:
    try:
        async with tenant_session() as session:
            data, content_type = await reads.photo(session, actor(), media_id, variant)
    except LaksaError as exc:
        return api_refusal(request, exc)
    return Response(
        data,
        media_type=content_type,
        headers={"cache-control": "private, max-age=3600", "x-content-type-options": "nosniff"},
    )


# ---- response templates --------------------------------------------------------------------------


def _template_scope(who: Actor) -> list[int] | None:
    return None if who.whole_city else sorted(who.agency_ids)


@get("/templates", guards=[requires("laksa.complaint.read")], summary="Response templates for my agencies")
async def list_templates() -> list[dict[str, Any]]:
    who = required_actor()
    async with tenant_session() as session:
        rows = await config.templates_for(session, _template_scope(who))
    return [{"id": t.id, "agency_id": t.agency_id, "title": t.title, "body": t.body} for t in rows]


class TemplateIn(msgspec.Struct):
    title: str
    body: str
    agency_id: int | None = None


@post(
    "/templates",
    guards=[requires("laksa.template.manage")],
    summary="Add a response template",
    status_code=201,
)
async def add_template(data: JSONBody[TemplateIn], request: Request) -> Response[Any]:
    who = required_actor()
    agency_id = data.agency_id
    if not who.whole_city:
        agency_id = agency_id if agency_id is not None else (min(who.agency_ids) if who.agency_ids else None)
        if agency_id not in who.agency_ids:
            return api_refusal(request, InputErrors([Problem("agency_id", "not_yours")]))
    try:
        async with tenant_session() as session:
            template = await config.save_template(
                session, title=data.title, body=data.body, agency_id=agency_id, created_by=who.name
            )
            await session.commit()
    except LaksaError as exc:
        return api_refusal(request, exc)
    return Response(
        {"id": template.id, "agency_id": template.agency_id, "title": template.title, "body": template.body},
        status_code=201,
    )


@delete(
    "/templates/{template_id:int}",
    guards=[requires("laksa.template.manage")],
    summary="Retire a template",
    status_code=200,
)
async def retire_template(template_id: FromPath[int], request: Request) -> Response[Any]:
    who = required_actor()
    try:
        async with tenant_session() as session:
            await config.delete_template(session, template_id, _template_scope(who))
            await session.commit()
    except LaksaError as exc:
        return api_refusal(request, exc)
    return Response(None, status_code=200)


# ---- the public map and statistics ---------------------------------------------------------------


def _public_query(
    bbox: str | None,
    status: str | None,
    category: str | None,
    kecamatan: str | None,
    since: str | None,
    until: str | None,
    limit: int,
) -> reads.PublicQuery:
    def when(value: str | None, name: str) -> dt.datetime | None:
        if not value:
            return None
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InputErrors([Problem(name, "invalid_date")]) from None
        if parsed.tzinfo is None:
            from zoneinfo import ZoneInfo

            parsed = parsed.replace(tzinfo=ZoneInfo(current_tenant().timezone))
        return parsed

    return reads.PublicQuery(
        bbox=reads.parse_bbox(bbox),
        status=status,
        category_code=category,
        kecamatan_code=kecamatan,
        since=when(since, "since"),
        until=when(until, "until"),
        limit=limit,
    )


async def _public_items(request: Request, query: Any) -> list[dict[str, Any]]:
    async with tenant_session() as session:
        return await reads.public_complaints(session, _public_query(*query))


@get("/public/complaints", summary="The public map's complaints (no personal data)", opt=PUBLIC)
async def public_complaints(
    request: Request,
    bbox: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    category: FromQuery[str | None] = None,
    kecamatan: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
    limit: FromQuery[int] = 1000,
) -> Response[Any]:
    try:
        items = await _public_items(request, (bbox, status, category, kecamatan, since, until, limit))
    except LaksaError as exc:
        return api_refusal(request, exc)
    return Response(reads.as_geojson(items, current_tenant().timezone), media_type="application/geo+json")


@get("/public/complaints.geojson", summary="Public complaints as a GeoJSON download", opt=PUBLIC)
async def public_geojson(
    request: Request,
    status: FromQuery[str | None] = None,
    category: FromQuery[str | None] = None,
    kecamatan: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
    limit: FromQuery[int] = 5000,
) -> Response[Any]:
    try:
        items = await _public_items(request, (None, status, category, kecamatan, since, until, limit))
    except LaksaError as exc:
        return api_refusal(request, exc)
    return Response(
        reads.as_geojson(items, current_tenant().timezone),
        media_type="application/geo+json",
        headers={"content-disposition": f'attachment; filename="laksa-{current_tenant().slug}.geojson"'},
    )


CSV_COLUMNS = (
    "id",
    "status",
    "state",
    "category_code",
    "category",
    "agency",
    "priority",
    "emergency",
    "kecamatan",
    "kelurahan",
    "lat",
    "lon",
    "blurred",
    "submitted_at",
    "resolved_at",
    "support_count",
    "description",
)


def csv_cell(value: Any) -> str:
    """Spreadsheets run a cell that starts with = + - @ as a formula: such cells get a quote first."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


@get("/public/complaints.csv", summary="Public complaints as CSV (no personal data)", opt=PUBLIC)
async def public_csv(
    request: Request,
    status: FromQuery[str | None] = None,
    category: FromQuery[str | None] = None,
    kecamatan: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
    limit: FromQuery[int] = 5000,
) -> Response[Any]:
    try:
        items = await _public_items(request, (None, status, category, kecamatan, since, until, limit))
    except LaksaError as exc:
        return api_refusal(request, exc)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        row = {
            **item,
            "submitted_at": city_time(item["submitted_at"]),
            "resolved_at": city_time(item["resolved_at"]),
        }
        writer.writerow([csv_cell(row.get(col)) for col in CSV_COLUMNS])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="laksa-{current_tenant().slug}.csv"'},
    )


@get(
    "/public/statistics",
    summary="Per agency or kecamatan: counts, median time to resolve, share in SLA",
    opt=PUBLIC,
)
async def public_statistics(
    request: Request, by: FromQuery[str] = "agency", since: FromQuery[str | None] = None
) -> Response[Any]:
    try:
        query = _public_query(None, None, None, None, since, None, 1)
        async with tenant_session() as session:
            rows = await reads.statistics_by(session, by, since=query.since)
    except LaksaError as exc:
        return api_refusal(request, exc)
    items: list[StatOut] = [stat_out(r) for r in rows]
    return Response({"by": by, "items": items})


# ---- the city admin ------------------------------------------------------------------------------


async def _admin(request: Request, action: str, target: str, run: Any) -> Response[Any]:
    """Run a configuration change, audited, in one transaction."""
    try:
        async with tenant_session() as session:
            result, status = await run(session)
            audit.record(session, action, target_kind="laksa", target_id=target, ip=client_ip(request))
            await session.commit()
    except LaksaError as exc:
        return api_refusal(request, exc)
    return Response(result, status_code=status)


@get(
    "/admin/rules",
    guards=[requires("laksa.rule.manage")],
    summary="Every hashtag rule, switched off ones too",
)
async def admin_rules() -> list[RuleOut]:
    async with tenant_session() as session:
        return [rule_out(r) for r in await config.list_rules(session, include_inactive=True)]


@post("/admin/rules", guards=[requires("laksa.rule.manage")], summary="Add a hashtag rule", status_code=201)
async def add_rule(request: Request) -> Response[Any]:
    fields, _ = await read_submission(request)

    async def run(session: Any) -> tuple[Any, int]:
        return rule_out(await config.save_rule(session, fields)), 201

    return await _admin(request, "laksa.rule.create", str(fields.get("code")), run)


@put("/admin/rules/{rule_id:int}", guards=[requires("laksa.rule.manage")], summary="Change a hashtag rule")
async def change_rule(rule_id: FromPath[int], request: Request) -> Response[Any]:
    fields, _ = await read_submission(request)

    async def run(session: Any) -> tuple[Any, int]:
        return rule_out(await config.save_rule(session, fields, rule_id=rule_id)), 200

    return await _admin(request, "laksa.rule.change", str(rule_id), run)


@delete(
    "/admin/rules/{rule_id:int}",
    guards=[requires("laksa.rule.manage")],
    summary="Delete a hashtag rule",
    status_code=200,
)
async def remove_rule(rule_id: FromPath[int], request: Request) -> Response[Any]:
    async def run(session: Any) -> tuple[Any, int]:
        await config.delete_rule(session, rule_id)
        return {"status": "deleted"}, 200

    return await _admin(request, "laksa.rule.delete", str(rule_id), run)


@get("/admin/categories", guards=[requires("laksa.rule.manage")], summary="Every category, inactive too")
async def admin_categories() -> list[CategoryOut]:
    async with tenant_session() as session:
        return [category_out(c) for c in await config.list_categories(session, include_inactive=True)]


@post("/admin/categories", guards=[requires("laksa.rule.manage")], summary="Add a category", status_code=201)
async def add_category(request: Request) -> Response[Any]:
    fields, _ = await read_submission(request)

    async def run(session: Any) -> tuple[Any, int]:
        return category_out(await config.save_category(session, fields)), 201

    return await _admin(request, "laksa.category.create", str(fields.get("code")), run)


@put("/admin/categories/{code:str}", guards=[requires("laksa.rule.manage")], summary="Change a category")
async def change_category(code: FromPath[str], request: Request) -> Response[Any]:
    fields, _ = await read_submission(request)

    async def run(session: Any) -> tuple[Any, int]:
        return category_out(await config.save_category(session, fields, code=code)), 200

    return await _admin(request, "laksa.category.change", code, run)


@put(
    "/admin/areas",
    guards=[requires("laksa.rule.manage")],
    summary="Replace the kecamatan and kelurahan boundaries (GeoJSON FeatureCollection)",
    request_max_body_size=MAX_UPLOAD_BODY,
)
async def upload_areas(request: Request) -> Response[Any]:
    raw = await request.body()
    try:
        document = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return api_refusal(request, InputErrors([Problem("areas", "not_json")]))

    async def run(session: Any) -> tuple[Any, int]:
        saved = await config.replace_areas(session, document)
        return {
            "kecamatan": sum(1 for a in saved if a.kind == "kecamatan"),
            "kelurahan": sum(1 for a in saved if a.kind == "kelurahan"),
        }, 200

    return await _admin(request, "laksa.areas.replace", "areas", run)


@get("/admin/sla", guards=[requires("laksa.rule.manage")], summary="SLA policies, office hours and holidays")
async def get_sla() -> Response[Any]:
    async with tenant_session() as session:
        config.forget_city(current_tenant().schema)
        sla = await config.sla_settings(session)
        from sqlalchemy import select

        from kotalive.modules.laksa.models import Holiday

        holidays = (await session.execute(select(Holiday).order_by(Holiday.day))).scalars().all()
    return Response(
        {
            "policies": {
                p: {"hours": h, "calendar": c, "at_risk_percent": r} for p, (h, c, r) in sla.policies.items()
            },
            "working_hours": {
                str(d): [o.strftime("%H:%M"), c.strftime("%H:%M")]
                for d, (o, c) in sorted(sla.calendar.hours.items())
            },
            "holidays": [{"day": h.day.isoformat(), "name": h.name} for h in holidays],
            "timezone": sla.calendar.timezone,
        }
    )


class PolicyIn(msgspec.Struct):
    hours: int
    calendar: str = "working"
    at_risk_percent: int = 75


@put(
    "/admin/sla/policies/{priority:str}", guards=[requires("laksa.rule.manage")], summary="Set an SLA policy"
)
async def set_policy(priority: FromPath[str], data: JSONBody[PolicyIn], request: Request) -> Response[Any]:
    async def run(session: Any) -> tuple[Any, int]:
        p = await config.save_sla_policy(session, priority, data.hours, data.calendar, data.at_risk_percent)
        return {
            "priority": p.priority,
            "hours": p.hours,
            "calendar": p.calendar,
            "at_risk_percent": p.at_risk_percent,
        }, 200

    return await _admin(request, "laksa.sla.policy", priority, run)


@put(
    "/admin/sla/working-hours", guards=[requires("laksa.rule.manage")], summary="Set office hours per weekday"
)
async def set_hours(data: JSONBody[dict[str, Any]], request: Request) -> Response[Any]:
    async def run(session: Any) -> tuple[Any, int]:
        await config.set_working_hours(session, data)
        return {"status": "saved"}, 200

    return await _admin(request, "laksa.sla.working_hours", "calendar", run)


class HolidayIn(msgspec.Struct):
    day: str
    name: str


@post("/admin/sla/holidays", guards=[requires("laksa.rule.manage")], summary="Add a holiday", status_code=201)
async def add_holiday(data: JSONBody[HolidayIn], request: Request) -> Response[Any]:
    async def run(session: Any) -> tuple[Any, int]:
        await config.add_holiday(session, data.day, data.name)
        return {"day": data.day, "name": data.name}, 201

    return await _admin(request, "laksa.sla.holiday", data.day, run)


@delete(
    "/admin/sla/holidays/{day:str}",
    guards=[requires("laksa.rule.manage")],
    summary="Remove a holiday",
    status_code=200,
)
async def remove_holiday(day: FromPath[str], request: Request) -> Response[Any]:
    async def run(session: Any) -> tuple[Any, int]:
        await config.remove_holiday(session, day)
        return {"status": "deleted"}, 200

    return await _admin(request, "laksa.sla.holiday_removed", day, run)


@get("/admin/open311-keys", guards=[requires("laksa.open311.manage")], summary="Open311 partner keys")
async def list_keys() -> list[dict[str, Any]]:
    async with tenant_session() as session:
        rows = await config.list_api_keys(session)
    return [
        {
            "id": k.id,
            "name": k.name,
            "prefix": k.prefix,
            "created_at": city_time(k.created_at),
            "last_used_at": city_time(k.last_used_at),
            "revoked": k.revoked_at is not None,
        }
        for k in rows
    ]


class KeyIn(msgspec.Struct):
    name: str


@post(
    "/admin/open311-keys",
    guards=[requires("laksa.open311.manage")],
    status_code=201,
    summary="Issue an Open311 key for a partner application (shown once)",
)
async def issue_key(data: JSONBody[KeyIn], request: Request) -> Response[Any]:
    who = required_actor()

    async def run(session: Any) -> tuple[Any, int]:
        row, key = await config.issue_api_key(session, data.name, who.name)
        return {"id": row.id, "name": row.name, "prefix": row.prefix, "api_key": key}, 201

    answer = await _admin(request, "laksa.open311.key_issued", data.name[:100], run)
    answer.headers.update(NO_STORE)
    return answer


@delete(
    "/admin/open311-keys/{key_id:int}",
    guards=[requires("laksa.open311.manage")],
    status_code=200,
    summary="Revoke an Open311 key",
)
async def revoke_key(key_id: FromPath[int], request: Request) -> Response[Any]:
    async def run(session: Any) -> tuple[Any, int]:
        await config.revoke_api_key(session, key_id)
        return {"status": "deleted"}, 200

    return await _admin(request, "laksa.open311.key_revoked", str(key_id), run)


api = Router(
    path="/api/v1/laksa",
    route_handlers=[
        list_categories,
        list_rules,
        routing_preview,
        nearby,
        areas,
        submit_complaint,
        my_complaints,
        get_complaint,
        support,
        close,
        reopen,
        rate,
        inbox,
        *STEPS,
        photo,
        list_templates,
        add_template,
        retire_template,
        public_complaints,
        public_geojson,
        public_csv,
        public_statistics,
        admin_rules,
        add_rule,
        change_rule,
        remove_rule,
        admin_categories,
        add_category,
        change_category,
        upload_areas,
        get_sla,
        set_policy,
        set_hours,
        add_holiday,
        remove_holiday,
        list_keys,
        issue_key,
        revoke_key,
    ],
    guards=[city_only],
    tags=["laksa"],
    exception_handlers={ValidationException: shape_error, RequestEntityTooLarge: too_large},
)

route_handlers = [api]
