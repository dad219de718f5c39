"""ARCHITECTURE §4: every tenancy rule has a test here (resolution, schemas, sessions, fail-closed)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from kotalive.context import CrossTenantError, NoTenantContext, checked_schema, schema_for, use_tenant
from kotalive.db import NO_CITY_SEARCH_PATH, Database, tenant_session
from kotalive.settings import Settings
from kotalive.tenants.city_models import Agency


async def _add_agency(db: Database, city, code: str) -> None:
    async with db.tenant_session(city) as s, s.begin():
        s.add(Agency(code=code, name=f"Agency {code}", abbreviation=code.upper(), kind="dinas", contact={}))


async def test_one_pooled_connection_serves_two_cities_without_leaking(make_city, settings: Settings) -> None:
    a, b = await make_city("a"), await make_city("b")
    # One connection in the pool: every session below reuses the same PostgreSQL backend.
    db = Database(settings.with_(db_pool_size=1, db_max_overflow=0))
    try:
        await _add_agency(db, a, "only-a")
        await _add_agency(db, b, "only-b")
        pids = set()
        for city, mine, theirs in ((a, "only-a", "only-b"), (b, "only-b", "only-a"), (a, "only-a", "only-b")):
            async with db.tenant_session(city) as s:
                pids.add((await s.execute(text("SELECT pg_backend_pid()"))).scalar_one())
                orm = set(await s.scalars(select(Agency.code)))
                raw = {r[0] for r in await s.execute_sql("SELECT code FROM {city}.agency")}
            async with db.city_connection(city) as conn:
                core = {r[0] for r in await conn.execute(select(Agency.__table__.c.code))}
            fast = {r["code"] for r in await db.city_fetch(city, "SELECT code FROM {city}.agency")}
            for seen in (orm, core, raw, fast):
                assert mine in seen and theirs not in seen
        assert len(pids) == 1, "the test must exercise a single pooled connection"
    finally:
        await db.dispose()


async def test_a_city_session_refuses_another_city_in_context(make_city, database: Database) -> None:
    a, b = await make_city("a"), await make_city("b")
    async with database.tenant_session(a) as s:
        with use_tenant(b):
            with pytest.raises(CrossTenantError):
                await s.execute(select(Agency))
            with pytest.raises(CrossTenantError):
                await s.execute_sql("SELECT 1 FROM {city}.agency")
            s.add(Agency(code="sneaky", name="x", abbreviation="X", kind="dinas", contact={}))
            with pytest.raises(CrossTenantError):
                await s.flush()
        await s.rollback()
    # tenant_session() with no city in context refuses to guess
    with pytest.raises(NoTenantContext):
        async with tenant_session():
            pass


async def test_raw_sql_outside_a_city_fails_closed(make_city, database: Database) -> None:
    await make_city()
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS public.leak_probe (secret text)"))
        await conn.execute(text("INSERT INTO public.leak_probe VALUES ('public data')"))
    for sql in (
        "SELECT * FROM agency",
        "SELECT * FROM tenant",
        "SELECT * FROM domain",
        "SELECT * FROM leak_probe",
    ):
        async with database.engine.connect() as conn:
            with pytest.raises((ProgrammingError, DBAPIError)) as info:
                await conn.execute(text(sql))
            assert "does not exist" in str(info.value)
    async with database.engine.connect() as conn:
        path = (await conn.execute(text("SHOW search_path"))).scalar_one()
    assert path == NO_CITY_SEARCH_PATH


async def test_raw_sql_helpers_insist_on_naming_the_city(make_city, database: Database) -> None:
    city, other = await make_city(), await make_city()
    async with database.tenant_session(city) as s:
        with pytest.raises(CrossTenantError):
            await s.execute_sql("SELECT * FROM agency")
    with pytest.raises(CrossTenantError):
        await database.city_fetch(city, "SELECT * FROM agency")
    with use_tenant(other), pytest.raises(CrossTenantError):
        await database.city_fetch(city, "SELECT * FROM {city}.agency")


def test_schema_names_come_from_the_immutable_id_only() -> None:
    assert schema_for(42) == "city_42"
    for bad in (0, -1, True, "1"):
        with pytest.raises(ValueError):
            schema_for(bad)  # type: ignore[arg-type]
    for bad in (
        "public",
        "platform",
        "city_1; DROP SCHEMA platform",
        'city_1"',
        "city_01",
        "pg_catalog",
        "City_1",
    ):
        with pytest.raises(CrossTenantError):
            checked_schema(bad)


async def test_unknown_host_is_404_with_a_page_and_json(app, client_for) -> None:
    async with client_for("nowhere.kota.test") as c:
        page = await c.get("/", headers={"accept": "text/html"})
        api = await c.get("/api/v1/agencies")
    assert page.status_code == 404 and "nowhere.kota.test" in page.text and "<html" in page.text
    assert api.status_code == 404 and api.json()["error"] == "unknown_host"


async def test_suspended_city_is_503_then_back_after_resume(
    app, client_for, make_city, tenant_service, wait_for_status
) -> None:
    city = await make_city("sus")
    host = city.primary_host
    async with client_for(host) as c:
        assert (await c.get("/api/v1/agencies")).status_code == 200
        await tenant_service.suspend(city.slug)
        r = await wait_for_status(c, "/api/v1/agencies", 503)
        assert r.json()["error"] == "city_suspended" and city.name in r.json()["detail"]
        page = await c.get("/", headers={"accept": "text/html", "accept-language": "en"})
        assert page.status_code == 503 and "suspended" in page.text
        await tenant_service.resume(city.slug)
        await wait_for_status(c, "/api/v1/agencies", 200)
        await tenant_service.archive(city.slug)
        await wait_for_status(c, "/api/v1/agencies", 404)


async def test_forwarded_host_is_ignored_unless_the_peer_is_a_trusted_proxy(
    app, client_for, make_city
) -> None:
    a, b = await make_city("fa"), await make_city("fb")
    await _add_agency(app.state.db, b, "b-secret")
    # A forged header from an untrusted peer: the request stays on city A.
    async with client_for(a.primary_host, peer="203.0.113.5") as c:
        codes = {
            x["code"]
            for x in (await c.get("/api/v1/agencies", headers={"x-forwarded-host": b.primary_host})).json()
        }
        assert "b-secret" not in codes
        assert (await c.get("/api/v1/city", headers={"x-forwarded-host": b.primary_host})).json()[
            "slug"
        ] == a.slug
    # The configured proxy (10.9.9.9 in the test settings) is believed.
    async with client_for("proxy.internal", peer="10.9.9.9") as c:
        r = await c.get("/api/v1/city", headers={"x-forwarded-host": b.primary_host})
        assert r.json()["slug"] == b.slug


async def test_platform_host_serves_the_console_but_no_city_data(app, client_for, make_city) -> None:
    await make_city()
    async with client_for("platform.test") as c:
        assert (await c.get("/")).status_code == 200
        assert (await c.get("/api/v1/agencies")).status_code == 404
        assert (await c.get("/api/v1/laksa/rules")).status_code == 404


async def test_health_answers_on_every_host(app, client_for) -> None:
    for host in ("platform.test", "unknown.example", "x.kota.test"):
        async with client_for(host) as c:
            assert (await c.get("/healthz")).json() == {"status": "ok"}
            ready = await c.get("/readyz")
            assert (
                ready.status_code == 200
                and ready.json()["database"] == "ok"
                and ready.json()["redis"] == "ok"
            )


async def test_a_city_api_shows_only_its_own_rows(app, client_for, make_city) -> None:
    a, b = await make_city("ra"), await make_city("rb")
    await _add_agency(app.state.db, a, "mine-a")
    async with client_for(b.primary_host) as c:
        rows = (await c.get("/api/v1/agencies")).json()
        assert "mine-a" not in {x["code"] for x in rows}
    async with client_for(a.primary_host) as c:
        rows = (await c.get("/api/v1/agencies")).json()
        a_id = next(x["id"] for x in rows if x["code"] == "mine-a")
    # The same id on B's host is B's row (or nothing), never A's.
    async with client_for(b.primary_host) as c:
        r = await c.get(f"/api/v1/agencies/{a_id}")
        assert r.status_code == 404 or r.json()["code"] != "mine-a"


async def test_city_schemas_hold_no_custom_types_and_no_foreign_keys_out(
    make_city, database: Database
) -> None:
    """§4 rules 7 and 8: no per-city ENUMs (they break cached statements), no FK leaving the city."""
    city = await make_city()
    async with database.engine.connect() as conn:
        types = (
            (
                await conn.execute(
                    text(
                        "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                        "WHERE n.nspname = :s AND t.typtype IN ('e', 'd', 'c') "
                        "AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)"
                    ),
                    {"s": city.schema},
                )
            )
            .scalars()
            .all()
        )
        outward = (
            await conn.execute(
                text(
                    "SELECT con.conname, tn.nspname FROM pg_constraint con "
                    "JOIN pg_class s ON s.oid = con.conrelid JOIN pg_namespace sn ON sn.oid = s.relnamespace "
                    "JOIN pg_class t ON t.oid = con.confrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace "
                    "WHERE con.contype = 'f' AND sn.nspname = :s AND tn.nspname <> :s"
                ),
                {"s": city.schema},
            )
        ).all()
    assert types == [] and outward == []


async def test_a_city_home_page_offers_registration_and_login(app, client_for, make_city) -> None:
    city = await make_city("home")
    async with client_for(city.primary_host) as c:
        page = await c.get("/", headers={"accept": "text/html"})
        english = await c.get("/?lang=en")
    assert page.status_code == 200 and 'href="/daftar"' in page.text and 'href="/masuk"' in page.text
    assert "Daftar sebagai warga" in page.text and "Register as a citizen" in english.text
    assert 'href="/staff/login"' in page.text and city.name in page.text
