"""SIAK, the population registry of a region (Disdukcapil): "who is NIK x".

Contract (infra/simulators/README.md): ``GET {base_url}/api/v1/penduduk/{nik}`` with ``X-API-Key``
-> 200 {nik, nama, tanggal_lahir, jenis_kelamin, alamat, rt, rw, kelurahan, kecamatan,
kabupaten_kota, provinsi, kode_wilayah, status_hidup}; 404 unknown NIK; 401 bad key.

``Person.region_code`` is where the person lives now (``kode_wilayah``), which is what residency is
decided on: a NIK keeps the region it was issued in when its holder moves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol, Self

import httpx

from kotalive.integrations.http import JsonApiClient, ServiceConfig, field_error

SYSTEM = "SIAK"
NIK_RE = re.compile(r"^\d{16}$")
Sex = Literal["L", "P"]


@dataclass(frozen=True, slots=True, repr=False)  # ServiceConfig.__repr__ hides the key
class SiakConfig(ServiceConfig):
    system = "siak"


@dataclass(frozen=True, slots=True)
class Person:
    """One SIAK record. Wire names in brackets."""

    nik: str
    name: str  # nama
    birth_date: date  # tanggal_lahir
    sex: Sex  # jenis_kelamin: "L" laki-laki (male), "P" perempuan (female)
    address: str  # alamat (street and number)
    rt: str
    rw: str
    kelurahan: str
    kecamatan: str
    city: str  # kabupaten_kota, e.g. "Kota Tangerang"
    province: str  # provinsi
    region_code: str  # kode_wilayah: 4-digit regency/city code of the residence, e.g. "3671"
    alive: bool  # status_hidup == "hidup" (else "meninggal")

    def lives_in(self, region_code: str) -> bool:
        return self.region_code == region_code

    def __repr__(self) -> str:  # personal data: keep it out of logs and tracebacks
        return f"Person(nik='{self.nik[:4]}********{self.nik[-4:]}', region_code={self.region_code!r})"


class PopulationRegistry(Protocol):
    """The port: what registration needs from a population registry."""

    async def lookup(self, nik: str) -> Person: ...


class SiakClient:
    """HTTP adapter for one city's SIAK. ``async with SiakClient(config) as siak: await siak.lookup(nik)``.

    Raises ``NotFound`` (SIAK does not know the NIK), ``Unavailable``, ``Misconfigured``, and
    ``ValueError`` for a NIK that is not 16 digits (it never leaves the platform).
    """

    def __init__(self, config: SiakConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._api = JsonApiClient(SYSTEM, config, transport=transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._api.aclose()

    async def lookup(self, nik: str) -> Person:
        if not isinstance(nik, str) or not NIK_RE.fullmatch(nik):
            raise ValueError("a NIK is 16 digits")
        body = await self._api.get_json(f"api/v1/penduduk/{nik}")
        person = parse_person(body)
        if person.nik != nik:
            raise field_error(SYSTEM, "penduduk", "nik")
        return person


def parse_person(body: Any) -> Person:
    if not isinstance(body, dict):
        raise field_error(SYSTEM, "penduduk", "(body)")

    def text(name: str, *, required: bool = True) -> str:
        value = body.get(name)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise field_error(SYSTEM, "penduduk", name)
        return value.strip()

    try:
        birth_date = date.fromisoformat(text("tanggal_lahir"))
    except ValueError:
        raise field_error(SYSTEM, "penduduk", "tanggal_lahir") from None
    sex = text("jenis_kelamin").upper()
    if sex not in ("L", "P"):
        raise field_error(SYSTEM, "penduduk", "jenis_kelamin")
    region_code = text("kode_wilayah").replace(".", "")
    if not re.fullmatch(r"\d{4}", region_code):
        raise field_error(SYSTEM, "penduduk", "kode_wilayah")
    status = text("status_hidup").lower()
    if status not in ("hidup", "meninggal"):
        raise field_error(SYSTEM, "penduduk", "status_hidup")
    nik = text("nik")
    if not NIK_RE.fullmatch(nik):
        raise field_error(SYSTEM, "penduduk", "nik")
    return Person(
        nik=nik,
        name=text("nama"),
        birth_date=birth_date,
        sex="L" if sex == "L" else "P",
        address=text("alamat", required=False),
        rt=text("rt", required=False),
        rw=text("rw", required=False),
        kelurahan=text("kelurahan"),
        kecamatan=text("kecamatan"),
        city=text("kabupaten_kota"),
        province=text("provinsi"),
        region_code=region_code,
        alive=status == "hidup",
    )
