"""What Laksa does when the Live Room asks (its ``liveroom.*`` events; the modules never import
each other): forward a complaint from triage, correct its classification, mark it a duplicate.

The room checked the operator's rights and the request's form before it published; Laksa applies
its own rules here (the complaint's state, an active agency) as the operator, whose name goes in
the timeline. A refusal is answered with ``laksa.request_refused`` (the board shows why), never
raised: raising would only retry a request that cannot succeed.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from kotalive.db import TenantSession
from kotalive.events import publish
from kotalive.modules.laksa.domain import AGENCY_STATES, LaksaError
from kotalive.modules.laksa.models import Category, Complaint
from kotalive.modules.laksa.services import Actor, ComplaintService

log = logging.getLogger(__name__)


def _operator(payload: dict[str, Any]) -> Actor:
    who = payload.get("operator") or {}
    return Actor(
        kind="employee",
        id=int(who["id"]) if who.get("id") is not None else None,
        name=str(who.get("name") or "Live Room"),
        roles=frozenset({"liveroom_operator"}),
        whole_city=True,
    )


async def _apply(session: TenantSession, request: str, payload: dict[str, Any], action: Any) -> None:
    complaint_id = payload.get("complaint_id")
    if complaint_id is None:
        return  # an incident: not Laksa's
    try:
        async with session.begin_nested():
            await action(ComplaintService(session, commit=False), _operator(payload), int(complaint_id))
    except LaksaError as exc:
        code = getattr(exc, "code", None) or type(exc).__name__
        log.info("Live Room's %s of complaint %s refused: %s", request, complaint_id, exc)
        publish(
            session,
            "laksa.request_refused",
            {
                "complaint_id": int(complaint_id),
                "request": request,
                "item_id": payload.get("item_id"),
                "reason": str(code),
                "detail": str(exc)[:300],
            },
        )


async def on_forward_requested(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    async def forward(service: ComplaintService, actor: Actor, complaint_id: int) -> None:
        state = await session.scalar(select(Complaint.state).where(Complaint.id == complaint_id))
        note = payload.get("note") or None
        if state in AGENCY_STATES:  # routed meanwhile (or an emergency a rule sent): move it
            await service.transfer(actor, complaint_id, payload["agency_id"], note or "Live Room")
        else:
            await service.forward(
                actor,
                complaint_id,
                payload["agency_id"],
                copy_agency_ids=payload.get("copy_agency_ids"),
                note=note,
            )

    await _apply(session, "forward", payload, forward)


async def on_classify_requested(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    async def classify(service: ComplaintService, actor: Actor, complaint_id: int) -> None:
        code = None
        if payload.get("category_id") is not None:
            code = await session.scalar(select(Category.code).where(Category.id == payload["category_id"]))
            code = code or f"#{payload['category_id']}"  # unknown: Laksa refuses it by name
        await service.classify(
            actor,
            complaint_id,
            category_code=code,
            priority=payload.get("priority"),
            emergency=payload.get("emergency"),
        )

    await _apply(session, "classify", payload, classify)


async def on_duplicate_marked(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    async def duplicate(service: ComplaintService, actor: Actor, complaint_id: int) -> None:
        await service.mark_duplicate(
            actor, complaint_id, payload.get("of_complaint_id"), note=payload.get("note")
        )

    await _apply(session, "duplicate", payload, duplicate)
