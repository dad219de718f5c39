"""112: the city's units, the unit types' average speeds (the ETA of the recommendation), and the
incident types with their question protocols, through the hotline112 module's own services
(``UnitService``, ``UnitTypeService``, ``IncidentTypeService``), which check every field."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from sqlalchemy import select

from kotalive.admin.city.common import (
    city_page,
    module_on,
    parse_int,
    problems_to_errors,
    refused,
    wants_json,
)
from kotalive.admin.web import FormErrors, audit, form_data, form_lists, lang_of, redirect
from kotalive.db import TenantSession, tenant_session
from kotalive.i18n import translate
from kotalive.tenants.city_models import Agency

H112 = [module_on("hotline112")]
PROTOCOL_ROWS_EXTRA = 2


def _dispatch_errors(exc: Any, lang: str) -> FormErrors:
    return problems_to_errors(
        exc.problems, lambda p: translate(f"h112.error.{p.code}", lang, **(p.params or {}))
    )


async def _agency_options(session: TenantSession) -> list[tuple[int, str]]:
    rows = await session.scalars(select(Agency).where(Agency.active).order_by(Agency.abbreviation))
    return [(a.id, f"{a.abbreviation} — {a.name}") for a in rows]


async def _overview(session: TenantSession) -> dict[str, Any]:
    from kotalive.modules.hotline112.incidents import IncidentTypeService
    from kotalive.modules.hotline112.units import UnitFilter, UnitService, UnitTypeService

    return {
        "units": await UnitService(session).search(UnitFilter(include_inactive=True)),
        "unit_types": await UnitTypeService(session).all(),
        "incident_types": await IncidentTypeService(session).list(include_inactive=True),
        "agencies": {a.id: a for a in await session.scalars(select(Agency))},
        "agency_options": await _agency_options(session),
    }


@get("/112", guards=H112, summary="112: units, unit types and incident types")
async def overview_page(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        ctx = await _overview(session)
    return city_page(request, "admin/city/h112.html", "hotline112", **ctx)


def _unit_fields(data: dict[str, str]) -> dict[str, Any]:
    """The unit form as the service takes it: ids as numbers, an empty base position as none."""
    fields: dict[str, Any] = {
        "call_sign": data.get("call_sign", ""),
        "type": data.get("type") or None,
        "agency_id": parse_int(data.get("agency_id")),
        "name": data.get("name", ""),
    }
    if data.get("base_lat") or data.get("base_lon"):
        fields["base_lat"] = data.get("base_lat") or None
        fields["base_lon"] = data.get("base_lon") or None
    else:
        fields["base_lat"] = fields["base_lon"] = None
    return fields


@post("/112/units", guards=H112, summary="Add a unit")
async def create_unit(request: Request) -> Response[Any]:
    from kotalive.modules.hotline112.units import DispatchError, UnitService

    data = await form_data(request)
    lang = lang_of(request)
    async with tenant_session() as session:
        try:
            unit = await UnitService(session).create(_unit_fields(data))
        except DispatchError as exc:
            if exc.status == 404:
                raise NotFoundException() from None
            ctx = await _overview(session)
            return refused(
                request,
                "admin/city/h112.html",
                "hotline112",
                _dispatch_errors(exc, lang),
                data,
                status=exc.status,
                **ctx,
            )
        audit(
            session,
            request,
            "admin.h112.unit_created",
            target_kind="h112_unit",
            target_id=unit.id,
            detail={"call_sign": unit.call_sign},
        )
        await session.commit()
        unit_id = unit.id
    if wants_json(request):
        return Response({"id": unit_id}, status_code=201)
    return redirect(f"/admin/112/units/{unit_id}", "admin.city.notice.unit_saved")


async def _unit_context(session: TenantSession, unit_id: int) -> dict[str, Any]:
    from kotalive.modules.hotline112.units import DispatchError, UnitService, UnitTypeService

    try:
        unit = await UnitService(session).get(unit_id)
    except DispatchError:
        raise NotFoundException() from None
    return {
        "unit": unit,
        "unit_types": await UnitTypeService(session).all(),
        "agency_options": await _agency_options(session),
    }


def _unit_form(unit: Any) -> dict[str, Any]:
    return {
        "call_sign": unit.call_sign,
        "type": unit.type_code,
        "agency_id": unit.agency_id,
        "name": unit.name,
        "base_lat": "" if unit.base_lat is None else str(unit.base_lat),
        "base_lon": "" if unit.base_lon is None else str(unit.base_lon),
    }


@get("/112/units/{unit_id:int}", guards=H112, summary="Form: change a unit")
async def unit_page(unit_id: FromPath[int], request: Request) -> Response[Any]:
    async with tenant_session() as session:
        ctx = await _unit_context(session, unit_id)
    return city_page(request, "admin/city/h112_unit.html", "hotline112", form=_unit_form(ctx["unit"]), **ctx)


@post("/112/units/{unit_id:int}", guards=H112, summary="Change a unit")
async def change_unit(unit_id: FromPath[int], request: Request) -> Response[Any]:
    from kotalive.modules.hotline112.units import DispatchError, UnitService

    data = await form_data(request)
    lang = lang_of(request)
    async with tenant_session() as session:
        ctx = await _unit_context(session, unit_id)
        try:
            await UnitService(session).update(unit_id, _unit_fields(data))
        except DispatchError as exc:
            await session.rollback()
            ctx = await _unit_context(session, unit_id)
            return refused(
                request,
                "admin/city/h112_unit.html",
                "hotline112",
                _dispatch_errors(exc, lang),
                data,
                status=exc.status,
                **ctx,
            )
        audit(session, request, "admin.h112.unit_changed", target_kind="h112_unit", target_id=unit_id)
        await session.commit()
    if wants_json(request):
        return Response({"id": unit_id})
    return redirect(f"/admin/112/units/{unit_id}", "admin.city.notice.unit_saved")


@post("/112/units/{unit_id:int}/deactivate", guards=H112, summary="Take a unit off the list")
async def deactivate_unit(unit_id: FromPath[int], request: Request) -> Response[Any]:
    from kotalive.modules.hotline112.units import DispatchError, UnitService

    lang = lang_of(request)
    async with tenant_session() as session:
        ctx = await _unit_context(session, unit_id)
        try:
            await UnitService(session).deactivate(unit_id)
        except DispatchError as exc:
            await session.rollback()
            ctx = await _unit_context(session, unit_id)
            return refused(
                request,
                "admin/city/h112_unit.html",
                "hotline112",
                _dispatch_errors(exc, lang),
                _unit_form(ctx["unit"]),
                status=409,
                **ctx,
            )
        audit(session, request, "admin.h112.unit_deactivated", target_kind="h112_unit", target_id=unit_id)
        await session.commit()
    if wants_json(request):
        return Response({"id": unit_id, "active": False})
    return redirect(f"/admin/112/units/{unit_id}", "admin.city.notice.unit_deactivated")


@post("/112/unit-types/{code:str}", guards=H112, summary="Set a unit type's average speed")
async def change_unit_type(code: FromPath[str], request: Request) -> Response[Any]:
    from kotalive.modules.hotline112.units import DispatchError, UnitTypeService

    data = await form_data(request)
    lang = lang_of(request)
    speed = data.get(f"{code}_avg_speed_kmh", data.get("avg_speed_kmh", ""))
    async with tenant_session() as session:
        try:
            await UnitTypeService(session).update(code, {"avg_speed_kmh": speed.replace(",", ".")})
        except DispatchError as exc:
            if exc.status == 404:
                raise NotFoundException() from None
            await session.rollback()
            errors = FormErrors()
            for p in exc.problems:
                errors.add(f"{code}_{p.field}", translate(f"h112.error.{p.code}", lang, **(p.params or {})))
            ctx = await _overview(session)
            return refused(
                request, "admin/city/h112.html", "hotline112", errors, {f"{code}_avg_speed_kmh": speed}, **ctx
            )
        audit(
            session,
            request,
            "admin.h112.unit_type_changed",
            target_kind="h112_unit_type",
            target_id=code,
            detail={"avg_speed_kmh": speed},
        )
        await session.commit()
    if wants_json(request):
        return Response({"code": code})
    return redirect("/admin/112", "admin.city.notice.unit_type_saved")


# ---- incident types and their question protocols -------------------------------------------------


def _protocol_rows(protocol: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [
        {
            "key": q.get("key", ""),
            "text_id": q.get("text_id", ""),
            "text_en": q.get("text_en", ""),
            "kind": q.get("kind", "yes_no"),
            "choices": "\n".join(q.get("choices") or []),
        }
        for q in protocol
    ]
    return rows + [
        {"key": "", "text_id": "", "text_en": "", "kind": "yes_no", "choices": ""}
        for _ in range(PROTOCOL_ROWS_EXTRA)
    ]


async def _type_context(session: TenantSession, code: str) -> dict[str, Any]:
    from kotalive.modules.hotline112.calls import Refusal
    from kotalive.modules.hotline112.domain import PRIORITIES, QUESTION_KINDS, UNIT_TYPES
    from kotalive.modules.hotline112.incidents import IncidentTypeService

    try:
        row = await IncidentTypeService(session).get(code)
    except Refusal:
        raise NotFoundException() from None
    return {
        "itype": row,
        "priorities": PRIORITIES,
        "question_kinds": QUESTION_KINDS,
        "unit_type_codes": UNIT_TYPES,
        "agency_options": await _agency_options(session),
    }


def _type_form(row: Any) -> dict[str, Any]:
    return {
        "name_id": row.name_id,
        "name_en": row.name_en,
        "priority": row.priority,
        "agency_id": row.agency_id or "",
        "position": str(row.position),
        "active": "on" if row.active else "",
    }


@get("/112/types/{code:str}", guards=H112, summary="Form: an incident type and its questions")
async def incident_type_page(code: FromPath[str], request: Request) -> Response[Any]:
    async with tenant_session() as session:
        ctx = await _type_context(session, code)
    row = ctx["itype"]
    return city_page(
        request,
        "admin/city/h112_type.html",
        "hotline112",
        form=_type_form(row),
        chosen_units=list(row.unit_types or []),
        protocol_rows=_protocol_rows(list(row.protocol or [])),
        **ctx,
    )


@post("/112/types/{code:str}", guards=H112, summary="Change an incident type and its questions")
async def change_incident_type(code: FromPath[str], request: Request) -> Response[Any]:
    from kotalive.modules.hotline112.calls import Refusal
    from kotalive.modules.hotline112.incidents import IncidentTypeService

    data = await form_data(request)
    lists = await form_lists(request, "unit_types", "q_key", "q_text_id", "q_text_en", "q_kind", "q_choices")
    protocol: list[dict[str, Any]] = []
    typed: list[dict[str, Any]] = []
    for i, key in enumerate(lists["q_key"]):

        def at(name: str, default: str = "", i: int = i) -> str:
            values = lists[name]
            return values[i] if i < len(values) else default

        if not key and not at("q_text_id") and not at("q_text_en"):
            continue  # an unused blank row
        choices = [c.strip() for c in at("q_choices").splitlines() if c.strip()]
        kind = at("q_kind", "yes_no")
        typed.append(
            {
                "key": key,
                "text_id": at("q_text_id"),
                "text_en": at("q_text_en"),
                "kind": kind,
                "choices": at("q_choices"),
            }
        )
        protocol.append(
            {
                "key": key,
                "text_id": at("q_text_id"),
                "text_en": at("q_text_en"),
                "kind": kind,
                "choices": choices,
            }
        )
    agency = parse_int(data.get("agency_id"))
    position = parse_int(data.get("position"))
    lang = lang_of(request)
    async with tenant_session() as session:
        ctx = await _type_context(session, code)
        try:
            await IncidentTypeService(session).update(
                code,
                name_id=data.get("name_id", ""),
                name_en=data.get("name_en", ""),
                priority=data.get("priority", ""),
                unit_types=[u for u in lists["unit_types"] if u],
                agency_id=agency,
                protocol=protocol,
                active=data.get("active", "") not in ("", "off", "0"),
                position=position if position is not None else 0,
            )
        except Refusal as exc:
            await session.rollback()
            ctx = await _type_context(session, code)
            errors = FormErrors()
            errors.add(exc.field, translate(f"h112.calls.error.{exc.code}", lang, **exc.detail))
            return refused(
                request,
                "admin/city/h112_type.html",
                "hotline112",
                errors,
                data,
                chosen_units=[u for u in lists["unit_types"] if u],
                protocol_rows=typed + _protocol_rows([]),
                **ctx,
            )
        audit(
            session,
            request,
            "admin.h112.incident_type_changed",
            target_kind="h112_incident_type",
            target_id=code,
            detail={"questions": [q["key"] for q in protocol]},
        )
        await session.commit()
    if wants_json(request):
        return Response({"code": code})
    return redirect(f"/admin/112/types/{code}", "admin.city.notice.incident_type_saved")


route_handlers = [
    overview_page,
    create_unit,
    unit_page,
    change_unit,
    deactivate_unit,
    change_unit_type,
    incident_type_page,
    change_incident_type,
]
