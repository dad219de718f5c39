"""Rollouts: waves in order, one failing city recorded while the others migrate, re-runs resume."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from sqlalchemy import select, text

from kotalive.db import Database
from kotalive.tenants.city_models import Agency
from kotalive.tenants.drift import check_drift
from kotalive.tenants.models import MigrationRun, Tenant
from kotalive.tenants.rollout import migrate, select_targets, tenant_head

REVISION = '''"""{doc}"""
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}


def downgrade() -> None:
    pass
'''


def write_revisions(folder: Path, *bodies: str) -> tuple[tuple[str, ...], list[str]]:
    """Throwaway revisions on top of the current head, as a release would add them."""
    folder.mkdir(parents=True, exist_ok=True)
    down = tenant_head()
    revs = []
    for i, body in enumerate(bodies):
        rev = f"t{uuid.uuid4().hex[:12]}_{i}"
        (folder / f"{rev}.py").write_text(
            REVISION.format(doc=f"test revision {i}", rev=rev, down=down, body=body)
        )
        revs.append(rev)
        down = rev
    return (str(folder),), revs


async def _poison(db: Database, city) -> None:
    async with db.tenant_session(city) as s, s.begin():
        s.add(Agency(code="poison", name="Poison", abbreviation="P", kind="other", contact={}))


async def test_a_wave_with_one_failing_city_migrates_the_others_and_resumes(
    make_city, tenant_service, database: Database, tmp_path: Path
) -> None:
    wave = f"w{uuid.uuid4().hex[:8]}"
    cities = [await make_city("wave", wave=wave) for _ in range(3)]
    bad = cities[1]
    await _poison(database, bad)
    extra, revs = write_revisions(
        tmp_path / "versions",
        "    op.add_column('agency', __import__('sqlalchemy').Column('hotline', __import__('sqlalchemy').Text()))",
        "    op.create_check_constraint('no_poison', 'agency', \"code <> 'poison'\")",
    )
    targets = await select_targets(database, wave=wave)
    assert [t.slug for t in targets] == [c.slug for c in cities]

    results = await migrate(database, targets, extra_version_locations=extra)
    by_slug = {r.slug: r for r in results}
    assert [by_slug[c.slug].ok for c in cities] == [True, False, True]
    assert "no_poison" in (by_slug[bad.slug].error or "")
    assert by_slug[cities[0].slug].revisions == 2 and by_slug[cities[0].slug].after == revs[-1]

    async with database.platform_session() as s:
        rows = {t.slug: t for t in await s.scalars(select(Tenant).where(Tenant.wave == wave))}
        runs = (await s.scalars(select(MigrationRun).where(MigrationRun.tenant_id == bad.id))).all()
    assert rows[bad.slug].last_migration_ok is False and "no_poison" in rows[bad.slug].last_migration_error
    assert rows[bad.slug].schema_revision == tenant_head()  # the failed city stayed whole at the old revision
    assert rows[cities[0].slug].schema_revision == revs[-1] and rows[cities[0].slug].last_migration_ok
    assert runs and runs[-1].ok is False
    async with database.tenant_session(bad) as s:  # rolled back as one: not even the first revision stuck
        cols = (
            await s.execute(
                text(
                    "SELECT count(*) FROM information_schema.columns WHERE table_schema = :s AND column_name = 'hotline'"
                ),
                {"s": bad.schema},
            )
        ).scalar_one()
    assert cols == 0

    # Fix the data, re-run the whole wave: the bad city catches up, the others are a no-op.
    async with database.tenant_session(bad) as s, s.begin():
        await s.execute_sql("DELETE FROM {city}.agency WHERE code = 'poison'")
    again = {r.slug: r for r in await migrate(database, targets, extra_version_locations=extra)}
    assert all(r.ok for r in again.values())
    assert again[bad.slug].revisions == 2 and again[cities[0].slug].revisions == 0


async def test_stop_on_error_stops_at_the_first_failure(
    make_city, database: Database, tmp_path: Path
) -> None:
    wave = f"s{uuid.uuid4().hex[:8]}"
    cities = [await make_city("stop", wave=wave) for _ in range(3)]
    await _poison(database, cities[0])
    extra, _ = write_revisions(
        tmp_path / "v", "    op.create_check_constraint('no_poison', 'agency', \"code <> 'poison'\")"
    )
    results = await migrate(
        database, await select_targets(database, wave=wave), stop_on_error=True, extra_version_locations=extra
    )
    assert len(results) == 1 and not results[0].ok


async def test_canary_migrates_first(make_city, database: Database) -> None:
    late = await make_city("late", wave="zz-late")
    canary = await make_city("canary", wave="canary")
    plain = await make_city("plain")
    targets = await select_targets(database, slugs=[late.slug, plain.slug, canary.slug])
    assert [t.slug for t in targets] == [canary.slug, late.slug, plain.slug]


async def test_a_locked_city_times_out_and_is_recorded(
    make_city, database: Database, settings, tmp_path
) -> None:
    city = await make_city("lock")
    extra, _ = write_revisions(tmp_path / "v", "    op.create_index('ix_agency_name', 'agency', ['name'])")
    db = Database(settings.with_(migration_lock_timeout="200ms"))
    try:
        async with database.engine.connect() as holder:
            trans = await holder.begin()
            await holder.execute(text(f'LOCK TABLE "{city.schema}".agency IN ACCESS EXCLUSIVE MODE'))
            results = await asyncio.wait_for(
                migrate(db, await select_targets(db, slugs=[city.slug]), extra_version_locations=extra), 30
            )
            await trans.rollback()
    finally:
        await db.dispose()
    assert not results[0].ok and "lock" in (results[0].error or "").lower()


async def test_drift_check_finds_hand_made_changes(make_city, database: Database) -> None:
    clean, dirty = await make_city("clean"), await make_city("dirty")
    async with database.engine.begin() as conn:
        await conn.execute(text(f'ALTER TABLE "{dirty.schema}".agency ADD COLUMN fax text'))
        await conn.execute(text(f'DROP INDEX "{dirty.schema}".ix_outbox_event_unsent'))
    report = await check_drift(database, [clean.slug, dirty.slug])
    assert report[clean.slug] == []
    text_report = "\n".join(report[dirty.slug])
    assert (
        "extra column agency.fax" in text_report
        and "missing index outbox_event.ix_outbox_event_unsent" in text_report
    )


async def test_parallel_orchestrators_migrate_every_city_once(
    make_city, database: Database, tmp_path: Path
) -> None:
    wave = f"p{uuid.uuid4().hex[:8]}"
    cities = [await make_city("par", wave=wave) for _ in range(4)]
    extra, revs = write_revisions(tmp_path / "v", "    op.create_index('ix_agency_kind', 'agency', ['kind'])")
    progress: list[str] = []
    results = await migrate(
        database,
        await select_targets(database, wave=wave),
        parallel=2,
        extra_version_locations=extra,
        progress=lambda r: progress.append(r.slug),
    )
    assert sorted(r.slug for r in results) == sorted(c.slug for c in cities) == sorted(progress)
    assert all(r.ok and r.after == revs[-1] and r.revisions == 1 for r in results)
    async with database.platform_session() as s:
        runs = (
            await s.scalars(select(MigrationRun).where(MigrationRun.tenant_id.in_([c.id for c in cities])))
        ).all()
    assert len({r.run_id for r in runs}) == 1 and len(runs) == 4
