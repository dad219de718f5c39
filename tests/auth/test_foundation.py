"""Identity foundation: sessions bound to one city, CSRF, guards, rate limits, vault, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from kotalive.auth import audit
from kotalive.auth.crypto import Vault, VaultError, mask_nik, new_data_key
from kotalive.auth.guards import safe_next
from kotalive.auth.passwords import WeakPassword, check_strength, hash_password, verify_password
from kotalive.auth.principal import Principal
from kotalive.auth.ratelimit import Limit, RateLimiter
from kotalive.auth.roles import ALL_ROLES, PermissionTable
from kotalive.auth.sessions import COOKIE_NAME


async def _session(app, principal: Principal) -> str:
    return await app.state.auth.sessions.create(principal)


def citizen_of(city, roles=("citizen",)) -> Principal:
    return Principal(kind="citizen", id=7, tenant_id=city.id, name="Siti", roles=frozenset(roles))


async def test_a_session_works_on_its_own_city_only(app, client_for, make_city) -> None:
    a, b = await make_city("sa"), await make_city("sb")
    token = await _session(app, citizen_of(a))
    cookie = {"cookie": f"{COOKIE_NAME}={token}"}
    async with client_for(a.primary_host) as c:
        me = await c.get("/api/v1/me", headers=cookie)
        assert me.status_code == 200 and me.json()["city"] == a.slug and me.json()["kind"] == "citizen"
    async with client_for(b.primary_host) as c:
        r = await c.get("/api/v1/me", headers=cookie)
        assert r.status_code == 401 and r.json()["error"] == "wrong_site"
        assert f"{COOKIE_NAME}=;" in r.headers["set-cookie"]
        # Even a public page refuses to run under another city's login.
        assert (await c.get("/api/v1/agencies", headers=cookie)).status_code == 401
    async with client_for("platform.test") as c:
        assert (await c.get("/", headers=cookie)).status_code == 401


async def test_platform_staff_sessions_do_not_open_a_city(app, client_for, make_city) -> None:
    city = await make_city("ps")
    staff = Principal(
        kind="platform_staff", id=1, tenant_id=None, name="Ops", roles=frozenset({"platform_admin"})
    )
    cookie = {"cookie": f"{COOKIE_NAME}={await _session(app, staff)}"}
    async with client_for(city.primary_host) as c:
        assert (await c.get("/api/v1/me", headers=cookie)).status_code == 401


async def test_anonymous_gets_401_and_a_page_redirects_to_login(app, client_for, make_city) -> None:
    city = await make_city("anon")
    async with client_for(city.primary_host) as c:
        assert (await c.get("/api/v1/me")).status_code == 401


async def test_unknown_or_forged_session_tokens_are_anonymous(app, client_for, make_city) -> None:
    city = await make_city("forged")
    async with client_for(city.primary_host) as c:
        for forged in ("nope", "x" * 500, "'; DROP TABLE citizen; --"):
            r = await c.get("/api/v1/me", headers={"cookie": f"{COOKIE_NAME}={forged}"})
            assert r.status_code == 401


async def test_revoking_a_person_ends_every_session(app, client_for, make_city) -> None:
    city = await make_city("rev")
    p = citizen_of(city)
    tokens = [await _session(app, p) for _ in range(3)]
    assert await app.state.auth.sessions.revoke_subject(city.id, "citizen", p.id) == 3
    async with client_for(city.primary_host) as c:
        for t in tokens:
            assert (await c.get("/api/v1/me", headers={"cookie": f"{COOKIE_NAME}={t}"})).status_code == 401


async def test_unsafe_requests_with_a_session_need_the_csrf_token(app, client_for, make_city) -> None:
    city = await make_city("csrf")
    token = await _session(app, citizen_of(city))
    async with client_for(city.primary_host) as c:
        c.cookies.set(COOKIE_NAME, token)
        assert (await c.post("/api/v1/logout")).status_code == 403
        page = await c.get("/")  # a safe request hands out the CSRF cookie
        csrf = page.cookies.get("kl_csrf") or c.cookies.get("kl_csrf")
        assert csrf
        r = await c.post("/api/v1/logout", headers={"x-csrftoken": csrf})
        assert r.status_code == 200
        assert (await c.get("/api/v1/me")).status_code == 401


def test_permission_table_knows_every_role_and_module_permission(modules) -> None:
    table = PermissionTable.build(modules)
    assert table.allows({"city_admin"}, "core.audit.view")
    assert not table.allows({"citizen"}, "core.audit.view")
    assert table.allows({"liveroom_operator"}, "liveroom.item.triage")
    for roles in table.holders.values():
        assert roles <= set(ALL_ROLES)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/laksa/saya", "/laksa/saya"),
        ("/a?b=c", "/a?b=c"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_next_only_goes_to_this_site(target, expected) -> None:
    assert safe_next(target) == expected


async def test_rate_limit_counts_in_redis_and_says_when_to_retry(app) -> None:
    limiter = RateLimiter(app.state.redis, prefix="kotalive-test:rl")
    limit = Limit("login:account", max_hits=3, window_seconds=60)
    subject = f"acct-{id(limiter)}"
    verdicts = [await limiter.hit(limit, subject) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert 0 < verdicts[-1].retry_after <= 61
    await limiter.reset(limit, subject)
    assert (await limiter.hit(limit, subject)).allowed


def test_vault_rotates_keys_without_losing_data() -> None:
    old, new = new_data_key(), new_data_key()
    before = Vault((old,), b"lookup")
    token = before.encrypt("3671014501900001")
    after = Vault((new, old), b"lookup")  # a new key in front; the old one still opens old data
    assert after.decrypt(token) == "3671014501900001"
    rotated = after.rotate(token)
    assert Vault((new,), b"lookup").decrypt(rotated) == "3671014501900001"
    with pytest.raises(VaultError):
        Vault((new,), b"lookup").decrypt(token)
    assert before.lookup_hash("3671014501900001") == after.lookup_hash("3671014501900001")
    assert mask_nik("3671014501900001") == "3671••••••••0001"


def test_passwords(settings) -> None:
    stored = hash_password(settings, "kopi-susu-2026")
    assert verify_password(settings, stored, "kopi-susu-2026")
    assert not verify_password(settings, stored, "kopi-susu-2027")
    assert not verify_password(settings, None, "anything")
    for weak in ("short", "11111111", "x" * 200, "Siti-3671014501900001"):
        with pytest.raises(WeakPassword):
            check_strength(weak, personal=("3671014501900001", "Siti"))


async def test_the_audit_log_is_append_only(make_city, database) -> None:
    city = await make_city("audit")
    async with database.tenant_session(city) as s, s.begin():
        audit.record(s, "test.event", target_kind="thing", target_id=1, detail={"k": "v"}, system=True)
    for sql in (
        "UPDATE {city}.audit_entry SET action = 'x'",
        "DELETE FROM {city}.audit_entry",
        "TRUNCATE {city}.audit_entry",
    ):
        async with database.tenant_session(city) as s:
            with pytest.raises(DBAPIError) as info:
                async with s.begin():
                    await s.execute_sql(sql)
            assert "append-only" in str(info.value)
    async with database.tenant_session(city) as s:
        n = (
            await s.execute_sql("SELECT count(*) FROM {city}.audit_entry WHERE action = 'test.event'")
        ).scalar_one()
    assert n == 1
    async with database.engine.begin() as conn:
        with pytest.raises(DBAPIError):
            await conn.execute(text("DELETE FROM platform.audit_entry"))


async def test_integration_secrets_are_stored_encrypted_and_rotate(make_city, database) -> None:
    from kotalive.tenants.integrations import (
        IntegrationNotConfigured,
        get_integration,
        rotate_secrets,
        set_integration,
    )

    city = await make_city("integ")
    k_old, k_new = new_data_key(), new_data_key()
    old = Vault((k_old,), b"k")
    async with database.tenant_session(city) as s, s.begin():
        await set_integration(
            s, old, "siak", config={"base_url": "http://127.0.0.1:1"}, secrets={"api_key": "rahasia"}
        )
    async with database.tenant_session(city) as s:
        raw = (await s.execute_sql("SELECT secrets_encrypted FROM {city}.integration_setting")).scalar_one()
        assert b"rahasia" not in bytes(raw)
        got = await get_integration(s, old, "siak")
        with pytest.raises(IntegrationNotConfigured):
            await get_integration(s, old, "simpeg")
    assert got is not None and got.merged() == {"base_url": "http://127.0.0.1:1", "api_key": "rahasia"}
    async with database.tenant_session(city) as s, s.begin():
        assert await rotate_secrets(s, Vault((k_new, k_old), b"k")) == 1
    async with database.tenant_session(city) as s:
        rotated = await get_integration(s, Vault((k_new,), b"k"), "siak")
    assert rotated is not None and rotated.secrets == {"api_key": "rahasia"}
