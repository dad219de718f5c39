"""The room's shifts, roster, duty, handover and measures: the JSON API (thin: parse, call
``shifts``/``handover``/``measures``, shape the answer) and the pages /liveroom/shift and
/liveroom/ukuran (Bahasa Indonesia by default, ``?lang=en``).

Refusals answer like the rest of the platform: 422 with ``errors: [{field, reason, code}]``, 404
for what is not there (another city's id included: every read goes through this city's session),
409 when the state forbids the step (already on duty, already acknowledged, with who and when).
Page forms post with the CSRF token and answer 303 back to the page, or the page again with the
reason (422 next to the fields, 409 above them).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, Router, delete, get, post, put
from litestar.exceptions import ValidationException
from litestar.params import FromPath
from litestar.response import Redirect

from kotalive.auth.guards import requires
from kotalive.auth.principal import current_principal
from kotalive.context import current_tenant
from kotalive.db import TenantSession, tenant_session
from kotalive.i18n import translate
from kotalive.modules.liveroom import handover, measures
from kotalive.modules.liveroom import shifts as shift_service
from kotalive.modules.liveroom.shifts import Problem, ShiftRefusal, hhmm
from kotalive.web import NO_STORE, city_only, page, request_language

BOARD_VIEW = "liveroom.board.view"
DUTY = "liveroom.duty"
MANAGE = "liveroom.shift.manage"
MEASURES_VIEW = "liveroom.measures.view"
STAFF_LOGIN = {"login": "/staff/login"}
MAX_BODY = 256 * 1024


# ---- shared -------------------------------------------------------------------------------------------


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "—"


def _say(key: str, lang: str, params: dict[str, Any] | None = None) -> str:
    """A text with its parameters; a parameter the refusal did not carry shows as a dash."""
    values = _Blank({k: ("—" if v is None else v) for k, v in (params or {}).items()})
    return translate(key, lang).format_map(values)


def _field_code(problem: Problem) -> str:
    return f"{problem.field.split('[')[0].split('.')[0]}.{problem.code}"


def _refusal_detail(exc: ShiftRefusal, lang: str) -> str:
    params = dict(exc.detail)
    when = params.get("acknowledged_at") or params.get("since")
    if isinstance(when, str):
        from kotalive.pages import local_time

        params["when"] = local_time(dt.datetime.fromisoformat(when), current_tenant().timezone)
    return _say(f"liveroom.shifts.refused.{exc.code}", lang, params)


def refusal_body(exc: ShiftRefusal, lang: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status_code": exc.status,
        "error": exc.code,
        "detail": _refusal_detail(exc, lang),
        **exc.detail,
    }
    if exc.problems:
        body["errors"] = [
            {
                "field": p.field,
                "reason": _say(f"liveroom.shifts.problem.{p.code}", lang, p.params),
                "code": _field_code(p),
            }
            for p in exc.problems
        ]
    return body


def _refused(request: Request, exc: ShiftRefusal) -> Response[Any]:
    return Response(refusal_body(exc, request_language(request)), status_code=exc.status, headers=NO_STORE)


def _me() -> int:
    principal = current_principal()
    assert principal is not None, "route guards let only signed-in people through"
    if principal.kind != "employee":
        raise ShiftRefusal(404, "employee", id=principal.id)
    return principal.id


def _tz() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(current_tenant().timezone)


def _local(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(_tz()).isoformat() if moment is not None else None


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        decoded = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise shift_service.invalid(Problem("body", "not_json")) from None
    if not isinstance(decoded, dict):
        raise shift_service.invalid(Problem("body", "not_object"))
    return decoded


async def _form(request: Request) -> dict[str, Any]:
    """A page form's fields (the first value of each), or a JSON body's."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        out: dict[str, Any] = {}
        for key, value in form.multi_items():
            if key != "_csrf_token" and isinstance(value, str):
                out.setdefault(key, value)
        return out
    try:
        return await _json_body(request)
    except ShiftRefusal:
        return {}


def csv_cell(value: Any) -> str:
    """Spreadsheets run a cell starting with = + - @ (or a tab or return before one) as a
    formula: such text gets a quote first. Numbers are written as they are."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") or text.lstrip()[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text


def _csv(columns: tuple[str, ...], rows: list[list[Any]], filename: str) -> Response[Any]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            **NO_STORE,
            "content-disposition": f'attachment; filename="{filename}"',
            "x-content-type-options": "nosniff",
        },
    )


def _shift_out(s: Any) -> dict[str, Any]:
    return {
        "id": s.id,
        "code": s.code,
        "name": s.name,
        "starts": hhmm(s.starts),
        "hours": s.hours,
        "position": s.position,
        "active": s.active,
    }


def _running_out(running: shift_service.ShiftNow | None) -> dict[str, Any] | None:
    if running is None:
        return None
    return {
        "id": running.shift.id,
        "code": running.shift.code,
        "name": running.shift.name,
        "day": running.day.isoformat(),
        "from": _local(running.begins),
        "to": _local(running.ends),
    }


def _on_duty_out(d: shift_service.OnDuty) -> dict[str, Any]:
    return {
        "duty_id": d.duty_id,
        "employee": {"id": d.employee_id, "name": d.name},
        "agency": {"id": d.agency_id, "abbreviation": d.agency, "name": d.agency_name}
        if d.agency_id
        else None,
        "shift": {"id": d.shift_id, "name": d.shift, "day": d.day.isoformat()},
        "since": _local(d.since),
        "overdue": d.overdue,
    }


def _duty_out(duty: Any) -> dict[str, Any]:
    return {
        "id": duty.id,
        "employee_id": duty.employee_id,
        "shift_id": duty.shift_id,
        "day": duty.day.isoformat(),
        "agency_id": duty.agency_id,
        "checked_in_at": _local(duty.checked_in_at),
        "checked_out_at": _local(duty.checked_out_at),
    }


async def _run(request: Request, work: Any, status: int = 200) -> Response[Any]:
    """``work(session)`` in one transaction of the city; its answer, or the refusal."""
    try:
        async with tenant_session() as session:
            result = await work(session)
            await session.commit()
    except ShiftRefusal as exc:
        return _refused(request, exc)
    if isinstance(result, tuple):
        result, status = result
    return Response(result, status_code=status, headers=NO_STORE)


# ---- API: shifts ----------------------------------------------------------------------------------------


@get("/shifts", guards=[requires(BOARD_VIEW)], summary="The city's shifts and the one running now")
async def api_shifts(request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        rows = await shift_service.list_shifts(session)
        return {
            "timezone": session.tenant.timezone,
            "current": _running_out(await shift_service.shift_at(session)),
            "shifts": [_shift_out(s) for s in rows],
        }

    return await _run(request, work)


@put(
    "/shifts",
    guards=[requires(MANAGE)],
    summary="Set the shifts: {shifts: [{id?, code?, name, starts HH:MM, hours}]}, covering 24 h once",
    status_code=200,
    request_max_body_size=MAX_BODY,
)
async def api_replace_shifts(request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        data = await _json_body(request)
        return {"shifts": [_shift_out(s) for s in await shift_service.replace_shifts(session, data)]}

    return await _run(request, work)


# ---- API: roster ----------------------------------------------------------------------------------------


def _roster_out(line: shift_service.RosterLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "day": line.day.isoformat(),
        "shift_id": line.shift_id,
        "employee": {"id": line.employee_id, "name": line.name, "agency": line.agency},
    }


@get("/roster", guards=[requires(BOARD_VIEW)], summary="The roster of a week (?week=any day of it)")
async def api_roster(request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        today = shift_service.utcnow().astimezone(shift_service.city_zone(session)).date()
        raw = request.query_params.get("week")
        first = shift_service.week_start(shift_service.parse_day(raw, "week") if raw else today)
        lines = await shift_service.roster_week(session, first)
        return {
            "from": first.isoformat(),
            "to": (first + dt.timedelta(days=6)).isoformat(),
            "shifts": [_shift_out(s) for s in await shift_service.list_shifts(session)],
            "entries": [_roster_out(line) for line in lines],
        }

    return await _run(request, work)


@get("/roster/operators", guards=[requires(MANAGE)], summary="Employees who may be put on the roster")
async def api_roster_operators(request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        return [
            {"id": o.id, "name": o.name, "agency": o.agency, "roles": list(o.roles)}
            for o in await shift_service.room_operators(session)
        ]

    return await _run(request, work)


@post("/roster", guards=[requires(MANAGE)], summary="Plan an operator: {day, shift_id, employee_id}")
async def api_plan(request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        data = await _json_body(request)
        entry, created = await shift_service.plan(session, data, _planner())
        return {
            "id": entry.id,
            "day": entry.day.isoformat(),
            "shift_id": entry.shift_id,
            "employee_id": entry.employee_id,
        }, (201 if created else 200)

    return await _run(request, work)


def _planner() -> int | None:
    principal = current_principal()
    return principal.id if principal is not None and principal.kind == "employee" else None


@delete(
    "/roster/{entry_id:int}",
    guards=[requires(MANAGE)],
    summary="Take an entry off the roster",
    status_code=200,
)
async def api_unplan(entry_id: FromPath[int], request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        await shift_service.unplan(session, entry_id)
        return {"status": "deleted"}

    return await _run(request, work)


# ---- API: duty ------------------------------------------------------------------------------------------


@get("/duty", guards=[requires(BOARD_VIEW)], summary="Who is on duty now: home agency, shift, since when")
async def api_on_duty(request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        return {
            "current": _running_out(await shift_service.shift_at(session)),
            "on_duty": [_on_duty_out(d) for d in await shift_service.on_duty_now(session)],
        }

    return await _run(request, work)


@post(
    "/duty/check-in", guards=[requires(DUTY)], summary="Check in to the shift running now (409 when on duty)"
)
async def api_check_in(request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        return _duty_out(await shift_service.check_in(session, _me())), 201

    return await _run(request, work)


@post("/duty/check-out", guards=[requires(DUTY)], summary="Check out (409 when not on duty)", status_code=200)
async def api_check_out(request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        return _duty_out(await shift_service.check_out(session, _me()))

    return await _run(request, work)


# ---- API: handovers -----------------------------------------------------------------------------------


def _range(request: Request) -> tuple[dt.date | None, dt.date | None]:
    q = request.query_params
    since = shift_service.parse_day(q["since"], "since") if q.get("since") else None
    until = shift_service.parse_day(q["until"], "until") if q.get("until") else None
    if since and until and since > until:
        raise shift_service.invalid(Problem("until", "range_order"))
    return since, until


def _limit(request: Request, default: int, most: int) -> int:
    raw = request.query_params.get("limit")
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise shift_service.invalid(Problem("limit", "limit_range", {"max": most}))
    return int(raw)


@get(
    "/handovers", guards=[requires(BOARD_VIEW)], summary="Handovers, newest first (?since&until&limit&before)"
)
async def api_handovers(request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        since, until = _range(request)
        before = request.query_params.get("before")
        views = await handover.recent(
            session,
            since=since,
            until=until,
            limit=_limit(request, 30, handover.LIST_LIMIT),
            before_id=shift_service.parse_id(before, "before") if before else None,
        )
        tz = shift_service.city_zone(session)
        return {"items": [handover.as_dict(v, tz) for v in views]}

    return await _run(request, work)


@get(
    "/handovers/current",
    guards=[requires(BOARD_VIEW)],
    summary="The running shift's handover and the one the previous shift handed to it",
)
async def api_current_handovers(request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        found = await handover.current(session)
        tz = shift_service.city_zone(session)
        return {
            "current": _running_out(found.running),
            "this_shift": handover.as_dict(found.this_shift, tz) if found.this_shift else None,
            "previous_shift": _running_out(found.previous_shift),
            "previous": handover.as_dict(found.previous, tz) if found.previous else None,
        }

    return await _run(request, work)


@post(
    "/handovers",
    guards=[requires(DUTY)],
    summary="Write the running shift's handover: {notes} (open items are snapshotted)",
    request_max_body_size=MAX_BODY,
)
async def api_write_handover(request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        view, created = await handover.write(session, _me(), await _json_body(request))
        return handover.as_dict(view, shift_service.city_zone(session)), (201 if created else 200)

    return await _run(request, work)


@get("/handovers/{handover_id:int}", guards=[requires(BOARD_VIEW)], summary="One handover")
async def api_handover(handover_id: FromPath[int], request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        return handover.as_dict(await handover.get(session, handover_id), shift_service.city_zone(session))

    return await _run(request, work)


@post(
    "/handovers/{handover_id:int}/acknowledge",
    guards=[requires(DUTY)],
    summary="Acknowledge a handover, once, from a later shift: {note?} (409 when already done)",
    status_code=200,
)
async def api_acknowledge_handover(handover_id: FromPath[int], request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        view = await handover.acknowledge(session, handover_id, _me(), await _json_body(request))
        return handover.as_dict(view, shift_service.city_zone(session))

    return await _run(request, work)


async def _export_views(session: TenantSession, request: Request) -> list[handover.HandoverView]:
    since, until = _range(request)
    if since is None and until is None:
        today = shift_service.utcnow().astimezone(shift_service.city_zone(session)).date()
        since = today - dt.timedelta(days=30)
    return list(reversed(await handover.recent(session, since=since, until=until, limit=5000)))


@get(
    "/handovers/export.csv", guards=[requires(BOARD_VIEW)], summary="Handovers as CSV (?since&until; 30 days)"
)
async def api_handovers_csv(request: Request) -> Response[Any]:
    try:
        async with tenant_session() as session:
            views = await _export_views(session, request)
            tz = shift_service.city_zone(session)
    except ShiftRefusal as exc:
        return _refused(request, exc)
    return _csv(
        handover.CSV_COLUMNS,
        [handover.csv_row(v, tz) for v in views],
        f"serah-terima-{current_tenant().slug}.csv",
    )


@get(
    "/handovers/export.json",
    guards=[requires(BOARD_VIEW)],
    summary="Handovers as JSON, with their open items",
)
async def api_handovers_json(request: Request) -> Response[Any]:
    try:
        async with tenant_session() as session:
            views = await _export_views(session, request)
            tz = shift_service.city_zone(session)
    except ShiftRefusal as exc:
        return _refused(request, exc)
    return Response(
        {"city": current_tenant().slug, "items": [handover.as_dict(v, tz) for v in views]},
        headers={
            **NO_STORE,
            "content-disposition": f'attachment; filename="serah-terima-{current_tenant().slug}.json"',
        },
    )


# ---- API: measures ----------------------------------------------------------------------------------------


@get(
    "/measures",
    guards=[requires(MEASURES_VIEW)],
    summary="Time to triage, forward and acknowledgement (count, median, p90) per shift and operator",
)
async def api_measures(request: Request) -> Response[Any]:
    async def work(session: TenantSession) -> Any:
        q = request.query_params
        return measures.as_dict(await measures.measure(session, q.get("since"), q.get("until")))

    return await _run(request, work)


@get("/measures.csv", guards=[requires(MEASURES_VIEW)], summary="The measures as CSV (?since&until)")
async def api_measures_csv(request: Request) -> Response[Any]:
    q = request.query_params
    try:
        async with tenant_session() as session:
            found = await measures.measure(session, q.get("since"), q.get("until"))
    except ShiftRefusal as exc:
        return _refused(request, exc)
    name = f"ukuran-{current_tenant().slug}-{found.since.isoformat()}-{found.until.isoformat()}.csv"
    return _csv(measures.CSV_COLUMNS, measures.csv_rows(found), name)


def _bad_request(request: Request, exc: ValidationException) -> Response[Any]:
    lang = request_language(request)
    return Response(
        {
            "status_code": 400,
            "error": "invalid_input",
            "detail": translate("liveroom.shifts.refused.invalid_input", lang),
            "errors": [{"field": "body", "reason": str(exc.detail), "code": "body.invalid"}],
        },
        status_code=400,
    )


api = Router(
    path="/api/v1/liveroom",
    route_handlers=[
        api_shifts,
        api_replace_shifts,
        api_roster,
        api_roster_operators,
        api_plan,
        api_unplan,
        api_on_duty,
        api_check_in,
        api_check_out,
        api_handovers,
        api_current_handovers,
        api_write_handover,
        api_handover,
        api_acknowledge_handover,
        api_handovers_csv,
        api_handovers_json,
        api_measures,
        api_measures_csv,
    ],
    guards=[city_only],
    tags=["liveroom"],
    exception_handlers={ValidationException: _bad_request},
)


# ---- pages -----------------------------------------------------------------------------------------------

NOTICES = {
    "masuk": "liveroom.shifts.notice.checked_in",
    "keluar": "liveroom.shifts.notice.checked_out",
    "ditulis": "liveroom.shifts.notice.handover_written",
    "diterima": "liveroom.shifts.notice.handover_acknowledged",
    "dijadwalkan": "liveroom.shifts.notice.planned",
    "dihapus": "liveroom.shifts.notice.unplanned",
}


def _allows(request: Request, permission: str) -> bool:
    principal = current_principal()
    return principal is not None and bool(request.app.state.permissions.allows(principal.roles, permission))


def duration(seconds: float | None, lang: str) -> str:
    """40 dtk, 1 mnt 30 dtk, 2 j 5 mnt (s, min, h in English): seconds matter only under an hour."""
    if seconds is None:
        return "—"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    unit = {k: translate(f"liveroom.shifts.unit.{k}", lang) for k in ("h", "min", "s")}
    if hours:
        return f"{hours} {unit['h']} {minutes} {unit['min']}" if minutes else f"{hours} {unit['h']}"
    if minutes:
        return f"{minutes} {unit['min']} {secs} {unit['s']}" if secs else f"{minutes} {unit['min']}"
    return f"{secs} {unit['s']}"


def _errors_by_field(exc: ShiftRefusal, lang: str) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for p in exc.problems:
        out.setdefault(p.field, []).append(_say(f"liveroom.shifts.problem.{p.code}", lang, p.params))
    return {k: " ".join(v) for k, v in out.items()}


async def _shift_page(
    request: Request,
    *,
    status: int = 200,
    alert: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    action: str | None = None,
) -> Response[str]:
    lang = request_language(request)
    principal = current_principal()
    me = principal.id if principal is not None and principal.kind == "employee" else None
    q = request.query_params
    async with tenant_session() as session:
        tz = shift_service.city_zone(session)
        now = shift_service.utcnow()
        today = now.astimezone(tz).date()
        try:
            chosen = shift_service.parse_day(q["minggu"], "minggu") if q.get("minggu") else today
        except ShiftRefusal:
            chosen = today
        first = shift_service.week_start(chosen)
        all_shifts = await shift_service.list_shifts(session)
        found = await handover.current(session, now)
        on_duty = await shift_service.on_duty_now(session, now)
        roster = await shift_service.roster_week(session, first)
        may_manage = _allows(request, MANAGE)
        operators = await shift_service.room_operators(session) if may_manage else []
    my_duty = next((d for d in on_duty if d.employee_id == me), None) if me is not None else None
    running = found.running
    on_this_shift = bool(
        my_duty and running and (my_duty.shift_id, my_duty.day) == (running.shift.id, running.day)
    )
    may_duty = _allows(request, DUTY) and me is not None
    days = [first + dt.timedelta(days=i) for i in range(7)]
    by_cell: dict[tuple[dt.date, int], list[shift_service.RosterLine]] = {}
    for line in roster:
        by_cell.setdefault((line.day, line.shift_id), []).append(line)
    notice_key = NOTICES.get(q.get("pesan", ""))
    return page(
        request,
        "liveroom/shifts_page.html",
        status=status,
        notice=translate(notice_key, lang) if notice_key else None,
        alert=alert,
        errors=errors or {},
        values=values or {},
        action=action,
        running=running,
        found=found,
        on_duty=on_duty,
        my_duty=my_duty,
        me=me,
        on_this_shift=on_this_shift,
        may_duty=may_duty,
        may_manage=may_manage,
        may_write=may_duty
        and on_this_shift
        and not (found.this_shift is not None and found.this_shift.acknowledged),
        may_acknowledge=may_duty
        and on_this_shift
        and found.previous is not None
        and not found.previous.acknowledged
        and found.previous.written_by != me,
        shifts=all_shifts,
        days=days,
        today=today,
        by_cell=by_cell,
        operators=operators,
        prev_week=(first - dt.timedelta(days=7)).isoformat(),
        next_week=(first + dt.timedelta(days=7)).isoformat(),
        hhmm=hhmm,
    )


@get(
    "/liveroom/shift",
    guards=[requires(BOARD_VIEW)],
    summary="Shift page: on duty now, check in/out, roster of the week, the handover",
    include_in_schema=False,
    opt=STAFF_LOGIN,
)
async def shift_page(request: Request) -> Response[str]:
    return await _shift_page(request)


def _form_step(path: str, permission: str, summary: str, run: Any, notice: str) -> Any:
    """A POST form of the shift page: run the step, then back to the page (303), or the page with
    the form's errors (422) or the reason it does not apply now (409, 404)."""

    async def handler(request: Request) -> Response[Any]:
        lang = request_language(request)
        fields = await _form(request)
        try:
            async with tenant_session() as session:
                await run(session, request, fields)
                await session.commit()
        except ShiftRefusal as exc:
            return await _shift_page(
                request,
                status=exc.status,
                alert=_refusal_detail(exc, lang),
                errors=_errors_by_field(exc, lang),
                values={k: str(v)[:10_000] for k, v in fields.items()},
                action=path,
            )
        target = "/liveroom/shift?" + urlencode({"pesan": notice, **({"lang": "en"} if lang == "en" else {})})
        return Redirect(target, status_code=303)

    handler.__name__ = (
        f"shift_form_{path.replace('/', '_').replace('{', '').replace('}', '').replace(':', '_')}"
    )
    return post(
        f"/liveroom/shift/{path}",
        guards=[requires(permission)],
        summary=summary,
        include_in_schema=False,
        status_code=303,
        opt=STAFF_LOGIN,
        name=f"liveroom-shift-{path}",
        request_max_body_size=MAX_BODY,
    )(handler)


async def _page_check_in(session: TenantSession, request: Request, fields: dict[str, Any]) -> None:
    await shift_service.check_in(session, _me())


async def _page_check_out(session: TenantSession, request: Request, fields: dict[str, Any]) -> None:
    await shift_service.check_out(session, _me())


async def _page_write(session: TenantSession, request: Request, fields: dict[str, Any]) -> None:
    await handover.write(session, _me(), {"notes": fields.get("notes", "")})


async def _page_acknowledge(session: TenantSession, request: Request, fields: dict[str, Any]) -> None:
    await handover.acknowledge(
        session,
        shift_service.parse_id(fields.get("handover_id"), "handover_id"),
        _me(),
        {"note": fields.get("note") or None},
    )


async def _page_plan(session: TenantSession, request: Request, fields: dict[str, Any]) -> None:
    await shift_service.plan(session, fields, _planner())


async def _page_unplan(session: TenantSession, request: Request, fields: dict[str, Any]) -> None:
    await shift_service.unplan(session, shift_service.parse_id(fields.get("entry_id"), "entry_id"))


FORM_STEPS = [
    _form_step("masuk", DUTY, "Check in (form)", _page_check_in, "masuk"),
    _form_step("keluar", DUTY, "Check out (form)", _page_check_out, "keluar"),
    _form_step("serah-terima", DUTY, "Write the handover (form)", _page_write, "ditulis"),
    _form_step("serah-terima/terima", DUTY, "Acknowledge the handover (form)", _page_acknowledge, "diterima"),
    _form_step("jadwal", MANAGE, "Plan an operator (form)", _page_plan, "dijadwalkan"),
    _form_step("jadwal/hapus", MANAGE, "Take an entry off the roster (form)", _page_unplan, "dihapus"),
]


@get(
    "/liveroom/ukuran",
    guards=[requires(MEASURES_VIEW)],
    summary="Measures dashboard: time to triage, forward and acknowledgement",
    include_in_schema=False,
    opt=STAFF_LOGIN,
)
async def measures_page(request: Request) -> Response[str]:
    lang = request_language(request)
    q = request.query_params
    values = {"since": (q.get("since") or "")[:10], "until": (q.get("until") or "")[:10]}
    status, alert, errors = 200, None, {}
    found = None
    async with tenant_session() as session:
        try:
            found = await measures.measure(session, values["since"] or None, values["until"] or None)
        except ShiftRefusal as exc:
            status, alert, errors = exc.status, _refusal_detail(exc, lang), _errors_by_field(exc, lang)
            found = await measures.measure(session)
    exports = urlencode({"since": found.since.isoformat(), "until": found.until.isoformat()})
    return page(
        request,
        "liveroom/measures_page.html",
        status=status,
        alert=alert,
        errors=errors,
        values=values,
        m=found,
        names=measures.MEASURES,
        exports=exports,
        dur=lambda seconds: duration(seconds, lang),
    )


pages = Router(
    path="/",
    route_handlers=[shift_page, *FORM_STEPS, measures_page],
    guards=[city_only],
)

route_handlers: list[Any] = [api, pages]
