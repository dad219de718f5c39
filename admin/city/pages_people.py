"""People: the city's employees (from Simpeg) and their role grants, the Simpeg sync on demand, and
the Live Room's operators, shifts and roster.

Grants go through the core's ``kotalive.auth.access`` (which audits them and ends the person's
sessions so the next request carries the new roles); the sync through ``kotalive.auth.employees``;
shifts and the roster through the Live Room's ``shifts`` service.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from sqlalchemy import func, or_, select

from kotalive.admin.city.common import (
    city_page,
    module_on,
    one_error,
    parse_int,
    problems_to_errors,
    refused,
    wants_json,
)
from kotalive.admin.web import FormErrors, audit, form_data, form_lists, lang_of, redirect
from kotalive.auth import access
from kotalive.auth.models import Employee, RoleGrant
from kotalive.auth.roles import AGENCY_SCOPED_ROLES, CITY_ROLES
from kotalive.context import current_tenant
from kotalive.db import TenantSession, tenant_session
from kotalive.i18n import translate
from kotalive.tenants.city_models import Agency
from kotalive.web import client_ip

PAGE_SIZE = 50
GRANTABLE = tuple(r for r in CITY_ROLES if r != "citizen")
LIVEROOM = [module_on("liveroom")]


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def _roles_by_employee(session: TenantSession, ids: list[int]) -> dict[int, list[RoleGrant]]:
    if not ids:
        return {}
    rows = await session.scalars(
        select(RoleGrant)
        .where(RoleGrant.subject_kind == "employee", RoleGrant.subject_id.in_(ids))
        .order_by(RoleGrant.role)
    )
    out: dict[int, list[RoleGrant]] = {}
    for g in rows:
        out.setdefault(g.subject_id, []).append(g)
    return out


async def _employees_context(session: TenantSession, request: Request) -> dict[str, Any]:
    from kotalive.tenants.city_models import IntegrationSetting

    q = (request.query_params.get("q") or "").strip()[:100]
    role = request.query_params.get("role") or ""
    offset = parse_int(request.query_params.get("offset"))
    offset = offset if isinstance(offset, int) and offset > 0 else 0
    stmt = select(Employee).order_by(Employee.name, Employee.id).limit(PAGE_SIZE + 1).offset(offset)
    if q:
        pattern = _like(q)
        stmt = stmt.where(
            or_(
                Employee.name.ilike(pattern, escape="\\"),
                Employee.nip.startswith(q, autoescape=True),
                Employee.email.ilike(pattern, escape="\\"),
            )
        )
    if role in CITY_ROLES:
        stmt = stmt.where(
            Employee.id.in_(
                select(RoleGrant.subject_id).where(
                    RoleGrant.subject_kind == "employee", RoleGrant.role == role
                )
            )
        )
    rows = list(await session.scalars(stmt))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    simpeg = await session.get(IntegrationSetting, "simpeg")
    return {
        "employees": rows,
        "grants": await _roles_by_employee(session, [e.id for e in rows]),
        "agencies": {a.id: a for a in await session.scalars(select(Agency))},
        "q": q,
        "role": role,
        "roles": GRANTABLE,
        "next_offset": offset + PAGE_SIZE if more else None,
        "total": int(await session.scalar(select(func.count()).select_from(Employee)) or 0),
        "simpeg_connected": simpeg is not None and simpeg.enabled,
    }


@get("/employees", summary="Employees: search, roles, the Simpeg sync")
async def employees_page(request: Request) -> Response[Any]:
    async with tenant_session() as session:
        ctx = await _employees_context(session, request)
    return city_page(request, "admin/city/employees.html", "employees", sync_report=None, **ctx)


async def _employee_context(session: TenantSession, employee_id: int) -> dict[str, Any]:
    employee = await session.get(Employee, employee_id)
    if employee is None:
        raise NotFoundException()
    grants = (await _roles_by_employee(session, [employee_id])).get(employee_id, [])
    agencies = list(await session.scalars(select(Agency).order_by(Agency.abbreviation)))
    return {
        "employee": employee,
        "grants": grants,
        "agencies": {a.id: a for a in agencies},
        "agency_options": [(a.id, f"{a.abbreviation} — {a.name}") for a in agencies if a.active],
        "roles": GRANTABLE,
        "scoped_roles": sorted(AGENCY_SCOPED_ROLES),
    }


@get("/employees/{employee_id:int}", summary="One employee and their roles")
async def employee_page(employee_id: FromPath[int], request: Request) -> Response[Any]:
    async with tenant_session() as session:
        ctx = await _employee_context(session, employee_id)
    return city_page(request, "admin/city/employee.html", "employees", form={}, **ctx)


@post("/employees/{employee_id:int}/roles", summary="Grant a role to an employee")
async def grant_role(employee_id: FromPath[int], request: Request) -> Response[Any]:
    data = await form_data(request)
    lang = lang_of(request)
    role = data.get("role", "")
    agency_id = parse_int(data.get("agency_id"))
    errors = FormErrors()
    if role not in GRANTABLE:
        errors.add("role", translate("admin.city.error.role.invalid", lang))
    if agency_id is not None and not isinstance(agency_id, int):
        errors.add("agency_id", translate("admin.city.error.grant_agency.unknown", lang))
    elif agency_id is not None and role not in AGENCY_SCOPED_ROLES:
        errors.add("agency_id", translate("admin.city.error.grant_agency.city_wide", lang))
    async with tenant_session() as session:
        if not errors and isinstance(agency_id, int) and await session.get(Agency, agency_id) is None:
            errors.add("agency_id", translate("admin.city.error.grant_agency.unknown", lang))
        if errors:
            ctx = await _employee_context(session, employee_id)
            return refused(request, "admin/city/employee.html", "employees", errors, data, **ctx)
        if await session.get(Employee, employee_id) is None:
            raise NotFoundException()
        me = request.scope["state"].get("principal")
        try:
            await access.grant_role(
                session,
                request.app.state.auth.sessions,
                subject_kind="employee",
                subject_id=employee_id,
                role=role,
                agency_id=agency_id if isinstance(agency_id, int) else None,
                granted_by=me.label if me else None,
                ip=client_ip(request),
            )
        except access.AccessInputError as exc:  # checked above; the service has the last word
            ctx = await _employee_context(session, employee_id)
            return refused(
                request,
                "admin/city/employee.html",
                "employees",
                one_error(exc.field, exc.reason),
                data,
                **ctx,
            )
        await session.commit()
    if wants_json(request):
        return Response({"status": "granted"}, status_code=201)
    return redirect(f"/admin/employees/{employee_id}", "admin.city.notice.role_granted")


@post("/employees/{employee_id:int}/roles/{grant_id:int}/revoke", summary="Revoke a role")
async def revoke_role(employee_id: FromPath[int], grant_id: FromPath[int], request: Request) -> Response[Any]:
    async with tenant_session() as session:
        grant = await session.get(RoleGrant, grant_id)
        if grant is None or grant.subject_kind != "employee" or grant.subject_id != employee_id:
            raise NotFoundException()
        await access.revoke_grant(session, request.app.state.auth.sessions, grant_id, ip=client_ip(request))
        await session.commit()
    if wants_json(request):
        return Response({"status": "revoked"})
    return redirect(f"/admin/employees/{employee_id}", "admin.city.notice.role_revoked")


@post("/employees/sync", summary="Sync the employees from Simpeg now")
async def sync_now(request: Request) -> Response[Any]:
    """The sync runs in this request (a city's register is read in seconds), so the admin sees its
    result; the hourly job runs the same code."""
    from kotalive.auth.employees import SyncRefused, sync_city
    from kotalive.integrations.http import IntegrationError

    lang = lang_of(request)
    tenant = current_tenant()
    error: str | None = None
    report = None
    try:
        report = await sync_city(request.app.state.settings, tenant, redis=request.app.state.redis)
    except (IntegrationError, SyncRefused, ValueError) as exc:
        error = translate("admin.city.error.sync.failed", lang, reason=str(exc))
    if report is None and error is None:
        error = translate("admin.city.error.sync.not_configured", lang)
    async with tenant_session() as session:
        audit(
            session,
            request,
            "admin.employees.synced" if report is not None else "admin.employees.sync_failed",
            target_kind="simpeg",
            detail=report.summary() if report is not None else {"error": error},
        )
        await session.commit()
        ctx = await _employees_context(session, request)
    if error is not None:
        if wants_json(request):
            from kotalive.admin.city.common import errors_json

            return errors_json(one_error("sync", error), 409)
        return city_page(
            request,
            "admin/city/employees.html",
            "employees",
            status=409,
            sync_report=None,
            alert=error,
            **ctx,
        )
    assert report is not None
    if wants_json(request):
        return Response(report.summary())
    # The report is shown on this answer (its numbers are not a notice's fixed text).
    return city_page(request, "admin/city/employees.html", "employees", sync_report=report.summary(), **ctx)


# ---- the Live Room: operators, shifts, the roster ------------------------------------------------


def _week_of(request: Request) -> dt.date:
    from zoneinfo import ZoneInfo

    from kotalive.modules.liveroom import shifts as room

    today = dt.datetime.now(ZoneInfo(current_tenant().timezone)).date()
    raw = request.query_params.get("week")
    try:
        day = dt.date.fromisoformat(raw) if raw else today
    except ValueError:
        day = today
    return room.week_start(day)


async def _room_context(session: TenantSession, first_day: dt.date) -> dict[str, Any]:
    from kotalive.modules.liveroom import shifts as room

    shifts = await room.list_shifts(session)
    lines = await room.roster_week(session, first_day)
    roster: dict[tuple[dt.date, int], list[Any]] = {}
    for line in lines:
        roster.setdefault((line.day, line.shift_id), []).append(line)
    return {
        "operators": await room.room_operators(session),
        "shifts": shifts,
        "days": [first_day + dt.timedelta(days=i) for i in range(7)],
        "roster": roster,
        "week": first_day,
        "previous_week": first_day - dt.timedelta(days=7),
        "next_week": first_day + dt.timedelta(days=7),
        "on_duty": await room.on_duty_now(session),
    }


def _shift_rows(shifts: list[Any]) -> list[dict[str, Any]]:
    rows = [
        {"id": s.id, "name": s.name, "starts": s.starts.strftime("%H:%M"), "hours": str(s.hours)}
        for s in shifts
    ]
    return rows + [{"id": "", "name": "", "starts": "", "hours": ""}]


@get("/liveroom", guards=LIVEROOM, summary="Live Room: operators, shifts and the roster")
async def liveroom_page(request: Request) -> Response[Any]:
    week = _week_of(request)
    async with tenant_session() as session:
        ctx = await _room_context(session, week)
    return city_page(
        request, "admin/city/liveroom.html", "liveroom", shift_rows=_shift_rows(ctx["shifts"]), form={}, **ctx
    )


def _room_text(lang: str) -> Any:
    def text(p: Any) -> str:
        return translate(f"liveroom.shifts.problem.{p.code}", lang, **(p.params or {}))

    return text


@post("/liveroom/shifts", guards=LIVEROOM, summary="Set the shifts (they must cover 24 hours)")
async def set_shifts(request: Request) -> Response[Any]:
    from kotalive.modules.liveroom import shifts as room

    lists = await form_lists(request, "shift_id", "shift_name", "shift_starts", "shift_hours")
    rows = []
    typed = []
    for i, name in enumerate(lists["shift_name"]):
        ident = lists["shift_id"][i] if i < len(lists["shift_id"]) else ""
        starts = lists["shift_starts"][i] if i < len(lists["shift_starts"]) else ""
        hours = lists["shift_hours"][i] if i < len(lists["shift_hours"]) else ""
        if not (name or starts or hours):
            continue  # the blank row for a new shift, left blank
        typed.append({"id": ident, "name": name, "starts": starts, "hours": hours})
        row: dict[str, Any] = {"name": name, "starts": starts, "hours": hours}
        if ident:
            row["id"] = parse_int(ident)
        rows.append(row)
    lang = lang_of(request)
    week = _week_of(request)
    async with tenant_session() as session:
        try:
            await room.replace_shifts(session, {"shifts": rows})
        except room.ShiftRefusal as exc:
            ctx = await _room_context(session, week)
            errors = problems_to_errors(exc.problems, _room_text(lang))
            return refused(
                request,
                "admin/city/liveroom.html",
                "liveroom",
                errors,
                {},
                shift_rows=typed + [{"id": "", "name": "", "starts": "", "hours": ""}],
                **ctx,
            )
        await session.commit()  # the service wrote its own audit row
    if wants_json(request):
        return Response({"status": "saved"})
    return redirect("/admin/liveroom", "admin.city.notice.shifts_saved")


@post("/liveroom/roster", guards=LIVEROOM, summary="Put an operator on a shift of a day")
async def plan_operator(request: Request) -> Response[Any]:
    from kotalive.modules.liveroom import shifts as room

    data = await form_data(request)
    lang = lang_of(request)
    week = _week_of(request)
    me = request.scope["state"].get("principal")
    async with tenant_session() as session:
        try:
            await room.plan(session, dict(data), me.id if me and me.kind == "employee" else None)
        except room.ShiftRefusal as exc:
            ctx = await _room_context(session, week)
            errors = problems_to_errors(exc.problems, _room_text(lang))
            return refused(
                request,
                "admin/city/liveroom.html",
                "liveroom",
                errors,
                data,
                shift_rows=_shift_rows(ctx["shifts"]),
                **ctx,
            )
        await session.commit()
    if wants_json(request):
        return Response({"status": "planned"}, status_code=201)
    return redirect("/admin/liveroom", "admin.city.notice.planned", week=week.isoformat())


@post("/liveroom/roster/{entry_id:int}/delete", guards=LIVEROOM, summary="Take an operator off the roster")
async def unplan_operator(entry_id: FromPath[int], request: Request) -> Response[Any]:
    from kotalive.modules.liveroom import shifts as room

    async with tenant_session() as session:
        try:
            await room.unplan(session, entry_id)
        except room.ShiftRefusal:
            raise NotFoundException() from None
        await session.commit()
    if wants_json(request):
        return Response({"status": "removed"})
    return redirect("/admin/liveroom", "admin.city.notice.unplanned", week=_week_of(request).isoformat())


route_handlers = [
    employees_page,
    employee_page,
    grant_role,
    revoke_role,
    sync_now,
    liveroom_page,
    set_shifts,
    plan_operator,
    unplan_operator,
]
