"""Alembic, driven from inside the process: one script directory, many city schemas.

The tenant tree is applied to each city in its own transaction with ``lock_timeout``; the script
directory is parsed once and reused (ARCHITECTURE §5), never one CLI process per city.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from kotalive.db import PLATFORM_SCHEMA, PlatformBase, TenantBase, quote_ident

HERE = Path(__file__).parent
PLATFORM_TREE = HERE / "platform"
TENANT_TREE = HERE / "tenant"
# Built by real migrations from base; the drift check compares every city with it.
REFERENCE_SCHEMA = "kotalive_reference"


@lru_cache(maxsize=1)
def load_tenant_models() -> None:
    """Every table a city schema holds: the core's, every installed module's (switches aside) and
    the surfaces' (the admin's)."""
    import kotalive.auth.models
    import kotalive.events
    import kotalive.notify.models
    import kotalive.tenants.city_models  # noqa: F401
    from kotalive.registry import discover, import_surface_models, resolve

    for spec in discover().values():
        if spec.models:
            resolve(spec.models)
    import_surface_models()


def alembic_config(tree: Path, extra_version_locations: Sequence[str | Path] = ()) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(tree))
    cfg.set_main_option("prepend_sys_path", "")
    locations = [str(tree / "versions"), *(str(p) for p in extra_version_locations)]
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    return cfg


@lru_cache(maxsize=8)
def script_directory(tree: str, extra: tuple[str, ...] = ()) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(Path(tree), extra))


def tenant_script(extra: tuple[str, ...] = ()) -> ScriptDirectory:
    return script_directory(str(TENANT_TREE), extra)


def platform_script() -> ScriptDirectory:
    return script_directory(str(PLATFORM_TREE))


def head_of(script: ScriptDirectory) -> str:
    head = script.get_current_head()
    assert head is not None, f"no head in {script.dir}"
    return head


@dataclass(frozen=True, slots=True)
class Step:
    before: str | None
    after: str | None
    revisions_applied: int


def _context(conn: Connection, schema: str, script: ScriptDirectory, fn: Any = None) -> MigrationContext:
    opts: dict[str, Any] = {
        "version_table_schema": schema,
        "target_metadata": TenantBase.metadata,
        "script": script,
        "transaction_per_migration": False,
    }
    if fn is not None:
        opts["fn"] = fn
    return MigrationContext.configure(connection=conn, opts=opts)


def _enter_schema(conn: Connection, schema: str, lock_timeout: str) -> Connection:
    # Alembic renders some DDL with unqualified names, so inside this transaction only the
    # city's schema is on the path; SET LOCAL ends with the transaction, never the connection.
    # Both in one round trip; set_config(..., true) is SET LOCAL.
    conn.execute(
        text("SELECT set_config('search_path', :path, true), set_config('lock_timeout', :timeout, true)"),
        {"path": quote_ident(schema), "timeout": int_or_duration(lock_timeout)},
    )
    return conn.execution_options(schema_translate_map={None: schema})


def int_or_duration(value: str) -> str:
    import re

    if not re.fullmatch(r"[0-9]+(ms|s|min)?", value):
        raise ValueError(f"lock timeout must look like 5s, 500ms or 1min, got {value!r}")
    return value


def current_revision(conn: Connection, schema: str) -> str | None:
    exists = conn.execute(
        text("SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = :s AND tablename = 'alembic_version'"),
        {"s": schema},
    ).first()
    if not exists:
        return None
    # the schema name is validated and quoted, never user text
    row = conn.exec_driver_sql(f"SELECT version_num FROM {quote_ident(schema)}.alembic_version").first()  # noqa: S608
    return row[0] if row else None


def upgrade_schema(
    conn: Connection,
    schema: str,
    *,
    target: str = "head",
    lock_timeout: str = "5s",
    script: ScriptDirectory | None = None,
) -> Step:
    """Upgrade one city schema to ``target`` inside the caller's transaction."""
    script = script or tenant_script()
    before = current_revision(conn, schema)
    applied = 0

    def fn(rev: Any, context: Any) -> Any:
        nonlocal applied
        steps = script._upgrade_revs(target, rev)
        applied = len(steps)
        return steps

    if before is not None and before == (head_of(script) if target == "head" else target):
        return Step(before, before, 0)
    city = _enter_schema(conn, schema, lock_timeout)
    ctx = _context(city, schema, script, fn)
    with Operations.context(ctx):
        ctx.run_migrations()
    # The target is known; asking the version table again would cost a round trip per city.
    after = head_of(script) if target == "head" else target
    return Step(before, after if applied or before else current_revision(conn, schema), applied)


def create_schema_fast(conn: Connection, schema: str, *, script: ScriptDirectory | None = None) -> Step:
    """A new city: ``create_all`` under the translate map, then stamp *this schema only* at head."""
    script = script or tenant_script()
    conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
    before = current_revision(conn, schema)
    if before is not None:  # an earlier, interrupted run got this far: migrate instead
        return upgrade_schema(conn, schema, script=script)
    city = conn.execution_options(schema_translate_map={None: schema})
    load_tenant_models()
    TenantBase.metadata.create_all(city)
    ctx = _context(city, schema, script)
    ctx.stamp(script, "head")
    return Step(None, head_of(script), 0)


def upgrade_platform(conn: Connection) -> Step:
    script = platform_script()
    conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(PLATFORM_SCHEMA)}")
    before = current_revision(conn, PLATFORM_SCHEMA)
    applied = 0

    def fn(rev: Any, context: Any) -> Any:
        nonlocal applied
        steps = script._upgrade_revs("head", rev)
        applied = len(steps)
        return steps

    conn.exec_driver_sql(f"SET LOCAL search_path TO {quote_ident(PLATFORM_SCHEMA)}")
    ctx = MigrationContext.configure(
        connection=conn,
        opts={
            "version_table_schema": PLATFORM_SCHEMA,
            "target_metadata": PlatformBase.metadata,
            "script": script,
            "fn": fn,
            "transaction_per_migration": False,
        },
    )
    with Operations.context(ctx):
        ctx.run_migrations()
    return Step(before, current_revision(conn, PLATFORM_SCHEMA), applied)
