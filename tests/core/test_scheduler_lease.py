"""Two schedulers: exactly one enqueues; when it stops, the other takes over."""

from __future__ import annotations

import uuid

from support import wait_until

from kotalive.scheduler import LeaderLease, Periodic, Scheduler


async def test_only_the_lease_holder_leads_and_another_takes_over(settings) -> None:
    key = f"kotalive-test:leader:{uuid.uuid4().hex}"
    first = LeaderLease(settings.redis_url, ttl_ms=300, key=key)
    second = LeaderLease(settings.redis_url, ttl_ms=300, key=key)
    try:
        assert await first.hold() is True
        assert await second.hold() is False
        assert await first.hold() is True  # renewing keeps it
        await first.release()  # a clean stop hands over at once
        assert await second.hold() is True
        third = LeaderLease(settings.redis_url, ttl_ms=300, key=key)
        assert await third.hold() is False
        # The leader dies without releasing: the lease expires and the next one leads.
        await wait_until(third.hold, "the lease to expire", within=3.0)
        assert await second.hold() is False
        await third.release()
    finally:
        await second.release()


async def test_a_scheduler_that_does_not_lead_enqueues_nothing(settings, database, make_city, broker) -> None:
    from kotalive import events
    from kotalive.tenants.directory import TenantDirectory

    await make_city("lease")
    key = f"kotalive-test:leader:{uuid.uuid4().hex}"
    leader = LeaderLease(settings.redis_url, ttl_ms=5000, key=key)
    follower = LeaderLease(settings.redis_url, ttl_ms=5000, key=key)
    sweep = Periodic("core.outbox_sweep", events.sweep_outbox_job, 15)
    directory = TenantDirectory(database)
    try:
        assert await leader.hold()
        await Scheduler([sweep], directory, broker, follower).tick(sweep)
        assert broker.do_qsize(sweep.job.queue_name) == 0
        await Scheduler([sweep], directory, broker, leader).tick(sweep)
        assert broker.do_qsize(sweep.job.queue_name) > 0
    finally:
        await leader.release()
        await follower.release()
