"""Employee login through the city's OpenID provider (the development provider, over real HTTP):
lands on the agency's page; refuses forged, expired, wrong-audience and wrong-issuer ID tokens,
replayed state and nonce, callbacks in another browser or city, open redirects, and people who are
not current Simpeg employees of the city."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from sqlalchemy import select
from staff_support import Connected, connect_city, login, provider_hops, start_login

from kotalive.auth.employees import sync_city
from kotalive.auth.middleware import AuthError
from kotalive.auth.models import AuditEntry, Employee
from kotalive.auth.oidc import LoginFailed, ProviderCache, spend_nonce, verify_id_token
from kotalive.auth.sessions import COOKIE_NAME


@pytest.fixture
async def city(app, database, settings, make_city, sims) -> Connected:
    made = await make_city("emp")
    connected = await connect_city(database, settings, sims, made, "tangerang")
    await sync_city(settings, made, redis=app.state.redis)
    return connected


async def test_employee_logs_in_and_lands_on_the_agency_page(app, client_for, city: Connected) -> None:
    async with client_for(city.city.primary_host) as c:
        done = await login(c, city.redirect_uri, "agus.setiawan")
        assert done.status_code == 303 and done.headers["location"] == "/staff"
        assert c.cookies.get(COOKIE_NAME)
        home = await c.get("/staff")
        assert home.status_code == 200
        assert "Dinas Pekerjaan Umum dan Penataan Ruang" in home.text and "Agus Setiawan" in home.text
        me = (await c.get("/api/v1/me")).json()
        assert me["kind"] == "employee" and me["roles"] == ["employee"] and me["via"] == "session"
        assert me["city"] == city.city.slug and len(me["agency_ids"]) == 1
    async with database_session(app, city) as session:
        agus = await session.scalar(
            select(Employee).where(Employee.email == "agus.setiawan@pemkot-tangerang.test")
        )
        assert agus is not None and agus.oidc_subject and agus.last_login_at is not None
        assert me["agency_ids"] == [agus.agency_id]
        assert await session.scalar(select(AuditEntry).where(AuditEntry.action == "login.succeeded"))


def database_session(app: Any, city: Connected) -> Any:
    return app.state.db.tenant_session(city.city)


async def test_anonymous_staff_page_goes_to_the_employee_login(app, client_for, city: Connected) -> None:
    async with client_for(city.city.primary_host) as c:
        r = await c.get("/staff", headers={"accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"].startswith("/staff/login?next=/staff")


async def test_login_keeps_a_same_site_next_and_refuses_open_redirects(
    app, client_for, city: Connected
) -> None:
    async with client_for(city.city.primary_host) as c:
        done = await login(c, city.redirect_uri, "agus.setiawan", next_path="/staff?tab=inbox")
        assert done.headers["location"] == "/staff?tab=inbox"
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        async with client_for(city.city.primary_host) as c:
            done = await login(c, city.redirect_uri, "agus.setiawan", next_path=evil)
            assert done.status_code == 303 and done.headers["location"] == "/staff", evil


async def test_someone_not_in_simpeg_gets_a_clear_refusal(app, client_for, city: Connected) -> None:
    async with client_for(city.city.primary_host) as c:
        refused = await login(c, city.redirect_uri, "konsultan.tik")
        assert refused.status_code == 403
        assert "bukan pegawai aktif kota ini" in refused.text and "not_employee_unknown" in refused.text
        assert COOKIE_NAME not in c.cookies
        assert (await c.get("/api/v1/me")).status_code == 401
    async with database_session(app, city) as session:
        failed = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "login.failed"))).all()
        assert any(e.detail["reason"] == "not_employee:unknown" for e in failed)


async def test_a_leaver_is_refused(app, client_for, city: Connected) -> None:
    async with client_for(city.city.primary_host) as c:
        refused = await login(c, city.redirect_uri, "haryanto")  # pensiun
        assert refused.status_code == 403 and "not_employee_left" in refused.text


async def test_a_new_employee_is_admitted_from_simpeg_before_the_next_sync(
    app, client_for, database, settings, make_city, sims
) -> None:
    fresh = await connect_city(database, settings, sims, await make_city("emp-new"), "tangerang")
    async with client_for(fresh.city.primary_host) as c:  # no sync has run for this city
        done = await login(c, fresh.redirect_uri, "mulyadi")
        assert done.status_code == 303, done.text
        assert "Dinas Pekerjaan Umum" in (await c.get("/staff")).text


async def test_a_replayed_callback_is_refused(app, client_for, city: Connected) -> None:
    async with client_for(city.city.primary_host) as c:
        callback = provider_hops(await start_login(c, "agus.setiawan"), city.redirect_uri)
        assert (await c.get(callback)).status_code == 303
        replay = await c.get(callback)
        assert replay.status_code == 400 and "state_unknown" in replay.text


async def test_a_callback_in_another_browser_logs_nobody_in(app, client_for, city: Connected) -> None:
    async with client_for(city.city.primary_host) as attacker:
        callback = provider_hops(await start_login(attacker, "agus.setiawan"), city.redirect_uri)
    async with client_for(city.city.primary_host) as victim:
        r = await victim.get(callback)
        assert r.status_code == 400 and "wrong_browser" in r.text
        assert COOKIE_NAME not in victim.cookies


async def test_a_callback_on_another_city_is_refused(
    app, client_for, database, settings, make_city, sims, city
) -> None:
    other = await connect_city(database, settings, sims, await make_city("emp-b"), "bekasi")
    async with client_for(city.city.primary_host) as c:
        callback = provider_hops(await start_login(c, "agus.setiawan"), city.redirect_uri)
        browser = c.cookies.get("kl_oidc")
    async with client_for(other.city.primary_host) as c:
        c.cookies.set("kl_oidc", browser)
        r = await c.get(callback)
        assert r.status_code == 400 and "wrong_city" in r.text


async def test_a_state_never_issued_is_refused(app, client_for, city: Connected) -> None:
    async with client_for(city.city.primary_host) as c:
        r = await c.get("/staff/callback?state=made-up&code=x")
        assert r.status_code == 400 and "state_unknown" in r.text


async def test_an_answer_claiming_another_issuer_is_refused(app, client_for, city: Connected) -> None:
    async with client_for(city.city.primary_host) as c:
        callback = provider_hops(await start_login(c, "agus.setiawan"), city.redirect_uri)
        r = await c.get(callback.replace("iss=", "iss=https%3A%2F%2Fevil.example&x="))
        assert r.status_code == 403 and "wrong_issuer" in r.text


# ---- forged ID tokens through the whole flow ---------------------------------------------------------


def _forge(issuer: Any, claims: dict[str, Any], *, key: RSAKey | None = None) -> str:
    if key is None:
        return str(issuer.sign(claims))
    return jwt.encode({"alg": "RS256", "kid": issuer.keys[0].kid, "typ": "JWT"}, claims, key)


FORGERIES = {
    "bad_signature": lambda c, now: ({}, RSAKey.generate_key(2048)),
    "expired": lambda c, now: ({"exp": now - 3600, "iat": now - 7200}, None),
    "wrong_audience": lambda c, now: ({"aud": "someone-else"}, None),
    "wrong_issuer": lambda c, now: ({"iss": "http://127.0.0.1:9/evil"}, None),
    "wrong_nonce": lambda c, now: ({"nonce": "not-the-one-we-sent"}, None),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
async def test_forged_id_tokens_are_refused(
    app, client_for, city: Connected, sims, monkeypatch, forgery
) -> None:
    issuer = sims.issuer(city.demo)
    genuine = issuer.tokens

    def forged_tokens(grant: Any, client: Any) -> dict[str, Any]:
        answer = genuine(grant, client)
        claims = jwt.decode(answer["id_token"], issuer.keys[0]).claims
        now = int(time.time())
        changes, key = FORGERIES[forgery](claims, now)
        answer["id_token"] = _forge(issuer, {**claims, **changes}, key=key)
        return answer

    monkeypatch.setattr(issuer, "tokens", forged_tokens)
    async with client_for(city.city.primary_host) as c:
        r = await login(c, city.redirect_uri, "agus.setiawan")
        assert r.status_code == 403 and "id_token_invalid" in r.text, r.text
        assert COOKIE_NAME not in c.cookies


async def test_id_token_checks_name_what_is_wrong(sims, city: Connected) -> None:
    issuer = sims.issuer(city.demo)
    providers = ProviderCache()
    now = int(time.time())
    good = {"iss": issuer.url, "sub": "s", "aud": city.client_id, "iat": now, "exp": now + 60, "nonce": "n1"}

    async def check(token: str, nonce: str = "n1") -> dict[str, Any]:
        return await verify_id_token(
            token, providers, issuer=issuer.url, client_id=city.client_id, nonce=nonce
        )

    assert (await check(issuer.sign(good)))["sub"] == "s"
    cases = {
        "signature": _forge(issuer, good, key=RSAKey.generate_key(2048)),
        "expired": issuer.sign({**good, "exp": now - 600}),
        "audience": issuer.sign({**good, "aud": "other-client"}),
        "issuer": sims.issuer("bekasi").sign({**good, "iss": sims.issuer("bekasi").url}),
        "nonce": issuer.sign({**good, "nonce": "n2"}),
        "JWT": issuer.sign(good)[:-10] + "AAAAAAAAAA",  # mangled signature bytes
    }
    for expected, token in cases.items():
        with pytest.raises(AuthError) as caught:
            await check(token)
        assert expected.lower() in caught.value.reason.lower() or expected == "JWT", caught.value.reason
    unsigned = jwt.encode(
        {"alg": "HS256"}, good, OctKey.import_key("x" * 32)
    )  # a shared-secret signature is never accepted
    with pytest.raises(AuthError, match="accepted algorithm"):
        await check(unsigned)


async def test_a_nonce_is_spent_once(app) -> None:
    await spend_nonce(app.state.redis, "http://issuer.test", "nonce-123")
    with pytest.raises(LoginFailed) as caught:
        await spend_nonce(app.state.redis, "http://issuer.test", "nonce-123")
    assert caught.value.reason == "nonce_replayed"


async def test_a_replayed_id_token_is_refused_even_with_a_fresh_state(
    app, client_for, city: Connected, sims, monkeypatch
) -> None:
    """The provider (or a man in the middle) answers a second login with the first login's ID token."""
    issuer = sims.issuer(city.demo)
    genuine = issuer.tokens
    first: dict[str, Any] = {}

    def remembering(grant: Any, client: Any) -> dict[str, Any]:
        answer = genuine(grant, client)
        first.setdefault("answer", answer)
        return first["answer"]

    monkeypatch.setattr(issuer, "tokens", remembering)
    async with client_for(city.city.primary_host) as c:
        assert (await login(c, city.redirect_uri, "agus.setiawan")).status_code == 303
    async with client_for(city.city.primary_host) as c:
        r = await login(c, city.redirect_uri, "agus.setiawan")
        assert r.status_code == 403 and "id_token_invalid" in r.text  # its nonce is the first login's


async def test_logout_ends_the_session(app, client_for, city: Connected) -> None:
    from staff_support import csrf_of

    async with client_for(city.city.primary_host) as c:
        await login(c, city.redirect_uri, "agus.setiawan")
        home = await c.get("/staff")
        r = await c.post("/staff/logout", data={"_csrf_token": csrf_of(home.text)})
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert (await c.get("/api/v1/me")).status_code == 401


async def test_a_city_without_a_provider_says_so(
    app, client_for, database, settings, make_city, sims
) -> None:
    bare = await make_city("emp-none")
    async with client_for(bare.primary_host) as c:
        r = await c.get("/staff/login")
        assert r.status_code == 503 and "not_configured" in r.text


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"client_id": "c"}, "issuer"),
        ({"issuer": "ftp://idp.example", "client_id": "c"}, "issuer"),
        ({"issuer": "http://idp.example.go.id", "client_id": "c"}, "issuer"),  # plain http off this machine
        ({"issuer": "https://idp.example.go.id"}, "client_id"),
        ({"issuer": "https://idp.example.go.id", "client_id": "c", "scopes": "profile"}, "scopes"),
        ({"issuer": "https://idp.example.go.id", "client_id": "c", "api_audience": "c"}, "api_audience"),
        ({"issuer": "https://idp.example.go.id", "client_id": "c", "nip_claim": "a b"}, "nip_claim"),
        ({"issuer": "https://idp.example.go.id", "client_id": "c", "colour": "red"}, "colour"),
    ],
)
def test_oidc_settings_name_the_wrong_field(data: dict[str, Any], field: str) -> None:
    from kotalive.auth.oidc import OidcConfig, OidcConfigError

    with pytest.raises(OidcConfigError) as caught:
        OidcConfig.from_dict(data)
    assert caught.value.field == field


def test_oidc_settings_accept_a_real_provider_and_a_local_one() -> None:
    from kotalive.auth.oidc import OidcConfig

    config = OidcConfig.from_dict(
        {
            "issuer": "https://sso.tangerangkota.go.id/realms/pemkot/",
            "client_id": "kotalive",
            "client_secret": "hush-123",
        }
    )
    assert config.issuer == "https://sso.tangerangkota.go.id/realms/pemkot" and config.scopes[0] == "openid"
    assert "hush-123" not in repr(config) and config.client_secret == "hush-123"
    assert (
        OidcConfig.from_dict({"issuer": "http://127.0.0.1:8103/tangerang", "client_id": "c"}).client_secret
        is None
    )


async def test_wrong_simpeg_settings_do_not_lock_out_known_employees(
    app, client_for, database, settings, city: Connected
) -> None:
    from staff_support import set_city_integrations

    await set_city_integrations(
        database, settings, city.city, simpeg={"base_url": "not a url", "api_key": "k"}
    )
    async with client_for(city.city.primary_host) as c:
        done = await login(c, city.redirect_uri, "agus.setiawan")
        assert done.status_code == 303 and done.headers["location"] == "/staff"
