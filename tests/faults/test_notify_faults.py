"""Notifications under faults: each e-mail, SMS, bell entry and webhook call happens, and happens once.

- Redis stops in the middle of a stream of complaints;
- a worker process is killed (SIGKILL) while it sends an e-mail, and while it handles an event;
- the city's SMTP server is down (backoff, dead letters, an admin's retry);
- a webhook endpoint answers 500, then 200 (and another 410);
- a channel's rate limit postpones without counting an attempt;
- two cities with the same people's ids never hear of each other.

Everything runs for real: PostgreSQL, Redis servers, an SMTP server (aiosmtpd), the SMS simulator,
an HTTP receiver, `kotalive worker` processes. Settings shorten the waits (a lease of 2 s, a first
retry after 1 s, a lost message sent again after 2 s); nothing else is faked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from dramatiq import Worker
from laksa_support import CIPONDOH, citizen, employee, submit, with_boundaries
from notify_faults_support import (
    RedisServer,
    WatchfulMailbox,
    WebhookReceiver,
    WorkerProcess,
    attempts,
    bells,
    deliveries,
    group_members,
    requeue_dead_workers,
    watchful_smtp,
    with_contact,
    worker_env,
)
from notify_support import SmtpServer, wire
from sqlalchemy import func, select, text
from support import wait_until

from kotalive import events, live
from kotalive.auth.ratelimit import Limit
from kotalive.auth.sessions import COOKIE_NAME
from kotalive.events import EventReceipt, OutboxEvent
from kotalive.jobs import create_broker, use_jobs
from kotalive.notify import channels, delivery
from kotalive.notify.jobs import sweep_job
from kotalive.registry import LoadedModules
from kotalive.settings import Settings

LEASE_SECONDS = 2
RETRY_SECONDS = 1
RECONCILE_SECONDS = 2  # an event whose message Redis lost is sent again after this


# ---- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.with_(
        notify_lease_seconds=LEASE_SECONDS,
        notify_retry_seconds=RETRY_SECONDS,
        outbox_reconcile_seconds=RECONCILE_SECONDS,
    )


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = watchful_smtp()
    yield server
    if server.mailbox.stall is not None:
        server.mailbox.stall.set()
    server.stop()


@pytest.fixture
async def city(make_city: Any, database: Any, settings: Settings, smtp: SmtpServer, sims: Any) -> Any:
    c = await make_city("nfault", region_code="3671", name="Kota Uji Gangguan")
    await with_boundaries(database, c)
    await wire(database, settings, c, smtp=smtp, sims=sims)
    return c


@pytest.fixture
async def jobs(fast: Settings, modules: LoadedModules) -> AsyncIterator[Any]:
    """A broker of the test's own (session Redis, own namespace) with the fast settings, installed
    as the process's broker, and an in-process worker on it."""
    broker = create_broker(fast, namespace=f"kotalive-nfault-{uuid.uuid4().hex[:8]}")
    with use_jobs(fast, modules, broker=broker):
        worker = Worker(broker, worker_threads=2, worker_timeout=50)
        worker.start()
        try:
            yield broker
        finally:
            await asyncio.to_thread(worker.stop, 5000)
    keys = list(broker.client.scan_iter(f"{broker.namespace}:*"))
    if keys:
        broker.client.delete(*keys)
    broker.close()


async def sweep_until(city: Any, check: Any, what: str, within: float = 15.0, every: float = 0.3) -> None:
    """Enqueue the city's notification sweep, as the scheduler does, until ``check`` holds."""
    last = 0.0

    async def swept() -> Any:
        nonlocal last
        if time.monotonic() - last >= every:
            last = time.monotonic()
            await asyncio.to_thread(sweep_job.send_for, city)
        return await check()

    await wait_until(swept, what, within)


async def more_sweeps(city: Any, times: int = 3, every: float = 0.3) -> None:
    """A few more sweeps, to show that nothing is sent again."""
    for _ in range(times):
        await asyncio.to_thread(sweep_job.send_for, city)
        await asyncio.sleep(every)


def complaint_ids(texts: list[str]) -> list[int]:
    return [int(m.group(1)) for t in texts if (m := re.search(r"#(\d+)\b", t))]


# ---- 1. Redis stops in the middle of a stream of complaints --------------------------------------


async def test_redis_down_in_the_middle_of_a_stream_loses_no_notification_and_doubles_none(
    app: Any,
    client_for: Any,
    database: Any,
    city: Any,
    smtp: SmtpServer,
    sims: Any,
    fast: Settings,
    modules: LoadedModules,
    tmp_path: Path,
) -> None:
    """20 complaints through the API, Redis (the jobs' Redis: queues, hand-overs, live pushes)
    killed after the 7th and back before the 15th, agus resolving every third. A worker runs all
    along; afterwards the scheduler's sweeps run. Every staff member hears of every complaint once
    (bell and e-mail), every citizen of each resolution once (bell and SMS)."""
    redis_server = RedisServer(tmp_path, persistent=True)  # a restart keeps what was queued
    redis_server.start()
    own = fast.with_(redis_url=redis_server.url)
    broker = create_broker(own, namespace=f"kotalive-nfault-{uuid.uuid4().hex[:8]}")
    staff = {
        "agus": await employee(app, client_for, database, city, "pupr", name="Agus"),
        "budi": await employee(app, client_for, database, city, "pupr", name="Budi"),
    }
    for name, person in staff.items():
        await with_contact(database, city, person, email=f"{name}@pupr.kota.test")
    dani = await employee(app, client_for, database, city, "dlh", name="Dani")  # another agency
    await with_contact(database, city, dani, email="dani@dlh.kota.test")
    people = [await citizen(app, client_for, database, city, f"Warga {n}") for n in range(4)]
    phones = {}
    for person in people:
        phones[person.id] = "+62813" + str(uuid.uuid4().int)[:8]
        await with_contact(database, city, person, phone=phones[person.id])

    submitted: list[int] = []
    resolved: dict[int, int] = {}  # complaint -> citizen
    with use_jobs(own, modules, broker=broker):
        worker = Worker(broker, worker_threads=2, worker_timeout=50)
        worker.start()
        try:
            for n in range(20):
                if n == 7:
                    redis_server.kill()
                if n == 14:
                    await events.wait_for_relays()
                    async with database.tenant_session(city) as s:
                        unsent = list(
                            await s.scalars(select(OutboxEvent).where(OutboxEvent.sent_at.is_(None)))
                        )
                    # 7 complaints (submitted, routed) and 3 resolutions while Redis was away; the
                    # relay stops at the first failure of a transaction's events and says why
                    assert len(unsent) >= 17
                    assert sum("Connection" in (e.last_error or "") for e in unsent) >= 10
                    redis_server.start()
                reporter = people[n % 4]
                made = await submit(
                    reporter,
                    description=f"Lampu jalan nomor {n} mati #lampumati",
                    lat=CIPONDOH[0],
                    lon=CIPONDOH[1],
                )
                assert made.status_code == 201, made.text
                cid = made.json()["complaint"]["id"]
                submitted.append(cid)
                if n % 3 == 1:
                    done = await staff["agus"].post(
                        f"/api/v1/laksa/complaints/{cid}/resolve", json={"note": "Lampu sudah diganti"}
                    )
                    assert done.status_code == 200, done.text
                    resolved[cid] = reporter.id
            await events.wait_for_relays()

            state: dict[str, Any] = {}

            async def all_told() -> bool:
                rows = await deliveries(database, city)
                async with database.tenant_session(city) as s:
                    unsent = await s.scalar(
                        select(func.count()).select_from(OutboxEvent).where(OutboxEvent.sent_at.is_(None))
                    )
                    resent = list(await s.scalars(select(OutboxEvent).where(OutboxEvent.resends > 0)))
                state.update(  # what a timeout reports
                    unsent=unsent,
                    deliveries=Counter(d.status for d in rows),
                    bells=len(await bells(database, city)),
                    resent=[(e.id, e.event_type, e.last_error) for e in resent],
                )
                return (
                    unsent == 0
                    and len(rows) == 2 * 20 + len(resolved)
                    and all(d.status == "sent" for d in rows)
                    and state["bells"] == 2 * 20 + len(resolved)
                )

            last = 0.0

            async def scheduled() -> bool:  # the scheduler's two sweeps, every half second
                nonlocal last
                if time.monotonic() - last > 0.5:
                    last = time.monotonic()
                    await asyncio.to_thread(events.sweep_outbox_job.send_for, city)
                    await asyncio.to_thread(sweep_job.send_for, city)
                return await all_told()

            try:
                await wait_until(scheduled, "every notification to be delivered", 30)
            except AssertionError as exc:
                raise AssertionError(f"{exc}; expected {2 * 20 + len(resolved)}, have {state}") from None
            await more_sweeps(city)
            await wait_until(lambda: broker.do_qsize("notify") == 0, "the sweeps to finish", 10)
        finally:
            if redis_server.process is None:
                redis_server.start()  # a worker retries its acknowledgements until Redis answers
            await asyncio.to_thread(worker.stop, 5000)
            broker.close()
            redis_server.stop()

    rows = await bells(database, city)
    told = Counter((b.recipient_kind, b.recipient_id, b.message, b.link) for b in rows)
    assert set(told.values()) == {1}
    for person in staff.values():
        mine = [b for b in rows if (b.recipient_kind, b.recipient_id) == ("employee", person.id)]
        assert sorted(complaint_ids([b.title for b in mine])) == sorted(submitted)
    assert not [b for b in rows if b.recipient_id == dani.id and b.recipient_kind == "employee"]
    for person in people:
        mine = [b for b in rows if (b.recipient_kind, b.recipient_id) == ("citizen", person.id)]
        assert sorted(complaint_ids([b.title for b in mine])) == sorted(
            c for c, p in resolved.items() if p == person.id
        )
        assert {b.message for b in mine} <= {"laksa.resolved"}

    mails = smtp.mailbox.received
    assert len({m["Message-ID"] for m in mails}) == len(mails) == 40
    for name in staff:
        subjects = [str(m["Subject"]) for m in smtp.mailbox.to(f"{name}@pupr.kota.test")]
        assert Counter(complaint_ids(subjects)) == Counter(submitted)
    assert smtp.mailbox.to("dani@dlh.kota.test") == []
    for person in people:
        texts = [m.text for m in sims.sms_messages("tangerang", phones[person.id])]
        assert Counter(complaint_ids(texts)) == Counter(c for c, p in resolved.items() if p == person.id)


# ---- 2. a worker killed in the middle ------------------------------------------------------------


@pytest.fixture
async def processes(settings: Settings, modules: LoadedModules, own_redis: RedisServer) -> AsyncIterator[Any]:
    """This process hands its events and deliveries to the Redis of the worker processes (their
    default namespace), and starts none of its own workers."""
    own = settings.with_(redis_url=own_redis.url)
    broker = create_broker(own)
    with use_jobs(own, modules, broker=broker):
        yield broker
    broker.close()


async def idle_in_transaction(database: Any) -> int:
    async with database.engine.connect() as conn:
        return int(
            await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            )
        )


async def test_a_worker_killed_while_sending_leaves_the_email_to_the_next_after_the_lease(
    app: Any,
    client_for: Any,
    database: Any,
    city: Any,
    smtp: SmtpServer,
    processes: Any,
    own_redis: RedisServer,
    test_database_url: str,
    tmp_path: Path,
) -> None:
    agus = await employee(app, client_for, database, city, "pupr", name="Agus Setiawan")
    await with_contact(database, city, agus, email="agus@pupr.kota.test")
    siti = await citizen(app, client_for, database, city)
    mailbox = smtp.mailbox
    assert isinstance(mailbox, WatchfulMailbox)
    mailbox.stall = threading.Event()
    env = worker_env(
        test_database_url,
        own_redis.url,
        KOTALIVE_NOTIFY_LEASE_SECONDS=str(LEASE_SECONDS),
        KOTALIVE_NOTIFY_RETRY_SECONDS=str(RETRY_SECONDS),
    )

    first = WorkerProcess(env, tmp_path / "first.log").start()
    try:
        await first.ready()
        made = await submit(siti, description="Lampu jalan mati #lampumati", lat=CIPONDOH[0], lon=CIPONDOH[1])
        assert made.status_code == 201, made.text
        await wait_until(mailbox.entered.is_set, "the e-mail to reach the stalled SMTP server", 15)
        # Mid-send: claimed under a lease, counted as an attempt, and no transaction held open.
        [held] = await deliveries(database, city)
        assert (held.channel, held.status, held.attempts) == ("email", "pending", 1)
        assert held.next_attempt_at > dt.datetime.now(dt.UTC)
        assert await idle_in_transaction(database) == 0
        await first.kill()
    finally:
        await first.kill()
    assert not [p for p in group_members(first.pgid) if p[1] != "Z"]
    # The server notices the client is gone (in its own time: the kill does not wait for it) ...
    await wait_until(mailbox.dropped.is_set, "the SMTP server to see the killed client go", 10)
    mailbox.stall.set()  # ... and would answer now, but keeps nothing
    await asyncio.sleep(0.2)
    assert mailbox.received == []
    assert [d.status for d in await deliveries(database, city)] == ["pending"]

    second = WorkerProcess(env, tmp_path / "second.log").start()
    try:
        await second.ready()

        async def sent() -> bool:
            return [d.status for d in await deliveries(database, city)] == ["sent"]

        await sweep_until(city, sent, "the next worker to send the e-mail after the lease")
        await more_sweeps(city)
    finally:
        await second.stop()

    [done] = await deliveries(database, city)
    assert done.attempts == 2 and done.sent_at is not None
    assert done.sent_at >= held.next_attempt_at  # not before the lease ran out
    assert [(a.ok, a.status_code) for a in await attempts(database, city, done.id)] == [(True, 250)]
    mails = mailbox.to("agus@pupr.kota.test")
    assert len(mails) == 1
    # The killed try and the one that went through carry the same Message-ID: a mail system that
    # got both (a crash after the server's 250) can drop the copy.
    assert mails[0]["Message-ID"] == mailbox.held[0]["Message-ID"]
    assert mails[0]["Message-ID"] == channels.make_message_id(city.id, done.id)
    assert [b.message for b in await bells(database, city)] == ["laksa.routed"]
    assert "Traceback" not in second.output()


async def test_a_worker_killed_while_handling_the_event_tells_once_on_redelivery(
    app: Any,
    client_for: Any,
    database: Any,
    city: Any,
    smtp: SmtpServer,
    processes: Any,
    own_redis: RedisServer,
    test_database_url: str,
    tmp_path: Path,
) -> None:
    agus = await employee(app, client_for, database, city, "pupr", name="Agus Setiawan")
    await with_contact(database, city, agus, email="agus@pupr.kota.test")
    siti = await citizen(app, client_for, database, city)
    env = worker_env(test_database_url, own_redis.url, KOTALIVE_NOTIFY_LEASE_SECONDS=str(LEASE_SECONDS))
    consumer = "laksa:laksa.complaint_routed"

    first = WorkerProcess(env, tmp_path / "first.log").start()
    lock = await database.engine.connect()
    try:
        await first.ready()
        # Hold the bell table: the consumer's INSERT waits inside its transaction.
        await lock.begin()
        await lock.execute(text(f'LOCK TABLE "{city.schema}".notification IN EXCLUSIVE MODE'))
        made = await submit(siti, description="Lampu jalan mati #lampumati", lat=CIPONDOH[0], lon=CIPONDOH[1])
        assert made.status_code == 201, made.text

        async def blocked() -> int | None:
            async with database.engine.connect() as conn:
                pid = await conn.scalar(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND query LIKE '%notification%'"
                    )
                )
            return int(pid) if pid is not None else None

        backend = await wait_until(blocked, "the consumer to wait inside its transaction", 15)
        await first.kill()
        killed_at = time.monotonic()
    finally:
        await first.kill()
        await lock.rollback()
        await lock.close()

    async def gone() -> bool:
        async with database.engine.connect() as conn:
            return not await conn.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": backend}
            )

    await wait_until(gone, "the killed worker's database session to end", 10)
    async with database.tenant_session(city) as s:
        routed = await s.scalar(select(OutboxEvent).where(OutboxEvent.event_type == "laksa.complaint_routed"))
        assert routed is not None and routed.sent_at is not None  # handed over: the outbox will not resend
        receipts = await s.scalar(
            select(func.count()).select_from(EventReceipt).where(EventReceipt.consumer == consumer)
        )
    assert receipts == 0  # rolled back with the rest
    assert await bells(database, city) == [] and await deliveries(database, city) == []

    second = WorkerProcess(env, tmp_path / "second.log").start()
    try:
        await second.ready()
        # What Dramatiq's maintenance does once the dead worker has been silent long enough.
        await asyncio.sleep(max(0.0, 3.2 - (time.monotonic() - killed_at)))
        await asyncio.to_thread(
            requeue_dead_workers, own_redis.url, ["events", "default", "notify"], silent_ms=3000
        )

        async def told() -> bool:
            return len(smtp.mailbox.to("agus@pupr.kota.test")) >= 1 and len(await bells(database, city)) >= 1

        await wait_until(told, "the redelivered event to tell Agus", 15)
        await more_sweeps(city)
    finally:
        await second.stop()

    assert [(b.recipient_id, b.message) for b in await bells(database, city)] == [(agus.id, "laksa.routed")]
    assert [(d.status, d.attempts) for d in await deliveries(database, city)] == [("sent", 1)]
    assert len(smtp.mailbox.to("agus@pupr.kota.test")) == 1
    async with database.tenant_session(city) as s:
        assert (
            await s.scalar(
                select(func.count()).select_from(EventReceipt).where(EventReceipt.consumer == consumer)
            )
        ) == 1
    assert "Traceback" not in second.output()


# ---- 3. the SMTP server down ---------------------------------------------------------------------


async def one_delivery(database: Any, city: Any) -> Any:
    rows = await deliveries(database, city)
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


async def test_smtp_down_retries_with_backoff_then_delivers_once(
    app: Any, client_for: Any, database: Any, city: Any, smtp: SmtpServer, jobs: Any
) -> None:
    agus = await employee(app, client_for, database, city, "pupr")
    await with_contact(database, city, agus, email="agus@pupr.kota.test")
    siti = await citizen(app, client_for, database, city)
    smtp.stop()  # nothing listens on its port now
    await submit(siti, description="Lampu jalan mati #lampumati", lat=CIPONDOH[0], lon=CIPONDOH[1])

    async def tried(n: int) -> bool:
        d = await one_delivery(database, city)
        return d is not None and len(await attempts(database, city, d.id)) >= n

    await wait_until(lambda: tried(1), "the first try, right after the event", 10)  # no sweep yet
    first = await one_delivery(database, city)
    [a1] = await attempts(database, city, first.id)
    assert (first.status, first.attempts, a1.ok, a1.status_code) == ("pending", 1, False, None)
    assert "SMTP server unreachable" in (first.last_error or "") and a1.detail == first.last_error
    gap1 = (first.next_attempt_at - a1.at).total_seconds()
    assert 0.7 <= gap1 <= 1.3  # the first wait: 1 s, a fifth of jitter

    await sweep_until(city, lambda: tried(2), "the second try")
    second = await one_delivery(database, city)
    a2 = (await attempts(database, city, second.id))[1]
    assert second.attempts == 2 and not a2.ok
    assert a2.at >= first.next_attempt_at - dt.timedelta(milliseconds=50)  # not tried before it was due
    gap2 = (second.next_attempt_at - a2.at).total_seconds()
    assert 1.5 <= gap2 <= 2.5 and gap2 > gap1  # doubled

    back = SmtpServer(smtp.port).start()  # the mail server returns, same address
    try:

        async def sent() -> bool:
            d = await one_delivery(database, city)
            return d is not None and d.status == "sent"

        await sweep_until(city, sent, "the e-mail once the server is back")
        await more_sweeps(city)
        assert len(back.mailbox.to("agus@pupr.kota.test")) == 1
    finally:
        back.stop()
    done = await one_delivery(database, city)
    tries = await attempts(database, city, done.id)
    assert [a.ok for a in tries] == [False] * (done.attempts - 1) + [True]
    assert done.attempts >= 3 and tries[-1].status_code == 250 and done.last_error is None
    assert done.sent_at >= second.next_attempt_at - dt.timedelta(milliseconds=50)
    assert [b.message for b in await bells(database, city)] == ["laksa.routed"]  # the bell never waited


async def test_after_the_last_attempt_a_delivery_is_dead_until_the_city_admin_retries_it(
    app: Any, client_for: Any, database: Any, city: Any, smtp: SmtpServer, jobs: Any, monkeypatch: Any
) -> None:
    monkeypatch.setitem(delivery.MAX_ATTEMPTS, "email", 2)
    admin = await employee(app, client_for, database, city, None, roles=("city_admin",))
    agus = await employee(app, client_for, database, city, "pupr")
    await with_contact(database, city, agus, email="agus@pupr.kota.test")
    siti = await citizen(app, client_for, database, city)
    smtp.stop()
    await submit(siti, description="Lampu jalan mati #lampumati", lat=CIPONDOH[0], lon=CIPONDOH[1])

    async def dead() -> bool:
        d = await one_delivery(database, city)
        return d is not None and d.status == "dead"

    await sweep_until(city, dead, "the delivery to die after its last attempt")
    await more_sweeps(city)  # a dead letter is left alone
    corpse = await one_delivery(database, city)
    assert corpse.status == "dead" and corpse.attempts == 2
    assert [a.ok for a in await attempts(database, city, corpse.id)] == [False, False]

    listed = await admin.get("/api/v1/notifications/admin/deliveries", params={"status": "dead"})
    assert listed.status_code == 200, listed.text
    assert [(d["id"], d["channel"], d["status"], d["attempts"], d["address"]) for d in listed.json()] == [
        (corpse.id, "email", "dead", 2, "agus@pupr.kota.test")
    ]
    assert "SMTP server unreachable" in listed.json()[0]["last_error"]
    assert (await agus.get("/api/v1/notifications/admin/deliveries?status=dead")).status_code == 403

    back = SmtpServer(smtp.port).start()
    try:
        retried = await admin.post("/api/v1/notifications/admin/deliveries/retry", json={"ids": [corpse.id]})
        assert retried.status_code == 200 and retried.json() == {"retried": 1}, retried.text

        async def sent() -> bool:  # the retry enqueued a sweep itself: no scheduler here
            d = await one_delivery(database, city)
            return d is not None and d.status == "sent"

        await wait_until(sent, "the retried delivery to go out", 10)
        again = await admin.post("/api/v1/notifications/admin/deliveries/retry", json={})
        assert again.json() == {"retried": 0}
        await more_sweeps(city)
        assert len(back.mailbox.to("agus@pupr.kota.test")) == 1
    finally:
        back.stop()
    assert (await admin.get("/api/v1/notifications/admin/deliveries?status=dead")).json() == []
    log = (await admin.get(f"/api/v1/notifications/admin/deliveries/{corpse.id}/attempts")).json()
    assert [(a["ok"], a["status_code"]) for a in log] == [(False, None), (False, None), (True, 250)]
    assert (await one_delivery(database, city)).attempts == 1  # counted afresh after the retry


# ---- 4. a webhook endpoint answering 500, then 200; another 410 ----------------------------------


async def test_a_webhook_is_retried_after_a_500_signed_each_time_and_a_410_kills_it_at_once(
    app: Any, client_for: Any, database: Any, city: Any, jobs: Any
) -> None:
    admin = await employee(app, client_for, database, city, None, roles=("city_admin",))
    siti = await citizen(app, client_for, database, city)
    with WebhookReceiver() as receiver:
        receiver.scripts = {"/flaky": [500, 200], "/gone": [410]}
        refused = await admin.post(
            "/api/v1/notifications/admin/webhooks",
            json={"name": "plain", "url": "http://example.com/hook", "events": ["laksa.*"]},
        )
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url"
        endpoints = {}
        for path in ("/flaky", "/gone"):
            made = await admin.post(
                "/api/v1/notifications/admin/webhooks",
                json={"name": path, "url": receiver.url(path), "events": ["laksa.complaint_routed"]},
            )
            assert made.status_code == 201, made.text
            receiver.secrets[path] = made.json()["secret"]
            endpoints[path] = made.json()["id"]
        made = await submit(siti, description="Lampu jalan mati #lampumati", lat=CIPONDOH[0], lon=CIPONDOH[1])
        cid = made.json()["complaint"]["id"]

        async def settled() -> bool:
            by_url = {d.address: d.status for d in await deliveries(database, city)}
            return by_url == {receiver.url("/flaky"): "sent", receiver.url("/gone"): "dead"}

        await sweep_until(city, settled, "the webhook calls to settle")
        await more_sweeps(city)
        flaky, gone = receiver.to("/flaky"), receiver.to("/gone")

    assert [(c.answered, c.verified) for c in flaky] == [(500, True), (200, True)]
    assert [(c.answered, c.verified) for c in gone] == [(410, True)]
    rows = {d.address: d for d in await deliveries(database, city)}
    sent, dead = rows[receiver.url("/flaky")], rows[receiver.url("/gone")]
    assert (sent.recipient_kind, sent.recipient_id, sent.attempts) == ("webhook", endpoints["/flaky"], 2)
    assert (dead.recipient_id, dead.attempts) == (endpoints["/gone"], 1) and "410" in (dead.last_error or "")
    # The same delivery both times: its id, event and body (a receiver can drop a repeat by the id)
    assert {c.headers["x-kotalive-delivery"] for c in flaky} == {str(sent.id)}
    assert {c.headers["x-kotalive-event"] for c in flaky + gone} == {"laksa.complaint_routed"}
    assert flaky[0].body == flaky[1].body
    body = json.loads(flaky[1].body)
    assert (body["type"], body["city"], body["data"]["complaint_id"]) == (
        "laksa.complaint_routed",
        city.slug,
        cid,
    )
    logs = {}
    for path, row in (("/flaky", sent), ("/gone", dead)):
        answer = await admin.get(f"/api/v1/notifications/admin/deliveries/{row.id}/attempts")
        assert answer.status_code == 200, answer.text
        logs[path] = [(a["ok"], a["status_code"]) for a in answer.json()]
    assert logs == {"/flaky": [(False, 500), (True, 200)], "/gone": [(False, 410)]}


# ---- 5. per-channel rate limits ------------------------------------------------------------------


async def test_a_rate_limit_postpones_without_counting_an_attempt(
    app: Any, client_for: Any, database: Any, city: Any, smtp: SmtpServer, jobs: Any, monkeypatch: Any
) -> None:
    monkeypatch.setitem(
        delivery.RATE_LIMITS, "email", Limit(f"notify:email:test-{uuid.uuid4().hex[:6]}", 2, 2)
    )
    staff = [await employee(app, client_for, database, city, "pupr") for _ in range(4)]
    for n, person in enumerate(staff):
        await with_contact(database, city, person, email=f"staf{n}@pupr.kota.test")
    siti = await citizen(app, client_for, database, city)
    await submit(siti, description="Lampu jalan mati #lampumati", lat=CIPONDOH[0], lon=CIPONDOH[1])

    async def split() -> list[Any] | None:
        rows = await deliveries(database, city)
        now = dt.datetime.now(dt.UTC)
        sent = [d for d in rows if d.status == "sent"]
        waiting = [d for d in rows if d.status == "pending" and d.attempts == 0 and d.next_attempt_at > now]
        return rows if len(rows) == 4 and len(sent) == 2 and len(waiting) == 2 else None

    first = await wait_until(split, "two e-mails sent and two postponed by the limit", 10)
    for d in first:
        assert len(await attempts(database, city, d.id)) == (1 if d.status == "sent" else 0)
    assert len(smtp.mailbox.received) == 2

    async def all_sent() -> bool:
        return all(d.status == "sent" for d in await deliveries(database, city))

    await sweep_until(city, all_sent, "the postponed e-mails once the window has passed")
    await more_sweeps(city)
    rows = await deliveries(database, city)
    assert [d.attempts for d in rows] == [1, 1, 1, 1]  # postponing never counted
    for d in rows:
        assert [a.ok for a in await attempts(database, city, d.id)] == [True]
    early = max(d.sent_at for d in first if d.status == "sent")
    assert all(
        d.sent_at - early >= dt.timedelta(seconds=1)
        for d in rows
        if d.id not in {x.id for x in first if x.status == "sent"}
    )
    assert sorted(str(m["To"]) for m in smtp.mailbox.received) == [
        f"staf{n}@pupr.kota.test" for n in range(4)
    ]


# ---- 6. two cities, the same ids -----------------------------------------------------------------


async def test_a_notification_never_reaches_a_person_of_another_city(
    app: Any,
    client_for: Any,
    database: Any,
    settings: Settings,
    make_city: Any,
    city: Any,
    smtp: SmtpServer,
    sims: Any,
    jobs: Any,
) -> None:
    a = city
    b = await make_city("nfault", region_code="3671", name="Kota Uji Sebelah")
    await with_boundaries(database, b)
    smtp_b = SmtpServer().start()
    try:
        await wire(database, settings, b, smtp=smtp_b, sims=sims, demo="bekasi")
        await _two_cities(app, client_for, database, settings, a, b, smtp, smtp_b, sims)
    finally:
        smtp_b.stop()


async def _two_cities(
    app: Any,
    client_for: Any,
    database: Any,
    settings: Settings,
    a: Any,
    b: Any,
    smtp_a: SmtpServer,
    smtp_b: SmtpServer,
    sims: Any,
) -> None:
    import redis.asyncio as aioredis

    token = uuid.uuid4().hex[:8]
    phone = "+62814" + str(uuid.uuid4().int)[:8]  # the same phone and e-mail address in both cities
    people = {}
    for c in (a, b):
        agus = await employee(app, client_for, database, c, "pupr", name="Agus")
        await with_contact(database, c, agus, email="agus@pupr.go.id")
        siti = await citizen(app, client_for, database, c)
        await with_contact(database, c, siti, phone=phone)
        people[c.id] = (agus, siti)
    (agus_a, siti_a), (agus_b, siti_b) = people[a.id], people[b.id]
    assert (agus_a.id, siti_a.id) == (agus_b.id, siti_b.id)  # the same ids, in two cities

    listener = aioredis.from_url(settings.redis_url)
    pubsub = listener.pubsub()
    await pubsub.psubscribe(f"{live.CHANNEL_PREFIX}:*")  # every screen channel of every city
    pushed: list[tuple[str, dict[str, Any]]] = []

    async def listen() -> None:
        async for m in pubsub.listen():
            if m["type"] == "pmessage":
                message = json.loads(m["data"])
                if message["event"] == "notification":  # bells (boards have channels too)
                    pushed.append((m["channel"].decode(), message["data"]))

    task = asyncio.create_task(listen())
    try:
        for c, (agus, siti) in people.items():
            mark = f"{token}-{'A' if c == a.id else 'B'}"
            made = await submit(
                siti, description=f"Lampu mati {mark} #lampumati", lat=CIPONDOH[0], lon=CIPONDOH[1]
            )
            cid = made.json()["complaint"]["id"]
            done = await agus.post(f"/api/v1/laksa/complaints/{cid}/resolve", json={"note": f"Beres {mark}"})
            assert done.status_code == 200, done.text

        async def all_told() -> bool:
            for c in (a, b):
                rows = await deliveries(database, c)
                if (
                    len(rows) != 2
                    or any(d.status != "sent" for d in rows)
                    or len(await bells(database, c)) != 2
                ):
                    return False
            ours = [p for p in pushed if token in p[1]["title"] + p[1]["body"]]
            return len(ours) == 4

        await wait_until(all_told, "both cities to be told", 15)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pubsub.aclose()
        await listener.aclose()

    channels_of: dict[int, set[str]] = {}
    for c, other in ((a, "B"), (b, "A")):
        mine = f"{token}-{'A' if other == 'B' else 'B'}"
        agus, siti = people[c.id]
        rows = await bells(database, c)
        assert all(mine in r.body and f"{token}-{other}" not in r.body for r in rows)
        for person in (agus, siti):
            r = await person.get("/api/v1/notifications")
            assert [mine in i["body"] for i in r.json()["items"]] == [True]
        # the live pushes: on this city's channels of these two people only, with its own rows
        ours = [(ch, d) for ch, d in pushed if mine in d["title"] + d["body"]]
        assert sorted(ch for ch, _ in ours) == sorted(
            [live.person_channel(c, "employee", agus.id), live.person_channel(c, "citizen", siti.id)]
        )
        assert sorted(d["id"] for _, d in ours) == sorted(r.id for r in rows)
        assert all(ch.startswith(f"{live.CHANNEL_PREFIX}:{c.id}:") for ch, _ in ours)
        channels_of[c.id] = {ch for ch, _ in ours}
    assert not channels_of[a.id] & channels_of[b.id]  # the same person ids, different channels
    for server, mine, other in ((smtp_a, "A", "B"), (smtp_b, "B", "A")):
        [mail] = server.mailbox.to("agus@pupr.go.id")
        assert f"{token}-{mine}" in mail.get_payload() and f"{token}-{other}" not in mail.get_payload()
    for demo, mine, other in (("tangerang", "A", "B"), ("bekasi", "B", "A")):
        texts = [m.text for m in sims.sms_messages(demo, phone)]
        assert len(texts) == 1 and f"{token}-{mine}" in texts[0] and f"{token}-{other}" not in texts[0]

    # Reading in one city leaves the other's bell alone; a login of one city is refused in the other.
    assert (await agus_a.post("/api/v1/notifications/read", json={})).json() == {"marked": 1, "unread": 0}
    snapshot = await agus_b.get("/api/v1/notifications/stream", params={"once": "true"})
    assert snapshot.status_code == 200 and '"unread":1' in snapshot.text.replace(" ", "")
    stolen = agus_a.client.cookies.get(COOKIE_NAME)
    crossed = await agus_b.client.get(
        "/api/v1/notifications", headers={"cookie": f"{COOKIE_NAME}={stolen}", "accept": "application/json"}
    )
    assert crossed.status_code == 401
