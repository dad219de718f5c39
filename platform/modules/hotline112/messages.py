"""What 112 dispatch tells people (both languages; a city admin may reword each per channel): when
a unit of an agency is sent to an incident, that agency's employees and supervisors hear of it at
once, in the app and by e-mail, whatever the hour.

``on_units_dispatched`` is the module's own subscriber of ``hotline112.units_dispatched`` (it runs
in the event's city, once per event, after the dispatch committed): one message per agency
concerned, naming its units.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, or_, select

from kotalive.auth.models import Employee, RoleGrant
from kotalive.db import TenantSession
from kotalive.events import current_event
from kotalive.modules.hotline112.models import IncidentType
from kotalive.notify import Message, Recipient, Wording, send
from kotalive.tenants.city_models import Agency

SAMPLE = {
    "incident_id": 42,
    "type": "Kebakaran",
    "priority": "P1",
    "units": "DMK-01, DMK-02",
    "agency": "Dinas Pemadam Kebakaran",
    "address": "Jl. Merdeka 10",
    "summary": "Rumah terbakar, dua orang terjebak",
    "dispatcher": "Dewi Dispatcher",
    "city": "Kota Tangerang",
}

UNITS_DISPATCHED = Message(
    key="hotline112.units_dispatched",
    description="Units of an agency were dispatched to a 112 incident",
    wording={
        "id": Wording(
            "112 {{ priority }} {{ type }}: {{ units }} diberangkatkan",
            "{{ dispatcher }} memberangkatkan {{ units }} ({{ agency }}) ke insiden #{{ incident_id }}"
            "{% if address %} di {{ address }}{% endif %}{% if summary %}: {{ summary }}{% endif %}",
        ),
        "en": Wording(
            "112 {{ priority }} {{ type }}: {{ units }} dispatched",
            "{{ dispatcher }} dispatched {{ units }} ({{ agency }}) to incident #{{ incident_id }}"
            "{% if address %} at {{ address }}{% endif %}{% if summary %}: {{ summary }}{% endif %}",
        ),
    },
    channels={"employee": ("inapp", "email")},
    sample=SAMPLE,
    link="/112/insiden/{{ incident_id }}",
)

MESSAGES = (UNITS_DISPATCHED,)


async def agency_people(session: TenantSession, agency_id: int) -> list[Recipient]:
    """The agency's active employees and the supervisors granted for it."""
    rows = await session.execute(
        select(Employee)
        .outerjoin(
            RoleGrant,
            and_(
                RoleGrant.subject_kind == "employee",
                RoleGrant.subject_id == Employee.id,
                RoleGrant.role == "agency_supervisor",
            ),
        )
        .where(Employee.active, or_(Employee.agency_id == agency_id, RoleGrant.agency_id == agency_id))
    )
    return [Recipient("employee", e.id, e.name, email=e.email or None) for e in rows.scalars().unique()]


async def on_units_dispatched(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    units_by_agency: dict[int, list[str]] = defaultdict(list)
    for unit in payload.get("units") or []:
        if unit.get("agency_id") is not None:
            units_by_agency[int(unit["agency_id"])].append(str(unit.get("call_sign") or ""))
    if not units_by_agency:
        return
    type_row = await session.get(IncidentType, payload.get("type")) if payload.get("type") else None
    handling = current_event()
    dispatcher = payload.get("dispatcher") or {}
    for agency_id, call_signs in sorted(units_by_agency.items()):
        agency = await session.get(Agency, agency_id)
        people = [p for p in await agency_people(session, agency_id) if p.id != dispatcher.get("id")]
        if agency is None or not people:
            continue
        values = {
            "incident_id": payload["incident_id"],
            "type": type_row.name_id if type_row is not None else str(payload.get("type") or ""),
            "priority": payload.get("priority") or "",
            "units": ", ".join(call_signs),
            "agency": agency.name,
            "address": payload.get("address") or "",
            "summary": payload.get("summary") or "",
            "dispatcher": dispatcher.get("name") or "",
            "city": session.tenant.name,
        }
        source = (
            f"event:{handling.id if handling else payload['incident_id']}:{UNITS_DISPATCHED.key}:{agency_id}"
        )
        await send(session, UNITS_DISPATCHED, people, values, urgent=True, source=source)
