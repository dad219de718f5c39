"""Laksa's reactions to its own events: photos are processed after the submission committed, and
the right people are told (ModuleSpec.subscribers; each runs once per event, in its city).

Who hears what:
- routed or transferred to an agency: that agency's staff (and the copied agencies' staff);
- an emergency (routed or waiting for triage): the Live Room, urgent, whatever the hour;
- waiting for triage: the Live Room;
- a state change or a public reply: the reporting citizen and the citizens who support it
  (resolved has its own message, by SMS too);
- assigned: the new assignee; SLA at risk: the assignee and the agency's supervisors;
  breached: the supervisors; still open long after (escalated): the Live Room.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select

from kotalive.auth.models import Citizen, Employee, RoleGrant
from kotalive.db import TenantSession
from kotalive.i18n import translate
from kotalive.integrations import normalise_indonesian_number
from kotalive.modules.laksa import messages
from kotalive.modules.laksa.models import Category, Complaint
from kotalive.modules.laksa.services import process_pending_photos
from kotalive.notify import Message, Recipient, send
from kotalive.tenants.city_models import Agency

LIVE_ROOM_ROLES = ("liveroom_operator", "liveroom_supervisor")


async def process_photos(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    """Re-encode the complaint's new photos without EXIF and make thumbnails (in the event's
    transaction: a worker killed half-way leaves them pending, and the redelivery does them)."""
    await process_pending_photos(session, int(payload["complaint_id"]))


# ---- who ------------------------------------------------------------------------------------------


def _phone(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return normalise_indonesian_number(raw)
    except ValueError:
        return None


def _employee(e: Employee) -> Recipient:
    return Recipient("employee", e.id, e.name, email=e.email or None, phone=_phone(e.phone))


async def agency_staff(session: TenantSession, agency_ids: Iterable[int]) -> list[Recipient]:
    ids = sorted(set(agency_ids))
    if not ids:
        return []
    rows = await session.execute(select(Employee).where(Employee.agency_id.in_(ids), Employee.active))
    return [_employee(e) for e in rows.scalars()]


async def supervisors(session: TenantSession, agency_id: int | None) -> list[Recipient]:
    """Agency supervisors of the agency: granted for it, or for their own agency when it is this one."""
    if agency_id is None:
        return []
    rows = await session.execute(
        select(Employee)
        .join(RoleGrant, and_(RoleGrant.subject_kind == "employee", RoleGrant.subject_id == Employee.id))
        .where(
            Employee.active,
            RoleGrant.role == "agency_supervisor",
            or_(
                RoleGrant.agency_id == agency_id,
                and_(RoleGrant.agency_id.is_(None), Employee.agency_id == agency_id),
            ),
        )
    )
    return [_employee(e) for e in rows.scalars().unique()]


async def live_room(session: TenantSession) -> list[Recipient]:
    rows = await session.execute(
        select(Employee)
        .join(RoleGrant, and_(RoleGrant.subject_kind == "employee", RoleGrant.subject_id == Employee.id))
        .where(Employee.active, RoleGrant.role.in_(LIVE_ROOM_ROLES))
    )
    return [_employee(e) for e in rows.scalars().unique()]


async def citizens(session: TenantSession, ids: Sequence[int | None]) -> list[Recipient]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return []
    rows = await session.execute(select(Citizen).where(Citizen.id.in_(wanted), Citizen.status == "active"))
    return [Recipient("citizen", c.id, c.name, phone=c.phone) for c in rows.scalars()]


async def employee(session: TenantSession, employee_id: int | None) -> list[Recipient]:
    if employee_id is None:
        return []
    row = await session.get(Employee, employee_id)
    return [_employee(row)] if row is not None and row.active else []


# ---- what -----------------------------------------------------------------------------------------


async def values(session: TenantSession, payload: dict[str, Any]) -> dict[str, Any]:
    """The values every Laksa message may use, from the event and the complaint as it is now."""
    tenant = session.tenant
    complaint = await session.get(Complaint, int(payload["complaint_id"]))
    category = await session.get(Category, payload["category_id"]) if payload.get("category_id") else None
    agency = await session.get(Agency, payload["agency_id"]) if payload.get("agency_id") else None
    due = None
    if payload.get("due_at"):
        local = dt.datetime.fromisoformat(payload["due_at"]).astimezone(ZoneInfo(tenant.timezone))
        due = f"{local.strftime('%d-%m-%Y %H:%M')} {local.tzname()}"
    state = str(payload.get("to_state") or payload.get("state") or "")
    # Every name a wording may use is defined (None when it does not apply), so a city's wording
    # that uses, say, {{ note }} on a message without one renders instead of failing.
    return {
        **dict.fromkeys(messages.SAMPLE),
        "id": payload["complaint_id"],
        "summary": (complaint.description if complaint else str(payload.get("summary") or ""))[:140],
        "category": category.name if category else None,
        "category_en": category.name_en if category else None,
        "agency": agency.name if agency else None,
        "kecamatan": payload.get("kecamatan"),
        "state": state,
        "state_label": translate(f"laksa.state.{state}", "id"),
        "state_label_en": translate(f"laksa.state.{state}", "en"),
        "due": due,
        "city": tenant.name,
        "url": f"https://{tenant.primary_host}/laporan/{payload['complaint_id']}",
        "note": payload.get("note") or payload.get("reason"),
        "body": payload.get("body"),
        "overdue": payload.get("overdue_minutes"),
    }


async def _tell(
    session: TenantSession, message: Message, people: Sequence[Recipient], payload: dict[str, Any], **kw: Any
) -> None:
    if people:
        await send(session, message, people, await values(session, payload), **kw)


# ---- the handlers -------------------------------------------------------------------------------


async def on_routed(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    agencies = [payload["agency_id"], *payload.get("copy_agency_ids", [])]
    await _tell(session, messages.ROUTED, await agency_staff(session, agencies), payload)
    if payload.get("emergency"):
        await _tell(session, messages.EMERGENCY, await live_room(session), payload, urgent=True)


async def on_awaiting_triage(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    if payload.get("emergency"):
        await _tell(session, messages.EMERGENCY, await live_room(session), payload, urgent=True)
    else:
        await _tell(session, messages.TRIAGE, await live_room(session), payload)


async def on_transferred(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    await _tell(session, messages.ROUTED, await agency_staff(session, [payload["agency_id"]]), payload)


async def on_status_changed(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    people = await citizens(session, [payload.get("citizen_id"), *payload.get("supporter_ids", [])])
    message = messages.RESOLVED if payload.get("to_state") == "resolved" else messages.STATUS
    await _tell(session, message, people, payload)


async def on_replied(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    people = await citizens(session, [payload.get("citizen_id"), *payload.get("supporter_ids", [])])
    await _tell(session, messages.REPLY, people, payload)


async def on_assigned(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    actor = payload.get("actor") or {}
    assignee = payload.get("assignee_id")
    if assignee is not None and not (actor.get("kind") == "employee" and actor.get("id") == assignee):
        await _tell(session, messages.ASSIGNED, await employee(session, assignee), payload)


async def on_sla_at_risk(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    people = [
        *await employee(session, payload.get("assignee_id")),
        *await supervisors(session, payload.get("agency_id")),
    ]
    await _tell(session, messages.SLA_AT_RISK, people, payload)


async def on_sla_breached(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    await _tell(session, messages.SLA_BREACHED, await supervisors(session, payload.get("agency_id")), payload)


async def on_sla_escalated(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    await _tell(session, messages.SLA_ESCALATED, await live_room(session), payload)
