"""Shifts, the roster and check-ins: who is in the room, on which shift, since when.

A city's shifts cover its 24 hours without overlap (three of eight hours by default); every time
of day is the city's own (``TenantContext.timezone``). An operator checks in to the shift that is
running now; the database holds one open duty per operator (``uq_liveroom_duty_open``), so two
check-ins at once still leave one. A duty left open after its shift ended (someone forgot to check
out) is closed at that shift's end when the operator next checks in, so yesterday's slip never
locks anyone out.

Services take ``now`` so tests and the handover can place work in a given shift; the controllers
and pages pass nothing (the clock).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from kotalive.auth import audit
from kotalive.auth.models import Employee, RoleGrant
from kotalive.db import TenantSession
from kotalive.modules.liveroom.domain import DEFAULT_SHIFTS, current_shift, shift_window
from kotalive.modules.liveroom.models import BoardEvent, Duty, RosterEntry, Shift
from kotalive.tenants.city_models import Agency

ROOM_ROLES = ("liveroom_operator", "liveroom_supervisor")
MAX_SHIFTS = 12
NAME_MAX = 80
DAY_MINUTES = 24 * 60
TIME_OF_DAY = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])(:00)?$")
CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


# ---- refusals ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with one field: ``code`` names the text ``liveroom.shifts.problem.<code>``."""

    field: str
    code: str
    params: dict[str, Any] = dc_field(default_factory=dict)


class ShiftRefusal(Exception):
    """What the room's shift services refuse: 404 (not this city's, or nothing there), 409 (the
    state forbids it: already on duty, already acknowledged), 422 (``problems`` with fields).
    ``code`` names the text ``liveroom.shifts.refused.<code>``; ``detail`` goes into the answer."""

    def __init__(
        self, status: int, code: str, *, problems: list[Problem] | None = None, **detail: Any
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.problems = problems or []
        self.detail = detail


def invalid(*problems: Problem) -> ShiftRefusal:
    return ShiftRefusal(422, "invalid_input", problems=list(problems))


# ---- time ---------------------------------------------------------------------------------------------


def city_zone(session: TenantSession) -> ZoneInfo:
    return ZoneInfo(session.tenant.timezone)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hhmm(value: dt.time) -> str:
    return value.strftime("%H:%M")


def minutes_of(value: dt.time) -> int:
    return value.hour * 60 + value.minute


@dataclass(frozen=True, slots=True)
class ShiftNow:
    """The shift running at a moment: which one, the day it started and its window."""

    shift: Shift
    day: dt.date
    begins: dt.datetime
    ends: dt.datetime


# ---- seeding --------------------------------------------------------------------------------------------


async def seed_city_defaults(session: TenantSession) -> None:
    """The three default shifts for a new city. Re-running adds nothing, and a city that already
    keeps shifts of its own (renamed, moved, more or fewer) is left as it is: adding a default
    beside them would break the 24-hour cover."""
    if await session.scalar(select(Shift.id).limit(1)) is not None:
        return
    await session.execute(
        insert(Shift)
        .values(
            [
                {
                    "code": s.code,
                    "name": s.name,
                    "starts": s.starts,
                    "hours": s.hours,
                    "position": i,
                    "active": True,
                }
                for i, s in enumerate(DEFAULT_SHIFTS)
            ]
        )
        .on_conflict_do_nothing(index_elements=["code"])
    )


# ---- shifts ---------------------------------------------------------------------------------------------


async def list_shifts(session: TenantSession, *, include_inactive: bool = False) -> list[Shift]:
    query = select(Shift).order_by(Shift.position, Shift.starts, Shift.id)
    if not include_inactive:
        query = query.where(Shift.active)
    return list(await session.scalars(query))


@dataclass(frozen=True, slots=True)
class ShiftInput:
    id: int | None
    code: str | None
    name: str
    starts: dt.time
    hours: int


def _parse_shift(index: int, raw: Any, problems: list[Problem]) -> ShiftInput | None:
    where = f"shifts[{index}]"
    if not isinstance(raw, dict):
        problems.append(Problem(where, "not_object"))
        return None
    ok = True
    ident = raw.get("id")
    if ident is not None and (isinstance(ident, bool) or not isinstance(ident, int)):
        problems.append(Problem(f"{where}.id", "invalid"))
        ok = False
    code = raw.get("code")
    if code is not None and (not isinstance(code, str) or not CODE.match(code)):
        problems.append(Problem(f"{where}.code", "code_format"))
        ok = False
    name = raw.get("name")
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        problems.append(Problem(f"{where}.name", "required"))
        ok = False
    elif len(name) > NAME_MAX:
        problems.append(Problem(f"{where}.name", "too_long", {"max": NAME_MAX}))
        ok = False
    starts_raw = raw.get("starts")
    match = TIME_OF_DAY.match(starts_raw.strip()) if isinstance(starts_raw, str) else None
    starts = dt.time(int(match.group(1)), int(match.group(2))) if match else None
    if starts is None:
        problems.append(Problem(f"{where}.starts", "time_format"))
        ok = False
    hours_raw = raw.get("hours")
    hours: int | None = None
    if isinstance(hours_raw, int) and not isinstance(hours_raw, bool):
        hours = hours_raw
    elif isinstance(hours_raw, str) and hours_raw.strip().isdigit():
        hours = int(hours_raw.strip())
    if hours is None or not 1 <= hours <= 24:
        problems.append(Problem(f"{where}.hours", "hours_range", {"min": 1, "max": 24}))
        ok = False
    if not ok or starts is None or hours is None:
        return None
    return ShiftInput(ident, code, name, starts, hours)


def check_cover(shifts: list[ShiftInput]) -> list[Problem]:
    """The shifts must cover the day exactly once: in start order, each begins where the one
    before it ends (the last one wraps into the next morning)."""
    if not shifts:
        return [Problem("shifts", "empty")]
    total = sum(s.hours for s in shifts) * 60
    ordered = sorted(range(len(shifts)), key=lambda i: minutes_of(shifts[i].starts))
    problems: list[Problem] = []
    for pos, i in enumerate(ordered):
        j = ordered[(pos + 1) % len(ordered)]
        this, after = shifts[i], shifts[j]
        ends = minutes_of(this.starts) + this.hours * 60
        nxt = minutes_of(after.starts)
        if pos == len(ordered) - 1:
            nxt += DAY_MINUTES  # the first one again, tomorrow
        if ends > nxt:
            problems.append(
                Problem(
                    f"shifts[{j}].starts" if len(ordered) > 1 else f"shifts[{i}].hours",
                    "overlap",
                    {"name": after.name, "other": this.name, "at": hhmm(after.starts)},
                )
            )
        elif ends < nxt:
            gap_from = (dt.datetime(2000, 1, 1) + dt.timedelta(minutes=ends % DAY_MINUTES)).time()
            problems.append(
                Problem(
                    f"shifts[{j}].starts",
                    "gap",
                    {
                        "name": after.name,
                        "other": this.name,
                        "from": hhmm(gap_from),
                        "to": hhmm(after.starts),
                    },
                )
            )
    if not problems and total != DAY_MINUTES:
        problems.append(Problem("shifts", "total_hours", {"hours": total // 60}))
    return problems


def _code_for(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "shift"
    if not base[0].isalnum():
        base = "s" + base
    code, n = base, 2
    while code in taken:
        code, n = f"{base}-{n}", n + 1
    return code


async def replace_shifts(session: TenantSession, data: Any) -> list[Shift]:
    """Set the city's shifts from ``{"shifts": [{id?, code?, name, starts "HH:MM", hours}]}``: a
    listed id is changed, an entry without one is added, a shift left out is switched off (kept,
    with its roster, duties and handovers). The whole set must cover 24 hours without overlap."""
    raw = data.get("shifts") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise invalid(Problem("shifts", "required"))
    if len(raw) > MAX_SHIFTS:
        raise invalid(Problem("shifts", "too_many", {"max": MAX_SHIFTS}))
    problems: list[Problem] = []
    parsed = [_parse_shift(i, item, problems) for i, item in enumerate(raw)]
    if problems:
        raise invalid(*problems)
    wanted = [p for p in parsed if p is not None]
    existing = {s.id: s for s in await list_shifts(session, include_inactive=True)}
    by_code = {s.code: s for s in existing.values()}
    seen_ids: set[int] = set()
    seen_codes: set[str] = set()
    for i, item in enumerate(wanted):
        if item.id is not None:
            if item.id not in existing:
                problems.append(Problem(f"shifts[{i}].id", "unknown", {"id": item.id}))
            elif item.id in seen_ids:
                problems.append(Problem(f"shifts[{i}].id", "repeated", {"id": item.id}))
            seen_ids.add(item.id)
        if item.code is not None:
            owner = by_code.get(item.code)
            if item.code in seen_codes or (owner is not None and owner.id != item.id):
                problems.append(Problem(f"shifts[{i}].code", "code_taken", {"code": item.code}))
            seen_codes.add(item.code)
    if problems:
        raise invalid(*problems)
    cover = check_cover(wanted)
    if cover:
        raise invalid(*cover)
    taken = set(by_code) | seen_codes
    kept: set[int] = set()
    for position, item in enumerate(wanted):
        row = existing.get(item.id) if item.id is not None else None
        if row is None:
            code = item.code or _code_for(item.name, taken)
            taken.add(code)
            row = Shift(code=code)
            session.add(row)
        elif item.code is not None:
            row.code = item.code
        row.name, row.starts, row.hours = item.name, item.starts, item.hours
        row.position, row.active = position, True
        await session.flush()
        kept.add(row.id)
    for row in existing.values():
        if row.id not in kept:
            row.active = False
    await session.flush()
    audit.record(
        session,
        "liveroom.shifts.changed",
        target_kind="liveroom_shift",
        detail={"shifts": [{"name": w.name, "starts": hhmm(w.starts), "hours": w.hours} for w in wanted]},
    )
    return await list_shifts(session)


async def shift_at(session: TenantSession, now: dt.datetime | None = None) -> ShiftNow | None:
    """The shift running at ``now`` (the clock by default), in the city's zone."""
    shifts = await list_shifts(session)
    tz = city_zone(session)
    found = current_shift([(s.id, s.starts, s.hours) for s in shifts], now or utcnow(), tz)
    if found is None:
        return None
    shift = next(s for s in shifts if s.id == found[0])
    begins, ends = shift_window(found[1], shift.starts, shift.hours, tz)
    return ShiftNow(shift, found[1], begins, ends)


async def window_of(session: TenantSession, shift: Shift, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return shift_window(day, shift.starts, shift.hours, city_zone(session))


# ---- the roster -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operator:
    id: int
    name: str
    agency_id: int | None
    agency: str | None  # the home agency's abbreviation
    roles: tuple[str, ...]


async def room_operators(session: TenantSession) -> list[Operator]:
    """Active employees holding a Live Room role, by name."""
    rows = (
        await session.execute(
            select(Employee.id, Employee.name, Employee.agency_id, Agency.abbreviation, RoleGrant.role)
            .join(RoleGrant, (RoleGrant.subject_id == Employee.id) & (RoleGrant.subject_kind == "employee"))
            .outerjoin(Agency, Agency.id == Employee.agency_id)
            .where(Employee.active, RoleGrant.role.in_(ROOM_ROLES))
            .order_by(Employee.name, Employee.id)
        )
    ).all()
    found: dict[int, Operator] = {}
    for r in rows:
        known = found.get(r.id)
        roles = (*known.roles, r.role) if known else (r.role,)
        found[r.id] = Operator(r.id, r.name, r.agency_id, r.abbreviation, tuple(sorted(set(roles))))
    return list(found.values())


async def _room_employee(session: TenantSession, employee_id: int, field_name: str) -> Employee:
    employee = await session.get(Employee, employee_id)
    if employee is None or not employee.active:
        raise invalid(Problem(field_name, "unknown_employee", {"id": employee_id}))
    holds = await session.scalar(
        select(RoleGrant.id)
        .where(
            RoleGrant.subject_kind == "employee",
            RoleGrant.subject_id == employee_id,
            RoleGrant.role.in_(ROOM_ROLES),
        )
        .limit(1)
    )
    if holds is None:
        raise invalid(Problem(field_name, "not_operator", {"name": employee.name}))
    return employee


def parse_day(value: Any, field_name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise invalid(Problem(field_name, "date_format")) from None


def parse_id(value: Any, field_name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise invalid(Problem(field_name, "required" if value in (None, "") else "invalid"))


async def plan(
    session: TenantSession, data: dict[str, Any], planned_by: int | None
) -> tuple[RosterEntry, bool]:
    """Put an operator on a shift of a day; (entry, created). Planning the same again is no error."""
    problems: list[Problem] = []

    def attempt(parse: Any, name: str) -> Any:
        try:
            return parse(data.get(name), name)
        except ShiftRefusal as exc:
            problems.extend(exc.problems)
            return None

    day: dt.date | None = attempt(parse_day, "day")
    shift_id: int | None = attempt(parse_id, "shift_id")
    employee_id: int | None = attempt(parse_id, "employee_id")
    if problems or day is None or shift_id is None or employee_id is None:
        raise invalid(*problems)
    shift = await session.get(Shift, shift_id)
    if shift is None or not shift.active:
        raise invalid(Problem("shift_id", "unknown_shift", {"id": shift_id}))
    await _room_employee(session, employee_id, "employee_id")
    created = await session.scalar(
        insert(RosterEntry)
        .values(day=day, shift_id=shift_id, employee_id=employee_id, created_by=planned_by)
        .on_conflict_do_nothing(index_elements=["day", "shift_id", "employee_id"])
        .returning(RosterEntry.id)
    )
    entry = await session.scalar(
        select(RosterEntry).where(
            RosterEntry.day == day, RosterEntry.shift_id == shift_id, RosterEntry.employee_id == employee_id
        )
    )
    assert entry is not None
    if created is not None:
        audit.record(
            session,
            "liveroom.roster.planned",
            target_kind="liveroom_roster",
            target_id=entry.id,
            detail={"day": day.isoformat(), "shift_id": shift_id, "employee_id": employee_id},
        )
    return entry, created is not None


async def unplan(session: TenantSession, entry_id: int) -> None:
    entry = await session.get(RosterEntry, entry_id)
    if entry is None:
        raise ShiftRefusal(404, "roster_entry", id=entry_id)
    await session.execute(delete(RosterEntry).where(RosterEntry.id == entry_id))
    audit.record(
        session,
        "liveroom.roster.removed",
        target_kind="liveroom_roster",
        target_id=entry_id,
        detail={"day": entry.day.isoformat(), "shift_id": entry.shift_id, "employee_id": entry.employee_id},
    )


@dataclass(frozen=True, slots=True)
class RosterLine:
    id: int
    day: dt.date
    shift_id: int
    employee_id: int
    name: str
    agency: str | None


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


async def roster_week(session: TenantSession, first_day: dt.date) -> list[RosterLine]:
    """Everyone planned in the seven days from ``first_day``, by day, shift order and name."""
    rows = (
        await session.execute(
            select(
                RosterEntry.id,
                RosterEntry.day,
                RosterEntry.shift_id,
                RosterEntry.employee_id,
                Employee.name,
                Agency.abbreviation,
            )
            .join(Employee, Employee.id == RosterEntry.employee_id)
            .join(Shift, Shift.id == RosterEntry.shift_id)
            .outerjoin(Agency, Agency.id == Employee.agency_id)
            .where(RosterEntry.day >= first_day, RosterEntry.day < first_day + dt.timedelta(days=7))
            .order_by(RosterEntry.day, Shift.position, Shift.starts, Employee.name)
        )
    ).all()
    return [RosterLine(r.id, r.day, r.shift_id, r.employee_id, r.name, r.abbreviation) for r in rows]


# ---- check-in and check-out -------------------------------------------------------------------------------


def _board_event(session: TenantSession, kind: str, data: dict[str, Any]) -> None:
    """A line in the board's event log, so screens (and a reconnecting one) hear of it."""
    session.add(BoardEvent(item_id=None, kind=kind, data=data))


async def open_duty(session: TenantSession, employee_id: int) -> Duty | None:
    return await session.scalar(
        select(Duty).where(Duty.employee_id == employee_id, Duty.checked_out_at.is_(None))
    )


async def check_in(session: TenantSession, employee_id: int, now: dt.datetime | None = None) -> Duty:
    """Check an operator in to the shift running now; 409 when already on duty in it."""
    now = now or utcnow()
    employee = await session.get(Employee, employee_id)
    if employee is None or not employee.active:
        raise ShiftRefusal(404, "employee", id=employee_id)
    running = await shift_at(session, now)
    if running is None:
        raise ShiftRefusal(409, "no_shift")
    current = await open_duty(session, employee_id)
    if current is not None:
        shift = await session.get(Shift, current.shift_id)
        ended = (await window_of(session, shift, current.day))[1] if shift is not None else now
        if ended > now:
            raise ShiftRefusal(
                409,
                "already_on_duty",
                duty_id=current.id,
                shift=shift.name if shift else None,
                since=current.checked_in_at.isoformat(),
            )
        # Left open after its shift: closed at the shift's end, then a new check-in.
        current.checked_out_at = max(ended, current.checked_in_at)
        audit.record(
            session,
            "liveroom.duty.closed_after_shift",
            target_kind="liveroom_duty",
            target_id=current.id,
            detail={"checked_out_at": current.checked_out_at.isoformat()},
        )
        await session.flush()
    duty = Duty(
        employee_id=employee_id,
        shift_id=running.shift.id,
        day=running.day,
        agency_id=employee.agency_id,
        checked_in_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(duty)
            await session.flush()
    except IntegrityError:
        # Another check-in of the same operator won the unique open-duty index meanwhile.
        raise ShiftRefusal(409, "already_on_duty", shift=running.shift.name) from None
    audit.record(
        session,
        "liveroom.duty.checked_in",
        target_kind="liveroom_duty",
        target_id=duty.id,
        detail={"shift": running.shift.code, "day": running.day.isoformat()},
    )
    _board_event(
        session,
        "duty",
        {"action": "checked_in", "employee_id": employee_id, "shift_id": running.shift.id},
    )
    return duty


async def check_out(session: TenantSession, employee_id: int, now: dt.datetime | None = None) -> Duty:
    duty = await open_duty(session, employee_id)
    if duty is None:
        raise ShiftRefusal(409, "not_on_duty")
    duty.checked_out_at = max(now or utcnow(), duty.checked_in_at)
    await session.flush()
    audit.record(session, "liveroom.duty.checked_out", target_kind="liveroom_duty", target_id=duty.id)
    _board_event(
        session, "duty", {"action": "checked_out", "employee_id": employee_id, "shift_id": duty.shift_id}
    )
    return duty


@dataclass(frozen=True, slots=True)
class OnDuty:
    duty_id: int
    employee_id: int
    name: str
    agency_id: int | None
    agency: str | None
    agency_name: str | None
    shift_id: int
    shift: str
    day: dt.date
    since: dt.datetime
    overdue: bool  # still checked in after the shift ended


async def on_duty_now(session: TenantSession, now: dt.datetime | None = None) -> list[OnDuty]:
    """Everyone checked in and not out, oldest check-in first (one query)."""
    now = now or utcnow()
    tz = city_zone(session)
    rows = (
        await session.execute(
            select(
                Duty.id,
                Duty.employee_id,
                Duty.agency_id,
                Duty.shift_id,
                Duty.day,
                Duty.checked_in_at,
                Employee.name,
                Agency.abbreviation,
                Agency.name.label("agency_name"),
                Shift.name.label("shift_name"),
                Shift.starts,
                Shift.hours,
            )
            .join(Employee, Employee.id == Duty.employee_id)
            .join(Shift, Shift.id == Duty.shift_id)
            .outerjoin(Agency, Agency.id == Duty.agency_id)
            .where(Duty.checked_out_at.is_(None))
            .order_by(Duty.checked_in_at, Duty.id)
        )
    ).all()
    return [
        OnDuty(
            r.id,
            r.employee_id,
            r.name,
            r.agency_id,
            r.abbreviation,
            r.agency_name,
            r.shift_id,
            r.shift_name,
            r.day,
            r.checked_in_at,
            shift_window(r.day, r.starts, r.hours, tz)[1] <= now,
        )
        for r in rows
    ]
