"""Migrate many city schemas from one orchestrator process (ARCHITECTURE §5).

Each city migrates in its own transaction with ``lock_timeout``; its result is recorded in the
registry (``tenant.last_migration_*`` and a ``migration_run`` row) in that same transaction when
it succeeds, or right after the rollback when it fails. One failing city does not stop the others
unless ``stop_on_error`` says so; re-running resumes (cities at head are a cheap no-op).

Alembic's ``op`` is a process-wide proxy, so migrations in one process run one city at a time;
``parallel > 1`` spreads the cities over that many orchestrator processes, each reusing its
script directory and a small pool.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kotalive.context import schema_for
from kotalive.db import Database
from kotalive.migrations.runner import head_of, tenant_script, upgrade_schema
from kotalive.settings import Settings
from kotalive.tenants.models import MigrationRun, Tenant

WAVE_ORDER_FIRST = "canary"
MIGRATABLE = ("active", "suspended", "provisioning")


@dataclass(frozen=True, slots=True)
class Target:
    tenant_id: int
    slug: str
    wave: str | None


@dataclass(frozen=True, slots=True)
class CityResult:
    tenant_id: int
    slug: str
    wave: str | None
    ok: bool
    before: str | None
    after: str | None
    revisions: int
    ms: float
    error: str | None = None


def wave_rank(wave: str | None) -> tuple[int, str]:
    """canary first, then named waves by name, then the cities in no wave."""
    if wave == WAVE_ORDER_FIRST:
        return (0, "")
    if wave:
        return (1, wave)
    return (2, "")


async def select_targets(
    db: Database, *, all_cities: bool = False, wave: str | None = None, slugs: Sequence[str] = ()
) -> list[Target]:
    async with db.platform_session() as s:
        q = select(Tenant.id, Tenant.slug, Tenant.wave).where(Tenant.status.in_(MIGRATABLE))
        if slugs:
            q = q.where(Tenant.slug.in_(list(slugs)))
        elif wave:
            q = q.where(Tenant.wave == wave)
        elif not all_cities:
            return []
        rows = (await s.execute(q)).all()
    targets = [Target(r.id, r.slug, r.wave) for r in rows]
    return sorted(targets, key=lambda t: (wave_rank(t.wave), t.tenant_id))


async def migrate_one(
    db: Database,
    target: Target,
    *,
    run_id: str,
    revision: str = "head",
    extra_version_locations: tuple[str, ...] = (),
) -> CityResult:
    script = tenant_script(extra_version_locations)
    schema = schema_for(target.tenant_id)
    started = time.perf_counter()
    try:
        async with db.engine.begin() as conn:
            step = await conn.run_sync(
                lambda c: upgrade_schema(
                    c, schema, target=revision, lock_timeout=db.settings.migration_lock_timeout, script=script
                )
            )
            ms = (time.perf_counter() - started) * 1000
            await _record(conn, target, run_id, step.before, step.after, True, None, ms)
        return CityResult(
            target.tenant_id,
            target.slug,
            target.wave,
            True,
            step.before,
            step.after,
            step.revisions_applied,
            ms,
        )
    except Exception as exc:  # recorded, reported, and the rollout goes on
        ms = (time.perf_counter() - started) * 1000
        error = f"{type(exc).__name__}: {exc}".strip()[:2000]
        async with db.engine.begin() as conn:
            await _record(conn, target, run_id, None, None, False, error, ms)
        return CityResult(target.tenant_id, target.slug, target.wave, False, None, None, 0, ms, error)


async def _record(
    conn: AsyncConnection,
    target: Target,
    run_id: str,
    before: str | None,
    after: str | None,
    ok: bool,
    error: str | None,
    ms: float,
) -> None:
    values: dict[str, object] = {
        "last_migration_at": dt.datetime.now(dt.UTC),
        "last_migration_ok": ok,
        "last_migration_error": error,
        "last_migration_ms": ms,
    }
    if ok:
        values["schema_revision"] = after
    await conn.execute(update(Tenant).where(Tenant.id == target.tenant_id).values(**values))
    await conn.execute(
        insert(MigrationRun).values(
            run_id=run_id,
            tenant_id=target.tenant_id,
            wave=target.wave,
            from_revision=before,
            to_revision=after,
            ok=ok,
            error=error,
            duration_ms=ms,
        )
    )


ProgressFn = Callable[[CityResult], None]


async def migrate_sequential(
    db: Database,
    targets: Sequence[Target],
    *,
    revision: str = "head",
    stop_on_error: bool = False,
    progress: ProgressFn | None = None,
    run_id: str | None = None,
    extra_version_locations: tuple[str, ...] = (),
) -> list[CityResult]:
    run_id = run_id or str(uuid.uuid4())
    results: list[CityResult] = []
    for target in targets:
        result = await migrate_one(
            db, target, run_id=run_id, revision=revision, extra_version_locations=extra_version_locations
        )
        results.append(result)
        if progress:
            progress(result)
        if not result.ok and stop_on_error:
            break
    return results


def _worker(
    settings: Settings,
    targets: list[Target],
    revision: str,
    stop_on_error: bool,
    run_id: str,
    extra: tuple[str, ...],
    queue: object,
) -> None:
    """Runs in a child process: its own loop, engine and script directory."""

    async def main() -> None:
        db = Database(settings.with_(db_pool_size=2, db_max_overflow=0))
        try:
            await migrate_sequential(
                db,
                targets,
                revision=revision,
                stop_on_error=stop_on_error,
                run_id=run_id,
                progress=lambda r: queue.put(r),  # type: ignore[attr-defined]
                extra_version_locations=extra,
            )
        finally:
            await db.dispose()
            queue.put(None)  # type: ignore[attr-defined]

    asyncio.run(main())


async def migrate(
    db: Database,
    targets: Sequence[Target],
    *,
    revision: str = "head",
    parallel: int = 1,
    stop_on_error: bool = False,
    progress: ProgressFn | None = None,
    extra_version_locations: tuple[str, ...] = (),
) -> list[CityResult]:
    """Migrate ``targets`` wave by wave (canary first); within a wave, ``parallel`` processes."""
    run_id = str(uuid.uuid4())
    results: list[CityResult] = []
    waves: dict[tuple[int, str], list[Target]] = {}
    for t in targets:
        waves.setdefault(wave_rank(t.wave), []).append(t)
    for rank in sorted(waves):
        batch = waves[rank]
        if parallel <= 1 or len(batch) < 2:
            got = await migrate_sequential(
                db,
                batch,
                revision=revision,
                stop_on_error=stop_on_error,
                progress=progress,
                run_id=run_id,
                extra_version_locations=extra_version_locations,
            )
        else:
            got = await _migrate_in_processes(
                db.settings,
                batch,
                revision,
                parallel,
                stop_on_error,
                run_id,
                extra_version_locations,
                progress,
            )
        results.extend(got)
        if stop_on_error and any(not r.ok for r in got):
            break
    return results


async def _migrate_in_processes(
    settings: Settings,
    batch: Sequence[Target],
    revision: str,
    parallel: int,
    stop_on_error: bool,
    run_id: str,
    extra: tuple[str, ...],
    progress: ProgressFn | None,
) -> list[CityResult]:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    n = min(parallel, len(batch))
    slices = [list(batch[i::n]) for i in range(n)]
    procs = [
        ctx.Process(target=_worker, args=(settings, s, revision, stop_on_error, run_id, extra, queue))
        for s in slices
    ]
    for p in procs:
        p.start()
    results: list[CityResult] = []
    finished = 0
    loop = asyncio.get_running_loop()
    while finished < n:
        item = await loop.run_in_executor(None, queue.get)
        if item is None:
            finished += 1
            continue
        results.append(item)
        if progress:
            progress(item)
    for p in procs:
        await loop.run_in_executor(None, p.join)
    return results


def tenant_head(extra_version_locations: tuple[str, ...] = ()) -> str:
    return head_of(tenant_script(extra_version_locations))
