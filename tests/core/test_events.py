"""Events through the outbox, a real Redis broker and an in-process Dramatiq worker.

Each test gets its own broker namespace in the test Redis database, and a worker (threads, with
its own event loop and database engine, as in production) that is stopped at the end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from dramatiq import Worker
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import select
from support import settled, wait_until

from kotalive import events
from kotalive.context import TenantContext, current_tenant_or_none
from kotalive.db import Database, TenantSession
from kotalive.events import EventReceipt, InvalidEvent, OutboxEvent
from kotalive.jobs import use_jobs
from kotalive.registry import LoadedModules
from kotalive.settings import Settings
from kotalive.tenants.city_models import Agency

PINGED = "testing.pinged"


# ---- fixtures and helpers ------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def only_the_tests_consumers(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count messages and receipts of their own consumers: the core's reaction to
    every event (outbound webhooks, tested in tests/notify) is left out here."""
    monkeypatch.setattr(events, "CORE_CONSUMERS", ())


async def publish(database: Database, city: TenantContext, payload: dict[str, Any]) -> int:
    async with database.tenant_session(city) as s, s.begin():
        row = events.publish(s, PINGED, payload)
    await events.wait_for_relays()
    return row.id


async def rows(database: Database, city: TenantContext, model: Any) -> list[Any]:
    async with database.tenant_session(city) as s:
        return list(await s.scalars(select(model)))


class Recorder:
    """A consumer that notes where it ran and what its session could see."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
        seen = (await session.execute_sql("SELECT id FROM {city}.outbox_event ORDER BY id")).scalars().all()
        context = current_tenant_or_none()
        self.calls.append(
            {
                "context": context.id if context else None,
                "session": session.tenant.id,
                "event_type": event_type,
                "payload": payload,
                "outbox_seen": list(seen),
            }
        )


# ---- publishing ----------------------------------------------------------------------------------


async def test_publish_refuses_what_json_cannot_carry(make_city: Any, database: Database) -> None:
    city = await make_city("evt")
    async with database.tenant_session(city) as s:
        agency = (await s.scalars(select(Agency).limit(1))).one()
        bad: list[tuple[str, dict[str, Any], str]] = [
            ("testing.x", {"agency": agency}, "never ORM objects"),
            ("testing.x", {"at": dt.datetime.now(dt.UTC)}, "isoformat"),
            ("testing.x", {"ids": [1, {2: "two"}]}, "keys are strings"),
            ("testing.x", {"ratio": float("nan")}, "NaN"),
            ("testing.x", {"blob": b"raw"}, "bytes"),
            ("Testing-X", {}, "lower case"),
            ("nodot", {}, "lower case"),
        ]
        for event_type, payload, reason in bad:
            with pytest.raises(InvalidEvent, match=reason):
                events.publish(s, event_type, payload)
        with pytest.raises(InvalidEvent, match="dict"):
            events.publish(s, "testing.x", ["not", "a", "dict"])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="TenantSession"):
            events.publish(database.platform_session(), "testing.x", {})  # type: ignore[arg-type]
    # A valid payload is stored as a JSON copy: later changes by the caller do not leak in.
    payload: dict[str, Any] = {"complaint_id": 7, "tags": ["banjir"], "geo": {"lat": -6.2, "lon": 106.8}}
    async with database.tenant_session(city) as s, s.begin():
        row = events.publish(s, "testing.x", payload)
    payload["tags"].append("later")
    stored = await rows(database, city, OutboxEvent)
    assert [(r.id, r.event_type, r.payload) for r in stored] == [
        (row.id, "testing.x", {"complaint_id": 7, "tags": ["banjir"], "geo": {"lat": -6.2, "lon": 106.8}})
    ]


async def test_rolled_back_event_is_neither_stored_nor_sent(
    make_city: Any, database: Database, broker: RedisBroker
) -> None:
    city = await make_city("evt")
    recorder = Recorder()
    with events.subscribed(PINGED, recorder, name="tests.rollback"):
        async with database.tenant_session(city) as s:
            async with s.begin():
                events.publish(s, PINGED, {"n": 1})
                await s.rollback()
        await events.wait_for_relays()
        assert await rows(database, city, OutboxEvent) == []
        assert broker.do_qsize("events") == 0


async def test_event_without_consumers_is_marked_sent(
    make_city: Any, database: Database, broker: RedisBroker
) -> None:
    city = await make_city("evt")
    await publish(database, city, {"n": 1})
    [row] = await rows(database, city, OutboxEvent)
    assert row.sent_at is not None and row.attempts == 1 and row.last_error is None
    assert broker.do_qsize("events") == 0


# ---- delivery ------------------------------------------------------------------------------------


async def test_event_is_handled_in_its_own_city_only(
    make_city: Any, database: Database, broker: RedisBroker, worker: Worker
) -> None:
    city_a, city_b = await make_city("evta"), await make_city("evtb")
    recorder = Recorder()
    with events.subscribed(PINGED, recorder, name="tests.isolation"):
        event_a = await publish(database, city_a, {"marker": "only-a", "n": 1})
        # The fast path sent it right after commit: no sweeper involved.
        [row] = await rows(database, city_a, OutboxEvent)
        assert row.sent_at is not None and row.attempts == 1
        await wait_until(lambda: recorder.calls, "city A's handler")
        await wait_until(settled(broker), "the queues to drain")

        assert recorder.calls == [
            {
                "context": city_a.id,
                "session": city_a.id,
                "event_type": PINGED,
                "payload": {"marker": "only-a", "n": 1},
                "outbox_seen": [event_a],
            }
        ]
        [receipt] = await rows(database, city_a, EventReceipt)
        assert (receipt.event_id, receipt.consumer) == (event_a, "tests.isolation")
        assert await rows(database, city_b, EventReceipt) == []
        assert await rows(database, city_b, OutboxEvent) == []

        # And the other way round: B's event runs in B and sees only B's outbox.
        event_b = await publish(database, city_b, {"marker": "only-b"})
        await wait_until(lambda: len(recorder.calls) == 2, "city B's handler")
        assert recorder.calls[1]["context"] == recorder.calls[1]["session"] == city_b.id
        assert recorder.calls[1]["outbox_seen"] == [event_b]
        assert [r.event_id for r in await rows(database, city_a, EventReceipt)] == [event_a]


async def test_redelivered_event_is_handled_once(
    make_city: Any, database: Database, broker: RedisBroker, worker: Worker
) -> None:
    city = await make_city("evt")
    recorder = Recorder()
    with events.subscribed(PINGED, recorder, name="tests.once"):
        event_id = await publish(database, city, {"n": 1})
        await wait_until(lambda: recorder.calls, "the first delivery")
        await wait_until(settled(broker), "the queues to drain")

        # Lose the "sent" mark (as if the relay crashed before recording it): the sweeper sends again.
        async with database.tenant_session(city) as s, s.begin():
            await s.execute_sql("UPDATE {city}.outbox_event SET sent_at = NULL")
        assert await events.sweep_outbox(city) == 1
        [row] = await rows(database, city, OutboxEvent)
        assert row.sent_at is not None and row.attempts == 2
        await wait_until(settled(broker), "the second delivery to be processed")

        # Delivered twice, handled once; a third delivery by hand is a no-op as well.
        assert len(recorder.calls) == 1
        assert await events.deliver(city, event_id, "tests.once", PINGED, {"n": 1}) is False
        assert len(recorder.calls) == 1
        assert [(r.event_id, r.consumer) for r in await rows(database, city, EventReceipt)] == [
            (event_id, "tests.once")
        ]


async def test_each_consumer_gets_its_own_message_and_receipt(
    make_city: Any, database: Database, broker: RedisBroker, worker: Worker
) -> None:
    city = await make_city("evt")
    first, second = Recorder(), Recorder()
    with (
        events.subscribed(PINGED, first, name="tests.first"),
        events.subscribed(PINGED, second, name="tests.second"),
    ):
        event_id = await publish(database, city, {"n": 1})
        await wait_until(lambda: first.calls and second.calls, "both consumers")
        await wait_until(settled(broker), "the queues to drain")
    receipts = sorted((r.event_id, r.consumer) for r in await rows(database, city, EventReceipt))
    assert receipts == [(event_id, "tests.first"), (event_id, "tests.second")]


async def test_failing_consumer_leaves_no_receipt_and_is_retried(
    make_city: Any, database: Database, broker: RedisBroker, worker: Worker
) -> None:
    city = await make_city("evt")
    attempts: list[int] = []

    async def flaky(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
        attempts.append(len(attempts) + 1)
        await session.execute_sql("UPDATE {city}.agency SET name = name || ' (touched)'")
        if len(attempts) == 1:
            raise RuntimeError("the first attempt fails")

    with events.subscribed(PINGED, flaky, name="tests.flaky"):
        event_id = await publish(database, city, {"n": 1})
        # The retry comes after the broker's backoff (about a second for the first one).
        await wait_until(lambda: attempts, "the first attempt")
        await wait_until(lambda: len(attempts) >= 2 or None, "a retry", within=8.0)
        await wait_until(
            lambda: _receipts(database, city), "the receipt of the successful attempt", within=2.0
        )
    async with database.tenant_session(city) as s:
        touched = (
            await s.execute_sql("SELECT count(*) FROM {city}.agency WHERE name LIKE '%(touched)%'")
        ).scalar_one()
        total = (await s.execute_sql("SELECT count(*) FROM {city}.agency")).scalar_one()
    # The failed attempt's change was rolled back with its receipt; only one took effect.
    assert touched == total and total > 0
    async with database.tenant_session(city) as s:
        names = (await s.execute_sql("SELECT name FROM {city}.agency")).scalars().all()
    assert all(n.count("(touched)") == 1 for n in names)
    assert [r.event_id for r in await rows(database, city, EventReceipt)] == [event_id]


async def _receipts(database: Database, city: TenantContext) -> list[Any]:
    return await rows(database, city, EventReceipt)


async def test_consumer_of_a_switched_off_module_skips_that_city(
    make_city: Any, database: Database, broker: RedisBroker, worker: Worker
) -> None:
    with_laksa = await make_city("evt", modules=["laksa", "liveroom"])
    without_laksa = await make_city("evt", modules=["liveroom"])
    recorder = Recorder()
    with events.subscribed(PINGED, recorder, name="laksa:tests.pinged", module="laksa"):
        await publish(database, without_laksa, {"n": 1})
        await publish(database, with_laksa, {"n": 2})
        await wait_until(lambda: recorder.calls, "the city with laksa")
        await wait_until(settled(broker), "the queues to drain")
    assert [c["context"] for c in recorder.calls] == [with_laksa.id]
    assert await rows(database, without_laksa, EventReceipt) == []


# ---- the sweeper ---------------------------------------------------------------------------------


async def test_sweeper_sends_unsent_events_oldest_first_and_never_twice(
    make_city: Any, database: Database, broker: RedisBroker
) -> None:
    """No worker: the messages stay in Redis, where their order and number can be read."""
    city = await make_city("evt")
    recorder = Recorder()
    with events.subscribed(PINGED, recorder, name="tests.sweep"):
        ids = [await publish(database, city, {"n": n}) for n in range(10)]
        async with database.tenant_session(city) as s, s.begin():
            await s.execute_sql("UPDATE {city}.outbox_event SET sent_at = NULL")
        broker.flush("events")

        # Two sweepers at once, each allowed half: SKIP LOCKED makes them take disjoint halves.
        sent = await asyncio.gather(events.sweep_outbox(city, 5), events.sweep_outbox(city, 5))
        assert sorted(sent) == [5, 5]
        assert await events.sweep_outbox(city) == 0

        queued = broker.client.lrange(f"{broker.namespace}:events", 0, -1)
        messages = [
            broker.client.hget(f"{broker.namespace}:events.msgs", message_id) for message_id in queued
        ]
    import json

    event_ids = sorted(json.loads(m)["args"][0] for m in messages if m is not None)
    assert event_ids == ids  # each event exactly once
    assert all(r.sent_at is not None for r in await rows(database, city, OutboxEvent))


async def test_sweeper_is_limited_and_takes_the_oldest(
    make_city: Any, database: Database, broker: RedisBroker
) -> None:
    city = await make_city("evt")
    with events.subscribed(PINGED, Recorder(), name="tests.sweep-limit"):
        ids = [await publish(database, city, {"n": n}) for n in range(4)]
        async with database.tenant_session(city) as s, s.begin():
            await s.execute_sql("UPDATE {city}.outbox_event SET sent_at = NULL")
        assert await events.sweep_outbox(city, 2) == 2
    sent = {r.id for r in await rows(database, city, OutboxEvent) if r.sent_at is not None}
    assert sent == set(ids[:2])


# ---- reconciliation: messages lost after they were handed over --------------------------------


async def backdate(database: Database, city: TenantContext, seconds: float = 3600) -> None:
    async with database.tenant_session(city) as s, s.begin():
        await s.execute_sql(
            "UPDATE {city}.outbox_event SET sent_at = now() - CAST(:age AS interval)",
            {"age": dt.timedelta(seconds=seconds)},
        )


def queued(broker: RedisBroker) -> list[tuple[int, str]]:
    import json

    ids = broker.client.lrange(f"{broker.namespace}:events", 0, -1)
    messages = [broker.client.hget(f"{broker.namespace}:events.msgs", i) for i in ids]
    return sorted((json.loads(m)["args"][0], json.loads(m)["args"][1]) for m in messages if m is not None)


async def test_reconciliation_settles_handled_events_and_resends_a_lost_message_to_its_consumer(
    make_city: Any, database: Database, broker: RedisBroker
) -> None:
    """No worker: the messages vanish from Redis (as when it restarts empty), and the receipts are
    made by hand, so what the reconciliation sends again can be read off the queue."""
    city = await make_city("evt")
    with (
        events.subscribed(PINGED, Recorder(), name="tests.a"),
        events.subscribed(PINGED, Recorder(), name="tests.b"),
    ):
        whole = await publish(database, city, {"n": 1})
        half = await publish(database, city, {"n": 2})
        fresh = await publish(database, city, {"n": 3})
        broker.flush("events")  # every message lost
        for event_id, consumer in [(whole, "tests.a"), (whole, "tests.b"), (half, "tests.a")]:
            assert await events.deliver(city, event_id, consumer, PINGED, {}) is True
        async with database.tenant_session(city) as s, s.begin():
            await s.execute_sql(
                "UPDATE {city}.outbox_event SET sent_at = now() - interval '1 hour' WHERE id <> :fresh",
                {"fresh": fresh},
            )

        counts = await events.reconcile_outbox(city, grace_seconds=60)
        assert counts == {"settled": 1, "resent": 1, "given_up": 0}
        assert queued(broker) == [(half, "tests.b")]  # only the consumer without a receipt
        by_id = {r.id: r for r in await rows(database, city, OutboxEvent)}
        assert by_id[whole].settled_at is not None and by_id[whole].resends == 0
        assert by_id[half].settled_at is None and by_id[half].resends == 1
        assert "tests.b" in (by_id[half].last_error or "")
        assert by_id[fresh].settled_at is None and by_id[fresh].resends == 0  # not a minute old

        # Sent again just now: the next sweep waits (twice as long now) instead of piling up.
        assert await events.reconcile_outbox(city, grace_seconds=60) == {
            "settled": 0,
            "resent": 0,
            "given_up": 0,
        }
        await backdate(database, city, 90)  # past fresh's minute, not half's two minutes
        assert (await events.reconcile_outbox(city, grace_seconds=60))["resent"] == 1
        assert {r.id: r.resends for r in await rows(database, city, OutboxEvent)} == {
            whole: 0,
            half: 1,
            fresh: 1,
        }
        await backdate(database, city, 150)
        assert (await events.reconcile_outbox(city, grace_seconds=60))["resent"] == 2

        # The resent message handled: settled, and never sent again.
        assert await events.deliver(city, half, "tests.b", PINGED, {}) is True
        for consumer in ("tests.a", "tests.b"):
            await events.deliver(city, fresh, consumer, PINGED, {})
        await backdate(database, city, 86400)
        assert await events.reconcile_outbox(city, grace_seconds=60) == {
            "settled": 2,
            "resent": 0,
            "given_up": 0,
        }
        await backdate(database, city, 30 * 86400)
        assert await events.reconcile_outbox(city, grace_seconds=60) == {
            "settled": 0,
            "resent": 0,
            "given_up": 0,
        }
        assert all(r.settled_at is not None for r in await rows(database, city, OutboxEvent))


async def test_reconciliation_waits_for_no_consumer_of_a_switched_off_module_and_gives_up_at_last(
    make_city: Any, database: Database, broker: RedisBroker
) -> None:
    without_laksa = await make_city("evt", modules=["liveroom"])
    with events.subscribed(PINGED, Recorder(), name="laksa:tests.off", module="laksa"):
        await publish(database, without_laksa, {"n": 1})
        await backdate(database, without_laksa)
        assert await events.reconcile_outbox(without_laksa, grace_seconds=60) == {
            "settled": 1,
            "resent": 0,
            "given_up": 0,
        }

    city = await make_city("evt")
    with events.subscribed(PINGED, Recorder(), name="tests.never"):
        event_id = await publish(database, city, {"n": 1})
        async with database.tenant_session(city) as s, s.begin():
            await s.execute_sql(
                "UPDATE {city}.outbox_event SET resends = :most", {"most": events.RECONCILE_MAX_RESENDS}
            )
        await backdate(database, city, 30 * 86400)
        broker.flush("events")
        assert await events.reconcile_outbox(city, grace_seconds=60) == {
            "settled": 0,
            "resent": 0,
            "given_up": 1,
        }
        assert queued(broker) == []
    [row] = await rows(database, city, OutboxEvent)
    assert row.id == event_id and row.settled_at is not None
    assert "never handled by tests.never" in (row.last_error or "")


async def test_the_sweep_job_reconciles_a_lost_message_end_to_end(
    make_city: Any, database: Database, settings: Settings, modules: LoadedModules
) -> None:
    """A worker, a message lost before it ran, the scheduler's sweep job: handled once."""
    from dramatiq import Worker

    from kotalive.jobs import create_broker

    quick = settings.with_(outbox_reconcile_seconds=1)
    broker = create_broker(quick, namespace=f"kotalive-test-{__import__('uuid').uuid4().hex[:10]}")
    city = await make_city("evt")
    recorder = Recorder()
    try:
        with use_jobs(quick, modules, broker=broker), events.subscribed(PINGED, recorder, name="tests.lost"):
            await publish(database, city, {"n": 1})
            broker.flush("events")  # lost before any worker took it
            worker = Worker(broker, worker_threads=1, worker_timeout=50)
            worker.start()
            try:
                await backdate(database, city, 2)
                events.sweep_outbox_job.send_for(city)
                await wait_until(lambda: recorder.calls, "the lost event to be handled")
                await wait_until(settled(broker), "the queues to drain")
                await backdate(database, city, 3600)
                events.sweep_outbox_job.send_for(city)
                await wait_until(settled(broker), "the second sweep")
            finally:
                await asyncio.to_thread(worker.stop, 5000)
    finally:
        keys = list(broker.client.scan_iter(f"{broker.namespace}:*"))
        if keys:
            broker.client.delete(*keys)
        broker.close()
    assert len(recorder.calls) == 1
    [row] = await rows(database, city, OutboxEvent)
    assert row.settled_at is not None and row.resends == 1


# ---- consumers declared by modules ---------------------------------------------------------------

module_handled: list[tuple[int | None, dict[str, Any]]] = []


async def module_handler(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    context = current_tenant_or_none()
    module_handled.append((context.id if context else None, payload))


async def test_module_subscribers_are_consumers_named_after_their_module(
    make_city: Any, database: Database, settings: Settings, broker: RedisBroker
) -> None:
    """ModuleSpec.subscribers, resolved by import path, become one consumer each."""
    from kotalive.registry import ModuleSpec

    spec = ModuleSpec(name="laksa", title="t", subscribers={PINGED: f"{__name__}:module_handler"})
    city = await make_city("evt", modules=["laksa"])
    module_handled.clear()
    with use_jobs(settings, LoadedModules((spec,)), broker=broker):
        [consumer] = events.consumers_for(PINGED)
        assert (consumer.name, consumer.module) == (f"laksa:{PINGED}", "laksa")
        assert events.consumers_for("testing.nobody_listens") == []
        async with database.tenant_session(city) as s, s.begin():
            row = events.publish(s, PINGED, {"n": 1})
        assert await events.deliver(city, row.id, consumer.name, PINGED, {"n": 1}) is True
        assert await events.deliver(city, row.id, consumer.name, PINGED, {"n": 1}) is False
        with pytest.raises(events.UnknownConsumer):
            await events.deliver(city, row.id, "laksa:someone_else", PINGED, {"n": 1})
    assert module_handled == [(city.id, {"n": 1})]
