"""Alembic environment of a city schema (used by `alembic revision --autogenerate`).

Autogenerate compares the models with one schema named by ``-x schema=...`` (default: the
reference schema). Rollouts do not go through this file: kotalive.migrations.runner applies the
same script directory to every city in one process.
"""

import asyncio

from alembic import context
from sqlalchemy import Connection

from kotalive.db import TenantBase, create_engine
from kotalive.migrations.runner import REFERENCE_SCHEMA, load_tenant_models
from kotalive.settings import Settings


def run(connection: Connection) -> None:
    schema = context.get_x_argument(as_dictionary=True).get("schema", REFERENCE_SCHEMA)
    connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    connection.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
    context.configure(
        connection=connection.execution_options(schema_translate_map={None: schema}),
        target_metadata=TenantBase.metadata,
        version_table_schema=schema,
        include_name=lambda name, type_, parent: not (type_ == "table" and name == "alembic_version"),
    )
    with context.begin_transaction():
        context.run_migrations()


async def main() -> None:
    settings = Settings.from_env()
    load_tenant_models()
    engine = create_engine(settings)
    async with engine.begin() as conn:
        await conn.run_sync(run)
    await engine.dispose()


asyncio.run(main())
