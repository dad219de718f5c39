"""The JSON API's bearer access tokens from the city's OpenID provider (development provider over
real HTTP): valid -> the employee, via bearer; wrong issuer, wrong audience, expired, another city's,
an ID token, a leaver's -> 401; a rotated signing key is picked up with exactly one JWKS refresh."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from staff_support import Connected, connect_city, login

from kotalive.auth.employees import sync_city
from kotalive.auth.sessions import COOKIE_NAME


@pytest.fixture
async def city(app, database, settings, make_city, sims) -> Connected:
    made = await make_city("bearer")
    connected = await connect_city(database, settings, sims, made, "tangerang")
    await sync_city(settings, made, redis=app.state.redis)
    return connected


def provider_tokens(connected: Connected, username: str) -> dict[str, Any]:
    """The employees' mobile app's part: code flow with PKCE straight against the provider."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    with httpx.Client(timeout=10) as http:
        meta = http.get(f"{connected.issuer}/.well-known/openid-configuration").json()
        query = {
            "response_type": "code",
            "client_id": connected.client_id,
            "redirect_uri": connected.redirect_uri,
            "scope": "openid profile email",
            "state": "s",
            "nonce": "n",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "login_hint": username,
        }
        answer = http.get(f"{meta['authorization_endpoint']}?{urlencode(query)}")
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        tokens = http.post(
            meta["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": connected.redirect_uri,
                "code_verifier": verifier,
            },
            auth=(connected.client_id, connected.client_secret),
        )
        assert tokens.status_code == 200, tokens.text
        return dict(tokens.json())


def access_claims(connected: Connected, sub: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": connected.issuer,
        "sub": sub,
        "aud": connected.api_audience,
        "client_id": connected.client_id,
        "iat": now,
        "exp": now + 600,
        "jti": secrets.token_hex(8),
        **changes,
    }


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_a_valid_access_token_is_the_employee_via_bearer(app, client_for, city: Connected) -> None:
    tokens = provider_tokens(city, "agus.setiawan")
    async with client_for(city.city.primary_host) as c:
        me = await c.get("/api/v1/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200, me.text
        body = me.json()
        assert body["via"] == "bearer" and body["kind"] == "employee" and body["name"] == "Agus Setiawan"
        assert body["roles"] == ["employee"] and len(body["agency_ids"]) == 1
        # The ID token is for the client, not the API: refused as an access token.
        r = await c.get("/api/v1/me", headers=bearer(tokens["id_token"]))
        assert r.status_code == 401 and r.json()["error"] == "invalid_token"


async def test_wrong_issuer_audience_expiry_and_other_cities_are_401(
    app, client_for, database, settings, make_city, sims, city: Connected
) -> None:
    issuer = sims.issuer("tangerang")
    agus = sims.cities["tangerang"].employee("agus.setiawan")
    sub = next(u.sub for u in issuer.users.values() if u.username == "agus.setiawan")
    other = await connect_city(database, settings, sims, await make_city("bearer-b"), "bekasi")
    bekasi = sims.issuer("bekasi")
    now = int(time.time())
    refused = {
        "wrong issuer (another provider, its own key)": bekasi.sign(
            access_claims(city, sub, iss=bekasi.url, nip=agus.nip), typ="at+jwt"
        ),
        "wrong issuer (this provider's key)": issuer.sign(
            access_claims(city, sub, iss="http://127.0.0.1:1/evil"), typ="at+jwt"
        ),
        "wrong audience": issuer.sign(access_claims(city, sub, aud="kotalive-other-api"), typ="at+jwt"),
        "no audience": issuer.sign({k: v for k, v in access_claims(city, sub).items() if k != "aud"}),
        "expired": issuer.sign(access_claims(city, sub, exp=now - 600, iat=now - 4000), typ="at+jwt"),
        "another city's token": bekasi.sign(
            access_claims(other, "x", aud=other.api_audience, iss=bekasi.url), typ="at+jwt"
        ),
        "not a JWT": "abc.def",
        "garbage": "x" * 40,
    }
    good = issuer.sign(access_claims(city, sub, nip=agus.nip), typ="at+jwt")
    async with client_for(city.city.primary_host) as c:
        assert (await c.get("/api/v1/me", headers=bearer(good))).status_code == 200
        for what, token in refused.items():
            r = await c.get("/api/v1/me", headers=bearer(token))
            assert r.status_code == 401, what
            assert r.headers["www-authenticate"].startswith("Bearer"), what
    # City B's own valid token works on B and not on A, and A's not on B.
    bekasi_sub = next(u.sub for u in bekasi.users.values() if u.username == "deni.firmansyah")
    await sync_city(settings, other.city, redis=app.state.redis)
    b_token = bekasi.sign(
        access_claims(
            other, bekasi_sub, iss=bekasi.url, nip=sims.cities["bekasi"].employee("deni.firmansyah").nip
        ),
        typ="at+jwt",
    )
    async with client_for(other.city.primary_host) as c:
        assert (await c.get("/api/v1/me", headers=bearer(b_token))).status_code == 200
        assert (await c.get("/api/v1/me", headers=bearer(good))).status_code == 401
    async with client_for(city.city.primary_host) as c:
        assert (await c.get("/api/v1/me", headers=bearer(b_token))).status_code == 401
    async with client_for("platform.test") as c:
        assert (await c.get("/api/v1/me", headers=bearer(good))).status_code == 401


async def test_a_rotated_key_is_fetched_once_then_accepted(app, client_for, city: Connected, sims) -> None:
    issuer = sims.issuer("tangerang")
    providers = app.state.oidc.providers
    sub = next(u.sub for u in issuer.users.values() if u.username == "agus.setiawan")
    nip = sims.cities["tangerang"].employee("agus.setiawan").nip
    async with client_for(city.city.primary_host) as c:
        assert (
            await c.get("/api/v1/me", headers=bearer(issuer.sign(access_claims(city, sub, nip=nip))))
        ).status_code == 200
        before = providers.jwks_fetches[issuer.url]
        old_kid = issuer.keys[0].kid
        async with httpx.AsyncClient() as http:
            rotated = await http.post(f"{issuer.url}/_control/rotate-key", json={"keep_old": True})
        new_kid = rotated.json()["kid"]
        assert new_kid != old_kid
        for _ in range(3):
            r = await c.get("/api/v1/me", headers=bearer(issuer.sign(access_claims(city, sub, nip=nip))))
            assert r.status_code == 200, r.text
        assert providers.jwks_fetches[issuer.url] == before + 1  # one refresh, then cached
        # A key id the provider does not publish: refused, and no second refresh right away.
        forged = issuer.sign(access_claims(city, sub, nip=nip))
        header, rest = forged.split(".", 1)
        padded = header + "=" * (-len(header) % 4)
        fake_header = base64.urlsafe_b64decode(padded).replace(new_kid.encode(), b"no-such-key")
        token = base64.urlsafe_b64encode(fake_header).rstrip(b"=").decode() + "." + rest
        assert (await c.get("/api/v1/me", headers=bearer(token))).status_code == 401
        assert providers.jwks_fetches[issuer.url] == before + 1


async def test_a_leavers_token_stops_working_after_the_sync(
    app, client_for, settings, city: Connected, sims
) -> None:
    tokens = provider_tokens(city, "wahyu.hidayat")
    register = sims.staff("tangerang")
    nip = sims.cities["tangerang"].employee("wahyu.hidayat").nip
    async with client_for(city.city.primary_host) as c:
        assert (await login(c, city.redirect_uri, "wahyu.hidayat")).status_code == 303
        assert (await c.get("/api/v1/me", headers=bearer(tokens["access_token"]))).status_code == 200
        register.set_status(nip, "mutasi")
        try:
            report = await sync_city(settings, city.city, redis=app.state.redis)
        finally:
            register.set_status(nip, "aktif")
        assert report is not None and len(report.deactivated) == 1
        assert (await c.get("/api/v1/me", headers=bearer(tokens["access_token"]))).status_code == 401
        # ... and the browser session of that person was ended too.
        assert c.cookies.get(COOKIE_NAME)
        assert (await c.get("/api/v1/me")).status_code == 401
