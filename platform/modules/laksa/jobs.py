"""Laksa's periodic work, one message per city that has Laksa switched on (kotalive scheduler)."""

from __future__ import annotations

import logging

from kotalive.context import current_tenant
from kotalive.db import tenant_session
from kotalive.jobs import tenant_actor
from kotalive.modules.laksa import services

log = logging.getLogger(__name__)


@tenant_actor(actor_name="kotalive.modules.laksa.jobs.scan_sla", max_retries=3, time_limit=120_000)
async def scan_sla() -> None:
    """Flag SLAs at risk and breached; each flag publishes its event for escalation."""
    async with tenant_session() as session:
        counts = await services.scan_sla(session)
    if any(counts.values()):
        log.info("SLA scan of %s: %s", current_tenant().slug, counts)


@tenant_actor(actor_name="kotalive.modules.laksa.jobs.close_resolved", max_retries=3, time_limit=120_000)
async def close_resolved() -> None:
    """Close resolved complaints the citizen did not confirm within the city's waiting time."""
    async with tenant_session() as session:
        closed = await services.close_resolved(session)
    if closed:
        log.info("closed %d resolved complaint(s) of %s", closed, current_tenant().slug)


@tenant_actor(actor_name="kotalive.modules.laksa.jobs.process_photos", max_retries=3, time_limit=300_000)
async def process_photos() -> None:
    """The safety net behind the photos_uploaded event: anything still pending."""
    async with tenant_session() as session:
        done = await services.process_pending_photos(session)
        await session.commit()
    if done:
        log.info("processed %d pending photo(s) of %s", done, current_tenant().slug)


@tenant_actor(actor_name="kotalive.modules.laksa.jobs.daily_digest", max_retries=3, time_limit=300_000)
async def daily_digest() -> None:
    """Each agency's supervisors get the day's summary once, from the city's digest hour on
    (the scheduler asks every hour; the day in the message's source keeps it to once)."""
    from kotalive.modules.laksa.digest import send_digests

    async with tenant_session() as session:
        sent = await send_digests(session)
        await session.commit()
    if sent:
        log.info("daily digest of %s for %d agency(ies)", current_tenant().slug, sent)
