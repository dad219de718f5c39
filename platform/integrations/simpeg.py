"""Simpeg, the staff registry of a city: who works for the city, in which unit, still or no longer.

Contract (infra/simulators/README.md), with ``X-API-Key``:

- ``GET {base_url}/api/v1/pegawai?page=N&per_page=M[&updated_since=ISO]`` -> 200
  {data: [pegawai...], page, per_page, total, total_pages}, ordered by NIP;
- ``GET {base_url}/api/v1/pegawai/{nip}`` -> 200 pegawai; 404 unknown NIP.

pegawai = {nip, nama, unit_kerja {kode, nama}, jabatan, email, telepon, status, updated_at}; status
is "aktif", "pensiun" (retired), "mutasi" (moved to another government) or "berhenti" (left).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, Self

import httpx

from kotalive.integrations.http import JsonApiClient, ServiceConfig, field_error

SYSTEM = "Simpeg"
NIP_RE = re.compile(r"^\d{18}$")
StaffStatus = Literal["aktif", "pensiun", "mutasi", "berhenti"]
STAFF_STATUSES: tuple[StaffStatus, ...] = ("aktif", "pensiun", "mutasi", "berhenti")
MAX_PER_PAGE = 100
# A sync that pages further than this is talking to a broken server (Simpeg of a big province:
# ~100k staff = 1,000 pages of 100).
MAX_PAGES = 10_000


@dataclass(frozen=True, slots=True, repr=False)  # ServiceConfig.__repr__ hides the key
class SimpegConfig(ServiceConfig):
    system = "simpeg"


@dataclass(frozen=True, slots=True)
class StaffRecord:
    """One Simpeg employee. Wire names in brackets."""

    nip: str  # 18 digits
    name: str  # nama
    unit_code: str  # unit_kerja.kode, e.g. "pupr": matches the agency codes of the city's catalogue
    unit_name: str  # unit_kerja.nama
    position: str  # jabatan
    email: str  # may be empty
    phone: str  # telepon, E.164 or empty
    status: StaffStatus
    updated_at: datetime  # timezone-aware

    @property
    def active(self) -> bool:
        return self.status == "aktif"


class StaffRegistry(Protocol):
    """The port: what the employee sync and the login check need from a staff registry."""

    def iter_employees(self, *, updated_since: datetime | None = None) -> AsyncIterator[StaffRecord]: ...

    async def get(self, nip: str) -> StaffRecord: ...


class SimpegClient:
    """HTTP adapter for one city's Simpeg.

    ``iter_employees()`` pages through the whole register (every status: leavers are how a sync
    learns to revoke access); ``get(nip)`` raises ``NotFound`` for an unknown NIP.
    """

    def __init__(
        self,
        config: SimpegConfig,
        *,
        per_page: int = MAX_PER_PAGE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be 1..{MAX_PER_PAGE}")
        self.config = config
        self.per_page = per_page
        self._api = JsonApiClient(SYSTEM, config, transport=transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._api.aclose()

    async def iter_employees(self, *, updated_since: datetime | None = None) -> AsyncIterator[StaffRecord]:
        """Every employee, page by page; a failure mid-way raises (a sync must not treat a partial list
        as the whole register)."""
        if updated_since is not None and updated_since.tzinfo is None:
            raise ValueError("updated_since needs a time zone")
        page = 1
        while True:
            params: dict[str, Any] = {"page": page, "per_page": self.per_page}
            if updated_since is not None:
                params["updated_since"] = updated_since.isoformat()
            body = await self._api.get_json("api/v1/pegawai", params=params)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise field_error(SYSTEM, "page", "data")
            for item in body["data"]:
                yield parse_staff(item)
            total_pages = body.get("total_pages")
            if not isinstance(total_pages, int) or isinstance(total_pages, bool) or total_pages < 0:
                raise field_error(SYSTEM, "page", "total_pages")
            if page >= total_pages or not body["data"]:
                return
            page += 1
            if page > MAX_PAGES:
                raise field_error(SYSTEM, "page", "total_pages")

    async def get(self, nip: str) -> StaffRecord:
        if not isinstance(nip, str) or not NIP_RE.fullmatch(nip):
            raise ValueError("a NIP is 18 digits")
        record = parse_staff(await self._api.get_json(f"api/v1/pegawai/{nip}"))
        if record.nip != nip:
            raise field_error(SYSTEM, "pegawai", "nip")
        return record


def parse_staff(body: Any) -> StaffRecord:
    if not isinstance(body, dict):
        raise field_error(SYSTEM, "pegawai", "(body)")

    def text(source: dict[str, Any], name: str, *, required: bool = True, label: str | None = None) -> str:
        value = source.get(name)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise field_error(SYSTEM, "pegawai", label or name)
        return value.strip()

    nip = text(body, "nip")
    if not NIP_RE.fullmatch(nip):
        raise field_error(SYSTEM, "pegawai", "nip")
    unit = body.get("unit_kerja")
    if not isinstance(unit, dict):
        raise field_error(SYSTEM, "pegawai", "unit_kerja")
    status = text(body, "status").lower()
    if status not in STAFF_STATUSES:
        raise field_error(SYSTEM, "pegawai", "status")
    try:
        updated_at = datetime.fromisoformat(text(body, "updated_at"))
    except ValueError:
        raise field_error(SYSTEM, "pegawai", "updated_at") from None
    if updated_at.tzinfo is None:
        raise field_error(SYSTEM, "pegawai", "updated_at")
    return StaffRecord(
        nip=nip,
        name=text(body, "nama"),
        unit_code=text(unit, "kode", label="unit_kerja.kode").lower(),
        unit_name=text(unit, "nama", label="unit_kerja.nama"),
        position=text(body, "jabatan", required=False),
        email=text(body, "email", required=False),
        phone=text(body, "telepon", required=False),
        status=_status(status),
        updated_at=updated_at,
    )


def _status(value: str) -> StaffStatus:
    for status in STAFF_STATUSES:
        if status == value:
            return status
    raise field_error(SYSTEM, "pegawai", "status")
