"""What every 112 use case shares: writing an incident's timeline, telling the rest of the platform
(``hotline112.incident_*`` events, whose payload is the contract the Live Room reads) and telling
the 112 screens (the ``hotline112.calls`` and ``hotline112.dispatch`` live topics).

The event payload carries ids and values only: ``incident_id``, ``priority`` (P1-P4), ``title``,
``type``, ``state``, ``lat``/``lon``, ``accuracy_m``, ``agency_id``, ``emergency`` and ``units`` (call
sign, type and status of every unit working it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from kotalive import events, live
from kotalive.context import current_tenant
from kotalive.db import TenantSession
from kotalive.modules.hotline112.models import Assignment, Incident, IncidentType, TimelineEntry, Unit

CALLS_TOPIC = "hotline112.calls"  # the call-takers' screens: ringing calls, locations
DISPATCH_TOPIC = "hotline112.dispatch"  # the dispatchers' screens: incidents and units


def calls_channel() -> str:
    return live.topic_channel(current_tenant(), CALLS_TOPIC)


def dispatch_channel() -> str:
    return live.topic_channel(current_tenant(), DISPATCH_TOPIC)


def record(
    session: TenantSession,
    incident_id: int,
    kind: str,
    data: dict[str, Any] | None = None,
    *,
    actor_id: int | None = None,
    actor_name: str | None = None,
    at: dt.datetime | None = None,
) -> TimelineEntry:
    """One line of the incident's timeline (flushed with the caller's transaction)."""
    entry = TimelineEntry(
        incident_id=incident_id,
        kind=kind,
        data=data or {},
        actor_id=actor_id,
        actor_name=actor_name,
        at=at or dt.datetime.now(dt.UTC),
    )
    session.add(entry)
    return entry


async def incident_payload(session: TenantSession, incident: Incident) -> dict[str, Any]:
    type_row = await session.get(IncidentType, incident.type_code)
    units = (
        await session.execute(
            select(Unit.id, Unit.call_sign, Unit.type_code, Unit.status)
            .join(Assignment, Assignment.unit_id == Unit.id)
            .where(Assignment.incident_id == incident.id, Assignment.state == "active")
            .order_by(Assignment.id)
        )
    ).all()
    type_name = type_row.name_id if type_row is not None else incident.type_code
    title = f"112 {type_name}" + (f": {incident.summary}" if incident.summary else "")
    return {
        "incident_id": incident.id,
        "priority": incident.priority,
        "type": incident.type_code,
        "title": title[:200],
        "state": incident.state,
        "lat": incident.lat,
        "lon": incident.lon,
        "accuracy_m": incident.accuracy_m,
        "agency_id": incident.agency_id,
        "emergency": incident.priority == "P1",
        "units": [
            {"id": u.id, "call_sign": u.call_sign, "type": u.type_code, "status": u.status} for u in units
        ],
    }


async def announce_incident(session: TenantSession, incident: Incident, event_type: str) -> dict[str, Any]:
    """Tell the platform (outbox event) and the dispatch screens (after commit) what the incident
    is now. ``event_type`` is one of hotline112.incident_opened / _updated / _closed."""
    await session.flush()
    payload = await incident_payload(session, incident)
    events.publish(session, event_type, payload)
    live.publish_after_commit(session, dispatch_channel(), "incident", payload)
    return payload
