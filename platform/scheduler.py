"""``kotalive scheduler``: periodic work, one message per city (ARCHITECTURE §6).

Every ``KOTALIVE_OUTBOX_SWEEP_SECONDS`` it enqueues the outbox sweep for every active city; every
module's ``ModuleSpec.periodic`` job is enqueued for every active city that has the module switched
on. APScheduler's AsyncIOScheduler keeps the clock (a run that is late is coalesced, never doubled);
the work itself runs in the workers. Several schedulers may run (one per host, for availability):
a leader lease in Redis lets exactly one of them enqueue, and another takes over within the
lease's lifetime when the leader dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kotalive.context import TenantContext
from kotalive.jobs import MODULE_OPTION, Job, create_broker, enqueue_all, find_job, install_broker
from kotalive.registry import LoadedModules, ModuleConfigError
from kotalive.settings import Settings

if TYPE_CHECKING:
    from dramatiq.broker import Broker

    from kotalive.tenants.directory import TenantDirectory

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str  # "core.outbox_sweep", "<module>.<PeriodicJob.name>"
    job: Job
    every_seconds: int
    module: str | None = None  # None: every active city

    def wanted_by(self, city: TenantContext) -> bool:
        return city.is_active and (self.module is None or city.has_module(self.module))


def periodic_work(settings: Settings, modules: LoadedModules) -> list[Periodic]:
    """The core's periodic work and every module's; refuses an unknown or platform actor."""
    from kotalive import events
    from kotalive.auth import employees
    from kotalive.notify import jobs as notify_jobs

    work = [
        Periodic("core.outbox_sweep", events.sweep_outbox_job, max(1, settings.outbox_sweep_seconds)),
        Periodic("core.simpeg_sync", employees.sync_employees_job, employees.SYNC_EVERY_SECONDS),
        Periodic("core.notify_sweep", notify_jobs.sweep_job, notify_jobs.SWEEP_EVERY_SECONDS),
    ]
    modules.import_jobs()
    for spec in modules.specs:
        for pj in spec.periodic:
            job = find_job(pj.actor_name)
            if job is None:
                raise ModuleConfigError(
                    f"{spec.name}: periodic job {pj.name!r} names actor {pj.actor_name!r}, "
                    f"which {spec.jobs or 'the module (it declares no jobs=)'} does not declare"
                )
            if not job.is_tenant_job:
                raise ModuleConfigError(
                    f"{spec.name}: periodic job {pj.name!r} must be a tenant_actor (one message per city)"
                )
            if pj.every_seconds < 1:
                raise ModuleConfigError(f"{spec.name}: periodic job {pj.name!r} must run every >= 1 s")
            work.append(Periodic(f"{spec.name}.{pj.name}", job, pj.every_seconds, spec.name))
    return work


async def enqueue_for_cities(
    periodic: Periodic, directory: TenantDirectory, broker: Broker
) -> list[TenantContext]:
    """One message of ``periodic`` per city that wants it; returns those cities."""
    cities = [c for c in await directory.all() if periodic.wanted_by(c)]
    options = {MODULE_OPTION: periodic.module} if periodic.module else None
    messages = [periodic.job.message_for(city, message_options=options) for city in cities]
    if messages:
        await asyncio.to_thread(enqueue_all, broker, messages)
    slugs = ", ".join(c.slug for c in cities[:10]) + (
        f" and {len(cities) - 10} more" if len(cities) > 10 else ""
    )
    log.info("enqueued %s for %d city(ies)%s", periodic.name, len(cities), f": {slugs}" if cities else "")
    return cities


# Take the key if it is free, keep it if it is ours; never touch another holder's.
_HOLD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2]) return 1
elseif redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
"""
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class LeaderLease:
    """Only the holder of a short Redis lease enqueues; each tick renews it."""

    def __init__(self, redis_url: str, ttl_ms: int, key: str = "kotalive:scheduler:leader") -> None:
        import uuid

        import redis.asyncio as aioredis

        self.client = aioredis.from_url(redis_url)
        self.ttl_ms = ttl_ms
        self.key = key
        self.holder = uuid.uuid4().hex
        self.leading = False

    async def hold(self) -> bool:
        leading = bool(await self.client.eval(_HOLD, 1, self.key, self.holder, str(self.ttl_ms)))
        if leading != self.leading:
            log.info("scheduler %s %s the lead", self.holder[:8], "took" if leading else "lost")
        self.leading = leading
        return leading

    async def release(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.eval(_RELEASE, 1, self.key, self.holder)
        await self.client.aclose()


class Scheduler:
    """The clock: one APScheduler interval job per ``Periodic``."""

    def __init__(
        self,
        work: list[Periodic],
        directory: TenantDirectory,
        broker: Broker,
        lease: LeaderLease | None = None,
    ) -> None:
        self.work = work
        self.directory = directory
        self.broker = broker
        self.lease = lease

    async def tick(self, periodic: Periodic) -> None:
        try:
            if self.lease is not None and not await self.lease.hold():
                return  # another scheduler leads
            await enqueue_for_cities(periodic, self.directory, self.broker)
        except Exception as exc:  # Redis or the database away: say so, try again next time
            log.warning("could not enqueue %s: %s", periodic.name, exc)

    async def run(self, stop: asyncio.Event) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        clock = AsyncIOScheduler(timezone=dt.UTC)
        now = dt.datetime.now(dt.UTC)
        for periodic in self.work:
            clock.add_job(
                self.tick,
                "interval",
                args=[periodic],
                seconds=periodic.every_seconds,
                id=periodic.name,
                next_run_time=now,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=periodic.every_seconds,
            )
            log.info("scheduled %s every %d s", periodic.name, periodic.every_seconds)
        clock.start()
        try:
            await stop.wait()
        finally:
            clock.shutdown(wait=False)


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the scheduler until ``stop`` is set."""
    from kotalive.db import Database, install_database
    from kotalive.registry import load
    from kotalive.tenants.directory import TenantDirectory, listen_for_invalidation

    settings.require_services()
    modules = load(settings.modules)
    modules.import_models()
    database = Database(settings)
    install_database(database)
    broker = create_broker(settings, database=database)
    install_broker(broker)
    directory = TenantDirectory(database, settings.tenant_cache_seconds)
    listener = asyncio.create_task(listen_for_invalidation(settings.redis_url, directory, stop))
    work = periodic_work(settings, modules)
    # Renewed at every tick, so it outlives the longest gap between ticks of the shortest job.
    lease = LeaderLease(settings.redis_url, ttl_ms=3000 * min(p.every_seconds for p in work))
    try:
        await Scheduler(work, directory, broker, lease).run(stop)
    finally:
        await lease.release()
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        install_broker(None)
        broker.close()
        install_database(None)
        await database.dispose()
        log.info("scheduler stopped")


def run_scheduler(settings: Settings) -> None:
    """The ``kotalive scheduler`` process; Ctrl-C or SIGTERM stop it cleanly."""
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # APScheduler narrates every run at INFO; our own line says what was enqueued.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    asyncio.run(main())
