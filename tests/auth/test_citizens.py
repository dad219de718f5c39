"""Citizens end to end: real PostgreSQL and Redis, the real app, and the SIAK and SMS simulators
over real HTTP. Registration, phone verification, login, profile, reset, deletion, per-city policy.

The attacks (brute force, CSRF, open redirect, another city's cookie, HTML/SQL in SIAK data,
unmasking) are in test_citizens_attacks.py; both use the fixtures below (named ``*_fixture`` so that
importing them there does not shadow the parameters that request them).
"""

from __future__ import annotations

import re
import socket
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kotalive.auth.crypto import Vault
from kotalive.auth.models import AuditEntry, Citizen
from kotalive.auth.sessions import COOKIE_NAME
from kotalive.tenants.integrations import set_integration

SIMULATORS = Path(__file__).resolve().parents[2] / "infra" / "simulators"
if str(SIMULATORS) not in sys.path:
    sys.path.append(str(SIMULATORS))

from kotalive_simulators import DemoCity, SimulatorHandle, start_simulators  # noqa: E402
from kotalive_simulators.data import BEKASI, TANGERANG, Resident, make_nik  # noqa: E402

SIM_CITY = "warga-uji"  # the simulators' city every test city of this file connects to
PASSWORD = "kopi-susu-pagi-2026"


def _person(
    nama: str,
    sex: str,
    born: str,
    kecamatan_code: str,
    serial: int,
    *,
    region: Any = TANGERANG,
    alamat: str = "Jl. Benteng Betawi No. 12",
    kecamatan: str = "Cipondoh",
    kelurahan: str = "Poris Plawad",
    status: str = "hidup",
) -> Resident:
    birth = date.fromisoformat(born)
    return Resident(
        nik=make_nik(kecamatan_code, birth, sex, serial),  # type: ignore[arg-type]
        nama=nama,
        tanggal_lahir=birth,
        jenis_kelamin=sex,  # type: ignore[arg-type]
        alamat=alamat,
        rt="003",
        rw="005",
        kelurahan=kelurahan,
        kecamatan=kecamatan,
        region=region,
        status_hidup=status,
    )


# Who SIAK knows. NIKs are built by the rules; region codes and kecamatan are Kemendagri's.
SITI = _person("Siti Rahmawati", "P", "1990-07-05", "367105", 1)
BUDI = _person(
    "Budi Santoso", "L", "1985-03-12", "367106", 2, kecamatan="Ciledug", kelurahan="Sudimara Barat"
)
COMMUTER = _person(  # NIK and home in Kota Bekasi: a non-resident of Kota Tangerang
    "Eko Prasetyo",
    "L",
    "1984-10-22",
    "327502",
    3,
    region=BEKASI,
    kecamatan="Bekasi Barat",
    kelurahan="Kranji",
)
MOVED_IN = _person("Rizky Ramadhan", "L", "1994-03-03", "327301", 4)  # NIK from Bandung, lives here
DECEASED = _person("Suparman", "L", "1940-05-05", "367101", 5, status="meninggal")
MISCHIEF = _person(
    '<script>alert("nik")</script> Dewi',
    "P",
    "1993-11-21",
    "367107",
    6,
    alamat="Jl. Mawar'); DROP TABLE citizen; -- <img src=x onerror=alert(1)>",
    kelurahan="Cimone & <b>Sons</b>",
)
UNKNOWN_NIK = make_nik("367105", date(1991, 1, 1), "L", 9999)  # valid by the rules, unknown to SIAK

RESIDENTS = [SITI, BUDI, COMMUTER, MOVED_IN, DECEASED, MISCHIEF]


@pytest.fixture(scope="session", name="citizen_sims")
def citizen_sims_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    city = DemoCity(
        slug=SIM_CITY, region=TANGERANG, email_domain="uji.test", residents=RESIDENTS, employees=[]
    )
    handle = start_simulators(tmp_path_factory.mktemp("citizen-sims"), cities={SIM_CITY: city}, issuers={})
    yield handle
    handle.stop()


@pytest.fixture(name="sims")
def sims_fixture(citizen_sims: SimulatorHandle) -> Iterator[SimulatorHandle]:
    yield citizen_sims
    for kind in ("siak", "sms"):
        citizen_sims.faults(kind, SIM_CITY).reset()  # type: ignore[arg-type]


def closed_port_url() -> str:
    """A loopback URL nothing listens on: a SIAK that is switched off."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{SIM_CITY}"


async def connect(
    database, settings, city, sims: SimulatorHandle, *, siak: dict | None = None, sms: bool = True
):
    """Wire a city to the simulators the way a city admin does (API keys stored encrypted)."""
    vault = Vault.from_settings(settings)
    conf = sims.city_settings(SIM_CITY)
    siak_conf = {**conf["siak"], **(siak or {})}
    async with database.tenant_session(city) as s, s.begin():
        await set_integration(
            s,
            vault,
            "siak",
            config={k: v for k, v in siak_conf.items() if k != "api_key"},
            secrets={"api_key": siak_conf["api_key"]},
        )
        if sms:
            await set_integration(
                s,
                vault,
                "sms",
                config={k: v for k, v in conf["sms"].items() if k != "api_key"},
                secrets={"api_key": conf["sms"]["api_key"]},
            )


@pytest.fixture(name="city")
async def city_fixture(make_city, database, settings, sims):
    c = await make_city("warga", region_code="3671", name="Kota Tangerang")
    await connect(database, settings, c, sims)
    return c


def new_phone() -> str:
    return "+62812" + str(uuid.uuid4().int)[:8]


def local(phone: str) -> str:
    """+6281234567890 -> 0812-3456-7890, the way people type it."""
    rest = "0" + phone[3:]
    return f"{rest[:4]}-{rest[4:8]}-{rest[8:]}"


async def csrf(c: httpx.AsyncClient) -> str:
    await c.get("/masuk")
    token = c.cookies.get("kl_csrf")
    assert token
    return token


async def api(c: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    return await c.post(path, json=body, headers={"x-csrftoken": await csrf(c)})


async def form(c: httpx.AsyncClient, path: str, fields: dict[str, str]) -> httpx.Response:
    return await c.post(path, data={**fields, "_csrf_token": await csrf(c)})


async def sms_code(sims: SimulatorHandle, phone: str, *, nth_last: int = 1) -> str:
    """The code in the newest SMS to ``phone``, read from the SMS simulator's inbox over HTTP."""
    async with httpx.AsyncClient() as http:
        r = await http.get(
            f"{sims.root('sms')}/{SIM_CITY}/api/v1/messages",
            params={"to": phone},
            headers={"X-API-Key": sims.cities[SIM_CITY].sms_api_key},
        )
    r.raise_for_status()
    messages = r.json()["data"]
    assert len(messages) >= nth_last, f"no SMS to {phone}"
    match = re.search(r"\b(\d{6})\b", messages[-nth_last]["text"])
    assert match, messages[-nth_last]["text"]
    return match.group(1)


def sms_count(sims: SimulatorHandle, phone: str) -> int:
    return len(sims.sms_messages(SIM_CITY, phone))


async def register(c, person: Resident, phone: str, password: str = PASSWORD) -> httpx.Response:
    return await api(
        c,
        "/api/v1/citizens/register",
        {"nik": person.nik, "phone": phone, "password": password, "password_confirmation": password},
    )


async def registered_and_verified(c, sims, person: Resident, phone: str | None = None) -> str:
    phone = phone or new_phone()
    r = await register(c, person, phone)
    assert r.status_code == 201, r.text
    r = await api(c, "/api/v1/citizens/verify", {"phone": phone, "code": await sms_code(sims, phone)})
    assert r.status_code == 200, r.text
    return phone


async def logged_in(c, sims, person: Resident) -> str:
    phone = await registered_and_verified(c, sims, person)
    r = await api(c, "/api/v1/citizens/login", {"identifier": person.nik, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return phone


async def citizens_of(database, city) -> list[Citizen]:
    async with database.tenant_session(city) as s:
        return list(await s.scalars(select(Citizen).order_by(Citizen.id)))


async def audit_count(database, city, action: str) -> int:
    async with database.tenant_session(city) as s:
        return int(
            await s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))
        )


# ---- the "Done when", through the pages --------------------------------------------------------


async def test_a_citizen_registers_verifies_logs_in_and_sees_a_masked_nik(
    city, sims, client_for, database, settings
) -> None:
    phone = new_phone()
    async with client_for(city.primary_host) as c:
        page = await c.get("/daftar")
        assert page.status_code == 200 and 'name="_csrf_token"' in page.text
        r = await form(
            c,
            "/daftar",
            {"nik": SITI.nik, "phone": local(phone), "password": PASSWORD, "password_confirmation": PASSWORD},
        )
        assert r.status_code == 201, r.text
        assert "Verifikasi nomor HP" in r.text and "kode verifikasi telah dikirim" in r.text.lower()

        code = await sms_code(sims, phone)
        r = await form(c, "/verifikasi", {"phone": local(phone), "code": code})
        assert r.status_code == 303 and r.headers["location"] == "/masuk?pesan=terverifikasi"
        assert "terverifikasi" in (await c.get(r.headers["location"])).text

        r = await form(c, "/masuk", {"identifier": SITI.nik, "password": PASSWORD, "next": "/profil"})
        assert r.status_code == 303 and r.headers["location"] == "/profil"
        cookie = r.headers["set-cookie"]
        assert f"{COOKIE_NAME}=" in cookie and "HttpOnly" in cookie and "Secure" in cookie
        assert "samesite=lax" in cookie.lower()

        profile = await c.get("/profil")
        assert profile.status_code == 200
        masked = SITI.nik[:4] + "••••••••" + SITI.nik[-4:]
        assert masked in profile.text and SITI.nik not in profile.text
        assert "Siti Rahmawati" in profile.text and "Cipondoh" in profile.text
        assert "Warga Kota Tangerang" in profile.text

        me = (await c.get("/api/v1/citizens/me")).json()
        assert me["nik"] == masked and me["resident"] is True and me["status"] == "active"
        assert me["birth_date"] == "1990-07-05" and me["sex"] == "P" and me["phone"] == phone

    [row] = await citizens_of(database, city)
    assert row.status == "active" and row.phone_verified_at is not None and row.resident
    assert row.region_code == "3671" and row.name == "Siti Rahmawati"
    assert SITI.nik.encode() not in bytes(row.nik_encrypted) and row.nik_hash != SITI.nik
    assert Vault.from_settings(settings).decrypt(row.nik_encrypted) == SITI.nik
    assert await audit_count(database, city, "citizen.registered") == 1
    assert await audit_count(database, city, "login.succeeded") == 1


async def test_the_json_api_does_the_same_and_logs_in_by_phone(city, sims, client_for) -> None:
    phone = new_phone()
    async with client_for(city.primary_host) as c:
        r = await register(c, BUDI, local(phone))
        assert r.status_code == 201
        body = r.json()
        assert body["status"] == "pending" and body["code_sent"] and body["resident"]
        assert body["phone"].startswith("+62812") and body["phone"] != phone  # masked
        assert "nik" not in body and "name" not in body  # nothing of SIAK's answer before verification

        r = await api(c, "/api/v1/citizens/login", {"identifier": phone, "password": PASSWORD})
        assert r.status_code == 403 and r.json()["error"] == "phone_not_verified"

        r = await api(c, "/api/v1/citizens/verify", {"phone": phone, "code": await sms_code(sims, phone)})
        assert r.status_code == 200 and r.json()["status"] == "active"

        r = await api(c, "/api/v1/citizens/login", {"identifier": local(phone), "password": PASSWORD})
        assert r.status_code == 200 and r.json()["citizen"]["roles"] == ["citizen"]
        me = await c.get("/api/v1/me")
        assert me.json()["kind"] == "citizen" and me.json()["name"] == "Budi Santoso"
        assert (await c.get("/api/v1/citizens/me")).headers["cache-control"] == "no-store"

        r = await c.post("/keluar", headers={"x-csrftoken": c.cookies.get("kl_csrf")})
        assert r.status_code == 303 and r.headers["location"] == "/masuk?pesan=keluar"
        assert (await c.get("/api/v1/citizens/me")).status_code == 401


async def test_a_new_login_replaces_the_old_session(city, sims, client_for) -> None:
    async with client_for(city.primary_host) as c:
        await logged_in(c, sims, SITI)
        first = c.cookies.get(COOKIE_NAME)
        r = await api(c, "/api/v1/citizens/login", {"identifier": SITI.nik, "password": PASSWORD})
        assert r.status_code == 200
        second = c.cookies.get(COOKIE_NAME)
        assert first and second and first != second
    async with client_for(city.primary_host) as other:
        other.cookies.set(COOKIE_NAME, first)
        assert (await other.get("/api/v1/citizens/me")).status_code == 401
        other.cookies.set(COOKIE_NAME, second)
        assert (await other.get("/api/v1/citizens/me")).status_code == 200


# ---- residency and the per-city setting -----------------------------------------------------------------


async def test_someone_living_elsewhere_registers_as_a_flagged_non_resident(city, sims, client_for) -> None:
    async with client_for(city.primary_host) as c:
        r = await register(c, COMMUTER, new_phone())
        assert r.status_code == 201 and r.json()["resident"] is False
        page = await form(
            c,
            "/daftar",
            {
                "nik": MOVED_IN.nik,
                "phone": new_phone(),
                "password": PASSWORD,
                "password_confirmation": PASSWORD,
            },
        )
        assert page.status_code == 201  # NIK issued in Bandung, but SIAK says lives here
        assert "non-warga" not in page.text
    rows = {r.name: r for r in await citizens_of_city(city)}
    assert rows["Eko Prasetyo"].resident is False and rows["Eko Prasetyo"].region_code == "3275"
    assert rows["Rizky Ramadhan"].resident is True


async def citizens_of_city(city):
    from kotalive.db import tenant_session

    async with tenant_session(city) as s:
        return list(await s.scalars(select(Citizen)))


async def test_a_city_that_refuses_non_residents(make_city, database, settings, sims, client_for) -> None:
    city = await make_city("tolak", region_code="3671")
    await connect(database, settings, city, sims, siak={"refuse_non_residents": True})
    async with client_for(city.primary_host) as c:
        r = await register(c, COMMUTER, new_phone())
        assert r.status_code == 422
        [error] = r.json()["errors"]
        assert error["field"] == "nik" and error["code"] == "nik.non_resident_refused"
        assert "domisili" in error["reason"]
        assert (await register(c, SITI, new_phone())).status_code == 201
    assert [c.name for c in await citizens_of(database, city)] == ["Siti Rahmawati"]


async def test_a_province_tenant_counts_everyone_in_the_province_as_resident(
    make_city, database, settings, sims, client_for
) -> None:
    banten = await make_city("banten", kind="provinsi", region_code="36", name="Provinsi Banten")
    await connect(database, settings, banten, sims)
    async with client_for(banten.primary_host) as c:
        assert (await register(c, SITI, new_phone())).json()["resident"] is True  # Kota Tangerang
        assert (await register(c, COMMUTER, new_phone())).json()["resident"] is False  # Kota Bekasi


# ---- what SIAK says, and when it says nothing -------------------------------------------------------------


async def test_a_nik_siak_does_not_know_or_of_a_deceased_person(city, sims, client_for, database) -> None:
    async with client_for(city.primary_host) as c:
        r = await api(
            c,
            "/api/v1/citizens/register",
            {
                "nik": UNKNOWN_NIK,
                "phone": new_phone(),
                "password": PASSWORD,
                "password_confirmation": PASSWORD,
            },
        )
        assert r.status_code == 422
        assert r.json()["errors"] == [
            {
                "field": "nik",
                "code": "nik.unknown_to_siak",
                "reason": "NIK ini tidak ditemukan di data kependudukan (SIAK). Periksa kembali, atau hubungi Disdukcapil.",
            }
        ]
        r = await register(c, DECEASED, new_phone())
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "nik.not_registrable"
        page = await form(
            c,
            "/daftar",
            {
                "nik": UNKNOWN_NIK,
                "phone": new_phone(),
                "password": PASSWORD,
                "password_confirmation": PASSWORD,
            },
        )
        assert page.status_code == 422 and 'id="nik-error"' in page.text and "tidak ditemukan" in page.text
        assert f'value="{UNKNOWN_NIK}"' in page.text  # what they typed stays, the password does not
        assert PASSWORD not in page.text
    assert await citizens_of(database, city) == []


async def test_siak_switched_off_means_try_later_and_nothing_stored(
    make_city, database, settings, sims, client_for
) -> None:
    city = await make_city("siakmati", region_code="3671")
    await connect(database, settings, city, sims, siak={"base_url": closed_port_url(), "timeout_seconds": 2})
    phone = new_phone()
    async with client_for(city.primary_host) as c:
        r = await register(c, SITI, phone)
        assert r.status_code == 503 and r.json()["error"] == "siak_unavailable"
        assert r.headers["retry-after"] and "coba lagi nanti" in r.json()["detail"]
        page = await form(
            c,
            "/daftar",
            {"nik": SITI.nik, "phone": phone, "password": PASSWORD, "password_confirmation": PASSWORD},
        )
        assert page.status_code == 503 and "coba lagi nanti" in page.text and 'role="alert"' in page.text
    assert await citizens_of(database, city) == []
    assert await audit_count(database, city, "citizen.registered") == 0
    assert sms_count(sims, phone) == 0


async def test_siak_failing_with_errors_means_try_later_and_nothing_stored(
    city, sims, client_for, database
) -> None:
    sims.faults("siak", SIM_CITY).fail_count = 2  # the adapter retries a GET once
    async with client_for(city.primary_host) as c:
        r = await register(c, SITI, new_phone())
        assert r.status_code == 503
        assert await citizens_of(database, city) == []
        assert (await register(c, SITI, new_phone())).status_code == 201  # SIAK is back


async def test_a_city_without_siak_says_so(make_city, client_for) -> None:
    bare = await make_city("tanpasiak", region_code="3671")
    async with client_for(bare.primary_host) as c:
        r = await register(c, SITI, new_phone())
        assert r.status_code == 503 and r.json()["error"] == "siak_not_configured"


async def test_sms_gateway_down_leaves_the_account_pending_until_a_resend(
    city, sims, client_for, database
) -> None:
    phone = new_phone()
    sims.faults("sms", SIM_CITY).fail_count = 1
    async with client_for(city.primary_host) as c:
        r = await register(c, SITI, phone)
        assert r.status_code == 201 and r.json()["code_sent"] is False
        assert "SMS tidak dapat dikirim" in r.json()["detail"]
        assert [c.status for c in await citizens_of(database, city)] == ["pending"]
        assert sms_count(sims, phone) == 0

        sims.faults("sms", SIM_CITY).fail_count = 1
        r = await api(c, "/api/v1/citizens/verify/resend", {"phone": phone})
        assert r.status_code == 503 and r.json()["error"] == "sms_unavailable"

        r = await api(c, "/api/v1/citizens/verify/resend", {"phone": phone})
        assert r.status_code == 202
        r = await api(c, "/api/v1/citizens/verify", {"phone": phone, "code": await sms_code(sims, phone)})
        assert r.status_code == 200
    assert [c.status for c in await citizens_of(database, city)] == ["active"]


# ---- the NIK's own rules, through the API --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nik", "code"),
    [
        ("3699014507900001", "nik.regency_unknown"),  # no regency 99 in Banten
        ("9971014507900001", "nik.province_unknown"),
        ("FUTURE", "nik.birth_date_future"),  # 31 December of this year
        ("3671013002900001", "nik.birth_date_not_a_date"),  # 30 February
        ("3671013507900001", "nik.birth_day_invalid"),  # 35: not a man's day, not a woman's (41-71)
        ("3671010507900000", "nik.serial_zero"),
        ("36710145079", "nik.not_16_digits"),
    ],
)
async def test_nik_rules_are_checked_before_siak_is_asked(city, sims, client_for, nik, code) -> None:
    if nik == "FUTURE":
        today = date.today()
        if (today.month, today.day) == (12, 31):
            pytest.skip("no later day this year")
        nik = f"3671013112{today.year % 100:02d}0001"
    async with client_for(city.primary_host) as c:
        r = await api(
            c,
            "/api/v1/citizens/register",
            {"nik": nik, "phone": new_phone(), "password": PASSWORD, "password_confirmation": PASSWORD},
        )
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("nik", code)]
    assert errors[0]["reason"]


async def test_a_woman_s_nik_carries_day_plus_40(city, sims, client_for) -> None:
    assert SITI.nik[6:8] == "45"  # born on the 5th
    async with client_for(city.primary_host) as c:
        man_digits = SITI.nik[:6] + "05" + SITI.nik[8:]
        r = await api(
            c,
            "/api/v1/citizens/register",
            {
                "nik": man_digits,
                "phone": new_phone(),
                "password": PASSWORD,
                "password_confirmation": PASSWORD,
            },
        )
        assert r.json()["errors"][0]["code"] == "nik.unknown_to_siak"  # valid form, not SIAK's Siti
        assert (await register(c, SITI, new_phone())).status_code == 201


async def test_every_bad_field_is_named_at_once_and_in_english_on_request(city, sims, client_for) -> None:
    async with client_for(city.primary_host) as c:
        r = await c.post(
            "/api/v1/citizens/register",
            json={
                "nik": "3600004507900001",
                "phone": "12345",
                "password": "short",
                "password_confirmation": "x",
            },
            headers={"x-csrftoken": await csrf(c), "accept-language": "en"},
        )
        assert r.status_code == 422
        fields = [(e["field"], e["code"]) for e in r.json()["errors"]]
        assert fields == [
            ("nik", "nik.regency_unknown"),
            ("nik", "nik.district_zero"),
            ("phone", "phone.invalid"),
            ("password", "password.too_short"),
        ]
        assert (
            r.json()["errors"][0]["reason"]
            == "The first four digits of the NIK (3600) are not a regency or city code."
        )

        r = await c.post(
            "/api/v1/citizens/register",
            json={"nik": 3671014507900001, "phone": "081234567890"},
            headers={"x-csrftoken": await csrf(c)},
        )
        assert r.status_code == 400
        assert {e["field"] for e in r.json()["errors"]} >= {"nik"}
        assert all(e["reason"] for e in r.json()["errors"])

        r = await c.post(
            "/api/v1/citizens/register",
            json={**_reg(SITI, new_phone()), "password_confirmation": PASSWORD + "!"},
            headers={"x-csrftoken": await csrf(c)},
        )
        assert [e["field"] for e in r.json()["errors"]] == ["password_confirmation"]
        r = await c.post(
            "/api/v1/citizens/register",
            json={
                **_reg(SITI, new_phone()),
                "password": SITI.nik + "x",
                "password_confirmation": SITI.nik + "x",
            },
            headers={"x-csrftoken": await csrf(c)},
        )
        assert [e["code"] for e in r.json()["errors"]] == ["password.personal"]


def _reg(person: Resident, phone: str) -> dict[str, str]:
    return {"nik": person.nik, "phone": phone, "password": PASSWORD, "password_confirmation": PASSWORD}


# ---- duplicates ----------------------------------------------------------------------------------------------


async def test_a_nik_or_phone_registers_once(city, sims, client_for, database) -> None:
    async with client_for(city.primary_host) as c:
        phone = await registered_and_verified(c, sims, SITI)
        r = await register(c, SITI, new_phone())
        assert r.status_code == 422 and [e["code"] for e in r.json()["errors"]] == ["nik.taken"]
        r = await register(c, BUDI, phone)
        assert r.status_code == 422 and [e["code"] for e in r.json()["errors"]] == ["phone.taken"]
        assert "Siti" not in r.text  # says the number is used, not by whom
    assert len(await citizens_of(database, city)) == 1


async def test_an_unverified_registration_does_not_squat_the_nik(city, sims, client_for, database) -> None:
    squatter, owner = new_phone(), new_phone()
    async with client_for(city.primary_host) as c:
        assert (await register(c, SITI, squatter)).status_code == 201  # never verified
        old_code = await sms_code(sims, squatter)
        assert (await register(c, SITI, owner)).status_code == 201
        r = await api(c, "/api/v1/citizens/verify", {"phone": squatter, "code": old_code})
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "code.expired"
        r = await api(c, "/api/v1/citizens/verify", {"phone": owner, "code": await sms_code(sims, owner)})
        assert r.status_code == 200
    [row] = await citizens_of(database, city)
    assert row.phone == owner and row.status == "active"


# ---- password reset -----------------------------------------------------------------------------------------


async def test_password_reset_by_sms_code_without_revealing_accounts(
    city, sims, client_for, database
) -> None:
    async with client_for(city.primary_host) as c:
        phone = await logged_in(c, sims, BUDI)
        old_session = c.cookies.get(COOKIE_NAME)
        sent_before = sms_count(sims, phone)

        known = await api(c, "/api/v1/citizens/password-reset", {"identifier": BUDI.nik})
        stranger = new_phone()
        unknown = await api(c, "/api/v1/citizens/password-reset", {"identifier": stranger})
        assert known.status_code == unknown.status_code == 202
        assert known.json() == unknown.json()
        assert sms_count(sims, phone) == sent_before + 1 and sms_count(sims, stranger) == 0

        code = await sms_code(sims, phone)
        new_password = "teh-manis-sore-2027"
        r = await api(
            c,
            "/api/v1/citizens/password-reset/confirm",
            {
                "identifier": local(phone),
                "code": code,
                "password": new_password,
                "password_confirmation": new_password,
            },
        )
        assert r.status_code == 200, r.text
    async with client_for(city.primary_host) as c:
        c.cookies.set(COOKIE_NAME, old_session)
        assert (await c.get("/api/v1/citizens/me")).status_code == 401  # every old session ended
        c.cookies.delete(COOKIE_NAME)
        r = await api(c, "/api/v1/citizens/login", {"identifier": BUDI.nik, "password": PASSWORD})
        assert r.status_code == 401
        r = await api(c, "/api/v1/citizens/login", {"identifier": BUDI.nik, "password": new_password})
        assert r.status_code == 200
    assert await audit_count(database, city, "citizen.password_reset") == 1


async def test_password_reset_through_the_pages(city, sims, client_for) -> None:
    async with client_for(city.primary_host) as c:
        phone = await registered_and_verified(c, sims, SITI)
        r = await form(c, "/lupa-sandi", {"identifier": SITI.nik})
        assert r.status_code == 200 and 'action="/lupa-sandi/atur"' in r.text
        assert SITI.nik in r.text  # in the form field of the next step, never in a URL
        new_password = "nasi-uduk-betawi-9"
        r = await form(
            c,
            "/lupa-sandi/atur",
            {
                "identifier": SITI.nik,
                "code": await sms_code(sims, phone),
                "password": new_password,
                "password_confirmation": new_password,
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/masuk?pesan=sandi-baru"
        r = await form(c, "/masuk", {"identifier": local(phone), "password": new_password, "next": "/profil"})
        assert r.status_code == 303


# ---- deletion -------------------------------------------------------------------------------------------------


async def test_deletion_anonymises_the_person_and_keeps_the_id(city, sims, client_for, database) -> None:
    async with client_for(city.primary_host) as c:
        phone = await logged_in(c, sims, SITI)
        [before] = await citizens_of(database, city)
        r = await api(c, "/api/v1/citizens/me/deletion", {"password": "not-my-password"})
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "password.wrong"
        r = await api(c, "/api/v1/citizens/me/deletion", {"password": PASSWORD})
        assert r.status_code == 200 and r.json()["status"] == "deleted"
        assert (await c.get("/api/v1/citizens/me")).status_code == 401
        r = await api(c, "/api/v1/citizens/login", {"identifier": SITI.nik, "password": PASSWORD})
        assert r.status_code == 401

    [after] = await citizens_of(database, city)
    assert after.id == before.id and after.status == "deleted" and after.deleted_at is not None
    assert after.name == "Warga (akun dihapus)"
    for personal in (
        "nik_hash",
        "nik_encrypted",
        "phone",
        "password_hash",
        "address",
        "kelurahan",
        "birth_date",
    ):
        assert getattr(after, personal) is None, personal
    assert await audit_count(database, city, "citizen.deleted") == 1

    async with client_for(city.primary_host) as c:  # the same person may come back as a new account
        await registered_and_verified(c, sims, SITI, phone)
    ids = [row.id for row in await citizens_of(database, city)]
    assert len(ids) == 2 and before.id in ids


async def test_deletion_through_the_pages(city, sims, client_for, database) -> None:
    async with client_for(city.primary_host) as c:
        await logged_in(c, sims, BUDI)
        page = await c.get("/profil/hapus")
        assert page.status_code == 200 and 'for="password"' in page.text
        r = await form(c, "/profil/hapus", {"password": PASSWORD})
        assert r.status_code == 200 and "telah dihapus" in r.text
        assert (await c.get("/profil", headers={"accept": "text/html"})).status_code == 303
    assert [c.status for c in await citizens_of(database, city)] == ["deleted"]


# ---- pages: language, labels, empty states --------------------------------------------------------------------


async def test_pages_speak_indonesian_first_and_english_on_request(city, client_for) -> None:
    async with client_for(city.primary_host) as c:
        for path, title in (
            ("/daftar", "Daftar sebagai warga"),
            ("/masuk", "Masuk"),
            ("/verifikasi", "Verifikasi nomor HP"),
            ("/lupa-sandi", "Atur ulang kata sandi"),
        ):
            page = await c.get(path)
            assert page.status_code == 200 and f"<h1>{title}</h1>" in page.text
            assert 'name="_csrf_token"' in page.text
            for field in re.findall(r'<input id="([a-z_]+)"', page.text):
                assert f'<label for="{field}">' in page.text, f"{path}: {field} has no label"
        en = await c.get("/daftar?lang=en")
        assert "<h1>Register as a citizen</h1>" in en.text and 'lang="en"' in en.text
        assert "Register as a citizen" in (await c.get("/daftar")).text  # the choice is remembered
        assert (await c.get("/keluar")).status_code == 303  # nobody to log out
