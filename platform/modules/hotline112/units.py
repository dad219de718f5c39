"""Units, their types' speeds, positions, the status machine and the units' terminal tokens.

The services here are the only place that writes ``h112_unit`` and ``h112_unit_type``; the JSON API,
the dispatcher's screen, the unit's mobile terminal and the city admin's pages all call them.

A status change runs with the unit's row locked (``FOR UPDATE``): the terminal and a dispatcher
pressing at once are applied one after the other, each checked against the status the other left
(``domain.check_transition``). A change moves the unit's active assignment (its moments: en route,
on scene, transporting, at hospital; cleared when back in service, cancelled when the unit is made
available before reaching the scene) and the incident's state (on scene; back to open when every
assignment was cancelled), writes the incident's timeline and tells the platform
(``hotline112.unit_status_changed``, ``hotline112.incident_updated``) and the dispatch screens.

Positions: a report older than the position the unit already has is kept out (terminals resend
after a lost connection, out of order), so the map never jumps back.

Terminal tokens: ``issue_terminal_token`` hands the token out once; only its SHA-256 is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kotalive import events, live
from kotalive.db import TenantSession
from kotalive.modules.hotline112 import timeline
from kotalive.modules.hotline112.domain import (
    BUSY_STATUSES,
    DISPATCHABLE_STATUSES,
    UNIT_STATUSES,
    UNIT_TRANSITIONS,
    InvalidTransition,
    check_transition,
)
from kotalive.modules.hotline112.models import Assignment, Incident, Unit, UnitType
from kotalive.tenants.city_models import Agency

CALL_SIGN_MAX = 32
NAME_MAX = 120
CREW_MAX = 12
CREW_FIELD_MAX = 80
MIN_SPEED_KMH = 5.0
MAX_SPEED_KMH = 200.0
# A terminal's clock may run a little ahead; a position from further in the future is refused.
FUTURE_SLACK = dt.timedelta(minutes=5)
TOKEN_BYTES = 32
# The assignment moment each status stamps (the first time it is reached).
MOMENTS = {
    "en_route": "en_route_at",
    "on_scene": "on_scene_at",
    "transporting": "transporting_at",
    "at_hospital": "at_hospital_at",
}
STATUS_EVENT = "hotline112.unit_status_changed"


# ---- refusals -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with one field; ``code`` names the text ``h112.error.<code>``."""

    field: str
    code: str
    params: dict[str, Any] = dc_field(default_factory=dict)


class DispatchError(Exception):
    """What the units, dispatch and measures services refuse: 404 (not this city's), 409 (the state
    forbids it; ``params`` say why: the allowed statuses, who took the unit), 422 (bad fields, in
    ``problems``). ``code`` names the text ``h112.error.<code>``."""

    def __init__(
        self,
        status: int,
        code: str,
        field_name: str = "body",
        /,
        *,
        problems: list[Problem] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(f"{code} ({field_name})")
        self.status = status
        self.code = code
        self.field = field_name
        self.problems = problems or [Problem(field_name, code, params)]
        self.params = params


def invalid(*problems: Problem) -> DispatchError:
    first = problems[0]
    return DispatchError(422, first.code, first.field, problems=list(problems), **first.params)


def not_found(field_name: str, value: Any) -> DispatchError:
    return DispatchError(404, "not_found", field_name, id=value)


# ---- parsing ------------------------------------------------------------------------------------------


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_text(
    data: dict[str, Any],
    name: str,
    problems: list[Problem],
    *,
    required: bool = False,
    max_len: int = NAME_MAX,
) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(Problem(name, "required"))
        return None
    if not isinstance(value, str):
        problems.append(Problem(name, "not_text"))
        return None
    value = value.strip()
    if len(value) > max_len:
        problems.append(Problem(name, "too_long", {"max": max_len}))
        return None
    return value


def parse_int(value: Any, name: str, problems: list[Problem]) -> int | None:
    if isinstance(value, bool):
        problems.append(Problem(name, "not_an_id"))
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    problems.append(Problem(name, "not_an_id"))
    return None


def parse_float(value: Any, name: str, problems: list[Problem]) -> float | None:
    if isinstance(value, bool) or value is None:
        problems.append(Problem(name, "required" if value is None else "not_a_number"))
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append(Problem(name, "not_a_number"))
        return None
    if not math.isfinite(number):
        problems.append(Problem(name, "not_a_number"))
        return None
    return number


def parse_point(
    data: dict[str, Any], problems: list[Problem], lat_name: str = "lat", lon_name: str = "lon"
) -> tuple[float, float] | None:
    """(lat, lon) in range, or problems naming the field that is missing, not a number or out of range."""
    lat = parse_float(data.get(lat_name), lat_name, problems)
    lon = parse_float(data.get(lon_name), lon_name, problems)
    if lat is not None and not -90 <= lat <= 90:
        problems.append(Problem(lat_name, "out_of_range", {"min": -90, "max": 90}))
        lat = None
    if lon is not None and not -180 <= lon <= 180:
        problems.append(Problem(lon_name, "out_of_range", {"min": -180, "max": 180}))
        lon = None
    return (lat, lon) if lat is not None and lon is not None else None


def parse_moment(value: Any, name: str, problems: list[Problem]) -> dt.datetime | None:
    """ISO-8601 with an offset (a moment without one is ambiguous across the country's zones)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(Problem(name, "not_a_moment"))
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        problems.append(Problem(name, "not_a_moment"))
        return None
    if moment.tzinfo is None:
        problems.append(Problem(name, "moment_without_offset"))
        return None
    return moment.astimezone(dt.UTC)


def parse_crew(value: Any, problems: list[Problem]) -> list[dict[str, str]] | None:
    """[{name, role?, phone?}], at most ``CREW_MAX`` people."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(Problem("crew", "not_a_list"))
        return None
    if len(value) > CREW_MAX:
        problems.append(Problem("crew", "too_many", {"max": CREW_MAX}))
        return None
    crew: list[dict[str, str]] = []
    for i, person in enumerate(value):
        if not isinstance(person, dict):
            problems.append(Problem(f"crew[{i}]", "not_an_object"))
            continue
        before = len(problems)
        name = parse_text(person, "name", problems, required=True, max_len=CREW_FIELD_MAX)
        role = parse_text(person, "role", problems, max_len=CREW_FIELD_MAX)
        phone = parse_text(person, "phone", problems, max_len=20)
        for p in problems[before:]:
            problems[problems.index(p)] = Problem(f"crew[{i}].{p.field}", p.code, p.params)
        if name is not None:
            crew.append({"name": name, "role": role or "", "phone": phone or ""})
    return crew


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---- what a unit looks like outside ------------------------------------------------------------------


def unit_data(unit: Unit) -> dict[str, Any]:
    return {
        "id": unit.id,
        "call_sign": unit.call_sign,
        "type": unit.type_code,
        "agency_id": unit.agency_id,
        "name": unit.name,
        "crew": unit.crew or [],
        "status": unit.status,
        "status_at": unit.status_at.isoformat() if unit.status_at else None,
        "lat": unit.lat,
        "lon": unit.lon,
        "position_at": unit.position_at.isoformat() if unit.position_at else None,
        "base_lat": unit.base_lat,
        "base_lon": unit.base_lon,
        "incident_id": unit.incident_id,
        "active": unit.active,
        "has_terminal": unit.terminal_token_hash is not None,
        "allowed": list(UNIT_TRANSITIONS.get(unit.status, ())),
        "version": unit.version,
    }


def live_unit(unit: Unit) -> dict[str, Any]:
    """What the dispatch screens and the ``unit_status_changed`` event carry."""
    return {
        "unit_id": unit.id,
        "call_sign": unit.call_sign,
        "type": unit.type_code,
        "status": unit.status,
        "incident_id": unit.incident_id,
        "lat": unit.lat,
        "lon": unit.lon,
        "agency_id": unit.agency_id,
        "position_at": unit.position_at.isoformat() if unit.position_at else None,
        "status_at": unit.status_at.isoformat() if unit.status_at else None,
        "active": unit.active,
    }


@dataclass(frozen=True, slots=True)
class Actor:
    """Who changes a unit: a dispatcher (employee id and name) or the unit's own terminal."""

    id: int | None
    name: str
    kind: str = "employee"  # employee | terminal


# ---- unit types -----------------------------------------------------------------------------------------


class UnitTypeService:
    def __init__(self, session: TenantSession) -> None:
        self.session = session

    async def all(self) -> list[UnitType]:
        return list((await self.session.scalars(select(UnitType).order_by(UnitType.code))).all())

    async def speeds(self) -> dict[str, float]:
        rows = await self.session.execute(select(UnitType.code, UnitType.avg_speed_kmh))
        return {code: float(speed) for code, speed in rows.all()}

    async def update(self, code: str, data: Any) -> UnitType:
        """Change a type's names or average speed (km/h, ``MIN_SPEED_KMH``-``MAX_SPEED_KMH``)."""
        if not isinstance(data, dict):
            raise invalid(Problem("body", "not_an_object"))
        row = await self.session.get(UnitType, code, with_for_update=True)
        if row is None:
            raise not_found("code", code)
        problems: list[Problem] = []
        if "avg_speed_kmh" in data:
            speed = parse_float(data.get("avg_speed_kmh"), "avg_speed_kmh", problems)
            if speed is not None and not MIN_SPEED_KMH <= speed <= MAX_SPEED_KMH:
                problems.append(
                    Problem("avg_speed_kmh", "out_of_range", {"min": MIN_SPEED_KMH, "max": MAX_SPEED_KMH})
                )
            elif speed is not None:
                row.avg_speed_kmh = speed
        for name in ("name_id", "name_en"):
            if name in data:
                value = parse_text(data, name, problems, required=True, max_len=NAME_MAX)
                if value is not None:
                    setattr(row, name, value)
        if problems:
            raise invalid(*problems)
        await self.session.flush()
        return row


def type_data(row: UnitType) -> dict[str, Any]:
    return {
        "code": row.code,
        "name_id": row.name_id,
        "name_en": row.name_en,
        "avg_speed_kmh": row.avg_speed_kmh,
    }


# ---- units ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitFilter:
    status: str | None = None
    type_code: str | None = None
    agency_id: int | None = None
    include_inactive: bool = False


class UnitService:
    def __init__(self, session: TenantSession) -> None:
        self.session = session

    # ---- reads

    async def get(self, unit_id: int, *, lock: bool = False) -> Unit:
        stmt = select(Unit).where(Unit.id == unit_id)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        unit = await self.session.scalar(stmt)
        if unit is None:
            raise not_found("unit_id", unit_id)
        return unit

    async def search(self, f: UnitFilter | None = None) -> list[Unit]:
        f = f or UnitFilter()
        problems: list[Problem] = []
        if f.status is not None and f.status not in UNIT_STATUSES:
            problems.append(Problem("status", "unknown_status", {"allowed": ", ".join(UNIT_STATUSES)}))
        if problems:
            raise invalid(*problems)
        stmt = select(Unit).order_by(Unit.type_code, Unit.call_sign)
        if not f.include_inactive:
            stmt = stmt.where(Unit.active)
        if f.status:
            stmt = stmt.where(Unit.status == f.status)
        if f.type_code:
            stmt = stmt.where(Unit.type_code == f.type_code)
        if f.agency_id is not None:
            stmt = stmt.where(Unit.agency_id == f.agency_id)
        return list((await self.session.scalars(stmt)).all())

    async def unit_for_token(self, token: str) -> Unit | None:
        if not token or len(token) > 200:
            return None
        return await self.session.scalar(
            select(Unit).where(Unit.terminal_token_hash == hash_token(token), Unit.active)
        )

    # ---- create, update, deactivate

    async def _check_refs(self, problems: list[Problem], type_code: Any, agency_id: Any) -> None:
        if type_code is not None:
            if not isinstance(type_code, str) or await self.session.get(UnitType, type_code) is None:
                codes = ", ".join(
                    (await self.session.scalars(select(UnitType.code).order_by(UnitType.code))).all()
                )
                problems.append(Problem("type", "unknown_type", {"allowed": codes}))
        if agency_id is not None:
            agency = await self.session.get(Agency, agency_id)
            if agency is None or not agency.active:
                problems.append(Problem("agency_id", "unknown_agency", {"id": agency_id}))

    def _apply_common(self, unit: Unit, data: dict[str, Any], problems: list[Problem]) -> None:
        if "name" in data:
            unit.name = parse_text(data, "name", problems) or ""
        if "crew" in data:
            crew = parse_crew(data.get("crew"), problems)
            if crew is not None:
                unit.crew = crew
        if "base_lat" in data or "base_lon" in data:
            if data.get("base_lat") is None and data.get("base_lon") is None:
                unit.base_lat = unit.base_lon = None
            else:
                base = parse_point(data, problems, "base_lat", "base_lon")
                if base is not None:
                    unit.base_lat, unit.base_lon = base
        if "lat" in data or "lon" in data:
            point = parse_point(data, problems)
            if point is not None:
                unit.lat, unit.lon = point
                unit.position_at = utcnow()

    async def create(self, data: Any) -> Unit:
        """A new unit: ``call_sign`` (unique), ``type``, ``agency_id``; optional ``name``, ``crew``,
        ``base_lat``/``base_lon``, ``lat``/``lon`` and ``status`` (available or out_of_service)."""
        if not isinstance(data, dict):
            raise invalid(Problem("body", "not_an_object"))
        problems: list[Problem] = []
        call_sign = parse_text(data, "call_sign", problems, required=True, max_len=CALL_SIGN_MAX)
        type_code = data.get("type")
        if type_code is None:
            problems.append(Problem("type", "required"))
        agency_id = None
        if data.get("agency_id") is None:
            problems.append(Problem("agency_id", "required"))
        else:
            agency_id = parse_int(data.get("agency_id"), "agency_id", problems)
        await self._check_refs(problems, type_code, agency_id)
        status = data.get("status") or "available"
        if status not in ("available", "out_of_service"):
            problems.append(Problem("status", "initial_status", {"allowed": "available, out_of_service"}))
        unit = Unit(
            call_sign=call_sign or "",
            type_code=type_code,
            agency_id=agency_id,
            name="",
            crew=[],
            status=status,
            status_at=utcnow(),
            active=True,
            version=0,
        )
        self._apply_common(unit, data, problems)
        if problems:
            raise invalid(*problems)
        if call_sign is not None and await self._call_sign_taken(call_sign, None):
            raise DispatchError(409, "call_sign_taken", "call_sign", call_sign=call_sign)
        self.session.add(unit)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError:  # another create with the same call sign won the race
            raise DispatchError(409, "call_sign_taken", "call_sign", call_sign=call_sign) from None
        self._announce(unit)
        return unit

    async def _call_sign_taken(self, call_sign: str, other_than: int | None) -> bool:
        stmt = select(Unit.id).where(func.lower(Unit.call_sign) == call_sign.lower())
        if other_than is not None:
            stmt = stmt.where(Unit.id != other_than)
        return await self.session.scalar(stmt.limit(1)) is not None

    async def update(self, unit_id: int, data: Any) -> Unit:
        """Change what a unit is (call sign, type, agency, name, crew, base, position); its status
        changes through ``change_status``."""
        if not isinstance(data, dict):
            raise invalid(Problem("body", "not_an_object"))
        unit = await self.get(unit_id, lock=True)
        problems: list[Problem] = []
        if "status" in data:
            problems.append(Problem("status", "status_through_status_change"))
        call_sign = None
        if "call_sign" in data:
            call_sign = parse_text(data, "call_sign", problems, required=True, max_len=CALL_SIGN_MAX)
        agency_id = None
        if "agency_id" in data:
            agency_id = parse_int(data.get("agency_id"), "agency_id", problems)
        type_code = data.get("type") if "type" in data else None
        if "type" in data and type_code is None:
            problems.append(Problem("type", "required"))
        await self._check_refs(problems, type_code, agency_id)
        self._apply_common(unit, data, problems)
        if problems:
            raise invalid(*problems)
        if call_sign is not None and call_sign != unit.call_sign:
            if await self._call_sign_taken(call_sign, unit.id):
                raise DispatchError(409, "call_sign_taken", "call_sign", call_sign=call_sign)
            unit.call_sign = call_sign
        if type_code is not None:
            unit.type_code = type_code
        if agency_id is not None:
            unit.agency_id = agency_id
        if "active" in data and data.get("active") is True and not unit.active:
            unit.active = True
        unit.version += 1
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError:
            raise DispatchError(409, "call_sign_taken", "call_sign", call_sign=call_sign) from None
        self._announce(unit)
        return unit

    async def deactivate(self, unit_id: int) -> Unit:
        """Take a unit off the city's list (kept for the record). A unit working an incident
        cannot go: it must be back in service first."""
        unit = await self.get(unit_id, lock=True)
        if unit.status in BUSY_STATUSES:
            raise DispatchError(409, "unit_busy", "unit_id", call_sign=unit.call_sign, status=unit.status)
        unit.active = False
        unit.terminal_token_hash = None
        unit.version += 1
        await self.session.flush()
        self._announce(unit)
        return unit

    async def issue_terminal_token(self, unit_id: int) -> tuple[Unit, str]:
        """A new terminal token for the unit (the previous one stops working); shown once."""
        unit = await self.get(unit_id, lock=True)
        if not unit.active:
            raise DispatchError(409, "unit_inactive", "unit_id", call_sign=unit.call_sign)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        unit.terminal_token_hash = hash_token(token)
        unit.version += 1
        await self.session.flush()
        return unit, token

    # ---- position

    async def set_position(self, unit_id: int, data: Any) -> tuple[Unit, bool]:
        """The unit's position ``{lat, lon, at?}``; (unit, applied): a report older than the one
        the unit has is kept out."""
        if not isinstance(data, dict):
            raise invalid(Problem("body", "not_an_object"))
        problems: list[Problem] = []
        point = parse_point(data, problems)
        at = parse_moment(data.get("at"), "at", problems)
        now = utcnow()
        if at is not None and at > now + FUTURE_SLACK:
            problems.append(Problem("at", "in_the_future"))
        if problems or point is None:
            raise invalid(*problems)
        unit = await self.get(unit_id, lock=True)
        at = at or now
        if unit.position_at is not None and at < unit.position_at:
            return unit, False
        unit.lat, unit.lon = point
        unit.position_at = at
        await self.session.flush()
        live.publish_after_commit(self.session, timeline.dispatch_channel(), "unit", live_unit(unit))
        return unit, True

    # ---- status

    async def change_status(self, unit_id: int, data: Any, actor: Actor) -> Unit:
        """``{status}``: the unit's next status in the dispatch cycle; 409 naming the allowed ones."""
        if not isinstance(data, dict):
            raise invalid(Problem("body", "not_an_object"))
        wanted = data.get("status")
        if not isinstance(wanted, str) or wanted not in UNIT_STATUSES:
            raise invalid(Problem("status", "unknown_status", {"allowed": ", ".join(UNIT_STATUSES)}))
        unit = await self.get(unit_id, lock=True)
        if not unit.active:
            raise DispatchError(409, "unit_inactive", "unit_id", call_sign=unit.call_sign)
        try:
            check_transition(unit.status, wanted)
        except InvalidTransition as exc:
            raise DispatchError(
                409,
                "invalid_transition",
                "status",
                call_sign=unit.call_sign,
                current=exc.current,
                wanted=exc.wanted,
                allowed=", ".join(UNIT_TRANSITIONS.get(exc.current, ())) or "-",
            ) from None
        if wanted == "dispatched":
            # A unit is dispatched to an incident, through an assignment (dispatch.assign).
            raise DispatchError(409, "dispatch_through_assignment", "status", call_sign=unit.call_sign)
        await apply_status(self.session, unit, wanted, actor)
        return unit

    def _announce(self, unit: Unit) -> None:
        live.publish_after_commit(self.session, timeline.dispatch_channel(), "unit", live_unit(unit))


async def active_assignment(session: TenantSession, unit_id: int) -> Assignment | None:
    return await session.scalar(
        select(Assignment)
        .where(Assignment.unit_id == unit_id, Assignment.state == "active")
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def apply_status(session: TenantSession, unit: Unit, wanted: str, actor: Actor) -> None:
    """Move a (locked) unit to ``wanted`` (already checked) with what follows from it: its
    assignment's moments, the incident's state and timeline, the event and the live message."""
    now = utcnow()
    previous = unit.status
    unit.status = wanted
    unit.status_at = now
    unit.version += 1
    assignment = await active_assignment(session, unit.id)
    incident: Incident | None = None
    if assignment is not None:
        incident = await session.scalar(
            select(Incident)
            .where(Incident.id == assignment.incident_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        moment = MOMENTS.get(wanted)
        if moment is not None and getattr(assignment, moment) is None:
            setattr(assignment, moment, now)
        if wanted == "available" and previous in ("dispatched", "en_route"):
            assignment.state = "cancelled"
            assignment.cleared_at = now
            unit.incident_id = None
        elif wanted in ("back_in_service", "available", "out_of_service"):
            assignment.state = "cleared"
            assignment.cleared_at = now
            unit.incident_id = None
    elif wanted in DISPATCHABLE_STATUSES or wanted == "out_of_service":
        unit.incident_id = None
    await session.flush()
    if incident is not None and assignment is not None:
        if wanted == "on_scene" and incident.state in ("open", "dispatched"):
            incident.state = "on_scene"
        elif assignment.state == "cancelled" and incident.state in ("dispatched", "on_scene"):
            states = set(
                (
                    await session.scalars(
                        select(Assignment.state).where(Assignment.incident_id == incident.id)
                    )
                ).all()
            )
            if states == {"cancelled"}:
                incident.state = "open"
        incident.version += 1
        timeline.record(
            session,
            incident.id,
            "unit_status",
            {
                "unit_id": unit.id,
                "call_sign": unit.call_sign,
                "from": previous,
                "status": wanted,
                "assignment_id": assignment.id,
                "assignment_state": assignment.state,
                "by": actor.kind,
            },
            actor_id=actor.id,
            actor_name=actor.name,
            at=now,
        )
    payload = live_unit(unit)
    payload["incident_id"] = incident.id if incident is not None else unit.incident_id
    payload["previous"] = previous
    events.publish(session, STATUS_EVENT, payload)
    live.publish_after_commit(session, timeline.dispatch_channel(), "unit", payload)
    if incident is not None:
        await timeline.announce_incident(session, incident, "hotline112.incident_updated")
