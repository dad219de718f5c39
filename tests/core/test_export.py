"""`export` then `restore` into an empty database gives the same city, row for row."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select

from kotalive.db import Database, TenantBase
from kotalive.events import OutboxEvent
from kotalive.migrations.runner import load_tenant_models, upgrade_platform
from kotalive.settings import plain_postgres_url
from kotalive.tenants.city_models import Agency
from kotalive.tenants.directory import TenantDirectory
from kotalive.tenants.export import export_city, restore_city
from kotalive.tenants.models import Tenant
from kotalive.tenants.provisioning import TenantInputError


async def _snapshot(db: Database, city) -> dict[str, list[tuple]]:
    load_tenant_models()
    out = {}
    async with db.city_connection(city) as conn:
        for table in TenantBase.metadata.sorted_tables:
            pk = list(table.primary_key.columns)
            out[table.name] = [tuple(r) for r in await conn.execute(select(table).order_by(*pk))]
    return out


@pytest.fixture
async def empty_database(settings) -> object:
    name = f"kotalive_restore_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(plain_postgres_url(settings.database_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = settings.database_url.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    if "?" in settings.database_url.rsplit("/", 1)[1]:
        url += "?" + settings.database_url.split("?", 1)[1]
    db = Database(settings.with_(database_url=url))
    try:
        yield db
    finally:
        await db.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_export_then_restore_into_an_empty_database_gives_the_same_rows(
    make_city, database: Database, empty_database: Database, tmp_path: Path
) -> None:
    city = await make_city(
        "exp",
        mou_number="MOU/7/2026",
        centre_lat=-6.2,
        centre_lon=106.6,
        boundary={"type": "Polygon", "coordinates": [[[106, -6], [107, -6], [107, -7], [106, -6]]]},
    )
    async with database.tenant_session(city) as s, s.begin():
        parent = Agency(
            code="induk",
            name="Induk 'quoted'\ttab\nnewline \\ backslash",
            abbreviation="I",
            kind="badan",
            contact={"phone": "021-555", "tags": ["a", None, 1.5]},
        )
        s.add(parent)
        await s.flush()
        s.add(
            Agency(code="anak", name="Anak", abbreviation="A", kind="dinas", parent_id=parent.id, contact={})
        )
        s.add(OutboxEvent(event_type="test.exported", payload={"ñ": "ü", "n": 1}, attempts=0))
    before = await _snapshot(database, city)
    out = tmp_path / "city.kotalive.tar.gz"
    manifest = await export_city(database, city.slug, out)
    assert {t["name"] for t in manifest["tables"]} >= {"agency", "outbox_event", "laksa_hashtag_rule"}

    async with empty_database.engine.begin() as conn:
        await conn.run_sync(upgrade_platform)
    await restore_city(empty_database, out)
    directory = TenantDirectory(empty_database)
    restored = await directory.by_slug(city.slug)
    assert restored is not None and restored.status == "active" and restored.id == city.id
    assert await directory.by_host(city.primary_host) == restored
    after = await _snapshot(empty_database, restored)
    assert after == before
    async with empty_database.platform_session() as s:
        t = await s.scalar(select(Tenant).where(Tenant.slug == city.slug))
    assert t is not None and t.mou_number == "MOU/7/2026" and t.boundary["type"] == "Polygon"
    # Identity sequences continue after the restored rows.
    async with empty_database.tenant_session(restored) as s, s.begin():
        new = Agency(code="baru", name="Baru", abbreviation="B", kind="dinas", contact={})
        s.add(new)
        await s.flush()
        assert new.id > max(r[0] for r in before["agency"])


async def test_restoring_over_an_existing_city_is_refused(
    make_city, database: Database, tmp_path: Path
) -> None:
    city = await make_city("dup")
    out = tmp_path / "dup.tar.gz"
    await export_city(database, city.slug, out)
    with pytest.raises(TenantInputError) as info:
        await restore_city(database, out)
    assert info.value.field == "slug"


async def test_a_file_that_is_not_an_export_is_refused(database: Database, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(TenantInputError) as info:
        await restore_city(database, junk)
    assert info.value.field == "file"


def test_cli_export_restore_round_trip(settings, database, make_city, tmp_path: Path, new_slug) -> None:
    from click.testing import CliRunner

    from kotalive.cli import main

    env = {
        "KOTALIVE_DATABASE_URL": settings.database_url,
        "KOTALIVE_REDIS_URL": settings.redis_url,
        "KOTALIVE_ENV": "test",
        "KOTALIVE_BASE_DOMAIN": settings.base_domain,
    }
    slug = new_slug("cliexp")
    runner = CliRunner()
    assert (
        runner.invoke(
            main, ["tenants", "create", slug, "--name", "Kota Ekspor", "--region-code", "3671"], env=env
        ).exit_code
        == 0
    )
    out = tmp_path / "x.tar.gz"
    r = runner.invoke(main, ["tenants", "export", slug, "--out", str(out)], env=env)
    assert r.exit_code == 0 and out.exists(), r.output
    assert runner.invoke(main, ["tenants", "archive", slug], env=env).exit_code == 0
    refused = runner.invoke(main, ["tenants", "purge", slug], env=env, input="n\n")
    assert refused.exit_code == 1
    assert runner.invoke(main, ["tenants", "purge", slug, "--yes"], env=env).exit_code == 0
    r = runner.invoke(main, ["tenants", "restore", str(out)], env=env)
    assert r.exit_code == 0, r.output
    asyncio.run(asyncio.sleep(0))
