"""Create and run the life of a city: resumable, idempotent provisioning and status changes.

The CLI and (later) the platform console call these services; nothing here prints.
Steps of a new city, each committed on its own and safe to repeat:
    registered -> schema -> seeded -> active
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from kotalive.context import TenantContext, schema_for
from kotalive.db import Database, quote_ident
from kotalive.migrations.runner import create_schema_fast
from kotalive.registry import LoadedModules
from kotalive.tenants.catalogue import DEFAULT_AGENCIES
from kotalive.tenants.city_models import Agency
from kotalive.tenants.directory import announce_registry_change, build_context, bump_registry_version
from kotalive.tenants.models import TENANT_KINDS, Domain, Tenant, TenantModule

STEPS = ("registered", "schema", "seeded", "active")
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
RESERVED_SLUGS = frozenset(
    {
        "platform",
        "public",
        "admin",
        "www",
        "api",
        "information_schema",
        "static",
        "assets",
        "localhost",
        "mail",
        "kotalive",
        "console",
        "status",
        "reference",
    }
)
HOST_PATTERN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


class TenantInputError(ValueError):
    """Bad input for a city: names the field and the reason (shown as-is to the operator)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class TenantStateError(RuntimeError):
    """The city is not in a state that allows the operation (e.g. purge before archive)."""


class TenantNotFound(LookupError):
    pass


def validate_slug(slug: str) -> str:
    if not isinstance(slug, str) or not slug:
        raise TenantInputError("slug", "is required")
    if len(slug) > 63:
        raise TenantInputError("slug", f"is {len(slug)} characters long; at most 63 are allowed")
    if slug.lower().startswith("pg_") or slug.lower().startswith("pg-"):
        raise TenantInputError("slug", "must not start with 'pg_' (reserved by PostgreSQL)")
    if slug.lower() in RESERVED_SLUGS:
        raise TenantInputError("slug", f"{slug!r} is reserved")
    if not SLUG_PATTERN.match(slug):
        raise TenantInputError(
            "slug",
            "use 2-63 lower-case letters, digits and dashes, starting with a letter (e.g. kota-bekasi)",
        )
    return slug


def validate_host(host: str) -> str:
    h = host.strip().lower().rstrip(".")
    if not HOST_PATTERN.match(h):
        raise TenantInputError("domain", f"{host!r} is not a valid host name")
    return h


@dataclass(slots=True)
class NewCity:
    slug: str
    name: str
    region_code: str
    timezone: str = "Asia/Jakarta"
    kind: str = "kota"
    locale: str = "id"
    domains: Sequence[str] = ()
    modules: Sequence[str] | None = None  # None: every installed module
    centre_lat: float | None = None
    centre_lon: float | None = None
    boundary: dict[str, Any] | None = None
    mou_number: str | None = None
    mou_signed_on: dt.date | None = None
    mou_expires_on: dt.date | None = None
    wave: str | None = None
    module_config: dict[str, dict[str, Any]] = field(default_factory=dict)

    def validated(self, installed: Sequence[str], base_domain: str) -> NewCity:
        validate_slug(self.slug)
        if not self.name or not self.name.strip():
            raise TenantInputError("name", "is required")
        if self.kind not in TENANT_KINDS:
            raise TenantInputError("kind", f"must be one of {', '.join(TENANT_KINDS)}")
        digits = 2 if self.kind == "provinsi" else 4
        if not re.fullmatch(rf"[0-9]{{{digits}}}", self.region_code or ""):
            raise TenantInputError(
                "region_code",
                f"a {self.kind} has a {digits}-digit Kemendagri code (e.g. {'36' if digits == 2 else '3671'})",
            )
        if self.timezone not in zoneinfo.available_timezones():
            raise TenantInputError(
                "timezone", f"{self.timezone!r} is not a time zone (e.g. Asia/Jakarta, Asia/Makassar)"
            )
        if self.locale not in ("id", "en"):
            raise TenantInputError("locale", "must be id or en")
        modules = list(installed) if self.modules is None else list(self.modules)
        unknown = [m for m in modules if m not in installed]
        if unknown:
            raise TenantInputError(
                "modules", f"unknown module(s) {', '.join(unknown)}; installed: {', '.join(installed)}"
            )
        hosts = [validate_host(h) for h in self.domains] or [f"{self.slug}.{base_domain}"]
        if len(set(hosts)) != len(hosts):
            raise TenantInputError("domain", "the same host is given twice")
        if self.centre_lat is not None and not -90 <= self.centre_lat <= 90:
            raise TenantInputError("centre_lat", "must be between -90 and 90")
        if self.centre_lon is not None and not -180 <= self.centre_lon <= 180:
            raise TenantInputError("centre_lon", "must be between -180 and 180")
        if self.mou_signed_on and self.mou_expires_on and self.mou_expires_on <= self.mou_signed_on:
            raise TenantInputError("mou_expires_on", "must be after the signing date")
        if self.boundary is not None and self.boundary.get("type") not in (
            "Polygon",
            "MultiPolygon",
            "Feature",
            "FeatureCollection",
        ):
            raise TenantInputError(
                "boundary", "must be a GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection"
            )
        self.domains = hosts
        self.modules = modules
        return self


StepHook = Callable[[str, Tenant], None]


class TenantService:
    """Everything that changes the registry goes through here (and bumps its version)."""

    def __init__(self, db: Database, modules: LoadedModules) -> None:
        self.db = db
        self.modules = modules

    # ---- reading ---------------------------------------------------------------------------

    async def get(self, slug: str) -> Tenant:
        async with self.db.platform_session() as s:
            tenant = await s.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            raise TenantNotFound(f"no city with slug {slug!r}")
        return tenant

    async def list(self) -> list[Tenant]:
        async with self.db.platform_session() as s:
            return list(await s.scalars(select(Tenant).order_by(Tenant.id)))

    async def context(self, slug: str) -> TenantContext:
        async with self.db.platform_session() as s:
            tenant = await s.scalar(select(Tenant).where(Tenant.slug == slug))
            if tenant is None:
                raise TenantNotFound(f"no city with slug {slug!r}")
            mods = (await s.scalars(select(TenantModule).where(TenantModule.tenant_id == tenant.id))).all()
            primary = await s.scalar(
                select(Domain.host).where(Domain.tenant_id == tenant.id, Domain.is_primary)
            )
        return build_context(tenant, mods, primary or "")

    # ---- provisioning ----------------------------------------------------------------------

    async def provision(
        self, city: NewCity, *, after_step: StepHook | None = None, progress: StepHook | None = None
    ) -> Tenant:
        city = city.validated(self.modules.names, self.db.settings.base_domain)
        tenant = await self._register(city)
        self._report(after_step, progress, "registered", tenant)
        if tenant.provisioning_step in ("registered", None):
            tenant = await self._create_schema(tenant)
        self._report(after_step, progress, "schema", tenant)
        if tenant.provisioning_step in ("registered", "schema", None):
            tenant = await self._seed(tenant)
        self._report(after_step, progress, "seeded", tenant)
        if tenant.status == "provisioning":
            tenant = await self._set_status(tenant.slug, "active", allowed=("provisioning",), step="active")
        self._report(after_step, progress, "active", tenant)
        return tenant

    @staticmethod
    def _report(after_step: StepHook | None, progress: StepHook | None, step: str, tenant: Tenant) -> None:
        if progress:
            progress(step, tenant)
        if after_step:
            after_step(step, tenant)

    async def _register(self, city: NewCity) -> Tenant:
        async with self.db.platform_session() as s, s.begin():
            existing = await s.scalar(select(Tenant).where(Tenant.slug == city.slug).with_for_update())
            if existing is not None:
                if (existing.name, existing.region_code) != (city.name, city.region_code):
                    raise TenantInputError(
                        "slug", f"{city.slug!r} already belongs to {existing.name} ({existing.region_code})"
                    )
                if existing.status == "archived":
                    raise TenantStateError(f"{city.slug} is archived; purge it before creating it again")
                return existing
            taken = (
                (await s.execute(select(Domain.host).where(Domain.host.in_(list(city.domains)))))
                .scalars()
                .all()
            )
            if taken:
                raise TenantInputError("domain", f"{', '.join(taken)} already belongs to another city")
            tenant = Tenant(
                slug=city.slug,
                name=city.name.strip(),
                kind=city.kind,
                region_code=city.region_code,
                timezone=city.timezone,
                locale=city.locale,
                centre_lat=city.centre_lat,
                centre_lon=city.centre_lon,
                boundary=city.boundary,
                status="provisioning",
                mou_number=city.mou_number,
                mou_signed_on=city.mou_signed_on,
                mou_expires_on=city.mou_expires_on,
                wave=city.wave,
                provisioning_step="registered",
                status_changed_at=dt.datetime.now(dt.UTC),
            )
            s.add(tenant)
            await s.flush()
            for i, host in enumerate(city.domains):
                s.add(Domain(host=host, tenant_id=tenant.id, is_primary=(i == 0)))
            for name in city.modules or ():
                s.add(
                    TenantModule(
                        tenant_id=tenant.id,
                        module=name,
                        enabled=True,
                        config=dict(city.module_config.get(name, {})),
                    )
                )
            await bump_registry_version(s)
        return tenant

    async def _create_schema(self, tenant: Tenant) -> Tenant:
        schema = schema_for(tenant.id)
        async with self.db.engine.begin() as conn:
            step = await conn.run_sync(create_schema_fast, schema)
            await conn.execute(
                update(Tenant)
                .where(Tenant.id == tenant.id)
                .values(
                    provisioning_step="schema",
                    schema_revision=step.after,
                    last_migration_at=dt.datetime.now(dt.UTC),
                    last_migration_ok=True,
                    last_migration_error=None,
                )
            )
        return await self._reload(tenant.id)

    async def _seed(self, tenant: Tenant) -> Tenant:
        async with self.db.platform_session() as s:
            mods = (await s.scalars(select(TenantModule).where(TenantModule.tenant_id == tenant.id))).all()
        ctx = build_context(tenant, mods)
        session = self.db.tenant_session(ctx)
        try:
            async with session.begin():
                await session.execute(
                    insert(Agency)
                    .values(
                        [
                            {
                                "code": a.code,
                                "abbreviation": a.abbreviation,
                                "name": a.name,
                                "kind": a.kind,
                                "contact": {},
                                "active": True,
                            }
                            for a in DEFAULT_AGENCIES
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["code"])
                )
                for name, hook in self.modules.seed_hooks():
                    if ctx.has_module(name):
                        await hook(session)
                await session.execute(
                    update(Tenant).where(Tenant.id == tenant.id).values(provisioning_step="seeded")
                )
        finally:
            await session.close()
        return await self._reload(tenant.id)

    async def _reload(self, tenant_id: int) -> Tenant:
        async with self.db.platform_session() as s:
            tenant = await s.get(Tenant, tenant_id)
        assert tenant is not None
        return tenant

    # ---- lifecycle -------------------------------------------------------------------------

    async def _set_status(
        self, slug: str, status: str, *, allowed: Sequence[str], step: str | None = None
    ) -> Tenant:
        async with self.db.platform_session() as s, s.begin():
            tenant = await s.scalar(select(Tenant).where(Tenant.slug == slug).with_for_update())
            if tenant is None:
                raise TenantNotFound(f"no city with slug {slug!r}")
            if tenant.status == status:
                return tenant
            if tenant.status not in allowed:
                raise TenantStateError(
                    f"{slug} is {tenant.status}; it can become {status} only from {' or '.join(allowed)}"
                )
            tenant.status = status
            tenant.status_changed_at = dt.datetime.now(dt.UTC)
            if step:
                tenant.provisioning_step = step
            await bump_registry_version(s)
        await announce_registry_change(self.db.settings.redis_url)
        return tenant

    async def suspend(self, slug: str) -> Tenant:
        return await self._set_status(slug, "suspended", allowed=("active",))

    async def resume(self, slug: str) -> Tenant:
        return await self._set_status(slug, "active", allowed=("suspended",))

    async def archive(self, slug: str) -> Tenant:
        return await self._set_status(slug, "archived", allowed=("active", "suspended", "provisioning"))

    async def purge(self, slug: str) -> None:
        """Drop an archived city's schema and registry rows. Irreversible: export first."""
        tenant = await self.get(slug)
        if tenant.status != "archived":
            raise TenantStateError(f"{slug} is {tenant.status}; archive it before purging")
        schema = schema_for(tenant.id)
        async with self.db.engine.begin() as conn:
            await conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
            await conn.execute(delete(Tenant).where(Tenant.id == tenant.id))
            await bump_registry_version(conn)
        await announce_registry_change(self.db.settings.redis_url)

    async def set_wave(self, slug: str, wave: str | None) -> Tenant:
        if wave is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", wave):
            raise TenantInputError(
                "wave", "use lower-case letters, digits, dashes and underscores (e.g. canary)"
            )
        async with self.db.platform_session() as s, s.begin():
            tenant = await s.scalar(select(Tenant).where(Tenant.slug == slug).with_for_update())
            if tenant is None:
                raise TenantNotFound(f"no city with slug {slug!r}")
            tenant.wave = wave
        return tenant

    async def set_module(
        self, slug: str, module: str, enabled: bool, config: dict[str, Any] | None = None
    ) -> None:
        if module not in self.modules.names:
            raise TenantInputError(
                "module", f"unknown module {module!r}; installed: {', '.join(self.modules.names)}"
            )
        tenant = await self.get(slug)
        async with self.db.platform_session() as s, s.begin():
            values: dict[str, Any] = {"tenant_id": tenant.id, "module": module, "enabled": enabled}
            if config is not None:
                values["config"] = config
            stmt = insert(TenantModule).values(**{"config": {}, **values})
            await s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["tenant_id", "module"],
                    set_={k: stmt.excluded[k] for k in values if k not in ("tenant_id", "module")},
                )
            )
            await bump_registry_version(s)
        await announce_registry_change(self.db.settings.redis_url)
