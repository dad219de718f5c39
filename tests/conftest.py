"""Shared fixtures: a fresh database on a real PostgreSQL, real Redis, cities made by provisioning.

Services come from kotalive.devserver.ensure_services("test"): the configured URLs, else the
local servers on 127.0.0.1:5432 / 6379 when they answer, else embedded ones. Each test session
creates its own database and drops it at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis as redis_sync

from kotalive.context import TenantContext
from kotalive.db import Database, install_database
from kotalive.devserver import Services, ensure_services
from kotalive.integrations.simulators import load as load_simulators
from kotalive.migrations.runner import upgrade_platform
from kotalive.registry import LoadedModules, load
from kotalive.settings import Settings, plain_postgres_url
from kotalive.tenants.provisioning import NewCity, TenantService

load_simulators()  # infra/simulators importable as ``kotalive_simulators`` in every test


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    svc = ensure_services(purpose="test")
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def test_database_url(services: Services) -> Iterator[str]:
    """A database of this test session's own, dropped at the end."""
    name = f"kotalive_test_{uuid.uuid4().hex[:10]}"
    admin_url = plain_postgres_url(services.database_url)

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    yield _with_db(services.database_url, name)
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_db_url(services: Services) -> Iterator[str]:
    """A Redis database of this test session's own (1-15), claimed with a lock key and emptied,
    so two test runs on one Redis (developers side by side) never share keys or rate limits."""
    base = services.redis_url.rsplit("/", 1)[0] if services.redis_url.count("/") > 2 else services.redis_url
    wanted = os.environ.get("KOTALIVE_TEST_REDIS_DB")
    candidates = [int(wanted)] if wanted else list(range(1, 16))
    lock, me = "kotalive-test:session-lock", f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    for db in candidates:
        client = redis_sync.Redis.from_url(f"{base}/{db}")
        if client.set(lock, me, nx=True, ex=6 * 3600) or wanted:
            client.flushdb()
            client.set(lock, me, ex=6 * 3600)
            try:
                yield f"{base}/{db}"
            finally:
                if client.get(lock) == me.encode():
                    client.flushdb()
                client.close()
            return
        client.close()
    raise RuntimeError("every Redis database 1-15 is claimed by another test run; set KOTALIVE_TEST_REDIS_DB")


@pytest.fixture(scope="session")
def settings(test_database_url: str, redis_db_url: str) -> Settings:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOTALIVE_")}
    env.update(
        {
            "KOTALIVE_ENV": "test",
            "KOTALIVE_DATABASE_URL": test_database_url,
            "KOTALIVE_REDIS_URL": redis_db_url,
            "KOTALIVE_BASE_DOMAIN": "kota.test",
            "KOTALIVE_PLATFORM_HOST": "platform.test",
            "KOTALIVE_TRUSTED_PROXIES": "10.9.9.9",
            "KOTALIVE_TENANT_CACHE_SECONDS": "1",
            "KOTALIVE_DB_POOL_SIZE": "5",
        }
    )
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def modules(settings: Settings) -> LoadedModules:
    loaded = load(settings.modules)
    loaded.import_models()
    return loaded


@pytest.fixture(scope="session")
async def database(settings: Settings, modules: LoadedModules) -> AsyncIterator[Database]:
    db = Database(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(upgrade_platform)
    install_database(db)
    yield db
    install_database(None)
    await db.dispose()


@pytest.fixture(scope="session")
def tenant_service(database: Database, modules: LoadedModules) -> TenantService:
    return TenantService(database, modules)


_counter = itertools.count(1)


def unique_slug(prefix: str = "kota") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}-{next(_counter)}"


MakeCity = Callable[..., Awaitable[TenantContext]]


@pytest.fixture(scope="session")
def make_city(tenant_service: TenantService) -> MakeCity:
    """Provision a real city (unique slug) and return its context."""

    async def make(prefix: str = "kota", **overrides: object) -> TenantContext:
        slug = str(overrides.pop("slug", unique_slug(prefix)))
        city = NewCity(
            slug=slug,
            name=str(overrides.pop("name", f"Kota {slug.title()}")),
            region_code=str(overrides.pop("region_code", "3671")),
            **overrides,
        )  # type: ignore[arg-type]
        await tenant_service.provision(city)
        return await tenant_service.context(slug)

    return make


@pytest.fixture(scope="session")
async def app(settings: Settings, database: Database, modules: LoadedModules) -> AsyncIterator[object]:
    """The real Litestar app with its lifespan running in the test loop (directory, Redis listener)."""
    from kotalive.app import create_app

    application = create_app(settings, database=database, modules=modules)
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold_lifespan() -> None:
        # Entered and left in one task: anyio's cancel scopes inside the lifespan require it.
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold_lifespan())
    await asyncio.wait_for(started.wait(), 30)
    yield application
    stop.set()
    await task


def asgi_client(app: object, host: str, peer: str = "127.0.0.1") -> object:
    """An httpx client on the app whose requests come from ``peer`` with ``Host: host``, over https
    (cookies are Secure, as in production)."""
    import httpx

    transport = httpx.ASGITransport(app=app, client=(peer, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=f"https://{host}")


@pytest.fixture
def client_for(app: object) -> Callable[..., object]:
    def make(host: str, peer: str = "127.0.0.1") -> object:
        return asgi_client(app, host, peer)

    return make


@pytest.fixture(scope="session")
def new_slug() -> Callable[..., str]:
    """A fresh unique city slug: ``new_slug("prefix")``."""
    return unique_slug


@pytest.fixture(scope="session")
def wait_for_status() -> Callable[..., Awaitable[object]]:
    """Poll ``client.get(path)`` until it answers ``status`` (bounded): registry changes reach the
    app over Redis, or within its 1 s cache TTL in tests."""
    from support import wait_until

    async def wait(client: object, path: str, status: int, within: float = 5.0) -> object:
        last: list[object] = []

        async def answered() -> bool:
            r = await client.get(path)  # type: ignore[attr-defined]
            last[:] = [r]
            return bool(r.status_code == status)

        try:
            await wait_until(answered, f"{path} to answer {status}", within)
        except AssertionError:
            r = last[0]
            raise AssertionError(f"{path}: {r.status_code} {r.text}") from None  # type: ignore[attr-defined]
        return last[0]

    return wait


@pytest.fixture
def broker(settings: Settings, modules: LoadedModules) -> Iterator[object]:
    """A real Redis broker in a namespace of the test's own, installed as the process's broker."""
    from kotalive.jobs import create_broker, use_jobs

    namespace = f"kotalive-test-{uuid.uuid4().hex[:10]}"
    broker = create_broker(settings, namespace=namespace)
    with use_jobs(settings, modules, broker=broker):
        yield broker
    keys = list(broker.client.scan_iter(f"{namespace}:*"))
    if keys:
        broker.client.delete(*keys)
    broker.close()


@pytest.fixture
async def worker(broker: object) -> AsyncIterator[object]:
    """An in-process Dramatiq worker on that broker. One thread, so "the next message on the same
    thread" is every next message (Dramatiq allows one in-process worker at a time)."""
    from dramatiq import Worker

    w = Worker(broker, worker_threads=1, worker_timeout=50)  # type: ignore[arg-type]
    w.start()
    yield w
    await asyncio.to_thread(w.stop, 5000)


@pytest.fixture(scope="session")
def sims(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """SIAK, Simpeg, SMS and an OpenID provider (infra/simulators) on free loopback ports, for the
    whole session; tests that break one start their own or reset the faults they set."""
    from kotalive_simulators import start_simulators

    handle = start_simulators(tmp_path_factory.mktemp("simulators"))
    yield handle
    handle.stop()
