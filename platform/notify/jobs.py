"""The workers' part of notifications: send deliveries right after they were written, and sweep
what is due (retries, quiet hours that ended, anything a crash or Redis left behind)."""

from __future__ import annotations

import logging
import weakref

from kotalive.context import current_tenant
from kotalive.db import get_database
from kotalive.jobs import tenant_actor
from kotalive.notify import delivery

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 15


# Behind the events among what a worker has fetched (lower goes first): a bell, written by an
# event's consumer, never waits for the e-mails of earlier complaints.
SENDING_PRIORITY = 10


@tenant_actor(
    actor_name="kotalive.notify.deliver",
    queue_name="notify",
    max_retries=3,
    time_limit=300_000,
    priority=SENDING_PRIORITY,
)
async def deliver_job(ids: list[int]) -> None:
    counts = await delivery.deliver(get_database(), current_tenant(), ids, redis=_async_redis())
    if counts["retry"] or counts["dead"]:
        log.info("deliveries of %s: %s", current_tenant().slug, counts)


@tenant_actor(
    actor_name="kotalive.notify.sweep",
    queue_name="notify",
    max_retries=1,
    time_limit=300_000,
    priority=SENDING_PRIORITY,
)
async def sweep_job() -> None:
    total = {"sent": 0, "retry": 0, "dead": 0, "postponed": 0}
    for _ in range(20):  # at most 20 batches a sweep; the next sweep takes the rest
        counts = await delivery.deliver(get_database(), current_tenant(), None, redis=_async_redis())
        for k, v in counts.items():
            total[k] += v
        if sum(counts.values()) < delivery.CLAIM_BATCH:
            break
    if any(total.values()):
        log.info("notification sweep of %s: %s", current_tenant().slug, total)


_clients: weakref.WeakKeyDictionary[object, object] = weakref.WeakKeyDictionary()


def _async_redis() -> object | None:
    """An asyncio Redis client for rate limits, one per event loop (a worker has one loop)."""
    import asyncio

    import redis.asyncio as aioredis

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        url = get_database().settings.redis_url
        if not url:
            return None
        client = aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        _clients[loop] = client
    return client
