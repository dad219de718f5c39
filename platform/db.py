"""Database access: one engine per process, and ``tenant_session()`` as the only door to a city.

Tenancy rules (ARCHITECTURE §4) enforced here:
- a city session is bound to ``engine.execution_options(schema_translate_map={None: schema})``,
  so every ORM and Core statement names the city's schema, at no extra round trip;
- every connection starts with a ``search_path`` naming a schema that never exists (sent in the
  startup packet, so it costs nothing): a statement that escaped the translate map fails instead
  of reading ``platform``, ``public`` or another city;
- a session knows its city and refuses to run while another city is in context;
- raw SQL goes through ``TenantSession.execute_sql``, which schema-qualifies ``{city}``.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import MetaData, event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session

from kotalive.context import CrossTenantError, TenantContext, checked_schema, current_tenant_or_none
from kotalive.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PLATFORM_SCHEMA = "platform"
# Never created: unqualified names resolve to nothing, so escaped SQL fails closed.
NO_CITY_SEARCH_PATH = "kotalive_no_city_selected"


class PlatformBase(DeclarativeBase):
    """Tables of the platform registry (schema ``platform``)."""

    metadata = MetaData(schema=PLATFORM_SCHEMA, naming_convention=NAMING_CONVENTION)


class TenantBase(DeclarativeBase):
    """Tables that live in every city schema. Schema ``None`` is translated per session."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _TenantSyncSession(Session):
    kotalive_tenant: TenantContext | None = None


def _refuse_other_city(session: Session) -> None:
    own = getattr(session, "kotalive_tenant", None)
    if own is None:
        return
    active = current_tenant_or_none()
    if active is not None and active.id != own.id:
        raise CrossTenantError(
            f"a session of city {own.slug!r} (id {own.id}) was used while city {active.slug!r} "
            f"(id {active.id}) is in context"
        )


@event.listens_for(_TenantSyncSession, "do_orm_execute")
def _guard_execute(state: Any) -> None:
    _refuse_other_city(state.session)


@event.listens_for(_TenantSyncSession, "before_flush")
def _guard_flush(session: Session, flush_context: Any, instances: Any) -> None:
    _refuse_other_city(session)


class TenantSession(AsyncSession):
    """An ``AsyncSession`` bound to exactly one city for its whole life."""

    @property
    def tenant(self) -> TenantContext:
        tenant = self.sync_session.kotalive_tenant  # type: ignore[attr-defined]
        assert tenant is not None
        return tenant

    def city_sql(self, sql: str) -> Any:
        """Schema-qualify ``{city}`` in raw SQL; raw SQL that does not name it is refused."""
        if "{city}" not in sql:
            raise CrossTenantError("raw SQL must name its tables as {city}.table so it is schema-qualified")
        return text(sql.replace("{city}", quote_ident(checked_schema(self.tenant.schema))))

    async def execute_sql(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        _refuse_other_city(self.sync_session)
        return await self.execute(self.city_sql(sql), dict(params or {}))


def _with_statement_cache(url: str, size: int) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("prepared_statement_cache_size", str(size))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def create_engine(settings: Settings, **overrides: Any) -> AsyncEngine:
    settings.require_services()
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_recycle": settings.db_pool_recycle,
        "connect_args": {
            "server_settings": {"search_path": NO_CITY_SEARCH_PATH, "application_name": "kotalive"},
            # asyncpg's own cache serves city_fetch; sized like SQLAlchemy's (cities x hot statements).
            "statement_cache_size": settings.db_statement_cache,
        },
    }
    options.update(overrides)
    return create_async_engine(
        _with_statement_cache(settings.database_url, settings.db_statement_cache), **options
    )


class Database:
    """The process's engine plus the one way to reach a city's rows."""

    def __init__(self, settings: Settings, engine: AsyncEngine | None = None) -> None:
        self.settings = settings
        self.engine = engine or create_engine(settings)
        self._city_engines: dict[str, AsyncEngine] = {}

    def city_engine(self, tenant: TenantContext) -> AsyncEngine:
        schema = checked_schema(tenant.schema)
        engine = self._city_engines.get(schema)
        if engine is None:
            engine = self.engine.execution_options(schema_translate_map={None: schema})
            self._city_engines[schema] = engine
        return engine

    def tenant_session(self, tenant: TenantContext) -> TenantSession:
        session = TenantSession(
            bind=self.city_engine(tenant), expire_on_commit=False, sync_session_class=_TenantSyncSession
        )
        session.sync_session.kotalive_tenant = tenant  # type: ignore[attr-defined]
        return session

    def platform_session(self) -> AsyncSession:
        """A session for the ``platform`` schema only (its tables name their schema)."""
        return AsyncSession(bind=self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def city_connection(self, tenant: TenantContext) -> AsyncIterator[AsyncConnection]:
        """A Core connection under the city's translate map, in one transaction."""
        async with self.city_engine(tenant).begin() as conn:
            yield conn

    async def city_fetch(self, tenant: TenantContext, sql: str, *args: Any) -> list[Any]:
        """A hot read path: one schema-qualified query, one round trip, no transaction and no ORM.

        ``{city}`` in ``sql`` becomes the city's quoted schema (SQL without it is refused, as in
        ``TenantSession.execute_sql``); ``$1``-style parameters. Returns asyncpg records.
        """
        active = current_tenant_or_none()
        if active is not None and active.id != tenant.id:
            raise CrossTenantError(f"city_fetch for {tenant.slug!r} while {active.slug!r} is in context")
        if "{city}" not in sql:
            raise CrossTenantError("raw SQL must name its tables as {city}.table so it is schema-qualified")
        statement = sql.replace("{city}", quote_ident(checked_schema(tenant.schema)))
        async with self.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            return list(await raw.fetch(statement, *args))

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


_database: Database | None = None
# A worker runs its actors on its own event loop, and an asyncpg pool belongs to one loop: the worker
# scopes its own engine to each message, so ``tenant_session()`` in an actor never borrows the web's.
_scoped_database: contextvars.ContextVar[Database | None] = contextvars.ContextVar(
    "kotalive_database", default=None
)


def install_database(database: Database | None) -> None:
    """Make ``database`` the process's database (the app, worker and CLI each install one)."""
    global _database
    _database = database


def current_database() -> Database | None:
    return _database


@contextmanager
def use_database(database: Database) -> Iterator[Database]:
    """Within this context (task, thread), ``get_database()`` returns ``database``."""
    token = _scoped_database.set(database)
    try:
        yield database
    finally:
        _scoped_database.reset(token)


def get_database() -> Database:
    scoped = _scoped_database.get()
    if scoped is not None:
        return scoped
    if _database is None:
        raise RuntimeError("no database installed in this process (kotalive.db.install_database)")
    return _database


@asynccontextmanager
async def tenant_session(tenant: TenantContext | None = None) -> AsyncIterator[TenantSession]:
    """``async with tenant_session() as s:`` a session of the city in context (or ``tenant``)."""
    if tenant is None:
        from kotalive.context import current_tenant

        tenant = current_tenant()
    session = get_database().tenant_session(tenant)
    try:
        yield session
    finally:
        await session.close()
