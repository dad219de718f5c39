"""The Laksa migration on a city that existed before it: the new tables, the default categories
(linked to the city's own agencies), SLA policies and office hours; and no drift from a new city."""

from __future__ import annotations

from kotalive.db import quote_ident
from kotalive.migrations.runner import upgrade_schema
from kotalive.tenants.drift import check_drift


async def test_an_older_city_gets_laksa_and_its_defaults(make_city, database) -> None:
    city = await make_city("pre-laksa")
    schema = quote_ident(city.schema)
    async with database.engine.begin() as conn:
        # back to the schema of the release before Laksa
        await conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        await conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        await conn.run_sync(lambda c: upgrade_schema(c, city.schema, target="0002_people"))
    async with database.tenant_session(city) as s:
        await s.execute_sql(
            "INSERT INTO {city}.agency (code, name, abbreviation, kind, contact, active) VALUES "
            "('pupr', 'Dinas PUPR', 'PUPR', 'dinas', '{}', true), ('damkar', 'Damkar', 'Damkar', 'dinas', '{}', true)"
        )
        await s.commit()
    async with database.engine.begin() as conn:
        step = await conn.run_sync(lambda c: upgrade_schema(c, city.schema))
    assert step.before == "0002_people" and step.revisions_applied >= 1
    async with database.tenant_session(city) as s:
        rows = (
            await s.execute_sql(
                "SELECT c.code, a.code FROM {city}.laksa_category c "
                "LEFT JOIN {city}.agency a ON a.id = c.agency_id ORDER BY c.sort"
            )
        ).all()
        policies = (await s.execute_sql("SELECT priority FROM {city}.laksa_sla_policy")).scalars().all()
        days = (await s.execute_sql("SELECT weekday FROM {city}.laksa_working_hours")).scalars().all()
    categories = dict(rows)
    assert categories["street-lamp"] == "pupr" and categories["fire"] == "damkar"
    assert categories["rubbish"] is None  # no DLH in this city yet: routed by rules or triage
    assert set(policies) == {"low", "normal", "high", "emergency"} and sorted(days) == [1, 2, 3, 4, 5]
    assert await check_drift(database, [city.slug]) == {city.slug: []}
