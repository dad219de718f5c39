"""The demo regions `make run` seeds once."""

from __future__ import annotations

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
    return lines
