"""Export one city to a file, and restore it into any database (empty or not).

The file is a gzip'd tar: ``manifest.json`` (the registry rows, the schema revision, the tables
with their columns and row counts) and one PostgreSQL COPY stream per table, so every value
round-trips exactly. Restore rebuilds the schema at the exported revision, loads the rows,
resets identity sequences, then migrates to head: all in one transaction, so a failed restore
leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update

from kotalive.context import schema_for
from kotalive.db import Database, TenantBase, quote_ident
from kotalive.migrations.runner import (
    create_schema_fast,
    current_revision,
    head_of,
    load_tenant_models,
    tenant_script,
    upgrade_schema,
)
from kotalive.tenants.directory import announce_registry_change, bump_registry_version
from kotalive.tenants.models import Domain, Tenant, TenantModule
from kotalive.tenants.provisioning import TenantInputError, TenantNotFound

FORMAT = "kotalive-city-export"
FORMAT_VERSION = 1
Progress = Callable[[str, int], None]

_TENANT_FIELDS = (
    "id",
    "slug",
    "name",
    "kind",
    "region_code",
    "timezone",
    "locale",
    "centre_lat",
    "centre_lon",
    "boundary",
    "status",
    "mou_number",
    "mou_signed_on",
    "mou_expires_on",
    "wave",
)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot export {type(value).__name__}")


def _tables() -> list[Any]:
    load_tenant_models()
    return list(TenantBase.metadata.sorted_tables)


async def export_city(
    db: Database, slug: str, out: Path, *, progress: Progress | None = None
) -> dict[str, Any]:
    async with db.platform_session() as s:
        tenant = await s.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            raise TenantNotFound(f"no city with slug {slug!r}")
        domains = (
            await s.execute(select(Domain.host, Domain.is_primary).where(Domain.tenant_id == tenant.id))
        ).all()
        modules = (await s.scalars(select(TenantModule).where(TenantModule.tenant_id == tenant.id))).all()
    schema = schema_for(tenant.id)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "tenant": {f: getattr(tenant, f) for f in _TENANT_FIELDS},
        "domains": [{"host": d.host, "is_primary": d.is_primary} for d in domains],
        "modules": [{"module": m.module, "enabled": m.enabled, "config": m.config} for m in modules],
        "tables": [],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    # REPEATABLE READ: every table from the same snapshot.
    async with db.engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            revision = await conn.run_sync(current_revision, schema)
            manifest["revision"] = revision
            with tarfile.open(tmp, "w:gz") as tar:
                for table in _tables():
                    columns = [c.name for c in table.columns]
                    pk = [c.name for c in table.primary_key.columns] or columns[:1]
                    buf = io.BytesIO()
                    cols = ", ".join(quote_ident(c) for c in columns)
                    order = ", ".join(quote_ident(c) for c in pk)
                    await raw.copy_from_query(
                        f"SELECT {cols} FROM {quote_ident(schema)}.{quote_ident(table.name)} ORDER BY {order}",  # noqa: S608
                        output=buf,
                        format="text",
                    )
                    data = buf.getvalue()
                    rows = data.count(b"\n")
                    info = tarfile.TarInfo(f"tables/{table.name}.copy")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                    manifest["tables"].append({"name": table.name, "columns": columns, "rows": rows})
                    if progress:
                        progress(table.name, rows)
                body = json.dumps(manifest, default=_json_default, indent=2).encode()
                info = tarfile.TarInfo("manifest.json")
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
    tmp.replace(out)
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        with tarfile.open(path, "r:gz") as tar:
            member = tar.extractfile("manifest.json")
            assert member is not None
            manifest: dict[str, Any] = json.loads(member.read())
    except (tarfile.TarError, KeyError, json.JSONDecodeError, OSError) as exc:
        raise TenantInputError("file", f"not a Kota Live city export ({exc})") from exc
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise TenantInputError(
            "file", f"unsupported export format {manifest.get('format')!r} v{manifest.get('format_version')}"
        )
    return manifest


async def restore_city(db: Database, path: Path, *, progress: Progress | None = None) -> dict[str, Any]:
    manifest = read_manifest(path)
    t = dict(manifest["tenant"])
    script = tenant_script()
    known = {rev.revision for rev in script.walk_revisions()}
    if manifest["revision"] not in known:
        raise TenantInputError(
            "file", f"exported at revision {manifest['revision']}, which this release does not know"
        )
    hosts = [d["host"] for d in manifest["domains"]]
    tables = {tbl.name: tbl for tbl in _tables()}
    async with db.engine.connect() as conn, conn.begin():
        if await conn.scalar(select(Tenant.id).where(Tenant.slug == t["slug"])):
            raise TenantInputError("slug", f"{t['slug']!r} already exists in this database; purge it first")
        taken = (await conn.execute(select(Domain.host).where(Domain.host.in_(hosts)))).scalars().all()
        if taken:
            raise TenantInputError("domain", f"{', '.join(taken)} already belongs to another city here")
        if await conn.scalar(select(Tenant.id).where(Tenant.id == t["id"])):
            del t["id"]  # the id is taken here: the city gets a new one (and so a new schema name)
        for key in ("mou_signed_on", "mou_expires_on"):
            if t.get(key):
                t[key] = dt.date.fromisoformat(t[key])
        final_status = t.pop("status")
        tenant_id = (
            await conn.execute(
                insert(Tenant)
                .values(**t, status="provisioning", provisioning_step="registered")
                .returning(Tenant.id)
            )
        ).scalar_one()
        await conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('platform.tenant', 'id'), "
                "(SELECT max(id) FROM platform.tenant))"
            )
        )
        for d in manifest["domains"]:
            await conn.execute(
                insert(Domain).values(host=d["host"], tenant_id=tenant_id, is_primary=d["is_primary"])
            )
        for m in manifest["modules"]:
            await conn.execute(insert(TenantModule).values(tenant_id=tenant_id, **m))
        schema = schema_for(tenant_id)
        revision = manifest["revision"]

        def build(sync_conn: Any) -> None:
            if revision == head_of(script):
                create_schema_fast(sync_conn, schema, script=script)
            else:
                sync_conn.exec_driver_sql(f"CREATE SCHEMA {quote_ident(schema)}")
                upgrade_schema(sync_conn, schema, target=revision, script=script)

        await conn.run_sync(build)
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        with tarfile.open(path, "r:gz") as tar:
            for entry in manifest["tables"]:
                member = tar.extractfile(f"tables/{entry['name']}.copy")
                assert member is not None
                await raw.copy_to_table(
                    entry["name"],
                    schema_name=schema,
                    columns=entry["columns"],
                    source=io.BytesIO(member.read()),
                    format="text",
                )
                if progress:
                    progress(entry["name"], entry["rows"])
        for name in (e["name"] for e in manifest["tables"]):
            table = tables.get(name)
            for column in table.columns if table is not None else ():
                if column.identity is not None:
                    qualified = f"{quote_ident(schema)}.{quote_ident(name)}"
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence(:t, :c), "  # noqa: S608
                            f"coalesce((SELECT max({quote_ident(column.name)}) FROM {qualified}), 0) + 1, false)"
                        ),
                        {"t": qualified, "c": column.name},
                    )
        step = await conn.run_sync(lambda c: upgrade_schema(c, schema, script=script))
        await conn.execute(
            update(Tenant)
            .where(Tenant.id == tenant_id)
            .values(
                status=final_status,
                provisioning_step="active",
                schema_revision=step.after,
                status_changed_at=dt.datetime.now(dt.UTC),
            )
        )
        await bump_registry_version(conn)
    await announce_registry_change(db.settings.redis_url)
    manifest["restored_tenant_id"] = tenant_id
    return manifest
