"""What the room hears: complaints' and incidents' events move their board items. Each handler
runs in the event's city, in one transaction with its receipt (kotalive.events.deliver)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select

from kotalive.auth.models import Employee, RoleGrant
from kotalive.db import TenantSession
from kotalive.events import current_event
from kotalive.modules.liveroom.messages import ESCALATED
from kotalive.modules.liveroom.services import BoardService
from kotalive.notify import Recipient, send


async def on_source_event(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    delivered = current_event()
    seq = delivered.id if delivered is not None else 0
    board = BoardService(session)
    if event_type.startswith("laksa.") and payload.get("complaint_id") is not None:
        await board.apply_complaint(event_type, payload, seq)
    elif event_type.startswith("hotline112.incident") and payload.get("incident_id") is not None:
        await board.apply_incident(event_type, payload, seq)


async def on_escalated(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    """The room's supervisors hear of an escalation at once (urgent: quiet hours do not hold it)."""
    rows = await session.execute(
        select(Employee)
        .join(RoleGrant, and_(RoleGrant.subject_kind == "employee", RoleGrant.subject_id == Employee.id))
        .where(Employee.active, RoleGrant.role == "liveroom_supervisor")
    )
    operator = payload.get("operator") or {}
    people = [
        Recipient("employee", e.id, e.name, email=e.email or None)
        for e in rows.scalars().unique()
        if e.id != operator.get("id")
    ]
    if people:
        values = {
            "item_id": payload["item_id"],
            "kind": payload.get("kind"),
            "source_id": payload.get("source_id"),
            "title": payload.get("title") or "",
            "note": payload.get("note") or "",
            "operator": operator.get("name") or "",
            "city": session.tenant.name,
        }
        await send(session, ESCALATED, people, values, urgent=True)
