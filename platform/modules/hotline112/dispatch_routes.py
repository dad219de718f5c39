"""112 units, dispatch and measures: the JSON API under /api/v1/hotline112 (thin: parse, call
``units``/``dispatch``/``measures``, shape the answer), the dispatch screens' live stream and the
unit's mobile terminal API.

Refusals answer ``{status_code, error, detail, errors: [{field, reason, code}], context}``: 404 for
a unit or incident this city does not have, 409 when the state forbids it (an invalid status
transition names the allowed ones; a unit already taken names the incident and who sent it), 422
for a bad field (coordinates out of range name ``lat``/``lon``).

The terminal authenticates with ``Authorization: Bearer <terminal token>`` (issued once per unit by
``POST /units/{id}/terminal-token``; only its hash is kept): no session, no CSRF (a bearer-only
request), and it can move only its own unit. Its routes carry ``OWN_BEARER``: the auth middleware
leaves their bearer token to this module.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import msgspec
from litestar import Request, Response, Router, get, patch, post
from litestar.params import FromPath, FromQuery
from sqlalchemy import case, select

from kotalive import live
from kotalive.auth.guards import requires
from kotalive.auth.middleware import OWN_BEARER
from kotalive.auth.principal import current_principal
from kotalive.context import current_tenant
from kotalive.db import TenantSession, tenant_session
from kotalive.i18n import translate
from kotalive.modules.hotline112 import dispatch, measures, timeline
from kotalive.modules.hotline112.domain import OPEN_INCIDENT_STATES, PRIORITIES
from kotalive.modules.hotline112.models import Incident, Unit
from kotalive.modules.hotline112.units import (
    Actor,
    DispatchError,
    Problem,
    UnitFilter,
    UnitService,
    UnitTypeService,
    invalid,
    parse_int,
    type_data,
    unit_data,
)
from kotalive.web import NO_STORE, city_only, request_language

VIEW = "hotline112.unit.view"
DISPATCH = "hotline112.unit.dispatch"
MANAGE = "hotline112.unit.manage"
MEASURES_VIEW = "hotline112.measures.view"
MAX_BODY = 64 * 1024
BOARD_LIMIT = 200


# ---- answers ----------------------------------------------------------------------------------------------


def error_text(code: str, lang: str, params: dict[str, Any]) -> str:
    safe = {k: v for k, v in params.items() if isinstance(v, str | int | float)}
    try:
        return translate(f"h112.error.{code}", lang, **safe)
    except (KeyError, IndexError, ValueError):
        return translate(f"h112.error.{code}", lang)


def refusal(request: Request, exc: DispatchError) -> Response[Any]:
    lang = request_language(request)
    detail = error_text(exc.code, lang, exc.params)
    body: dict[str, Any] = {
        "status_code": exc.status,
        "error": exc.code,
        "detail": detail,
        "errors": [
            {"field": p.field, "reason": error_text(p.code, lang, p.params), "code": p.code}
            for p in exc.problems
        ],
    }
    if exc.params:
        body["context"] = {k: v for k, v in exc.params.items() if isinstance(v, str | int | float | None)}
    headers = dict(NO_STORE)
    if exc.status == 401:
        headers["www-authenticate"] = 'Bearer error="invalid_token"'
    return Response(body, status_code=exc.status, headers=headers)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise invalid(Problem("body", "too_large"))
    if not raw.strip():
        return {}
    try:
        decoded = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise invalid(Problem("body", "not_json")) from None
    if not isinstance(decoded, dict):
        raise invalid(Problem("body", "not_an_object"))
    return decoded


def dispatcher() -> Actor:
    principal = current_principal()
    assert principal is not None, "guards let only signed-in people through"
    return Actor(principal.id, principal.name, "employee")


def _ok(data: Any, status: int = 200) -> Response[Any]:
    return Response(data, status_code=status, headers=NO_STORE)


# ---- units ---------------------------------------------------------------------------------------------------


@get("/units", summary="The city's units (?status&type&agency)", guards=[requires(VIEW)])
async def list_units(request: Request) -> Response[Any]:
    q = request.query_params
    problems: list[Problem] = []
    agency = parse_int(q.get("agency"), "agency", problems) if q.get("agency") else None
    if problems:
        raise invalid(*problems)
    f = UnitFilter(status=q.get("status") or None, type_code=q.get("type") or None, agency_id=agency)
    async with tenant_session() as session:
        units = await UnitService(session).search(f)
        return _ok({"units": [unit_data(u) for u in units]})


@post("/units", summary="Create a unit", guards=[requires(MANAGE)], status_code=201)
async def create_unit(request: Request) -> Response[Any]:
    data = await json_body(request)
    async with tenant_session() as session:
        unit = await UnitService(session).create(data)
        out = unit_data(unit)
        await session.commit()
    return _ok({"unit": out}, 201)


@get("/units/{unit_id:int}", summary="One unit with its current assignment", guards=[requires(VIEW)])
async def show_unit(unit_id: FromPath[int]) -> Response[Any]:
    async with tenant_session() as session:
        unit = await UnitService(session).get(unit_id)
        current = None
        if unit.incident_id is not None:
            rows = await dispatch.incident_assignments(session, unit.incident_id)
            current = next(
                (dispatch.assignment_data(a) for a, u in rows if u.id == unit.id and a.state == "active"),
                None,
            )
        return _ok({"unit": unit_data(unit), "assignment": current})


@patch("/units/{unit_id:int}", summary="Change a unit (not its status)", guards=[requires(MANAGE)])
async def update_unit(request: Request, unit_id: FromPath[int]) -> Response[Any]:
    data = await json_body(request)
    async with tenant_session() as session:
        unit = await UnitService(session).update(unit_id, data)
        out = unit_data(unit)
        await session.commit()
    return _ok({"unit": out})


@post(
    "/units/{unit_id:int}/deactivate",
    summary="Take a unit off the list",
    guards=[requires(MANAGE)],
    status_code=200,
)
async def deactivate_unit(unit_id: FromPath[int]) -> Response[Any]:
    async with tenant_session() as session:
        unit = await UnitService(session).deactivate(unit_id)
        out = unit_data(unit)
        await session.commit()
    return _ok({"unit": out})


@post(
    "/units/{unit_id:int}/status",
    summary="Change a unit's status (409 naming the allowed ones)",
    guards=[requires(DISPATCH)],
    status_code=200,
)
async def unit_status(request: Request, unit_id: FromPath[int]) -> Response[Any]:
    data = await json_body(request)
    async with tenant_session() as session:
        unit = await UnitService(session).change_status(unit_id, data, dispatcher())
        out = unit_data(unit)
        await session.commit()
    return _ok({"unit": out})


@post(
    "/units/{unit_id:int}/position",
    summary="Set a unit's position {lat, lon, at?}",
    guards=[requires(DISPATCH)],
    status_code=200,
)
async def unit_position(request: Request, unit_id: FromPath[int]) -> Response[Any]:
    data = await json_body(request)
    async with tenant_session() as session:
        unit, applied = await UnitService(session).set_position(unit_id, data)
        out = unit_data(unit)
        await session.commit()
    return _ok({"unit": out, "applied": applied})


@post(
    "/units/{unit_id:int}/terminal-token",
    summary="A new terminal token for the unit (shown once)",
    guards=[requires(MANAGE)],
    status_code=201,
)
async def terminal_token(unit_id: FromPath[int]) -> Response[Any]:
    async with tenant_session() as session:
        unit, token = await UnitService(session).issue_terminal_token(unit_id)
        out = unit_data(unit)
        await session.commit()
    return _ok({"unit": out, "token": token}, 201)


@get("/unit-types", summary="Unit types and their average speeds", guards=[requires(VIEW)])
async def list_unit_types() -> Response[Any]:
    async with tenant_session() as session:
        return _ok({"unit_types": [type_data(t) for t in await UnitTypeService(session).all()]})


@patch("/unit-types/{code:str}", summary="Change a unit type's names or speed", guards=[requires(MANAGE)])
async def update_unit_type(request: Request, code: FromPath[str]) -> Response[Any]:
    data = await json_body(request)
    async with tenant_session() as session:
        row = await UnitTypeService(session).update(code, data)
        out = type_data(row)
        await session.commit()
    return _ok({"unit_type": out})


# ---- dispatch ------------------------------------------------------------------------------------------------


@get(
    "/incidents/{incident_id:int}/recommendations",
    summary="The nearest available suitable units, with distance and ETA (?per_type&type)",
    guards=[requires(VIEW)],
)
async def recommendations(request: Request, incident_id: FromPath[int]) -> Response[Any]:
    q = request.query_params
    types = [t for t in q.getall("type", []) if t] if "type" in q else None
    async with tenant_session() as session:
        incident, wanted, found = await dispatch.recommend(
            session, incident_id, per_type=q.get("per_type"), types=types
        )
        return _ok(
            {
                "incident_id": incident.id,
                "state": incident.state,
                "unit_types": wanted,
                "recommendations": [r.as_dict() for r in found],
            }
        )


@get(
    "/incidents/{incident_id:int}/assignments",
    summary="The units sent to an incident, with their moments",
    guards=[requires(VIEW)],
)
async def list_assignments(incident_id: FromPath[int]) -> Response[Any]:
    async with tenant_session() as session:
        rows = await dispatch.incident_assignments(session, incident_id)
        return _ok(
            {"incident_id": incident_id, "assignments": [dispatch.assignment_data(a, u) for a, u in rows]}
        )


@post(
    "/incidents/{incident_id:int}/assignments",
    summary="Send units {unit_ids} to an incident: all or none (409 naming a unit already taken)",
    guards=[requires(DISPATCH)],
    status_code=201,
)
async def create_assignments(request: Request, incident_id: FromPath[int]) -> Response[Any]:
    data = await json_body(request)
    async with tenant_session() as session:
        made = await dispatch.assign(session, incident_id, data, dispatcher())
        units = {
            u.id: u for u in await session.scalars(select(Unit).where(Unit.id.in_([a.unit_id for a in made])))
        }
        incident = await session.get(Incident, incident_id)
        out = {
            "incident_id": incident_id,
            "state": incident.state if incident is not None else None,
            "assignments": [dispatch.assignment_data(a, units.get(a.unit_id)) for a in made],
        }
        await session.commit()
    return _ok(out, 201)


def incident_row(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id,
        "type": i.type_code,
        "priority": i.priority,
        "state": i.state,
        "summary": i.summary,
        "address": i.address,
        "lat": i.lat,
        "lon": i.lon,
        "accuracy_m": i.accuracy_m,
        "agency_id": i.agency_id,
        "created_at": i.created_at.isoformat() if i.created_at else None,
        "first_dispatch_at": i.first_dispatch_at.isoformat() if i.first_dispatch_at else None,
    }


async def open_incidents(session: TenantSession) -> list[Incident]:
    """Open incidents, most urgent first (P1 first; an undispatched one before a dispatched one of
    the same priority; oldest first)."""
    order = case({p: n for n, p in enumerate(PRIORITIES)}, value=Incident.priority, else_=len(PRIORITIES))
    waiting = case({"open": 0}, value=Incident.state, else_=1)
    rows = await session.scalars(
        select(Incident)
        .where(Incident.state.in_(OPEN_INCIDENT_STATES))
        .order_by(order, waiting, Incident.created_at, Incident.id)
        .limit(BOARD_LIMIT)
    )
    return list(rows.all())


@get(
    "/dispatch/board",
    summary="The dispatcher's screen: open incidents by priority and the units",
    guards=[requires(VIEW)],
)
async def dispatch_board() -> Response[Any]:
    async with tenant_session() as session:
        incidents = await open_incidents(session)
        units = await UnitService(session).search()
        return _ok(
            {"incidents": [incident_row(i) for i in incidents], "units": [unit_data(u) for u in units]}
        )


@get(
    "/dispatch/stream",
    summary="The dispatch screens' live stream: incidents and units as they change (server-sent events)",
    guards=[requires(VIEW)],
    opt={"stream": True},
    media_type="text/event-stream",
)
async def dispatch_stream(request: Request, once: FromQuery[bool] = False) -> Any:
    """A ``hello`` first (the screen then loads /dispatch/board), then ``incident`` and ``unit``
    events. ``once``: the hello, then the end."""
    tenant = current_tenant()
    return live.sse_stream(
        request.app.state.channels,
        [live.topic_channel(tenant, timeline.DISPATCH_TOPIC)],
        first=[("hello", {"city": tenant.slug})],
        once=once,
    )


# ---- measures --------------------------------------------------------------------------------------------------


@get(
    "/measures",
    summary="NFPA 1225: answer, processing, turnout and travel times per shift and call-taker (?since&until)",
    guards=[requires(MEASURES_VIEW)],
)
async def api_measures(request: Request) -> Response[Any]:
    q = request.query_params
    async with tenant_session() as session:
        found = await measures.measure(session, q.get("since"), q.get("until"))
    return _ok(measures.as_dict(found, request_language(request)))


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.lstrip()[:1] in ("=", "+", "-", "@") or text[:1] in ("\t", "\r") else text


@get("/measures.csv", summary="The measures as CSV (?since&until)", guards=[requires(MEASURES_VIEW)])
async def api_measures_csv(request: Request) -> Response[Any]:
    q = request.query_params
    async with tenant_session() as session:
        found = await measures.measure(session, q.get("since"), q.get("until"))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(measures.CSV_COLUMNS)
    for row in measures.csv_rows(found, request_language(request)):
        writer.writerow([csv_cell(v) for v in row])
    name = f"ukuran-112-{current_tenant().slug}-{found.since.isoformat()}-{found.until.isoformat()}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            **NO_STORE,
            "content-disposition": f'attachment; filename="{name}"',
            "x-content-type-options": "nosniff",
        },
    )


# ---- the unit's terminal -------------------------------------------------------------------------------------


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization") or ""
    if header[:7].lower() != "bearer " or not header[7:].strip():
        raise DispatchError(401, "terminal_token_missing", "authorization")
    return header[7:].strip()


async def terminal_unit(session: TenantSession, request: Request) -> Unit:
    unit = await UnitService(session).unit_for_token(_bearer(request))
    if unit is None:
        raise DispatchError(401, "terminal_token_invalid", "authorization")
    return unit


def terminal_actor(unit: Unit) -> Actor:
    return Actor(None, unit.call_sign, "terminal")


@get("/terminal", summary="The terminal's unit and its current assignment", opt=OWN_BEARER)
async def terminal_show(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        unit = await terminal_unit(session, request)
        current: dict[str, Any] | None = None
        if unit.incident_id is not None:
            rows = await dispatch.incident_assignments(session, unit.incident_id)
            mine = next((a for a, u in rows if u.id == unit.id and a.state == "active"), None)
            incident = await session.get(Incident, unit.incident_id)
            if mine is not None and incident is not None:
                current = {**dispatch.assignment_data(mine), "incident": incident_row(incident)}
        return _ok({"unit": unit_data(unit), "assignment": current})


@post("/terminal/position", summary="The terminal reports its position", opt=OWN_BEARER, status_code=200)
async def terminal_position(request: Request) -> Response[Any]:
    data = await json_body(request)
    async with tenant_session() as session:
        unit = await terminal_unit(session, request)
        unit, applied = await UnitService(session).set_position(unit.id, data)
        out = unit_data(unit)
        await session.commit()
    return _ok({"unit": out, "applied": applied})


@post(
    "/terminal/status",
    summary="The terminal changes its unit's status",
    opt=OWN_BEARER,
    status_code=200,
)
async def terminal_status(request: Request) -> Response[Any]:
    data = await json_body(request)
    async with tenant_session() as session:
        unit = await terminal_unit(session, request)
        unit = await UnitService(session).change_status(unit.id, data, terminal_actor(unit))
        out = unit_data(unit)
        await session.commit()
    return _ok({"unit": out})


route_handlers: list[Any] = [
    Router(
        path="/api/v1/hotline112",
        route_handlers=[
            list_units,
            create_unit,
            show_unit,
            update_unit,
            deactivate_unit,
            unit_status,
            unit_position,
            terminal_token,
            list_unit_types,
            update_unit_type,
            recommendations,
            list_assignments,
            create_assignments,
            dispatch_board,
            dispatch_stream,
            api_measures,
            api_measures_csv,
            terminal_show,
            terminal_position,
            terminal_status,
        ],
        guards=[city_only],
        tags=["hotline112"],
        exception_handlers={DispatchError: refusal},
    )
]
