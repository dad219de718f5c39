"""Host -> city, held in memory and refreshed when the registry changes.

Resolution never queries per request (ARCHITECTURE §10): each process loads the whole map once,
listens on Redis for "the registry changed", and, as a safety net, compares the registry version
at most every ``tenant_cache_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kotalive.context import TenantContext
from kotalive.db import Database
from kotalive.tenants.models import Domain, RegistryVersion, Tenant, TenantModule

log = logging.getLogger(__name__)

INVALIDATION_CHANNEL = "kotalive:registry-changed"


async def bump_registry_version(session: AsyncSession | AsyncConnection) -> None:
    """Call in the same transaction as any change to tenants, domains or module switches."""
    await session.execute(
        update(RegistryVersion).where(RegistryVersion.id == 1).values(version=RegistryVersion.version + 1)
    )


def build_context(tenant: Tenant, modules: Iterable[TenantModule], primary_host: str = "") -> TenantContext:
    mods = list(modules)
    return TenantContext(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        status=tenant.status,
        timezone=tenant.timezone,
        locale=tenant.locale,
        modules=frozenset(m.module for m in mods if m.enabled),
        module_config={m.module: dict(m.config or {}) for m in mods},
        primary_host=primary_host,
        region_code=tenant.region_code,
    )


class TenantDirectory:
    def __init__(self, database: Database, ttl_seconds: float = 30.0) -> None:
        self._db = database
        self._ttl = ttl_seconds
        self._by_host: dict[str, TenantContext] = {}
        self._by_id: dict[int, TenantContext] = {}
        self._by_slug: dict[str, TenantContext] = {}
        self._version: int | None = None
        self._checked_at = 0.0
        self._stale = True
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._stale = True

    async def _current_version(self, session: AsyncSession) -> int:
        return int(
            (await session.scalar(select(RegistryVersion.version).where(RegistryVersion.id == 1))) or 0
        )

    async def reload(self) -> None:
        async with self._db.platform_session() as session:
            version = await self._current_version(session)
            tenants = (await session.scalars(select(Tenant))).all()
            domains = (await session.execute(select(Domain.host, Domain.tenant_id, Domain.is_primary))).all()
            modules = (await session.scalars(select(TenantModule))).all()
        mods_by_tenant: dict[int, list[TenantModule]] = {}
        for m in modules:
            mods_by_tenant.setdefault(m.tenant_id, []).append(m)
        primary = {d.tenant_id: d.host for d in domains if d.is_primary}
        by_id = {t.id: build_context(t, mods_by_tenant.get(t.id, ()), primary.get(t.id, "")) for t in tenants}
        self._by_id = by_id
        self._by_slug = {c.slug: c for c in by_id.values()}
        self._by_host = {d.host: by_id[d.tenant_id] for d in domains if d.tenant_id in by_id}
        self._version = version
        self._checked_at = time.monotonic()
        self._stale = False

    async def _refresh_if_needed(self) -> None:
        if not self._stale and time.monotonic() - self._checked_at < self._ttl:
            return
        async with self._lock:
            if not self._stale and time.monotonic() - self._checked_at < self._ttl:
                return
            if not self._stale and self._version is not None:
                async with self._db.platform_session() as session:
                    version = await self._current_version(session)
                if version == self._version:
                    self._checked_at = time.monotonic()
                    return
            await self.reload()

    async def by_host(self, host: str) -> TenantContext | None:
        await self._refresh_if_needed()
        return self._by_host.get(host)

    async def by_id(self, tenant_id: int) -> TenantContext | None:
        await self._refresh_if_needed()
        return self._by_id.get(tenant_id)

    async def by_slug(self, slug: str) -> TenantContext | None:
        await self._refresh_if_needed()
        return self._by_slug.get(slug)

    async def all(self) -> list[TenantContext]:
        await self._refresh_if_needed()
        return sorted(self._by_id.values(), key=lambda c: c.id)


async def listen_for_invalidation(redis_url: str, directory: TenantDirectory, stop: asyncio.Event) -> None:
    """Mark the directory stale whenever any process announces a registry change."""
    import redis.asyncio as aioredis

    while not stop.is_set():
        client = aioredis.from_url(redis_url)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(INVALIDATION_CHANNEL)
                directory.invalidate()  # anything missed while (re)connecting
                while not stop.is_set():
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is not None:
                        directory.invalidate()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis away: the TTL check still bounds staleness
            log.warning("registry invalidation listener: %s; retrying", exc)
            await asyncio.sleep(1.0)
        finally:
            await client.aclose()


async def announce_registry_change(redis_url: str) -> None:
    """Tell every process to reload its directory (best effort; the TTL check is the safety net)."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    try:
        await client.publish(INVALIDATION_CHANNEL, "1")
    except Exception as exc:
        log.warning("could not announce a registry change: %s", exc)
    finally:
        await client.aclose()
