"""Alembic environment of the ``platform`` schema (used by `alembic revision --autogenerate`).

`kotalive db upgrade` does not go through this file: it drives the same script directory from
kotalive.migrations.runner.
"""

import asyncio

from alembic import context
from sqlalchemy import Connection

from kotalive.auth import models as auth_models  # noqa: F401  (registers the tables)
from kotalive.db import PLATFORM_SCHEMA, PlatformBase, create_engine
from kotalive.registry import import_surface_models
from kotalive.settings import Settings
from kotalive.tenants import models  # noqa: F401

import_surface_models()  # the surfaces' platform tables (the console's tasks) join the metadata


def run(connection: Connection) -> None:
    connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{PLATFORM_SCHEMA}"')
    connection.exec_driver_sql(f'SET LOCAL search_path TO "{PLATFORM_SCHEMA}"')
    context.configure(
        connection=connection,
        target_metadata=PlatformBase.metadata,
        version_table_schema=PLATFORM_SCHEMA,
        include_schemas=True,
        include_name=lambda name, type_, parent: type_ != "schema" or name == PLATFORM_SCHEMA,
    )
    with context.begin_transaction():
        context.run_migrations()


async def main() -> None:
    engine = create_engine(Settings.from_env())
    async with engine.begin() as conn:
        await conn.run_sync(run)
    await engine.dispose()


asyncio.run(main())
