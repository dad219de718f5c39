"""The Live Room's board pages (Bahasa Indonesia by default, ``?lang=en``), server-rendered.

``/liveroom``: the live board, a list (emergencies first) and a map, with the tabs "needs action",
"waiting for the agency" and "all", filters by agency, kecamatan, type, state and SLA. The server
renders the first page so the board works without scripts; ``/static/liveroom/board.js`` then
keeps list, map and counts current from the board's event stream, and alerts (banner and beep) on
emergencies. ``?layar=besar`` (or ``?wall=1``): the video wall, larger type, no actions, list and
map side by side.

``/liveroom/item/{id}``: one item with its notes and the operator's forms (claim or release,
classify, forward, mark a duplicate, escalate, note). Each form posts here, runs the board's
service and answers with a redirect (303), or the same page with the refusal next to the field it
is about (404/409/422).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get, post
from litestar.exceptions import ValidationException
from litestar.params import FromPath
from litestar.response import Redirect
from sqlalchemy import select

from kotalive.auth.guards import requires
from kotalive.auth.models import Employee, RoleGrant
from kotalive.auth.principal import current_principal
from kotalive.context import current_tenant
from kotalive.db import TenantSession, tenant_session
from kotalive.i18n import translate
from kotalive.modules.liveroom import reads
from kotalive.modules.liveroom import shifts as shift_service
from kotalive.modules.liveroom.controllers import TRIAGE, VIEW, operator
from kotalive.modules.liveroom.domain import BOARD_STATES, ITEM_KINDS, PRIORITIES, SLA_STATES, BoardError
from kotalive.modules.liveroom.models import BoardItem
from kotalive.modules.liveroom.reads import BoardFilter
from kotalive.modules.liveroom.services import BoardService, item_data
from kotalive.pages import local_time
from kotalive.tenants.city_models import Agency
from kotalive.web import city_only, page, request_language

STAFF_LOGIN = {"login": "/staff/login"}
TABS = ("action", "progress", "open")
BOARD_PAGE = 100  # items the page renders; the stream keeps them current
DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
ROOM_ROLES = ("liveroom_operator", "liveroom_supervisor")
ACTIONS = ("claim", "release", "classify", "forward", "duplicate", "escalate", "notes")
# Fields of each form: a refusal about another field (the item, its state) is said above the form.
FORM_FIELDS = {
    "classify": ("priority", "emergency", "category_id", "note"),
    "forward": ("agency_ids", "note"),
    "duplicate": ("of_item_id", "note"),
    "escalate": ("note",),
    "notes": ("body",),
}
MAX_FORM = 64 * 1024

SCRIPT_TEXTS = (
    "empty",
    "empty.other",
    "claimed_by",
    "no_title",
    "emergency",
    "live.connecting",
    "live.on",
    "live.off",
    "live.reloaded",
    "alert.title",
    "alert.open",
    "sound.on",
    "sound.off",
    "age.now",
    "age.min",
    "age.hour",
    "age.day",
    "map.tiles_failed",
    "map.count",
    "category.unavailable",
)


# ---- shared ----------------------------------------------------------------------------------------


def tile_url() -> str:
    """The city's map tiles: the Live Room's own setting, else Laksa's, else OpenStreetMap's."""
    config = current_tenant().module_config or {}
    for name in ("liveroom", "laksa"):
        url = (config.get(name) or {}).get("tile_url")
        if isinstance(url, str) and url:
            return url
    return DEFAULT_TILES


def _allows(request: Request, permission: str) -> bool:
    principal = current_principal()
    return principal is not None and bool(request.app.state.permissions.allows(principal.roles, permission))


def wall_mode(request: Request) -> bool:
    q = request.query_params
    return q.get("layar") == "besar" or q.get("wall") in ("1", "true", "ya")


# A 112 unit's statuses, as incidents' events name them (the room shows, never changes them).
UNIT_STATUSES = (
    "available",
    "dispatched",
    "en_route",
    "on_scene",
    "transporting",
    "at_hospital",
    "back_in_service",
    "out_of_service",
)


def unit_texts(lang: str) -> dict[str, str]:
    return {s: translate(f"liveroom.unit.{s}", lang) for s in UNIT_STATUSES}


def state_texts(lang: str) -> dict[str, str]:
    return {s: translate(f"liveroom.state.{s}", lang) for s in BOARD_STATES}


def kind_texts(lang: str) -> dict[str, str]:
    return {k: translate(f"liveroom.kind.{k}", lang) for k in ITEM_KINDS}


def sla_texts(lang: str) -> dict[str, str]:
    return {s: translate(f"liveroom.page.sla.{s}", lang) for s in SLA_STATES}


def priority_texts(lang: str) -> dict[str, str]:
    return {p: translate(f"liveroom.page.priority.{p}", lang) for p in PRIORITIES}


def age(appeared: str | None, lang: str, now: dt.datetime | None = None) -> str:
    """How long an item has been on the board: baru saja, 12 mnt, 3 j, 2 hr."""
    if not appeared:
        return ""
    then = dt.datetime.fromisoformat(appeared)
    minutes = max(0, int(((now or dt.datetime.now(dt.UTC)) - then).total_seconds() // 60))
    if minutes < 1:
        return translate("liveroom.page.age.now", lang)
    if minutes < 60:
        return translate("liveroom.page.age.min", lang, n=minutes)
    if minutes < 24 * 60:
        return translate("liveroom.page.age.hour", lang, n=minutes // 60)
    return translate("liveroom.page.age.day", lang, n=minutes // (24 * 60))


async def _agencies(session: TenantSession) -> list[dict[str, Any]]:
    rows = await session.scalars(select(Agency).order_by(Agency.name))
    return [
        {"id": a.id, "code": a.code, "name": a.name, "abbreviation": a.abbreviation, "active": a.active}
        for a in rows
    ]


async def _names(session: TenantSession, extra: set[int]) -> dict[str, str]:
    """Names of the room's people (and of anyone else ``extra`` names), for "handled by ..."."""
    room = select(RoleGrant.subject_id).where(
        RoleGrant.subject_kind == "employee", RoleGrant.role.in_(ROOM_ROLES)
    )
    rows = await session.execute(
        select(Employee.id, Employee.name).where(Employee.id.in_(room) | Employee.id.in_(list(extra or {0})))
    )
    return {str(i): n for i, n in rows}


async def _kecamatan(session: TenantSession) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(BoardItem.kecamatan_code, BoardItem.kecamatan)
        .distinct()
        .where(BoardItem.kecamatan_code.is_not(None))
        .order_by(BoardItem.kecamatan)
        .limit(200)
    )
    seen: dict[str, str] = {}
    for code, name in rows:
        seen.setdefault(str(code), str(name or code))
    return sorted(seen.items(), key=lambda kv: kv[1])


def _refusal_text(exc: BoardError, lang: str, tz: str) -> str:
    params: dict[str, Any] = {}
    for key, value in exc.detail.items():
        if key in ("since", "at") and isinstance(value, str):
            try:
                value = local_time(dt.datetime.fromisoformat(value), tz)
            except ValueError:
                pass
        params[key] = "—" if value is None else value
    params.setdefault("by_name", "—")
    try:
        return translate(f"liveroom.error.{exc.reason}", lang, **params)
    except (KeyError, IndexError):
        return translate(f"liveroom.error.{exc.reason}", lang)


# ---- the board -------------------------------------------------------------------------------------


@get(
    "/liveroom",
    guards=[requires(VIEW)],
    summary="The live board: list and map, emergencies first",
    include_in_schema=False,
    opt=STAFF_LOGIN,
)
async def board_page(request: Request) -> Response[str]:
    lang = request_language(request)
    q = request.query_params
    wall = wall_mode(request)
    asked = {k: str(q.get(k) or "") for k in ("view", "agency", "kecamatan", "kind", "state", "sla")}
    view = asked["view"] if asked["view"] in TABS else "action"
    filters: dict[str, str] = {
        "agency": asked["agency"][:12],
        "kecamatan": asked["kecamatan"][:32],
        "kind": asked["kind"] if asked["kind"] in ITEM_KINDS else "",
        "state": asked["state"] if asked["state"] in BOARD_STATES else "",
        "sla": asked["sla"] if asked["sla"] in SLA_STATES else "",
    }
    if not filters["agency"].isdigit():
        filters["agency"] = ""
    f = BoardFilter(
        view=view,
        states=(filters["state"],) if filters["state"] else (),
        kinds=(filters["kind"],) if filters["kind"] else (),
        agency_id=int(filters["agency"]) if filters["agency"] else None,
        kecamatan_code=filters["kecamatan"] or None,
        sla=filters["sla"] or None,
    )
    async with tenant_session() as session:
        rows, next_cursor, counts = await reads.board(session, f, limit=BOARD_PAGE)
        last = await reads.last_event_id(session)
        agencies = await _agencies(session)
        items = [item_data(i) for i in rows]
        names = await _names(session, {i["claimed_by"] for i in items if i["claimed_by"]})
        kecamatan = await _kecamatan(session)
        on_duty = await shift_service.on_duty_now(session)
    now = dt.datetime.now(dt.UTC)
    for i in items:
        i["age"] = age(i["appeared_at"], lang, now)
    active_filters = {k: v for k, v in filters.items() if v}
    api_query = {
        "view": view,
        **({"state": filters["state"]} if filters["state"] else {}),
        **({"kind": filters["kind"]} if filters["kind"] else {}),
        **({"agency_id": filters["agency"]} if filters["agency"] else {}),
        **({"kecamatan": filters["kecamatan"]} if filters["kecamatan"] else {}),
        **({"sla": filters["sla"]} if filters["sla"] else {}),
    }
    keep = {
        **active_filters,
        **({"lang": "en"} if lang == "en" else {}),
        **({"layar": "besar"} if wall else {}),
    }
    tab_links = {t: "/liveroom?" + urlencode({**keep, "view": t}) for t in TABS}
    mode_link = "/liveroom?" + urlencode(
        {k: v for k, v in {**keep, "view": view}.items() if k != "layar"}
        | ({} if wall else {"layar": "besar"})
    )
    return page(
        request,
        "liveroom/board.html",
        items=items,
        counts=counts,
        view=view,
        tabs=TABS,
        tab_links=tab_links,
        mode_link=mode_link,
        filters=filters,
        filtered=bool(active_filters),
        more=next_cursor is not None,
        on_duty=[(d.name, d.agency or d.agency_name or "", d.shift) for d in on_duty],
        wall=wall,
        may_act=_allows(request, TRIAGE) and not wall,
        agencies=agencies,
        agency_names={str(a["id"]): a["abbreviation"] or a["name"] for a in agencies},
        kecamatan=kecamatan,
        names=names,
        states=state_texts(lang),
        kinds=kind_texts(lang),
        unit_statuses=unit_texts(lang),
        slas=sla_texts(lang),
        priorities=priority_texts(lang),
        tile_url=tile_url(),
        board_config={
            "view": view,
            "filters": api_query,
            "last_event_id": last,
            "stream": "/api/v1/liveroom/board/stream",
            "board": "/api/v1/liveroom/board",
            "limit": BOARD_PAGE,
            "wall": wall,
            "names": names,
            "agencies": {str(a["id"]): a["abbreviation"] or a["name"] for a in agencies},
            "texts": {
                **{k: translate(f"liveroom.page.{k}", lang) for k in SCRIPT_TEXTS},
                "states": state_texts(lang),
                "kinds": kind_texts(lang),
                "slas": sla_texts(lang),
                "units": unit_texts(lang),
            },
        },
    )


# ---- one item and its forms ------------------------------------------------------------------------


async def _item_page(
    request: Request,
    item_id: int,
    *,
    status: int = 200,
    action: str | None = None,
    errors: dict[str, str] | None = None,
    alert: str | None = None,
    values: dict[str, Any] | None = None,
) -> Response[str]:
    lang = request_language(request)
    tenant = current_tenant()
    async with tenant_session() as session:
        try:
            found, notes = await reads.item(session, item_id)
        except BoardError:
            return page(
                request,
                "liveroom/item.html",
                status=404,
                item=None,
                message=translate("liveroom.page.item.not_found", lang),
            )
        item = item_data(found)
        agencies = await _agencies(session)
        people = {n.employee_id for n in notes if n.employee_id}
        people |= {v for v in (item["claimed_by"], item["forwarded_by"]) if v}
        names = await _names(session, people)
    q = request.query_params
    notice_action = q.get("pesan")
    notice = translate(f"liveroom.page.notice.{notice_action}", lang) if notice_action in ACTIONS else None
    principal = current_principal()
    me = principal.id if principal is not None and principal.kind == "employee" else None
    return page(
        request,
        "liveroom/item.html",
        status=status,
        item=item,
        notes=notes,
        names=names,
        me=me,
        agencies=agencies,
        agency_names={a["id"]: a["name"] for a in agencies},
        may_act=_allows(request, TRIAGE),
        action=action,
        errors=errors or {},
        alert=alert,
        notice=notice,
        values=values or {},
        states=state_texts(lang),
        kinds=kind_texts(lang),
        unit_statuses=unit_texts(lang),
        slas=sla_texts(lang),
        priorities=priority_texts(lang),
        priority_list=PRIORITIES,
        age=age(item["appeared_at"], lang),
        appeared=dt.datetime.fromisoformat(item["appeared_at"]) if item["appeared_at"] else None,
        tz=tenant.timezone,
        when=lambda v: local_time(dt.datetime.fromisoformat(v), tenant.timezone) if v else "",
    )


@get(
    "/liveroom/item/{item_id:int}",
    guards=[requires(VIEW)],
    summary="One board item with its notes and the operator's actions",
    include_in_schema=False,
    opt=STAFF_LOGIN,
)
async def item_page(request: Request, item_id: FromPath[int]) -> Response[str]:
    return await _item_page(request, item_id)


async def _fields(request: Request) -> dict[str, list[str]]:
    form = await request.form()
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if key != "_csrf_token" and isinstance(value, str):
            out.setdefault(key, []).append(value[:10_000])
    return out


def _one(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0].strip()


def _as_id(value: str, name: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise BoardError(422, "not_an_id", name)
    return int(value)


async def _run(session: TenantSession, action: str, item_id: int, fields: dict[str, list[str]]) -> None:
    who = operator()
    service = BoardService(session)
    note = _one(fields, "note") or None
    if action == "claim":
        await service.claim(who, item_id)
    elif action == "release":
        await service.release(who, item_id)
    elif action == "classify":
        emergency = {"ya": True, "tidak": False}.get(_one(fields, "emergency"))
        await service.classify(
            who,
            item_id,
            category_id=_as_id(_one(fields, "category_id"), "category_id"),
            priority=_one(fields, "priority") or None,
            emergency=emergency,
            note=note,
        )
    elif action == "forward":
        ids = [_as_id(v.strip(), "agency_ids") for v in fields.get("agency_ids", []) if v.strip()]
        await service.forward(who, item_id, [i for i in ids if i is not None], note)
    elif action == "duplicate":
        of = _one(fields, "of_item_id").lstrip("#")
        if not of:
            raise BoardError(422, "required", "of_item_id")
        await service.mark_duplicate(who, item_id, _as_id(of, "of_item_id"), note)
    elif action == "escalate":
        await service.escalate(who, item_id, note)
    else:
        await service.add_note(who, item_id, _one(fields, "body"))


def _step(action: str) -> Any:
    async def handler(request: Request, item_id: FromPath[int]) -> Response[Any]:
        lang = request_language(request)
        fields = await _fields(request)
        try:
            async with tenant_session() as session:
                await _run(session, action, item_id, fields)
                await session.commit()
        except BoardError as exc:
            text = _refusal_text(exc, lang, current_tenant().timezone)
            field = (exc.field or "").split("[", 1)[0]
            known = FORM_FIELDS.get(action, ())
            errors = {field: text} if field in known else {}
            return await _item_page(
                request,
                item_id,
                status=exc.status,
                action=action,
                errors=errors,
                alert=None if errors else text,
                values={k: v if k == "agency_ids" else v[0] for k, v in fields.items()},
            )
        query = {"pesan": action, **({"lang": "en"} if lang == "en" else {})}
        return Redirect(f"/liveroom/item/{item_id}?{urlencode(query)}", status_code=303)

    handler.__name__ = f"item_page_{action}"
    return post(
        f"/liveroom/item/{{item_id:int}}/{action}",
        guards=[requires(TRIAGE)],
        summary=f"The item page's {action} form",
        include_in_schema=False,
        status_code=303,
        opt=STAFF_LOGIN,
        name=f"liveroom-page-{action}",
        request_max_body_size=MAX_FORM,
    )(handler)


STEPS = [_step(a) for a in ACTIONS]


def _bad_request(request: Request, exc: ValidationException) -> Response[Any]:
    lang = request_language(request)
    return page(
        request,
        "liveroom/item.html",
        status=400,
        item=None,
        message=translate("liveroom.page.bad_request", lang),
    )


route_handlers: list[Any] = [
    Router(
        path="/",
        route_handlers=[board_page, item_page, *STEPS],
        guards=[city_only],
        exception_handlers={ValidationException: _bad_request},
    )
]
