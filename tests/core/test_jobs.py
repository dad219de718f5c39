"""City jobs and platform jobs on a real Redis broker with an in-process Dramatiq worker.

ARCHITECTURE §4 rule 6: enqueueing a city job without a city raises; the worker opens the city's
context from the message and clears it afterwards; a suspended city's jobs are skipped and logged;
platform-wide jobs are marked explicitly. Plus the scheduler's one-message-per-city fan-out, and
the `kotalive worker` / `kotalive scheduler` processes end to end.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dramatiq import Message, Worker
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import func, select
from support import settled, wait_until

from kotalive import events
from kotalive.context import NoTenantContext, current_tenant_or_none, use_tenant
from kotalive.db import Database, get_database, tenant_session
from kotalive.events import OutboxEvent
from kotalive.jobs import (
    MODULE_OPTION,
    SCOPE_OPTION,
    TENANT_OPTION,
    JobError,
    install_broker,
    platform_actor,
    tenant_actor,
)
from kotalive.registry import LoadedModules, ModuleSpec, PeriodicJob
from kotalive.scheduler import Periodic, enqueue_for_cities, periodic_work
from kotalive.settings import Settings
from kotalive.tenants.city_models import Agency
from kotalive.tenants.directory import TenantDirectory
from kotalive.tenants.provisioning import TenantService

# What the jobs below saw, in the order they ran (they run on the worker's single event loop).
seen: list[dict[str, Any]] = []


@tenant_actor(actor_name="tests.jobs.city_job", max_retries=0)
async def city_job(label: str) -> None:
    city = current_tenant_or_none()
    async with tenant_session() as s:  # the same async database layer as the web
        agencies = await s.scalar(select(func.count()).select_from(Agency))
    seen.append(
        {
            "label": label,
            "city": city.id if city else None,
            "agencies": agencies,
            "database": id(get_database()),
        }
    )


@tenant_actor(actor_name="tests.jobs.laksa_job", module="laksa", max_retries=0)
async def laksa_job(label: str) -> None:
    city = current_tenant_or_none()
    seen.append({"label": label, "city": city.id if city else None})


@tenant_actor(actor_name="tests.jobs.labelled", module="laksa", max_retries=0)
async def labelled_job(label: str = "periodic") -> None:  # periodic jobs get no arguments
    city = current_tenant_or_none()
    seen.append({"label": label, "city": city.id if city else None})


@platform_actor(actor_name="tests.jobs.platform_job", max_retries=0)
async def platform_job(label: str) -> None:
    city = current_tenant_or_none()
    seen.append({"label": label, "city": city.id if city else None})


@tenant_actor(actor_name="tests.jobs.sync_city_job", max_retries=0)
def sync_city_job(label: str) -> None:
    city = current_tenant_or_none()
    seen.append({"label": label, "city": city.id if city else None})


# ---- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _forget_what_jobs_saw() -> None:
    seen.clear()


def dead_letters(broker: RedisBroker, queue: str = "default") -> list[dict[str, Any]]:
    raw = broker.client.hgetall(f"{broker.namespace}:{queue}.XQ.msgs")
    return [json.loads(v) for v in raw.values()]


def labels() -> list[str]:
    return [s["label"] for s in seen]


# ---- sending -------------------------------------------------------------------------------------


async def test_city_job_cannot_be_enqueued_without_a_city(broker: RedisBroker) -> None:
    assert current_tenant_or_none() is None
    with pytest.raises(NoTenantContext):
        city_job.send("nowhere")
    with pytest.raises(NoTenantContext):
        await city_job.send_async("nowhere")
    with pytest.raises(NoTenantContext):
        city_job.message("nowhere")
    with pytest.raises(NoTenantContext):
        city_job.send_for(0, "nowhere")  # type: ignore[arg-type]
    with pytest.raises(NoTenantContext):
        await city_job("called in place")  # running it here needs a city too
    assert broker.do_qsize("default") == 0


async def test_messages_carry_the_city_and_platform_jobs_carry_none(
    make_city: Any, broker: RedisBroker
) -> None:
    city = await make_city("job")
    with use_tenant(city):
        message = city_job.message("x")
        platform = platform_job.message("y")
    assert message.options[TENANT_OPTION] == city.id
    assert TENANT_OPTION not in platform.options
    with pytest.raises(TypeError, match="platform job"):
        platform_job.message_for(city, "y")
    actors = broker.actors
    assert actors["tests.jobs.city_job"].options[SCOPE_OPTION] == "tenant"
    assert actors["tests.jobs.platform_job"].options[SCOPE_OPTION] == "platform"
    assert actors["tests.jobs.laksa_job"].options[MODULE_OPTION] == "laksa"
    assert MODULE_OPTION not in actors["tests.jobs.city_job"].options


def test_jobs_are_declared_without_a_broker_and_named_once() -> None:
    """Defining a job needs no broker; a second job under a taken name is refused."""
    with pytest.raises(JobError, match="two jobs are named"):

        @tenant_actor(actor_name="tests.jobs.city_job")
        async def impostor() -> None: ...

    with pytest.raises(ValueError, match="queue name"):

        @platform_actor(queue_name="no spaces")
        async def badly_queued() -> None: ...


def test_unknown_actor_options_are_refused() -> None:
    with pytest.raises(ValueError, match="not_an_option"):

        @tenant_actor(actor_name="tests.jobs.bad_option", not_an_option=1)
        async def bad() -> None: ...


# ---- the worker ----------------------------------------------------------------------------------


async def test_worker_runs_city_jobs_in_their_city_and_clears_it_after(
    make_city: Any, database: Database, broker: RedisBroker, worker: Worker
) -> None:
    city_a, city_b = await make_city("joba"), await make_city("jobb")
    with use_tenant(city_a):
        city_job.send("a")
        platform_job.send("platform after a")  # sent from a city, still platform-wide
        sync_city_job.send("sync a")
    city_job.send_for(city_b, "b")
    platform_job.send("platform after b")
    await wait_until(lambda: len(seen) == 5, "five jobs")
    await wait_until(settled(broker), "the queue to drain")

    by_label = {s["label"]: s for s in seen}
    assert labels() == ["a", "platform after a", "sync a", "b", "platform after b"]
    assert by_label["a"]["city"] == city_a.id
    assert by_label["b"]["city"] == city_b.id
    assert by_label["sync a"]["city"] == city_a.id
    # Nothing leaks to the next message on the same thread.
    assert by_label["platform after a"]["city"] is None
    assert by_label["platform after b"]["city"] is None
    # The job read its city's rows through tenant_session(), on the worker's own engine.
    assert by_label["a"]["agencies"] > 0 and by_label["b"]["agencies"] > 0
    assert by_label["a"]["database"] != id(database)
    assert dead_letters(broker) == []


async def test_message_without_a_city_is_rejected_to_the_dead_letters(
    make_city: Any, broker: RedisBroker, worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    city = await make_city("job")
    caplog.set_level(logging.WARNING, logger="kotalive.jobs")
    # Forged: a city job's message with no city (and one naming a city by a string).
    broker.enqueue(
        Message(queue_name="default", actor_name=city_job.name, args=("forged",), kwargs={}, options={})
    )
    broker.enqueue(
        Message(
            queue_name="default",
            actor_name=city_job.name,
            args=("forged 2",),
            kwargs={},
            options={TENANT_OPTION: str(city.id)},
        )
    )
    city_job.send_for(city, "after")
    await wait_until(lambda: "after" in labels(), "the legitimate job")
    await wait_until(settled(broker), "the queue to drain")

    assert labels() == ["after"]  # the forged ones never ran
    rejected = dead_letters(broker)
    assert sorted(m["args"][0] for m in rejected) == ["forged", "forged 2"]
    reasons = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(reasons) == 2 and all("carries no city" in r for r in reasons)


async def test_suspended_archived_and_unknown_cities_are_skipped_and_logged(
    make_city: Any,
    tenant_service: TenantService,
    broker: RedisBroker,
    worker: Worker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    active, suspended, archived = await make_city("job"), await make_city("job"), await make_city("job")
    await tenant_service.suspend(suspended.slug)
    await tenant_service.archive(archived.slug)
    caplog.set_level(logging.WARNING, logger="kotalive.jobs")
    city_job.send_for(suspended, "suspended")
    city_job.send_for(archived, "archived")
    city_job.send_for(987_654_321, "unknown")
    city_job.send_for(active, "active")
    await wait_until(lambda: "active" in labels(), "the active city's job")
    await wait_until(settled(broker), "the queue to drain")

    assert labels() == ["active"]
    assert dead_letters(broker) == []  # skipped, not failed
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped")]
    assert any(f"(id {suspended.id}) is suspended" in m for m in skipped)
    assert any(f"(id {archived.id}) is archived" in m for m in skipped)
    assert any("city 987654321 does not exist" in m for m in skipped)

    # Resumed, the city's jobs run again (the worker hears of the change).
    await tenant_service.resume(suspended.slug)
    city_job.send_for(suspended, "resumed")
    await wait_until(lambda: "resumed" in labels(), "the resumed city's job")


async def test_module_job_skips_cities_with_the_module_switched_off(
    make_city: Any, broker: RedisBroker, worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    with_laksa = await make_city("job", modules=["laksa"])
    without_laksa = await make_city("job", modules=["liveroom"])
    caplog.set_level(logging.WARNING, logger="kotalive.jobs")
    laksa_job.send_for(without_laksa, "off")
    laksa_job.send_for(with_laksa, "on")
    await wait_until(lambda: "on" in labels(), "the job of the city with laksa")
    await wait_until(settled(broker), "the queue to drain")
    assert seen == [{"label": "on", "city": with_laksa.id}]
    assert any("module laksa is switched off" in r.getMessage() for r in caplog.records)


async def test_unmarked_actor_is_rejected(broker: RedisBroker, worker: Worker) -> None:
    """An actor declared straight on Dramatiq (neither tenant_actor nor platform_actor) never runs."""
    import dramatiq

    ran: list[int] = []

    def plain() -> None:
        ran.append(1)

    dramatiq.Actor(
        plain, broker=broker, actor_name="tests.jobs.plain", queue_name="plain", priority=0, options={}
    )
    # The running worker picks up a queue declared after it started.
    broker.enqueue(Message(queue_name="plain", actor_name="tests.jobs.plain", args=(), kwargs={}, options={}))
    await wait_until(lambda: dead_letters(broker, "plain"), "the unmarked message in the dead letters")
    assert ran == []


# ---- the scheduler -------------------------------------------------------------------------------


async def test_scheduler_enqueues_once_per_city_with_the_module_on(
    make_city: Any,
    database: Database,
    tenant_service: TenantService,
    settings: Settings,
    modules: LoadedModules,
    broker: RedisBroker,
    worker: Worker,
) -> None:
    on, off, suspended = (
        await make_city("sch", modules=["laksa"]),
        await make_city("sch", modules=["liveroom"]),
        await make_city("sch", modules=["laksa"]),
    )
    await tenant_service.suspend(suspended.slug)
    directory = TenantDirectory(database)
    periodic = Periodic("laksa.test", labelled_job, 60, module="laksa")
    cities = await enqueue_for_cities(periodic, directory, broker)
    ours = {on.id, off.id, suspended.id}
    assert [c.id for c in cities if c.id in ours] == [on.id]
    assert all(c.is_active and c.has_module("laksa") for c in cities)
    await wait_until(lambda: on.id in {s["city"] for s in seen}, "the job in the city with laksa")
    await wait_until(settled(broker), "the queue to drain")
    assert {s["city"] for s in seen} & ours == {on.id}

    # The core's sweep is always there; a module's periodic job must name a declared city job.
    work = periodic_work(settings, modules)
    assert work[0].name == "core.outbox_sweep" and work[0].job is events.sweep_outbox_job
    assert work[0].every_seconds == settings.outbox_sweep_seconds
    bogus = ModuleSpec(name="bogus", title="Bogus", periodic=(PeriodicJob("tick", "tests.jobs.nope", 60),))
    with pytest.raises(Exception, match="tests.jobs.nope"):
        periodic_work(settings, LoadedModules((bogus,)))


# ---- the processes -------------------------------------------------------------------------------


ROOT = Path(__file__).resolve().parents[2]


def _kotalive() -> str:
    return str(Path(sys.executable).parent / "kotalive")


async def test_worker_and_scheduler_processes_sweep_the_outbox(
    make_city: Any, database: Database, test_database_url: str, redis_db_url: str, tmp_path: Path
) -> None:
    """`kotalive scheduler` enqueues the sweep per city, `kotalive worker` runs it in the city."""
    # No broker in this process (the app's lifespan may have installed one for the session), so
    # the fast path leaves the event to the sweeper of the processes under test.
    previous = install_broker(None)
    try:
        await _processes_sweep(make_city, database, test_database_url, redis_db_url, tmp_path)
    finally:
        install_broker(previous)


async def _processes_sweep(
    make_city: Any, database: Database, test_database_url: str, redis_db_url: str, tmp_path: Path
) -> None:
    city = await make_city("proc")
    async with database.tenant_session(city) as s, s.begin():
        events.publish(s, "testing.swept_by_processes", {"n": 1})
    await events.wait_for_relays()
    async with database.tenant_session(city) as s:
        assert (await s.scalar(select(OutboxEvent.sent_at))) is None

    # The processes use the default namespace of the session's Redis database: start it empty
    # (app tests may have left messages there for a worker that never ran).
    import redis

    client = redis.Redis.from_url(redis_db_url)
    stale = list(client.scan_iter("kotalive:*"))
    if stale:
        client.delete(*stale)
    client.close()

    env = {k: v for k, v in os.environ.items() if not k.startswith("KOTALIVE_")}
    env.update(
        {
            "KOTALIVE_ENV": "test",
            "KOTALIVE_DATABASE_URL": test_database_url,
            "KOTALIVE_REDIS_URL": redis_db_url,
            "KOTALIVE_OUTBOX_SWEEP_SECONDS": "1",
            "KOTALIVE_TENANT_CACHE_SECONDS": "1",
            "KOTALIVE_DB_POOL_SIZE": "2",
        }
    )
    logs = {name: (tmp_path / f"{name}.log").open("w+") for name in ("worker", "scheduler")}
    commands = {
        "worker": [_kotalive(), "worker", "--processes", "1", "--threads", "2"],
        "scheduler": [_kotalive(), "scheduler"],
    }
    # From the repository root, where platform/ could shadow the standard library's platform.
    procs = {
        name: await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=ROOT, stdout=logs[name], stderr=subprocess.STDOUT
        )
        for name, argv in commands.items()
    }
    try:

        async def swept() -> bool:
            async with database.tenant_session(city) as s:
                return (await s.scalar(select(OutboxEvent.sent_at))) is not None

        await wait_until(swept, "the worker process to sweep the city's outbox", within=30.0)
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)  # Ctrl-C
        codes: dict[str, int | str] = {}
        for name, proc in procs.items():
            try:
                codes[name] = await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                codes[name] = "killed"
        output = {}
        for name, fh in logs.items():
            fh.seek(0)
            output[name] = fh.read()
            fh.close()
    assert codes["scheduler"] == 0, output["scheduler"]
    assert codes["worker"] == 0, output["worker"]
    assert "enqueued core.outbox_sweep for" in output["scheduler"]
    assert "scheduler stopped" in output["scheduler"]
    assert "Traceback" not in output["scheduler"]
    # The worker serves every city of the session's database; other tests' cities may have jobs
    # that fail (a Simpeg simulator already stopped, say). None of the sweeps may fail.
    failed = [line for line in output["worker"].splitlines() if "Failed to process message" in line]
    assert not [line for line in failed if "outbox" in line], output["worker"]
