"""What the Laksa tests share: a city with boundaries, people who are signed in, photos.

People are real rows of the city (citizens, Simpeg employees with role grants) with real login
sessions in Redis; how they log in (SIAK, OpenID) is tested in tests/auth. Clients talk to the real
app over ASGI with the city's Host and send the CSRF token the way the pages do.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import select

from kotalive.auth.access import roles_and_scope
from kotalive.auth.models import Citizen, Employee, RoleGrant
from kotalive.auth.principal import Principal
from kotalive.auth.sessions import COOKIE_NAME
from kotalive.context import TenantContext, use_tenant
from kotalive.db import Database
from kotalive.modules.laksa import configuration
from kotalive.modules.laksa.demo import demo_boundaries, demo_point
from kotalive.tenants.city_models import Agency

# Points inside the demo boundaries of Kota Tangerang (kecamatan code suffix).
CIPONDOH = demo_point("tangerang", "05", (0.0, 0.0))
CILEDUG = demo_point("tangerang", "06", (0.0, 0.0))
OUTSIDE = (-6.9175, 107.6191)  # Bandung


def jpeg(width: int = 64, height: int = 48, *, gps: bool = False, color: str = "orange") -> bytes:
    """A real JPEG; with ``gps`` it carries EXIF GPS coordinates and a camera serial."""
    image = Image.new("RGB", (width, height), color)
    out = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "KameraWarga"  # Make
        exif[0xA431] = "SERIAL-12345"  # BodySerialNumber
        gps_ifd = {1: "S", 2: (6.0, 11.0, 7.0), 3: "E", 4: (106.0, 41.0, 24.0)}
        exif[0x8825] = gps_ifd
        image.save(out, "JPEG", exif=exif)
    else:
        image.save(out, "JPEG")
    return out.getvalue()


def png(width: int = 32, height: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 120, 200, 128)).save(out, "PNG")
    return out.getvalue()


async def with_boundaries(database: Database, city: TenantContext, demo: str = "tangerang") -> None:
    with use_tenant(city):
        async with database.tenant_session(city) as session:
            await configuration.replace_areas(session, demo_boundaries(demo))
            await session.commit()


async def agency_id(database: Database, city: TenantContext, code: str) -> int:
    async with database.tenant_session(city) as session:
        found = await session.scalar(select(Agency.id).where(Agency.code == code))
    assert found is not None, code
    return int(found)


@dataclass
class Person:
    principal: Principal
    client: httpx.AsyncClient
    csrf: str

    @property
    def id(self) -> int:
        return self.principal.id

    def headers(self, **extra: str) -> dict[str, str]:
        return {"x-csrftoken": self.csrf, "accept": "application/json", **extra}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.headers(), **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers(), **kw.pop("headers", {})}
        return await self.client.post(path, headers=headers, **kw)

    async def put(self, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers(), **kw.pop("headers", {})}
        return await self.client.put(path, headers=headers, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers(), **kw.pop("headers", {})}
        return await self.client.delete(path, headers=headers, **kw)

    async def aclose(self) -> None:
        await self.client.aclose()


async def signed_in(app: Any, client_for: Any, city: TenantContext, principal: Principal) -> Person:
    token = await app.state.auth.sessions.create(principal)
    client = client_for(city.primary_host)
    client.cookies.set(COOKIE_NAME, token)
    csrf = (await client.get("/healthz")).cookies.get("kl_csrf") or (await client.get("/")).cookies.get(
        "kl_csrf"
    )
    return Person(principal, client, csrf or "")


async def citizen(
    app: Any, client_for: Any, database: Database, city: TenantContext, name: str = "Siti Rahmawati"
) -> Person:
    async with database.tenant_session(city) as session:
        row = Citizen(
            nik_hash=uuid.uuid4().hex,
            phone="+62812" + str(uuid.uuid4().int)[:8],
            name=name,
            status="active",
            resident=True,
            kecamatan="Cipondoh",
        )
        session.add(row)
        await session.flush()
        session.add(RoleGrant(subject_kind="citizen", subject_id=row.id, role="citizen", source="default"))
        await session.commit()
        principal = Principal("citizen", row.id, city.id, name, frozenset({"citizen"}))
    return await signed_in(app, client_for, city, principal)


async def employee(
    app: Any,
    client_for: Any,
    database: Database,
    city: TenantContext,
    agency_code: str | None,
    *,
    roles: tuple[str, ...] = ("employee",),
    name: str | None = None,
) -> Person:
    async with database.tenant_session(city) as session:
        agency = (
            await session.scalar(select(Agency).where(Agency.code == agency_code)) if agency_code else None
        )
        row = Employee(
            nip=str(uuid.uuid4().int)[:18],
            name=name or f"Pegawai {agency_code or 'kota'} {uuid.uuid4().hex[:4]}",
            agency_id=agency.id if agency else None,
            active=True,
            simpeg_status="aktif",
        )
        session.add(row)
        await session.flush()
        grants = []
        for role in roles:
            session.add(RoleGrant(subject_kind="employee", subject_id=row.id, role=role, source="admin"))
            grants.append((role, None))
        await session.commit()
        role_set, agencies = roles_and_scope(grants, row.agency_id)
        principal = Principal("employee", row.id, city.id, row.name, role_set, agencies)
    return await signed_in(app, client_for, city, principal)


async def submit(
    person: Person, *, photos: list[tuple[str, bytes]] | None = None, key: str | None = None, **fields: Any
) -> httpx.Response:
    """POST /api/v1/laksa/complaints as a multipart form (photos in ``photos``)."""
    data = {k: str(v) for k, v in fields.items() if v is not None and not isinstance(v, dict)}
    for code, value in (fields.get("attributes") or {}).items():
        data[f"attribute[{code}]"] = str(value)
    files = [("photos", (name, content, "image/jpeg")) for name, content in photos or []]
    headers = {"idempotency-key": key} if key else {}
    return await person.post("/api/v1/laksa/complaints", data=data, files=files or None, headers=headers)
