"""The demo regions `make run` seeds once."""

from __future__ import annotations

from typing import Any

from kotalive.context import use_tenant
from kotalive.tenants.provisioning import NewCity, TenantNotFound, TenantService


def demo_cities(base_domain: str) -> list[NewCity]:
    return [
        NewCity(
            slug="tangerang",
            name="Kota Tangerang",
            region_code="3671",
            timezone="Asia/Jakarta",
            domains=[f"tangerang.{base_domain}"],
            centre_lat=-6.1783,
            centre_lon=106.6319,
            mou_number="DEMO/001/2026",
            wave="canary",
        ),
        NewCity(
            slug="bekasi",
            name="Kota Bekasi",
            region_code="3275",
            timezone="Asia/Jakarta",
            domains=[f"bekasi.{base_domain}"],
            centre_lat=-6.2383,
            centre_lon=106.9756,
            mou_number="DEMO/002/2026",
        ),
    ]


async def seed_demo_cities(service: TenantService) -> list[str]:
    lines = []
    for city in demo_cities(service.db.settings.base_domain):
        try:
            existing = await service.get(city.slug)
            if existing.status == "active":
                lines.append(f"{city.slug}: already there")
                continue
        except TenantNotFound:
            pass
        tenant = await service.provision(city)
        lines.append(f"{city.slug}: {tenant.status}")
    lines += await seed_demo_data(service)
    return lines


async def seed_demo_data(service: TenantService) -> list[str]:
    """Each module's demo data (ModuleSpec.demo) in each demo city that has the module on; idempotent."""
    lines = []
    for city in demo_cities(service.db.settings.base_domain):
        ctx = await service.context(city.slug)
        if not ctx.is_active:
            continue
        for name, hook in service.modules.demo_hooks():
            if not ctx.has_module(name):
                continue
            with use_tenant(ctx):
                session = service.db.tenant_session(ctx)
                try:
                    said = await hook(session, city.slug)  # a hook may commit as it goes
                    await session.commit()
                finally:
                    await session.close()
            lines += [f"{city.slug}: {name}: {line}" for line in said]
    return lines


# ---- the demo's people: simulators wired in, employees synced, roles granted, a platform admin ----

DEMO_ADMIN_EMAIL = "admin@kotalive.localhost"
DEMO_ADMIN_PASSWORD = "kota-live-demo-2026"  # development only: reset at every `make run`
DEMO_ADMIN_TOTP = "KOTALIVEDEMOADMINTOTPSECRET23456"  # base32; add it to an authenticator app once
# Persona role (from the simulators' demo data) -> city role; agency_supervisor is scoped to their agency.
PERSONA_ROLES = {
    "agency_supervisor": "agency_supervisor",
    "liveroom_operator": "liveroom_operator",
    "city_admin": "city_admin",
}
# In port order from the base port; "smtp" is the mail sink (SMTP), the others speak HTTP.
SIMULATOR_KINDS = ("siak", "simpeg", "sms", "oidc", "smtp")


def simulator_urls(base_port: int, host: str = "127.0.0.1") -> dict[str, str]:
    return {
        kind: f"{'smtp' if kind == 'smtp' else 'http'}://{host}:{base_port + i}"
        for i, kind in enumerate(SIMULATOR_KINDS)
    }


def demo_inboxes(urls: dict[str, str], slug: str) -> dict[str, str]:
    """Where a demo city's SMS and e-mails land (both pages are on the SMS simulator's port)."""
    return {"sms": f"{urls['sms']}/{slug}/inbox", "mail": f"{urls['sms']}/{slug}/mail"}


def demo_integrations(demo: Any, urls: dict[str, str]) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """(config, secrets) per integration kind for one demo city of the simulators."""
    from urllib.parse import urlsplit

    slug = demo.slug
    smtp = urlsplit(urls["smtp"])
    return {
        "siak": (
            {"base_url": f"{urls['siak']}/{slug}", "timeout_seconds": 5.0},
            {"api_key": demo.siak_api_key},
        ),
        "simpeg": (
            {"base_url": f"{urls['simpeg']}/{slug}", "timeout_seconds": 10.0},
            {"api_key": demo.simpeg_api_key},
        ),
        "sms": ({"base_url": f"{urls['sms']}/{slug}", "timeout_seconds": 5.0}, {"api_key": demo.sms_api_key}),
        "oidc": (
            {
                "issuer": f"{urls['oidc']}/{slug}",
                "client_id": demo.oidc_client_id,
                "scopes": ["openid", "profile", "email"],
                "api_audience": demo.api_audience,
            },
            {"client_secret": demo.oidc_client_secret},
        ),
        # The mail sink on loopback: plain SMTP (no TLS), the city's login names its mailbox.
        "smtp": (
            {
                "host": smtp.hostname,
                "port": smtp.port,
                "security": "none",
                "username": demo.smtp_username,
                "from_address": demo.mail_from,
                "from_name": demo.mail_from_name,
                "timeout_seconds": 5.0,
            },
            {"password": demo.smtp_password},
        ),
    }


async def wire_demo_identity(settings: Any, *, base_port: int, web_port: int) -> list[str]:
    """Point the demo cities at the running simulators, sync their staff, grant the demo personas
    their roles and (re)set the demo platform admin. Idempotent; returns the banner's login lines."""
    from sqlalchemy import select

    from kotalive.auth.access import grant_role
    from kotalive.auth.crypto import Vault
    from kotalive.auth.employees import sync_city
    from kotalive.auth.models import Employee
    from kotalive.auth.platform_staff import create_staff, totp_uri
    from kotalive.db import Database, use_database
    from kotalive.integrations.simulators import load
    from kotalive.registry import load as load_modules
    from kotalive.tenants.directory import TenantDirectory
    from kotalive.tenants.integrations import set_integration

    sims = load()
    urls = simulator_urls(base_port)
    load_modules(settings.modules).import_models()
    db = Database(settings)
    vault = Vault.from_settings(settings)
    lines: list[str] = []
    try:
        with use_database(db):
            directory = TenantDirectory(db)
            for slug, demo in sims.demo_cities().items():
                city = await directory.by_slug(slug)
                if city is None or not city.is_active:
                    continue
                async with db.tenant_session(city) as session:
                    for kind, (config, secrets) in demo_integrations(demo, urls).items():
                        await set_integration(session, vault, kind, config=config, secrets=secrets)
                    await session.commit()
                report = await sync_city(settings, city)
                synced = report.summary() if report else {}
                origin = f"http://{city.primary_host}:{web_port}"
                personas = {p.role: p for p in sims.personas(demo)}
                async with db.tenant_session(city) as session:
                    for persona_role, role in PERSONA_ROLES.items():
                        persona = personas.get(persona_role)
                        employee = persona and await session.scalar(
                            select(Employee).where(Employee.nip == persona.nip)
                        )
                        if employee is None:
                            continue
                        agency = employee.agency_id if role == "agency_supervisor" else None
                        await grant_role(
                            session,
                            None,
                            subject_kind="employee",
                            subject_id=employee.id,
                            role=role,
                            agency_id=agency,
                            source="demo",
                            granted_by="make run",
                        )
                    await session.commit()
                lines.append(f"{city.name} ({synced.get('seen', 0)} staff synced from the Simpeg simulator):")
                inboxes = demo_inboxes(urls, slug)
                citizen = personas.get("citizen")
                if citizen is not None:
                    lines.append(
                        f"  citizen         {origin}/daftar  register with NIK {citizen.nik}, phone {citizen.phone} "
                        f"({citizen.name}); SMS codes at {inboxes['sms']}"
                    )
                lines.append(
                    f"  mail inbox      {inboxes['mail']}  (e-mails to the staff, from {demo.mail_from})"
                )
                for persona_role, label in (
                    ("employee", "employee"),
                    ("agency_supervisor", "supervisor"),
                    ("liveroom_operator", "operator"),
                    ("city_admin", "city admin"),
                ):
                    p = personas.get(persona_role)
                    if p is not None:
                        lines.append(
                            f"  {label:<15} {origin}/staff/login?login_hint={p.username}  ({p.name})"
                        )
        async with db.platform_session() as session:
            await create_staff(
                session,
                settings,
                email=DEMO_ADMIN_EMAIL,
                name="Demo Platform Admin",
                roles=["platform_admin"],
                password=DEMO_ADMIN_PASSWORD,
                totp_secret=DEMO_ADMIN_TOTP,
                replace=True,
            )
            await session.commit()
        lines.append("Platform console:")
        lines.append(
            f"  platform admin  http://{settings.platform_host}:{web_port}/login  "
            f"{DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}"
        )
        lines.append(
            f"                  TOTP secret {DEMO_ADMIN_TOTP}  ({totp_uri(DEMO_ADMIN_EMAIL, DEMO_ADMIN_TOTP)})"
        )
        lines.append(
            "                  a code now: .venv/bin/python -P -c "
            f"\"import pyotp; print(pyotp.TOTP('{DEMO_ADMIN_TOTP}').now())\""
        )
    finally:
        await db.dispose()
    return lines
