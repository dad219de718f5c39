"""What the platform console does, without the pages: reading the registry, checking the wizard's
answers field by field, and changing cities (always with an audit row in the same transaction).

Every check returns the errors of all fields at once (``FormErrors``: field -> messages as text
keys with parameters, translated by the page), so a refused form shows each message beside its
field.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kotalive.admin.console.models import ConsoleTask
from kotalive.auth.models import PlatformAuditEntry
from kotalive.auth.regions import is_province, region_name
from kotalive.db import Database
from kotalive.notify.channels import SmtpConfig
from kotalive.tenants.directory import announce_registry_change, bump_registry_version
from kotalive.tenants.models import TENANT_KINDS, Domain, MigrationRun, Tenant, TenantModule
from kotalive.tenants.provisioning import TenantInputError, validate_host, validate_slug

PAGE_SIZE = 50
TIMEZONES = ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")
NIP_RE = re.compile(r"^\d{18}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
WAVE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MAX_BOUNDARY_BYTES = 5_000_000

# An error is (text key, parameters); the page translates it in the reader's language.
Error = tuple[str, dict[str, Any]]


class Errors(dict[str, list[Error]]):
    def add(self, name: str, key: str, **params: Any) -> None:
        self.setdefault(name, []).append((key, params))


def input_error(exc: TenantInputError) -> tuple[str, Error]:
    """A provisioning refusal as a field error (its reason is already worded for the operator)."""
    return exc.field, ("admin.console.error.reason", {"reason": exc.reason})


# ---- cities: the list ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CityFilter:
    q: str = ""
    status: str = ""
    wave: str = ""
    expiring: bool = False
    page: int = 1


@dataclass(slots=True)
class CityRow:
    tenant: Tenant
    primary_host: str | None
    modules: list[str]
    mou_days_left: int | None
    mou_warning: bool


def mou_days_left(tenant: Tenant, today: dt.date) -> int | None:
    return None if tenant.mou_expires_on is None else (tenant.mou_expires_on - today).days


async def list_cities(
    db: Database, f: CityFilter, *, warning_days: int, today: dt.date | None = None
) -> tuple[list[CityRow], bool]:
    """One page of cities (by name) and whether another page follows."""
    today = today or dt.date.today()
    q = select(Tenant)
    if f.q:
        like = "%" + f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(
            or_(Tenant.name.ilike(like), Tenant.slug.ilike(like), Tenant.region_code.startswith(f.q.strip()))
        )
    if f.status:
        q = q.where(Tenant.status == f.status)
    if f.wave == "-":
        q = q.where(Tenant.wave.is_(None))
    elif f.wave:
        q = q.where(Tenant.wave == f.wave)
    if f.expiring:
        q = q.where(Tenant.mou_expires_on <= today + dt.timedelta(days=warning_days))
    page = max(1, f.page)
    q = q.order_by(Tenant.name, Tenant.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    async with db.platform_session() as s:
        tenants = list(await s.scalars(q))
        more = len(tenants) > PAGE_SIZE
        tenants = tenants[:PAGE_SIZE]
        ids = [t.id for t in tenants]
        hosts = dict(
            (
                await s.execute(
                    select(Domain.tenant_id, Domain.host).where(Domain.tenant_id.in_(ids), Domain.is_primary)
                )
            ).all()
        )
        mods: dict[int, list[str]] = {}
        for tenant_id, module in (
            await s.execute(
                select(TenantModule.tenant_id, TenantModule.module)
                .where(TenantModule.tenant_id.in_(ids), TenantModule.enabled)
                .order_by(TenantModule.module)
            )
        ).all():
            mods.setdefault(tenant_id, []).append(module)
    rows = []
    for t in tenants:
        left = mou_days_left(t, today)
        rows.append(
            CityRow(t, hosts.get(t.id), mods.get(t.id, []), left, left is not None and left <= warning_days)
        )
    return rows, more


async def waves(db: Database) -> list[tuple[str | None, int]]:
    """(wave, number of cities) for every wave in use, canary first, then by name, then none."""
    from kotalive.tenants.rollout import wave_rank

    async with db.platform_session() as s:
        rows = (
            await s.execute(
                select(Tenant.wave, func.count()).where(Tenant.status != "archived").group_by(Tenant.wave)
            )
        ).all()
    return sorted(((w, n) for w, n in rows), key=lambda r: wave_rank(r[0]))


# ---- one city --------------------------------------------------------------------------------------


@dataclass(slots=True)
class CityDetail:
    tenant: Tenant
    domains: list[Domain]
    modules: dict[str, TenantModule]
    runs: list[MigrationRun]
    audit: list[PlatformAuditEntry]


async def city_detail(db: Database, slug: str) -> CityDetail | None:
    async with db.platform_session() as s:
        tenant = await s.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            return None
        domains = list(
            await s.scalars(
                select(Domain)
                .where(Domain.tenant_id == tenant.id)
                .order_by(Domain.is_primary.desc(), Domain.host)
            )
        )
        modules = {
            m.module: m
            for m in await s.scalars(select(TenantModule).where(TenantModule.tenant_id == tenant.id))
        }
        runs = list(
            await s.scalars(
                select(MigrationRun)
                .where(MigrationRun.tenant_id == tenant.id)
                .order_by(MigrationRun.id.desc())
                .limit(20)
            )
        )
        entries = list(
            await s.scalars(
                select(PlatformAuditEntry)
                .where(PlatformAuditEntry.tenant_id == tenant.id)
                .order_by(PlatformAuditEntry.id.desc())
                .limit(20)
            )
        )
    return CityDetail(tenant, domains, modules, runs, entries)


async def _locked_tenant(s: AsyncSession, slug: str) -> Tenant | None:
    return await s.scalar(select(Tenant).where(Tenant.slug == slug).with_for_update())


def check_host(raw: str, errors: Errors, name: str = "host") -> str | None:
    try:
        return validate_host(raw)
    except TenantInputError:
        errors.add(name, "admin.console.error.host", host=raw)
        return None


async def add_domain(db: Database, slug: str, raw: str, primary: bool) -> tuple[Errors, str | None]:
    errors = Errors()
    host = check_host(raw, errors)
    if host is None:
        return errors, None
    async with db.platform_session() as s, s.begin():
        tenant = await _locked_tenant(s, slug)
        if tenant is None:
            raise LookupError(slug)
        owner = await s.scalar(select(Domain.tenant_id).where(Domain.host == host))
        if owner is not None:
            errors.add("host", "admin.console.error.host_taken", host=host)
            return errors, None
        if primary:
            await s.execute(update(Domain).where(Domain.tenant_id == tenant.id).values(is_primary=False))
            await s.flush()
        has_primary = await s.scalar(
            select(Domain.host).where(Domain.tenant_id == tenant.id, Domain.is_primary)
        )
        s.add(Domain(host=host, tenant_id=tenant.id, is_primary=primary or has_primary is None))
        await bump_registry_version(s)
    await announce_registry_change(db.settings.redis_url)
    return errors, host


async def remove_domain(db: Database, slug: str, host: str) -> str | None:
    """None when removed; else the text key of the reason (the primary or the last host stays)."""
    async with db.platform_session() as s, s.begin():
        tenant = await _locked_tenant(s, slug)
        if tenant is None:
            raise LookupError(slug)
        domain = await s.get(Domain, host)
        if domain is None or domain.tenant_id != tenant.id:
            raise LookupError(host)
        if domain.is_primary:
            return "admin.console.error.remove_primary"
        await s.delete(domain)
        await bump_registry_version(s)
    await announce_registry_change(db.settings.redis_url)
    return None


async def make_primary(db: Database, slug: str, host: str) -> None:
    async with db.platform_session() as s, s.begin():
        tenant = await _locked_tenant(s, slug)
        if tenant is None:
            raise LookupError(slug)
        domain = await s.get(Domain, host)
        if domain is None or domain.tenant_id != tenant.id:
            raise LookupError(host)
        await s.execute(update(Domain).where(Domain.tenant_id == tenant.id).values(is_primary=False))
        await s.flush()
        domain.is_primary = True
        await bump_registry_version(s)
    await announce_registry_change(db.settings.redis_url)


def parse_config(raw: str, errors: Errors, name: str) -> dict[str, Any] | None:
    """A module's configuration: empty, or a JSON object."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        errors.add(name, "admin.console.error.json", line=exc.lineno, column=exc.colno, reason=exc.msg)
        return None
    if not isinstance(value, dict):
        errors.add(name, "admin.console.error.json_object")
        return None
    return value


def parse_date(raw: str, errors: Errors, name: str) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors.add(name, "admin.console.error.date", value=raw)
        return None


@dataclass(slots=True)
class Mou:
    number: str | None
    signed_on: dt.date | None
    expires_on: dt.date | None


def check_mou(form: dict[str, str], errors: Errors) -> Mou:
    number = form.get("mou_number", "").strip() or None
    if number is not None and len(number) > 200:
        errors.add("mou_number", "admin.console.error.too_long", max=200)
    signed = parse_date(form.get("mou_signed_on", ""), errors, "mou_signed_on")
    expires = parse_date(form.get("mou_expires_on", ""), errors, "mou_expires_on")
    if signed and expires and expires <= signed:
        errors.add("mou_expires_on", "admin.console.error.mou_order")
    if (signed or expires) and not number:
        errors.add("mou_number", "admin.console.error.mou_number")
    return Mou(number, signed, expires)


async def save_mou(db: Database, slug: str, mou: Mou) -> dict[str, Any]:
    """The MoU's new values; returns the old ones (for the audit row)."""
    async with db.platform_session() as s, s.begin():
        tenant = await _locked_tenant(s, slug)
        if tenant is None:
            raise LookupError(slug)
        before = {
            "mou_number": tenant.mou_number,
            "mou_signed_on": str(tenant.mou_signed_on or ""),
            "mou_expires_on": str(tenant.mou_expires_on or ""),
        }
        tenant.mou_number, tenant.mou_signed_on, tenant.mou_expires_on = (
            mou.number,
            mou.signed_on,
            mou.expires_on,
        )
    return before


# ---- the onboarding wizard: each step's answers --------------------------------------------------


def check_city(form: dict[str, str], errors: Errors) -> dict[str, Any]:
    """Step 1: the city. Returns the answers to keep (also when some are refused)."""
    name = form.get("name", "").strip()
    if not name:
        errors.add("name", "admin.console.error.required")
    elif len(name) > 200:
        errors.add("name", "admin.console.error.too_long", max=200)
    slug = form.get("slug", "").strip().lower()
    try:
        validate_slug(slug)
    except TenantInputError as exc:
        errors.add("slug", "admin.console.error.reason", reason=exc.reason)
    kind = form.get("kind", "kota")
    if kind not in TENANT_KINDS:
        errors.add("kind", "admin.console.error.choice")
    code = form.get("region_code", "").strip()
    digits = 2 if kind == "provinsi" else 4
    if not re.fullmatch(rf"[0-9]{{{digits}}}", code):
        errors.add("region_code", "admin.console.error.region_digits", digits=digits)
    elif (digits == 2 and not is_province(code)) or (digits == 4 and region_name(code) is None):
        errors.add("region_code", "admin.console.error.region_unknown", code=code)
    timezone = form.get("timezone", "Asia/Jakarta")
    if timezone not in zoneinfo.available_timezones():
        errors.add("timezone", "admin.console.error.timezone", value=timezone)
    boundary_raw = form.get("boundary", "").strip()
    boundary: dict[str, Any] | None = None
    if boundary_raw:
        boundary = check_boundary(boundary_raw, errors)
    mou = check_mou(form, errors)
    return {
        "name": name,
        "slug": slug,
        "kind": kind,
        "region_code": code,
        "timezone": timezone,
        "boundary": boundary_raw,
        "boundary_ok": boundary is not None,
        "mou_number": mou.number or "",
        "mou_signed_on": form.get("mou_signed_on", ""),
        "mou_expires_on": form.get("mou_expires_on", ""),
    }


def check_boundary(raw: str, errors: Errors) -> dict[str, Any] | None:
    """A GeoJSON Polygon / MultiPolygon, or a Feature / FeatureCollection of them, valid shapes."""
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    if len(raw) > MAX_BOUNDARY_BYTES:
        errors.add("boundary", "admin.console.error.too_long", max=MAX_BOUNDARY_BYTES)
        return None
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        errors.add("boundary", "admin.console.error.json", line=exc.lineno, column=exc.colno, reason=exc.msg)
        return None
    geometries: list[Any] = []
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind in ("Polygon", "MultiPolygon"):
        geometries = [doc]
    elif kind == "Feature":
        geometries = [doc.get("geometry")]
    elif kind == "FeatureCollection" and isinstance(doc.get("features"), list) and doc["features"]:
        geometries = [f.get("geometry") if isinstance(f, dict) else None for f in doc["features"]]
    else:
        errors.add("boundary", "admin.console.error.geojson_type")
        return None
    for i, geom in enumerate(geometries):
        if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
            errors.add("boundary", "admin.console.error.geojson_type")
            return None
        try:
            shp = shape(geom)
        except Exception as exc:
            errors.add("boundary", "admin.console.error.geojson_shape", n=i + 1, reason=str(exc)[:200])
            return None
        min_x, min_y, max_x, max_y = shp.bounds if not shp.is_empty else (0, 0, 0, 0)
        if shp.is_empty or not (-180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90):
            errors.add("boundary", "admin.console.error.geojson_range", n=i + 1)
            return None
        if not shp.is_valid:
            errors.add("boundary", "admin.console.error.geojson_shape", n=i + 1, reason=explain_validity(shp))
            return None
    return doc


async def slug_taken(db: Database, slug: str, own_task: int | None = None) -> bool:
    """A city has the slug, or another onboarding on its way to making one (drafts do not count:
    the check runs again when a draft is submitted, and once more when it is provisioned)."""
    async with db.platform_session() as s:
        if await s.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
            return True
        q = select(ConsoleTask.id).where(
            ConsoleTask.kind == "onboarding",
            ConsoleTask.status.in_(("queued", "running", "failed")),
            ConsoleTask.data["city"]["slug"].astext == slug,
        )
        if own_task is not None:
            q = q.where(ConsoleTask.id != own_task)
        return await s.scalar(q.limit(1)) is not None


def default_domains(slug: str, base_domain: str) -> str:
    return f"{slug}.{base_domain}"


async def check_domains(db: Database, raw: str, errors: Errors) -> list[str]:
    """Step 2: one host a line, the first is the primary one; none may belong to another city."""
    hosts: list[str] = []
    for line in raw.replace(",", "\n").splitlines():
        if not line.strip():
            continue
        host = check_host(line.strip(), errors, "domains")
        if host is None:
            continue
        if host in hosts:
            errors.add("domains", "admin.console.error.host_twice", host=host)
            continue
        hosts.append(host)
    if not hosts and "domains" not in errors:
        errors.add("domains", "admin.console.error.required")
    if hosts:
        async with db.platform_session() as s:
            taken = (await s.scalars(select(Domain.host).where(Domain.host.in_(hosts)))).all()
        for host in taken:
            errors.add("domains", "admin.console.error.host_taken", host=host)
    return hosts


def check_modules(
    installed: Sequence[str], chosen: Sequence[str], configs: dict[str, str], errors: Errors
) -> dict[str, dict[str, Any]]:
    """Step 3: the modules switched on, each with its configuration (a JSON object)."""
    out: dict[str, dict[str, Any]] = {}
    for name in chosen:
        if name not in installed:
            errors.add("modules", "admin.console.error.module", module=name)
    for name in installed:
        config = parse_config(configs.get(name, ""), errors, f"config_{name}")
        if name in chosen and config is not None:
            out[name] = config
    return out


def check_admin(form: dict[str, str], errors: Errors) -> dict[str, str]:
    """Step 4: the first city admin."""
    name = form.get("admin_name", "").strip()
    if not name:
        errors.add("admin_name", "admin.console.error.required")
    elif len(name) > 200:
        errors.add("admin_name", "admin.console.error.too_long", max=200)
    email = form.get("admin_email", "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors.add("admin_email", "admin.console.error.email")
    nip = re.sub(r"\s", "", form.get("admin_nip", ""))
    if not NIP_RE.match(nip):
        errors.add("admin_nip", "admin.console.error.nip")
    return {"admin_name": name, "admin_email": email, "admin_nip": nip}


def check_login(
    form: dict[str, str], errors: Errors, *, allow_http: bool, stored_secret: str | None = None
) -> dict[str, str]:
    """Step 4, optional: the city's OpenID provider, so the invited admin can log in at once.
    Returns {} when left empty; the client secret is kept encrypted (``secret``: a Vault token)."""
    from kotalive.auth.oidc import OidcConfig, OidcConfigError

    issuer = form.get("oidc_issuer", "").strip()
    client_id = form.get("oidc_client_id", "").strip()
    secret = form.get("oidc_client_secret", "")
    if not (issuer or client_id or secret):
        return {}
    try:
        OidcConfig.from_dict(
            {"issuer": issuer, "client_id": client_id, "client_secret": secret or None}, allow_http=allow_http
        )
    except OidcConfigError as exc:
        name = {"issuer": "oidc_issuer", "client_id": "oidc_client_id"}.get(exc.field, "oidc_issuer")
        errors.add(name, "admin.console.error.reason", reason=exc.message)
        return {}
    return {"issuer": issuer.rstrip("/"), "client_id": client_id, "secret": secret or stored_secret or ""}


# ---- tasks -----------------------------------------------------------------------------------------


async def get_task(db: Database, task_id: int, kind: str) -> ConsoleTask | None:
    async with db.platform_session() as s:
        task = await s.get(ConsoleTask, task_id)
    return task if task is not None and task.kind == kind else None


async def list_tasks(db: Database, kind: str, limit: int = 30) -> list[ConsoleTask]:
    async with db.platform_session() as s:
        return list(
            await s.scalars(
                select(ConsoleTask)
                .where(ConsoleTask.kind == kind)
                .order_by(ConsoleTask.id.desc())
                .limit(limit)
            )
        )


# ---- the platform's own mail server --------------------------------------------------------------


def platform_mail(url: str) -> SmtpConfig | None:
    """``smtp://user:password@host:port/?security=starttls&from=noreply@example.id`` -> its config."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("KOTALIVE_PLATFORM_MAIL_URL: expected smtp://host:port/?from=address")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    security = query.get("security") or ("tls" if parts.scheme == "smtps" else "starttls")
    if security not in ("starttls", "tls", "none"):
        raise ValueError("KOTALIVE_PLATFORM_MAIL_URL: security must be starttls, tls or none")
    sender = query.get("from", "")
    if "@" not in sender:
        raise ValueError("KOTALIVE_PLATFORM_MAIL_URL: from=<address> is required")
    return SmtpConfig(
        host=parts.hostname,
        port=parts.port or (465 if security == "tls" else 587),
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        from_address=sender,
        from_name=query.get("name", "Kota Live"),
        timeout_seconds=float(query.get("timeout", "15")),
    )
