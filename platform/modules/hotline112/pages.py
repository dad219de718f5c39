"""The call-taker's pages (Bahasa Indonesia by default, ``?lang=en``), server-rendered.

``/112``: the calls ringing or in progress (newest first; ringing ones marked), and for the call
chosen (``?panggilan=<id>``) its number, line and moments, the caller's history (earlier calls and
incidents from that number), the caller's location on a map with its accuracy circle, a form to
place the caller, the "open incident" form (type, that type's protocol questions, priority,
location, callback number) and the disposition buttons. The server renders it all so the screen
works without scripts; ``/static/hotline112/calltaker.js`` keeps the list, the chosen call and
its location current from the calls stream.

``/112/insiden/{id}``: one incident: its facts, map, protocol answers, calls, timeline and notes,
the forms to write a note and to close it, the EIDO download, and the dispatcher's panel.

Each form posts here, runs the same service as the JSON API and answers with a redirect (303), or
the same page with the refusal next to the field it is about.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from kotalive.auth.guards import requires
from kotalive.auth.principal import current_principal
from kotalive.context import current_tenant
from kotalive.db import TenantSession, tenant_session
from kotalive.i18n import translate
from kotalive.modules.hotline112 import calls, incidents
from kotalive.modules.hotline112.call_routes import TAKE, VIEW, refusal_body, staff
from kotalive.modules.hotline112.calls import Refusal
from kotalive.modules.hotline112.domain import DISPOSITIONS, INCIDENT_STATES, PRIORITIES
from kotalive.pages import local_time
from kotalive.web import city_only, page, request_language

STAFF_LOGIN = {"login": "/staff/login"}
DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
SCRIPT_TEXTS = (
    "calls.empty",
    "calls.withheld",
    "calls.live.connecting",
    "calls.live.on",
    "calls.live.off",
    "calls.stage.offered",
    "calls.stage.answered",
    "calls.stage.transferred",
    "calls.stage.ended",
    "calls.history.none",
    "calls.history.count",
    "calls.location.none",
    "calls.location.accuracy",
    "calls.map.tiles_failed",
)


def tile_url() -> str:
    config = current_tenant().module_config or {}
    for name in ("hotline112", "liveroom", "laksa"):
        url = (config.get(name) or {}).get("tile_url")
        if isinstance(url, str) and url:
            return url
    return DEFAULT_TILES


def _lang_q(lang: str, **more: Any) -> str:
    query = {k: v for k, v in more.items() if v is not None}
    if lang == "en":
        query["lang"] = "en"
    return ("?" + urlencode(query)) if query else ""


def _allows(request: Request, permission: str) -> bool:
    principal = current_principal()
    return principal is not None and bool(request.app.state.permissions.allows(principal.roles, permission))


def _script_config(lang: str) -> str:
    texts = {k: translate(f"h112.{k}", lang) for k in SCRIPT_TEXTS}
    texts.update({f"disposition.{d}": translate(f"h112.disposition.{d}", lang) for d in DISPOSITIONS})
    return json.dumps({"texts": texts, "lang": lang})


def when(value: str | None) -> str:
    """An ISO moment of the API's shapes in the city's time zone (05-12-2026 14:03 WIB)."""
    if not value:
        return "—"
    try:
        return local_time(dt.datetime.fromisoformat(value), current_tenant().timezone, "%d-%m-%Y %H:%M:%S")
    except ValueError:
        return value


def clock(value: str | None) -> str:
    """The time of day of an ISO moment in the city's time zone (14:03:05 WIB)."""
    if not value:
        return ""
    try:
        return local_time(dt.datetime.fromisoformat(value), current_tenant().timezone, "%H:%M:%S")
    except ValueError:
        return value


def _error_text(exc: Refusal, lang: str) -> str:
    return str(refusal_body(exc, lang)["errors"][0]["reason"])


async def _types(session: TenantSession) -> list[dict[str, Any]]:
    return [incidents.type_data(t) for t in await incidents.IncidentTypeService(session).list()]


# ---- the call-taker screen -------------------------------------------------------------------------


def _screen(lang: str) -> dict[str, Any]:
    """What every 112 screen's template takes besides its own data: the map tiles, the scripts'
    texts and the time and link helpers."""
    return {
        "tiles": tile_url(),
        "config": _script_config(lang),
        "when": when,
        "clock": clock,
        "lang_q": lambda **more: _lang_q(lang, **more),
    }


async def _calltaker_page(
    request: Request,
    *,
    selected: int | None,
    status: int = 200,
    form: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    alert: str | None = None,
) -> Response[str]:
    lang = request_language(request)
    notice_key = request.query_params.get("ok")
    async with tenant_session() as session:
        live = await calls.live_calls(session)
        detail = None
        if selected is not None:
            try:
                detail = await calls.call_detail(session, selected)
            except Refusal as exc:
                if exc.status != 404:
                    raise
                alert = alert or _error_text(exc, lang)
                status = 404 if status == 200 else status
        types = await _types(session)
        open_incidents = await incidents.list_incidents(session, state="open", limit=20)
    call_list = [calls.call_data(c) for c in live]
    if detail is not None and all(c["id"] != detail["call"]["id"] for c in call_list):
        call_list.insert(0, detail["call"])  # an older call opened by its link
    chosen_type = (values or {}).get("type") or (types[0]["code"] if types else "")
    return page(
        request,
        "hotline112/calltaker.html",
        status=status,
        calls=call_list,
        detail=detail,
        types=types,
        chosen_type=chosen_type,
        priorities=PRIORITIES,
        dispositions=DISPOSITIONS,
        open_incidents=[incidents.incident_data(i) for i in open_incidents],
        form=form,
        errors=errors or {},
        values=values or {},
        alert=alert,
        notice=translate(f"h112.{notice_key}", lang)
        if notice_key in ("calls.decided", "calls.location.saved")
        else None,
        **_screen(lang),
    )


@get(
    "/112",
    guards=[requires(TAKE)],
    summary="The call-taker's screen",
    include_in_schema=False,
    opt=STAFF_LOGIN,
)
async def calltaker_page(request: Request) -> Response[str]:
    raw = request.query_params.get("panggilan") or request.query_params.get("call")
    selected = int(raw) if raw and raw.isdigit() else None
    return await _calltaker_page(request, selected=selected)


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key == "_csrf_token" or not isinstance(value, str):
            continue
        if key in out:
            out[key] = [*out[key], value] if isinstance(out[key], list) else [out[key], value]
        else:
            out[key] = value
    return out


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


@post(
    "/112/panggilan/{call_id:int}/keputusan",
    guards=[requires(TAKE)],
    summary="Decide about a call (the screen's buttons)",
    include_in_schema=False,
    status_code=303,
)
async def decide_form(request: Request, call_id: FromPath[int]) -> Response[Any]:
    lang = request_language(request)
    values = await _form(request)
    body: dict[str, Any] = {
        "disposition": values.get("disposition"),
        "summary": _blank_to_none(values.get("summary")),
    }
    raw_incident = (
        (values.get("incident_id") or "").strip() if isinstance(values.get("incident_id"), str) else ""
    )
    if raw_incident:
        body["incident_id"] = int(raw_incident) if raw_incident.isdigit() else raw_incident
    try:
        async with tenant_session() as session:
            await calls.set_disposition(session, staff(), call_id, body)
            await session.commit()
    except Refusal as exc:
        field = exc.field if exc.field in ("summary", "incident_id", "disposition") else "disposition"
        return await _calltaker_page(
            request,
            selected=call_id,
            status=exc.status,
            form="decide",
            errors={field: _error_text(exc, lang)},
            values=values,
        )
    return Redirect(f"/112{_lang_q(lang, panggilan=call_id, ok='calls.decided')}", status_code=303)


@post(
    "/112/panggilan/{call_id:int}/lokasi",
    guards=[requires(TAKE)],
    summary="Place the caller (the screen's form)",
    include_in_schema=False,
    status_code=303,
)
async def locate_form(request: Request, call_id: FromPath[int]) -> Response[Any]:
    lang = request_language(request)
    values = await _form(request)
    body = {
        "lat": _blank_to_none(values.get("lat")),
        "lon": _blank_to_none(values.get("lon")),
        "accuracy_m": _blank_to_none(values.get("accuracy_m")),
        "source": values.get("source") or "map",
    }
    try:
        async with tenant_session() as session:
            await calls.set_location(session, staff(), call_id, body)
            await session.commit()
    except Refusal as exc:
        return await _calltaker_page(
            request,
            selected=call_id,
            status=exc.status,
            form="locate",
            errors={exc.field: _error_text(exc, lang)},
            values=values,
        )
    return Redirect(f"/112{_lang_q(lang, panggilan=call_id, ok='calls.location.saved')}", status_code=303)


def _answers_of(values: dict[str, Any], type_code: str) -> dict[str, Any]:
    prefix = f"answer.{type_code}."
    return {
        k[len(prefix) :]: v
        for k, v in values.items()
        if k.startswith(prefix) and isinstance(v, str) and v.strip()
    }


@post(
    "/112/insiden",
    guards=[requires(TAKE)],
    summary="Open an incident (the screen's form)",
    include_in_schema=False,
    status_code=303,
)
async def open_incident_form(request: Request) -> Response[Any]:
    lang = request_language(request)
    values = await _form(request)
    raw_calls = values.get("call_ids") or []
    raw_calls = raw_calls if isinstance(raw_calls, list) else [raw_calls]
    call_ids: list[Any] = [int(c) if c.isdigit() else c for c in raw_calls]
    type_code = values.get("type") or ""
    body = {
        "call_ids": call_ids,
        "type": type_code or None,
        "priority": _blank_to_none(values.get("priority")),
        "summary": values.get("summary") or "",
        "address": _blank_to_none(values.get("address")),
        "lat": _blank_to_none(values.get("lat")),
        "lon": _blank_to_none(values.get("lon")),
        "accuracy_m": _blank_to_none(values.get("accuracy_m")),
        "location_source": _blank_to_none(values.get("location_source")),
        "callback_number": _blank_to_none(values.get("callback_number")),
        "answers": _answers_of(values, str(type_code)),
    }
    try:
        async with tenant_session() as session:
            incident = await incidents.IncidentService(session, staff()).open(body)
            await session.commit()
    except Refusal as exc:
        field = exc.field
        if field.startswith("answers."):
            field = f"answer.{type_code}.{field.split('.', 1)[1]}"
        elif field.startswith("call_ids"):
            field = "call_ids"
        selected = call_ids[0] if call_ids and isinstance(call_ids[0], int) else None
        return await _calltaker_page(
            request,
            selected=selected,
            status=exc.status,
            form="incident",
            errors={field: _error_text(exc, lang)},
            values=values,
        )
    return Redirect(f"/112/insiden/{incident.id}{_lang_q(lang)}", status_code=303)


# ---- the incident page -----------------------------------------------------------------------------


async def _incident_page(
    request: Request,
    incident_id: int,
    *,
    status: int = 200,
    form: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response[str]:
    lang = request_language(request)
    async with tenant_session() as session:
        try:
            detail = await incidents.incident_detail(session, incident_id)
        except Refusal:
            return page(
                request,
                "hotline112/incident.html",
                status=404,
                detail=None,
                message=translate("h112.incident.not_found", lang),
                lang_q=lambda **more: _lang_q(lang, **more),
            )
    inc = detail["incident"]
    type_info = detail["type"] or {"protocol": [], "name_id": inc["type"], "name_en": inc["type"]}
    notice_key = request.query_params.get("ok")
    return page(
        request,
        "hotline112/incident.html",
        status=status,
        detail=detail,
        incident=inc,
        type_info=type_info,
        type_name=type_info["name_en"] if lang == "en" else type_info["name_id"],
        notes=[e for e in detail["timeline"] if e["kind"] == "note"],
        states=INCIDENT_STATES,
        may_act=_allows(request, TAKE),
        form=form,
        errors=errors or {},
        values=values or {},
        notice=translate("h112.incident.saved", lang) if notice_key == "saved" else None,
        **_screen(lang),
    )


@get(
    "/112/insiden/{incident_id:int}",
    guards=[requires(VIEW)],
    summary="One incident",
    include_in_schema=False,
    opt=STAFF_LOGIN,
)
async def incident_page(request: Request, incident_id: FromPath[int]) -> Response[str]:
    return await _incident_page(request, incident_id)


@post(
    "/112/insiden/{incident_id:int}/catatan",
    guards=[requires(TAKE)],
    summary="Write a note on an incident (the page's form)",
    include_in_schema=False,
    status_code=303,
)
async def note_form(request: Request, incident_id: FromPath[int]) -> Response[Any]:
    return await _incident_form(
        request,
        incident_id,
        "note",
        "body",
        lambda svc, v: svc.add_note(incident_id, {"body": v}),
        "#catatan",
    )


@post(
    "/112/insiden/{incident_id:int}/tutup",
    guards=[requires(TAKE)],
    summary="Close an incident (the page's form)",
    include_in_schema=False,
    status_code=303,
)
async def close_form(request: Request, incident_id: FromPath[int]) -> Response[Any]:
    return await _incident_form(
        request, incident_id, "close", "reason", lambda svc, v: svc.close(incident_id, {"reason": v})
    )


async def _incident_form(
    request: Request,
    incident_id: int,
    form: str,
    field: str,
    act: Callable[[incidents.IncidentService, str], Awaitable[Any]],
    anchor: str = "",
) -> Response[Any]:
    """One of the incident page's forms: ``act`` on the field's value, or the page again with the
    refusal next to the field."""
    lang = request_language(request)
    values = await _form(request)
    try:
        async with tenant_session() as session:
            await act(incidents.IncidentService(session, staff()), values.get(field) or "")
            await session.commit()
    except Refusal as exc:
        return await _incident_page(
            request,
            incident_id,
            status=exc.status,
            form=form,
            errors={field: _error_text(exc, lang)},
            values=values,
        )
    return Redirect(f"/112/insiden/{incident_id}{_lang_q(lang, ok='saved')}{anchor}", status_code=303)


route_handlers: list[Any] = [
    Router(
        path="/",
        route_handlers=[
            calltaker_page,
            decide_form,
            locate_form,
            open_incident_form,
            incident_page,
            note_form,
            close_form,
        ],
        guards=[city_only],
    )
]
