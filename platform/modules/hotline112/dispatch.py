"""Dispatch: which units to send (the nearest available suitable ones) and sending them.

Recommendation: the units of the types the incident's type asks for (``IncidentType.unit_types``;
every type when it names none), dispatchable (available or back in service), active and with a
known position, nearest first: the great-circle distance (haversine, the same formula as
``kotalive.geo.distance_m``) is computed in PostgreSQL in one query, which keeps the nearest
``per_type`` of each type (a fire gets its nearest fire engines *and* its nearest ambulances); the
ETA is ``domain.eta_seconds`` at the city's average speed of the unit's type. The answer is
ordered by ETA, then distance. ``nearest_units`` is the same search from a point, for the
benchmark (``infra/bench``) and anyone else that has no incident.

Assignment is all-or-nothing. The units' rows (in id order, so two dispatchers never deadlock),
then the incident's row are locked: the order a status change takes too (its unit, then the unit's
incident). A dispatcher who asks for a unit another dispatcher has just sent waits for that
transaction and then sees the unit dispatched: 409 naming the unit, the incident it went to and
who sent it. The partial unique index on active assignments is the last
guard (a unit never has two). The first assignment stamps ``Incident.first_dispatch_at`` (the end
of the call processing time) and moves the incident from open to dispatched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kotalive import events, live
from kotalive.auth.models import Employee
from kotalive.db import TenantSession
from kotalive.geo import EARTH_RADIUS_M, distance_m
from kotalive.modules.hotline112 import timeline
from kotalive.modules.hotline112.domain import DISPATCHABLE_STATUSES, UNIT_TYPES, eta_seconds
from kotalive.modules.hotline112.models import Assignment, Incident, IncidentType, Unit, UnitType
from kotalive.modules.hotline112.units import (
    STATUS_EVENT,
    Actor,
    DispatchError,
    Problem,
    invalid,
    live_unit,
    not_found,
    parse_int,
    unit_data,
    utcnow,
)

DISPATCHED_EVENT = "hotline112.units_dispatched"
DEFAULT_PER_TYPE = 5
MAX_PER_TYPE = 50
MAX_UNITS_PER_ASSIGNMENT = 20

# Haversine in SQL, the formula of kotalive.geo.distance_m. Statuses are written out (not bound) so
# the planner can match the partial index ix_h112_unit_dispatchable. Only constants are formatted in;
# every value is a bound parameter.
_NEAREST_SQL = f"""
WITH candidates AS (
    SELECT u.id, u.call_sign, u.type_code, u.agency_id, u.status, u.lat, u.lon, u.position_at,
           2 * {EARTH_RADIUS_M} * asin(least(1.0, sqrt(
               power(sin(radians(u.lat - :lat) / 2), 2)
               + cos(radians(:lat)) * cos(radians(u.lat)) * power(sin(radians(u.lon - :lon) / 2), 2)
           ))) AS distance_m
      FROM {{city}}.h112_unit u
     WHERE u.active AND u.status IN ('available', 'back_in_service')
       AND u.type_code = ANY(:types) AND u.lat IS NOT NULL AND u.lon IS NOT NULL
), ranked AS (
    SELECT c.*, row_number() OVER (PARTITION BY c.type_code ORDER BY c.distance_m, c.id) AS rank_in_type
      FROM candidates c
)
SELECT r.id, r.call_sign, r.type_code, r.agency_id, r.status, r.lat, r.lon, r.position_at,
       r.distance_m, r.rank_in_type, t.avg_speed_kmh, t.name_id AS type_name_id, t.name_en AS type_name_en
  FROM ranked r JOIN {{city}}.h112_unit_type t ON t.code = r.type_code
 WHERE r.rank_in_type <= :per_type
"""  # noqa: S608
assert set(DISPATCHABLE_STATUSES) == {"available", "back_in_service"}  # the SQL above spells them out


@dataclass(frozen=True, slots=True)
class Recommendation:
    unit_id: int
    call_sign: str
    type: str
    agency_id: int
    status: str
    lat: float
    lon: float
    position_at: dt.datetime | None
    distance_m: float
    eta_seconds: int
    avg_speed_kmh: float
    rank_in_type: int
    type_name_id: str = ""
    type_name_en: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id,
            "call_sign": self.call_sign,
            "type": self.type,
            "agency_id": self.agency_id,
            "status": self.status,
            "lat": self.lat,
            "lon": self.lon,
            "position_at": self.position_at.isoformat() if self.position_at else None,
            "distance_m": round(self.distance_m, 1),
            "eta_seconds": self.eta_seconds,
            "avg_speed_kmh": self.avg_speed_kmh,
            "rank_in_type": self.rank_in_type,
            "type_name_id": self.type_name_id,
            "type_name_en": self.type_name_en,
        }


async def nearest_units(
    session: TenantSession,
    lat: float,
    lon: float,
    unit_types: list[str] | tuple[str, ...],
    per_type: int = DEFAULT_PER_TYPE,
) -> list[Recommendation]:
    """The ``per_type`` nearest dispatchable units of each type in ``unit_types`` from (lat, lon),
    ordered by ETA then distance (one SQL query). The benchmark's entry point."""
    rows = (
        await session.execute_sql(
            _NEAREST_SQL, {"lat": lat, "lon": lon, "types": list(unit_types), "per_type": per_type}
        )
    ).all()
    found = [
        Recommendation(
            unit_id=r.id,
            call_sign=r.call_sign,
            type=r.type_code,
            agency_id=r.agency_id,
            status=r.status,
            lat=r.lat,
            lon=r.lon,
            position_at=r.position_at,
            distance_m=float(r.distance_m),
            eta_seconds=eta_seconds(float(r.distance_m), float(r.avg_speed_kmh)),
            avg_speed_kmh=float(r.avg_speed_kmh),
            rank_in_type=int(r.rank_in_type),
            type_name_id=r.type_name_id,
            type_name_en=r.type_name_en,
        )
        for r in rows
    ]
    found.sort(key=lambda rec: (rec.eta_seconds, rec.distance_m, rec.unit_id))
    return found


async def get_incident(session: TenantSession, incident_id: int, *, lock: bool = False) -> Incident:
    stmt = select(Incident).where(Incident.id == incident_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    incident = await session.scalar(stmt)
    if incident is None:
        raise not_found("incident_id", incident_id)
    return incident


async def incident_unit_types(session: TenantSession, incident: Incident) -> list[str]:
    type_row = await session.get(IncidentType, incident.type_code)
    wanted = list(type_row.unit_types) if type_row is not None and type_row.unit_types else []
    if wanted:
        return wanted
    return list((await session.scalars(select(UnitType.code).order_by(UnitType.code))).all()) or list(
        UNIT_TYPES
    )


async def recommend(
    session: TenantSession,
    incident_id: int,
    *,
    per_type: Any = None,
    types: list[str] | None = None,
) -> tuple[Incident, list[str], list[Recommendation]]:
    """(incident, the unit types asked for, the recommended units) for an incident; ``types``
    overrides the incident type's."""
    problems: list[Problem] = []
    limit = DEFAULT_PER_TYPE
    if per_type not in (None, ""):
        parsed = parse_int(per_type, "per_type", problems)
        if parsed is not None and not 1 <= parsed <= MAX_PER_TYPE:
            problems.append(Problem("per_type", "out_of_range", {"min": 1, "max": MAX_PER_TYPE}))
        elif parsed is not None:
            limit = parsed
    if types:
        known = set((await session.scalars(select(UnitType.code))).all())
        unknown = [t for t in types if t not in known]
        if unknown:
            problems.append(Problem("type", "unknown_type", {"allowed": ", ".join(sorted(known))}))
    if problems:
        raise invalid(*problems)
    incident = await get_incident(session, incident_id)
    wanted = list(types) if types else await incident_unit_types(session, incident)
    if incident.state == "closed":
        return incident, wanted, []
    if incident.lat is None or incident.lon is None:
        raise DispatchError(409, "incident_without_location", "incident_id", id=incident.id)
    return incident, wanted, await nearest_units(session, incident.lat, incident.lon, wanted, limit)


# ---- assignment -----------------------------------------------------------------------------------------


def parse_unit_ids(data: Any) -> list[int]:
    if not isinstance(data, dict):
        raise invalid(Problem("body", "not_an_object"))
    raw = data.get("unit_ids")
    if raw is None:
        raise invalid(Problem("unit_ids", "required"))
    if not isinstance(raw, list) or not raw:
        raise invalid(Problem("unit_ids", "not_a_list"))
    if len(raw) > MAX_UNITS_PER_ASSIGNMENT:
        raise invalid(Problem("unit_ids", "too_many", {"max": MAX_UNITS_PER_ASSIGNMENT}))
    problems: list[Problem] = []
    ids: list[int] = []
    for i, value in enumerate(raw):
        parsed = parse_int(value, f"unit_ids[{i}]", problems)
        if parsed is not None and parsed not in ids:
            ids.append(parsed)
    if problems:
        raise invalid(*problems)
    return ids


async def _taken(session: TenantSession, unit: Unit) -> DispatchError:
    """The 409 for a unit that cannot be sent: who took it and where, when it is working."""
    current = await session.scalar(
        select(Assignment).where(Assignment.unit_id == unit.id, Assignment.state == "active")
    )
    if current is None:
        return DispatchError(
            409,
            "unit_not_available",
            "unit_ids",
            unit_id=unit.id,
            call_sign=unit.call_sign,
            status=unit.status,
        )
    by = await session.get(Employee, current.assigned_by) if current.assigned_by else None
    return DispatchError(
        409,
        "unit_taken",
        "unit_ids",
        unit_id=unit.id,
        call_sign=unit.call_sign,
        status=unit.status,
        incident_id=current.incident_id,
        by=by.name if by is not None else "-",
        by_id=current.assigned_by,
    )


async def assign(session: TenantSession, incident_id: int, data: Any, actor: Actor) -> list[Assignment]:
    """Send ``{unit_ids: [...]}`` to the incident: every unit, or none (409 naming the first unit
    that cannot go)."""
    unit_ids = parse_unit_ids(data)
    incident = await get_incident(session, incident_id)
    if incident.state == "closed":
        raise DispatchError(409, "incident_closed", "incident_id", id=incident.id)
    # Units first, then the incident: the order a status change takes (unit, its incident), so a
    # dispatcher and a terminal acting at once wait for each other instead of deadlocking.
    units = list(
        (
            await session.scalars(
                select(Unit)
                .where(Unit.id.in_(unit_ids))
                .order_by(Unit.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    by_id = {u.id: u for u in units}
    for uid in unit_ids:
        if uid not in by_id:
            raise DispatchError(404, "unit_not_found", "unit_ids", unit_id=uid)
    incident = await get_incident(session, incident_id, lock=True)
    if incident.state == "closed":  # closed while we waited for the units
        raise DispatchError(409, "incident_closed", "incident_id", id=incident.id)
    for uid in unit_ids:
        unit = by_id[uid]
        if not unit.active:
            raise DispatchError(409, "unit_inactive", "unit_ids", unit_id=uid, call_sign=unit.call_sign)
        if unit.status not in DISPATCHABLE_STATUSES:
            raise await _taken(session, unit)
    speeds = dict((await session.execute(select(UnitType.code, UnitType.avg_speed_kmh))).all())
    now = utcnow()
    made: list[Assignment] = []
    for uid in unit_ids:
        unit = by_id[uid]
        distance = eta = None
        if None not in (unit.lat, unit.lon, incident.lat, incident.lon):
            distance = distance_m(unit.lat, unit.lon, incident.lat, incident.lon)  # type: ignore[arg-type]
            eta = eta_seconds(distance, float(speeds.get(unit.type_code, 30.0)))
        made.append(
            Assignment(
                incident_id=incident.id,
                unit_id=unit.id,
                state="active",
                assigned_by=actor.id if actor.kind == "employee" else None,
                assigned_at=now,
                distance_m=distance,
                eta_seconds=eta,
            )
        )
    session.add_all(made)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # the last guard: an active assignment the statuses did not show
        for a in made:
            if a in session:
                session.expunge(a)
        busy = await session.scalar(
            select(Assignment.unit_id)
            .where(Assignment.unit_id.in_(unit_ids), Assignment.state == "active")
            .order_by(Assignment.unit_id)
            .limit(1)
        )
        raise await _taken(session, by_id[busy if busy is not None else unit_ids[0]]) from exc
    for unit in (by_id[uid] for uid in unit_ids):
        previous = unit.status
        unit.status = "dispatched"
        unit.status_at = now
        unit.incident_id = incident.id
        unit.version += 1
        payload = {**live_unit(unit), "previous": previous}
        events.publish(session, STATUS_EVENT, payload)
    if incident.first_dispatch_at is None:
        incident.first_dispatch_at = now
    if incident.state == "open":
        incident.state = "dispatched"
    incident.version += 1
    await session.flush()
    for a in made:
        unit = by_id[a.unit_id]
        timeline.record(
            session,
            incident.id,
            "dispatched",
            {
                "assignment_id": a.id,
                "unit_id": unit.id,
                "call_sign": unit.call_sign,
                "type": unit.type_code,
                "agency_id": unit.agency_id,
                "distance_m": None if a.distance_m is None else round(a.distance_m, 1),
                "eta_seconds": a.eta_seconds,
            },
            actor_id=actor.id,
            actor_name=actor.name,
            at=now,
        )
    events.publish(
        session,
        DISPATCHED_EVENT,
        {
            "incident_id": incident.id,
            "type": incident.type_code,
            "priority": incident.priority,
            "summary": incident.summary or "",
            "address": incident.address or "",
            "lat": incident.lat,
            "lon": incident.lon,
            "dispatcher": {"id": actor.id, "name": actor.name},
            "units": [
                {
                    "unit_id": by_id[a.unit_id].id,
                    "call_sign": by_id[a.unit_id].call_sign,
                    "type": by_id[a.unit_id].type_code,
                    "agency_id": by_id[a.unit_id].agency_id,
                    "assignment_id": a.id,
                    "eta_seconds": a.eta_seconds,
                }
                for a in made
            ],
        },
    )
    for unit in (by_id[uid] for uid in unit_ids):
        live.publish_after_commit(session, timeline.dispatch_channel(), "unit", live_unit(unit))
    await timeline.announce_incident(session, incident, "hotline112.incident_updated")
    return made


def assignment_data(a: Assignment, unit: Unit | None = None) -> dict[str, Any]:
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    out: dict[str, Any] = {
        "id": a.id,
        "incident_id": a.incident_id,
        "unit_id": a.unit_id,
        "state": a.state,
        "assigned_by": a.assigned_by,
        "assigned_at": iso(a.assigned_at),
        "en_route_at": iso(a.en_route_at),
        "on_scene_at": iso(a.on_scene_at),
        "transporting_at": iso(a.transporting_at),
        "at_hospital_at": iso(a.at_hospital_at),
        "cleared_at": iso(a.cleared_at),
        "distance_m": None if a.distance_m is None else round(a.distance_m, 1),
        "eta_seconds": a.eta_seconds,
    }
    if unit is not None:
        out["unit"] = unit_data(unit)
    return out


async def incident_assignments(session: TenantSession, incident_id: int) -> list[tuple[Assignment, Unit]]:
    await get_incident(session, incident_id)
    rows = await session.execute(
        select(Assignment, Unit)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(Assignment.incident_id == incident_id)
        .order_by(Assignment.state != "active", Assignment.id)
    )
    return [(a, u) for a, u in rows.all()]
