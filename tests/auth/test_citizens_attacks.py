"""Attacks on the citizens' side that must fail: brute force on passwords and codes, missing CSRF
tokens, HTML and SQL in SIAK's data, open redirects through ``next``, another city's cookie, and
reading a full NIK without the right (or without leaving a trace)."""

from __future__ import annotations

import markupsafe
from sqlalchemy import select
from test_citizens import (  # noqa: F401  (fixtures)
    BUDI,
    MISCHIEF,
    PASSWORD,
    SITI,
    api,
    audit_count,
    citizen_sims_fixture,
    citizens_of,
    city_fixture,
    csrf,
    form,
    logged_in,
    new_phone,
    register,
    registered_and_verified,
    sims_fixture,
    sms_code,
)

from kotalive.auth.models import AuditEntry
from kotalive.auth.principal import Principal
from kotalive.auth.sessions import COOKIE_NAME

# ---- brute force -----------------------------------------------------------------------------------------


async def test_password_guessing_locks_the_account_with_a_retry_time(
    city, sims, client_for, database
) -> None:
    async with client_for(city.primary_host) as c:
        phone = await registered_and_verified(c, sims, SITI)
    async with client_for(city.primary_host, peer="198.51.100.7") as attacker:
        for guess in range(5):
            r = await api(
                attacker, "/api/v1/citizens/login", {"identifier": SITI.nik, "password": f"tebak-{guess}xx"}
            )
            assert r.status_code == 401 and r.json()["error"] == "login_failed"
        # Locked: even the right password, and by phone instead of NIK, now waits.
        for identifier, password in ((SITI.nik, PASSWORD), (phone, PASSWORD), (SITI.nik, "tebak-lagi")):
            r = await api(
                attacker, "/api/v1/citizens/login", {"identifier": identifier, "password": password}
            )
            assert r.status_code == 429
            retry = int(r.headers["retry-after"])
            assert 0 < retry <= 901 and r.json()["retry_after"] == retry
            assert "Coba lagi dalam" in r.json()["detail"] and "menit" in r.json()["detail"]
        page = await form(
            attacker, "/masuk", {"identifier": SITI.nik, "password": PASSWORD, "next": "/profil"}
        )
        assert (
            page.status_code == 429
            and "Terlalu banyak percobaan" in page.text
            and 'role="alert"' in page.text
        )
        assert COOKIE_NAME not in page.headers.get("set-cookie", "")
    assert await audit_count(database, city, "login.failed") == 5
    assert await audit_count(database, city, "login.locked") == 1
    async with database.tenant_session(city) as s:
        locked = await s.scalar(select(AuditEntry).where(AuditEntry.action == "login.locked"))
    assert locked is not None and locked.ip == "198.51.100.7" and locked.detail["scope"] == "account"


async def test_one_address_cannot_try_many_accounts(city, sims, client_for) -> None:
    async with client_for(city.primary_host, peer="203.0.113.9") as c:
        statuses = [
            (
                await api(c, "/api/v1/citizens/login", {"identifier": new_phone(), "password": "tebak-tebak"})
            ).status_code
            for _ in range(31)
        ]
    assert statuses[:30] == [401] * 30 and statuses[30] == 429


async def test_code_guessing_kills_the_code_then_locks(city, sims, client_for, database) -> None:
    phone = new_phone()
    async with client_for(city.primary_host, peer="198.51.100.8") as c:
        assert (await register(c, SITI, phone)).status_code == 201
        right = await sms_code(sims, phone)
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        answers = []
        for _ in range(5):
            r = await api(c, "/api/v1/citizens/verify", {"phone": phone, "code": wrong})
            answers.append(r.json()["errors"][0]["code"])
        assert answers == ["code.wrong"] * 4 + ["code.used_up"]
        r = await api(c, "/api/v1/citizens/verify", {"phone": phone, "code": right})
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "code.expired"  # dead for good
        # Asking again and again for new codes is limited too (3 per 15 minutes, the first included).
        assert (await api(c, "/api/v1/citizens/verify/resend", {"phone": phone})).status_code == 202
        assert (await api(c, "/api/v1/citizens/verify/resend", {"phone": phone})).status_code == 202
        r = await api(c, "/api/v1/citizens/verify/resend", {"phone": phone})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        fresh = await sms_code(sims, phone)
        # And guessing across codes runs into the per-number limit (10 tries per 15 minutes).
        statuses = []
        for _ in range(6):
            r = await api(
                c,
                "/api/v1/citizens/verify",
                {"phone": phone, "code": "000000" if fresh != "000000" else "111111"},
            )
            statuses.append(r.status_code)
        assert statuses[-1] == 429 and 422 in statuses
        r = await api(c, "/api/v1/citizens/verify", {"phone": phone, "code": fresh})
        assert r.status_code == 429  # even the right code waits out the lock
    assert [c.status for c in await citizens_of(database, city)] == ["pending"]


async def test_registration_floods_from_one_address_are_limited(city, sims, client_for) -> None:
    async with client_for(city.primary_host, peer="198.51.100.9") as c:
        statuses = [
            (
                await api(
                    c,
                    "/api/v1/citizens/register",
                    {"nik": "3671", "phone": "0812", "password": "x", "password_confirmation": "x"},
                )
            ).status_code
            for _ in range(11)
        ]
    assert statuses == [422] * 10 + [429]


# ---- CSRF ---------------------------------------------------------------------------------------------------


async def test_forms_and_api_calls_without_the_csrf_token_are_refused(
    city, sims, client_for, database
) -> None:
    body = {"nik": SITI.nik, "phone": new_phone(), "password": PASSWORD, "password_confirmation": PASSWORD}
    async with client_for(city.primary_host) as c:
        await csrf(c)  # the cookie alone is not enough: the token must come back in the request
        assert (await c.post("/api/v1/citizens/register", json=body)).status_code == 403
        assert (await c.post("/daftar", data=body)).status_code == 403
        r = await c.post("/daftar", data={**body, "_csrf_token": "f" * 128})
        assert r.status_code == 403
        assert (
            await c.post("/masuk", data={"identifier": SITI.nik, "password": PASSWORD})
        ).status_code == 403
    async with client_for(city.primary_host) as fresh:  # no cookie at all
        r = await fresh.post("/api/v1/citizens/login", json={"identifier": SITI.nik, "password": PASSWORD})
        assert r.status_code == 403
    assert await citizens_of(database, city) == []


async def test_a_logged_in_citizen_cannot_be_made_to_delete_the_account_cross_site(
    city, sims, client_for, database
) -> None:
    async with client_for(city.primary_host) as c:
        await logged_in(c, sims, BUDI)
        assert (await c.post("/profil/hapus", data={"password": PASSWORD})).status_code == 403
        assert (await c.post("/api/v1/citizens/me/deletion", json={"password": PASSWORD})).status_code == 403
        assert (await c.post("/keluar")).status_code == 403
        assert (await c.get("/api/v1/citizens/me")).status_code == 200
    assert [c.status for c in await citizens_of(database, city)] == ["active"]


# ---- HTML and SQL in names and addresses ------------------------------------------------------------------------


async def test_html_and_sql_from_siak_are_stored_as_text_and_shown_escaped(
    city, sims, client_for, database
) -> None:
    async with client_for(city.primary_host) as c:
        await logged_in(c, sims, MISCHIEF)
        page = await c.get("/profil")
        assert page.status_code == 200
        for raw in (MISCHIEF.nama, MISCHIEF.alamat, MISCHIEF.kelurahan):
            assert raw not in page.text
            assert str(markupsafe.escape(raw)) in page.text
        assert "<script>" not in page.text and "<img" not in page.text and "<b>" not in page.text
        assert "&lt;script&gt;alert(" in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
        assert "&#39;); DROP TABLE citizen; --" in page.text
        me = (await c.get("/api/v1/citizens/me")).json()
        assert me["name"] == MISCHIEF.nama  # JSON carries the text as it is; pages escape it
        assert me["address"].startswith(MISCHIEF.alamat)
    [row] = await citizens_of(database, city)  # the table is still there, the text stored verbatim
    assert row.name == MISCHIEF.nama and row.address is not None and "DROP TABLE citizen" in row.address


async def test_sql_in_login_and_registration_fields_is_just_wrong_input(city, sims, client_for) -> None:
    async with client_for(city.primary_host) as c:
        await registered_and_verified(c, sims, SITI)
        for identifier in ("' OR '1'='1", "3671' OR 1=1 --", "08123'; DROP TABLE citizen; --"):
            r = await api(c, "/api/v1/citizens/login", {"identifier": identifier, "password": "' OR '1'='1"})
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "identifier"
        r = await api(
            c,
            "/api/v1/citizens/register",
            {"nik": "1' OR '1'='1", "phone": "x'--", "password": PASSWORD, "password_confirmation": PASSWORD},
        )
        assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"nik", "phone"}
        assert (
            await api(c, "/api/v1/citizens/login", {"identifier": SITI.nik, "password": PASSWORD})
        ).status_code == 200


# ---- open redirect through next -----------------------------------------------------------------------------------


async def test_next_only_leads_back_into_this_site(city, sims, client_for) -> None:
    async with client_for(city.primary_host) as c:
        r = await c.get("/profil", headers={"accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"] == "/masuk?next=/profil"
        page = await c.get("/masuk", params={"next": "https://evil.example/steal"})
        assert "evil.example" not in page.text and 'name="next" value="/profil"' in page.text

        await registered_and_verified(c, sims, SITI)
        for target in (
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "javascript:alert(1)",
            "/profil\r\nSet-Cookie: x=y",
            "http:/evil.example",
        ):
            c.cookies.delete(COOKIE_NAME)
            r = await form(c, "/masuk", {"identifier": SITI.nik, "password": PASSWORD, "next": target})
            assert r.status_code == 303 and r.headers["location"] == "/profil", target
        c.cookies.delete(COOKIE_NAME)
        r = await form(c, "/masuk", {"identifier": SITI.nik, "password": PASSWORD, "next": "/laksa/saya?x=1"})
        assert r.headers["location"] == "/laksa/saya?x=1"
        # Already logged in: /masuk forwards at once, through the same check.
        r = await c.get("/masuk", params={"next": "//evil.example"})
        assert r.status_code == 303 and r.headers["location"] == "/profil"


# ---- one city's login on another city's host ----------------------------------------------------------------------


async def test_city_a_cookie_is_refused_on_city_b(
    city, sims, client_for, make_city, database, settings
) -> None:
    from test_citizens import connect

    other = await make_city("lain", region_code="3671")
    await connect(database, settings, other, sims)
    async with client_for(city.primary_host) as a:
        await logged_in(a, sims, SITI)
        token = a.cookies.get(COOKIE_NAME)
        assert (await a.get("/api/v1/citizens/me")).status_code == 200
    async with client_for(other.primary_host) as b:
        b.cookies.set(COOKIE_NAME, token)
        r = await b.get("/api/v1/citizens/me")
        assert r.status_code == 401 and r.json()["error"] == "wrong_site"
        assert (await b.get("/profil", headers={"accept": "text/html"})).status_code == 401
        # Nor does it log anyone in on B, where this NIK has no account at all.
        b.cookies.delete(COOKIE_NAME)
        r = await api(b, "/api/v1/citizens/login", {"identifier": SITI.nik, "password": PASSWORD})
        assert r.status_code == 401


# ---- the full NIK: only for roles that may see it, and every view audited -------------------------------------------


async def test_unmasking_a_nik_needs_the_permission_and_is_audited_every_time(
    city, sims, client_for, app, database
) -> None:
    async with client_for(city.primary_host) as c:
        await logged_in(c, sims, SITI)
        [row] = await citizens_of(database, city)
        path = f"/api/v1/citizens/{row.id}/nik/unmask"
        assert (await api(c, path, {})).status_code == 403  # a citizen, even about themselves
        assert SITI.nik not in (await c.get("/api/v1/citizens/me")).text
        assert SITI.nik not in (await c.get("/profil")).text

    admin = Principal(
        kind="employee", id=42, tenant_id=city.id, name="Admin Kota", roles=frozenset({"city_admin"})
    )
    operator = Principal(
        kind="employee", id=43, tenant_id=city.id, name="Operator", roles=frozenset({"liveroom_operator"})
    )
    async with client_for(city.primary_host, peer="192.0.2.44") as c:
        c.cookies.set(COOKIE_NAME, await app.state.auth.sessions.create(operator))
        assert (await api(c, path, {})).status_code == 403
        c.cookies.set(COOKIE_NAME, await app.state.auth.sessions.create(admin))
        for n in (1, 2):
            r = await api(c, path, {"reason": "verifikasi pengaduan #12"})
            assert r.status_code == 200 and r.json() == {"id": row.id, "nik": SITI.nik}
            assert r.headers["cache-control"] == "no-store"
            assert await audit_count(database, city, "personal_data.unmasked") == n
        assert (await api(c, "/api/v1/citizens/999999/nik/unmask", {})).status_code == 404
    async with database.tenant_session(city) as s:
        entries = list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "personal_data.unmasked"))
        )
    assert len(entries) == 2
    for entry in entries:
        assert (entry.actor_kind, entry.actor_id, entry.target_id) == ("employee", 42, str(row.id))
        assert (
            entry.detail == {"field": "nik", "reason": "verifikasi pengaduan #12"}
            and entry.ip == "192.0.2.44"
        )
        assert SITI.nik not in str(entry.detail)
    async with client_for(city.primary_host) as anonymous:
        assert (await api(anonymous, path, {})).status_code == 401


async def test_the_nik_never_reaches_redis_in_clear(city, sims, client_for, app) -> None:
    async with client_for(city.primary_host) as c:
        await logged_in(c, sims, BUDI)
        await api(c, "/api/v1/citizens/password-reset", {"identifier": BUDI.nik})
    redis = app.state.redis
    keys = [k.decode() async for k in redis.scan_iter(f"kotalive:*{city.id}*")]
    assert keys and not any(BUDI.nik in k for k in keys)
    for key in keys:
        if (await redis.type(key)) == b"hash":
            assert BUDI.nik.encode() not in b"".join((await redis.hgetall(key)).values())


async def test_an_employee_on_the_profile_page_is_told_it_is_for_citizens(city, client_for, app) -> None:
    staff = Principal(
        kind="employee", id=77, tenant_id=city.id, name="Pegawai", roles=frozenset({"employee"})
    )
    async with client_for(city.primary_host) as c:
        c.cookies.set(COOKIE_NAME, await app.state.auth.sessions.create(staff))
        page = await c.get("/profil")
        assert page.status_code == 200 and "untuk akun warga" in page.text
        r = await c.get("/api/v1/citizens/me")
        assert r.status_code == 404 and r.json()["error"] == "not_a_citizen"
