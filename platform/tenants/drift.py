"""Compare every city schema with a reference schema built by the migrations from nothing.

A city made by the fast path (``create_all`` + stamp) must equal one made by running every
migration; a city whose schema someone changed by hand, or that a failed rollout left behind,
shows up here with the exact difference.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import Connection, text

from kotalive.context import schema_for
from kotalive.db import Database, quote_ident
from kotalive.migrations.runner import REFERENCE_SCHEMA, tenant_script, upgrade_schema
from kotalive.tenants.models import Tenant

CATALOGUE_SQL = {
    "column": """
        SELECT c.relname::text || '.' || a.attname::text,
               format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
               || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
               || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
    """,
    "constraint": """
        SELECT c.relname::text || '.' || con.conname::text, pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema
    """,
    "index": """
        SELECT i.tablename::text || '.' || i.indexname::text, i.indexdef
        FROM pg_indexes i WHERE i.schemaname = :schema
    """,
    "trigger": """
        SELECT c.relname::text || '.' || t.tgname::text, pg_get_triggerdef(t.oid)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema AND NOT t.tgisinternal
    """,
    "table": """
        SELECT c.relname::text, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
    """,
}


def catalogue(conn: Connection, schema: str) -> dict[str, str]:
    """Everything that defines a schema's shape, with the schema's own name taken out."""
    own = re.compile(rf'(?:"{re.escape(schema)}"|\b{re.escape(schema)}\b)\.')
    out: dict[str, str] = {}
    # pg_get_expr/constraintdef qualify names not on the search path; keep only the schema itself on it.
    conn.exec_driver_sql(f"SET LOCAL search_path TO {quote_ident(schema)}")
    for kind, sql in CATALOGUE_SQL.items():
        for name, definition in conn.execute(text(sql), {"schema": schema}):
            out[f"{kind} {name}"] = own.sub("", definition or "")
    return out


def compare(reference: dict[str, str], city: dict[str, str]) -> list[str]:
    diffs = []
    for key in sorted(reference.keys() - city.keys()):
        diffs.append(f"missing {key}: {reference[key]}")
    for key in sorted(city.keys() - reference.keys()):
        diffs.append(f"extra {key}: {city[key]}")
    for key in sorted(reference.keys() & city.keys()):
        if reference[key] != city[key]:
            diffs.append(f"differs {key}: expected {reference[key]!r}, found {city[key]!r}")
    return diffs


def build_reference(conn: Connection) -> dict[str, str]:
    conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_ident(REFERENCE_SCHEMA)} CASCADE")
    conn.exec_driver_sql(f"CREATE SCHEMA {quote_ident(REFERENCE_SCHEMA)}")
    upgrade_schema(conn, REFERENCE_SCHEMA, script=tenant_script())
    return catalogue(conn, REFERENCE_SCHEMA)


async def check_drift(db: Database, slugs: Iterable[str] | None = None) -> dict[str, list[str]]:
    """{slug: differences} for every city that has a schema (archived ones included)."""
    from sqlalchemy import select

    async with db.platform_session() as s:
        q = select(Tenant.id, Tenant.slug).order_by(Tenant.id)
        if slugs is not None:
            q = q.where(Tenant.slug.in_(list(slugs)))
        cities = (await s.execute(q)).all()
    report: dict[str, list[str]] = {}
    async with db.engine.connect() as conn:
        # The reference lives only inside this transaction: it is rolled back at the end.
        trans = await conn.begin()
        try:
            reference = await conn.run_sync(build_reference)
            for tenant_id, slug in cities:
                city = await conn.run_sync(catalogue, schema_for(tenant_id))
                report[slug] = compare(reference, city) if city else ["the city has no schema"]
        finally:
            await trans.rollback()
    return report
