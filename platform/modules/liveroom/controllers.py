"""Live Room JSON API under /api/v1/liveroom (thin: parse, call a service or a read, answer).

The board (list with filters and keyset paging, and its live stream that resumes from
``Last-Event-ID``), one item with its notes, and the operator's actions on an item: claim,
release, classify, forward, duplicate, escalate, note. Refusals answer with
``errors: [{field, reason, code}]``: 404 for an item this city does not have, 409 for a state or
claim that forbids the action (with who holds it), 422 for a bad field.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy import select

from kotalive import live
from kotalive.auth.guards import requires
from kotalive.auth.principal import current_principal
from kotalive.context import current_tenant
from kotalive.db import tenant_session
from kotalive.i18n import translate
from kotalive.modules.liveroom import reads
from kotalive.modules.liveroom.domain import BoardError
from kotalive.modules.liveroom.reads import BoardFilter
from kotalive.modules.liveroom.services import BoardService, Operator, board_channel, item_data
from kotalive.tenants.city_models import Agency
from kotalive.web import NO_STORE, request_language

VIEW = "liveroom.board.view"
TRIAGE = "liveroom.item.triage"


def operator() -> Operator:
    principal = current_principal()
    assert principal is not None and principal.kind == "employee", "guards let employees through"
    return Operator(principal.id, principal.name, supervisor="liveroom_supervisor" in principal.roles)


def refusal(request: Request, exc: BoardError) -> Response[Any]:
    lang = request_language(request)
    params = {k: v for k, v in exc.detail.items() if isinstance(v, str | int | float)}
    reason = translate(f"liveroom.error.{exc.reason}", lang, **params)
    body: dict[str, Any] = {
        "status_code": exc.status,
        "error": exc.reason,
        "detail": reason,
        "errors": [{"field": exc.field or "body", "reason": reason, "code": exc.reason}],
    }
    if exc.detail:
        body["context"] = exc.detail
    return Response(body, status_code=exc.status, headers=NO_STORE)


@get("/", summary="Module status for this city", guards=[requires(VIEW)])
async def module_status() -> dict[str, str]:
    tenant = current_tenant()
    return {"module": "liveroom", "city": tenant.slug, "status": "enabled"}


@get(
    "/board",
    summary="The board: open items, emergencies first, with filters and paging",
    guards=[requires(VIEW)],
)
async def board(
    view: FromQuery[str] = "open",
    states: Annotated[list[str] | None, QueryParameter(query="state")] = None,
    kind: FromQuery[list[str] | None] = None,
    agency_id: FromQuery[int | None] = None,
    kecamatan: FromQuery[str | None] = None,
    sla: FromQuery[str | None] = None,
    emergency: FromQuery[bool | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: FromQuery[int] = 50,
) -> Response[Any]:
    f = BoardFilter(
        view=view,
        states=tuple(states or ()),
        kinds=tuple(kind or ()),
        agency_id=agency_id,
        kecamatan_code=kecamatan,
        sla=sla,
        emergency=emergency,
    )
    async with tenant_session() as session:
        items, next_cursor, counts = await reads.board(session, f, cursor=cursor, limit=limit)
        last = await reads.last_event_id(session)
    return Response(
        {
            "items": [item_data(i) for i in items],
            "next_cursor": next_cursor,
            "counts": counts,
            "last_event_id": last,
        },
        headers=NO_STORE,
    )


@get(
    "/board/stream",
    summary="The board as it changes (server-sent events; resumes after Last-Event-ID)",
    guards=[requires(VIEW)],
    opt={"stream": True},
    media_type="text/event-stream",
)
async def board_stream(
    request: Request, after: FromQuery[int | None] = None, once: FromQuery[bool] = False
) -> Any:
    """Each change is an ``item`` event whose SSE id is its place in the board's log; a screen that
    reconnects (EventSource sends ``Last-Event-ID``) first gets every change it missed, or a
    ``reload`` event when it missed too many. ``once``: the catch-up, then the end."""
    tenant = current_tenant()
    header = request.headers.get("last-event-id")
    since = after
    if since is None and header and header.strip().isdigit():
        since = int(header.strip())

    async def catch_up() -> list[tuple[str, Any]]:
        async with tenant_session(tenant) as session:
            if since is None:
                return [("hello", {"last_event_id": await reads.last_event_id(session)})]
            events, more = await reads.replay(session, since)
        if more:
            return [("reload", {"reason": "too_far_behind"})]
        return [(e.kind, {**e.data, "seq": e.id}) for e in events]

    return live.sse_stream(request.app.state.channels, [board_channel(tenant)], first=catch_up, once=once)


@get("/items/{item_id:int}", summary="One item with the room's notes", guards=[requires(VIEW)])
async def show_item(item_id: FromPath[int]) -> Response[Any]:
    async with tenant_session() as session:
        found, notes = await reads.item(session, item_id)
    return Response(
        {
            "item": item_data(found),
            "notes": [
                {
                    "id": n.id,
                    "action": n.action,
                    "body": n.body,
                    "employee_id": n.employee_id,
                    "at": n.at.isoformat(),
                }
                for n in notes
            ],
        },
        headers=NO_STORE,
    )


@get("/items", summary="The item of a complaint or incident", guards=[requires(VIEW)])
async def find_item(kind: FromQuery[str], source_id: FromQuery[int]) -> Response[Any]:
    async with tenant_session() as session:
        found = await reads.by_source(session, kind, source_id)
    if found is None:
        raise BoardError(404, "not_found", "source_id", id=source_id)
    return Response({"item": item_data(found)}, headers=NO_STORE)


@get("/agencies", summary="Agencies the room can forward to", guards=[requires(VIEW)])
async def agencies() -> Response[Any]:
    async with tenant_session() as session:
        rows = await session.scalars(select(Agency).order_by(Agency.name))
        found = [
            {"id": a.id, "code": a.code, "name": a.name, "abbreviation": a.abbreviation, "active": a.active}
            for a in rows
        ]
    return Response({"agencies": found}, headers=NO_STORE)


async def _act(action: str, item_id: int, data: dict[str, Any] | None) -> Response[Any]:
    body = data or {}
    if not isinstance(body, dict):
        raise BoardError(422, "not_an_object", "body")
    who = operator()
    async with tenant_session() as session:
        service = BoardService(session)
        if action == "claim":
            item = await service.claim(who, item_id)
        elif action == "release":
            item = await service.release(who, item_id)
        elif action == "classify":
            item = await service.classify(
                who,
                item_id,
                category_id=body.get("category_id"),
                priority=body.get("priority"),
                emergency=body.get("emergency"),
                note=body.get("note"),
            )
        elif action == "forward":
            item = await service.forward(who, item_id, body.get("agency_ids"), body.get("note"))
        elif action == "duplicate":
            item = await service.mark_duplicate(who, item_id, body.get("of_item_id"), body.get("note"))
        elif action == "escalate":
            item = await service.escalate(who, item_id, body.get("note"))
        else:
            await service.add_note(who, item_id, body.get("body"))
            item, _ = await reads.item(session, item_id)
        data_out = item_data(item)
        await session.commit()
    return Response({"item": data_out}, headers=NO_STORE)


def _action(action: str, summary: str) -> Any:
    async def handler(item_id: FromPath[int], data: JSONBody[dict[str, Any] | None] = None) -> Response[Any]:
        return await _act(action, item_id, data)

    handler.__name__ = f"item_{action}"
    return post(
        f"/items/{{item_id:int}}/{action}",
        summary=summary,
        guards=[requires(TRIAGE)],
        status_code=200,
        name=f"liveroom-item-{action}",
    )(handler)


ACTIONS = [
    _action("claim", "Claim an item (nobody else works it meanwhile)"),
    _action("release", "Give an item back to the room"),
    _action("classify", "Set an item's category, priority or emergency flag"),
    _action("forward", "Forward an item to one agency (the first) with copies to others"),
    _action("duplicate", "Mark an item a duplicate of another and merge it"),
    _action("escalate", "Escalate an item to the supervisor"),
    _action("notes", "Write a note on an item"),
]

route_handlers = [
    Router(
        path="/api/v1/liveroom",
        route_handlers=[module_status, board, board_stream, show_item, find_item, agencies, *ACTIONS],
        tags=["liveroom"],
        exception_handlers={BoardError: refusal},
    )
]
