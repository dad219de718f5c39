"""Outbound webhooks: every event of a city that an endpoint asked for becomes a signed POST.

The core consumer ``core:webhooks`` receives every event (events.CORE_CONSUMERS) and writes one
delivery per matching endpoint, unique per (event, endpoint), in the event's transaction; the
delivery engine sends it with retries and logs every attempt.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from kotalive.db import TenantSession
from kotalive.events import current_event
from kotalive.notify.channels import webhook_body
from kotalive.notify.dispatch import _after_commit
from kotalive.notify.models import Delivery, WebhookEndpoint


def wants(patterns: list[str], event_type: str) -> bool:
    return any(fnmatch.fnmatchcase(event_type, p) for p in patterns or ())


async def fan_out(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    endpoints = [
        e
        for e in (await session.execute(select(WebhookEndpoint).where(WebhookEndpoint.active))).scalars()
        if wants(e.events, event_type)
    ]
    handling = current_event()
    if not endpoints or handling is None:
        return
    body = webhook_body(handling.id, event_type, session.tenant.slug, payload)
    rows = [
        {
            "source": f"event:{handling.id}:webhook",
            "recipient_kind": "webhook",
            "recipient_id": e.id,
            "channel": "webhook",
            "message": event_type[:100],
            "address": e.url,
            "subject": event_type,
            "body": body,
            "urgent": False,
            "status": "pending",
            "attempts": 0,
        }
        for e in endpoints
    ]
    result = await session.execute(
        insert(Delivery)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["source", "recipient_kind", "recipient_id", "channel"])
        .returning(Delivery.id)
    )
    ids = [r.id for r in result]
    if ids:
        _after_commit(session, session.tenant, [], ids)
