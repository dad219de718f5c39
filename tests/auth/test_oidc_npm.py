"""The employee login and the bearer checks against an OpenID provider no one here wrote: the npm
package ``oidc-provider``, started on loopback by this test (its own keys, cookies, interactions,
consent, JWT access tokens for the API audience)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from staff_support import Connected, login, oidc_settings, provider_hops, set_city_integrations

from kotalive.auth.employees import sync_city
from kotalive.auth.sessions import COOKIE_NAME

from kotalive_simulators import NpmOidcUnavailable, OidcClient, start_npm_oidc_provider  # isort: skip


@pytest.fixture(scope="module")
def npm_city_host() -> str:
    return f"npm-{secrets.token_hex(3)}.kota.test"


@pytest.fixture(scope="module")
def npm_provider(sims, npm_city_host: str) -> Iterator[Any]:
    client = OidcClient(
        client_id="kotalive-npm",
        client_secret="npm-client-secret-" + secrets.token_hex(8),
        redirect_uris=(f"https://{npm_city_host}/staff/callback",),
        api_audience="https://api.kotalive.test/npm",
    )
    try:
        handle = start_npm_oidc_provider(
            0, client, sims.cities["tangerang"].oidc_users(), audience=client.api_audience
        )
    except NpmOidcUnavailable as exc:
        pytest.fail(f"the npm oidc-provider must run here (make setup installs it): {exc}")
    handle.client = client
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
async def city(app, database, settings, make_city, sims, npm_provider, npm_city_host) -> Connected:
    made = await make_city(slug=npm_city_host.split(".")[0])
    assert made.primary_host == npm_city_host
    client = npm_provider.client
    connected = Connected(
        made, "tangerang", npm_provider.issuer, client.client_id, client.client_secret, client.api_audience
    )
    await set_city_integrations(
        database,
        settings,
        made,
        simpeg=sims.city_settings("tangerang")["simpeg"],
        oidc=oidc_settings(connected),
    )
    await sync_city(settings, made, redis=app.state.redis)
    return connected


def npm_access_token(connected: Connected, username: str) -> str:
    """The mobile app's part, straight against oidc-provider: code + PKCE for the API resource."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    meta = httpx.get(f"{connected.issuer}/.well-known/openid-configuration").json()
    query = {
        "response_type": "code",
        "client_id": connected.client_id,
        "redirect_uri": connected.redirect_uri,
        "scope": "openid profile email api",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": username,
        "resource": connected.api_audience,
    }
    callback = provider_hops(f"{meta['authorization_endpoint']}?{urlencode(query)}", connected.redirect_uri)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    answer = httpx.post(
        meta["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": connected.redirect_uri,
            "code_verifier": verifier,
            "resource": connected.api_audience,
        },
        auth=(connected.client_id, connected.client_secret),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def test_employee_login_through_oidc_provider_lands_on_the_agency_page(
    app, client_for, city: Connected
) -> None:
    async with client_for(city.city.primary_host) as c:
        done = await login(c, city.redirect_uri, "agus.setiawan")
        assert done.status_code == 303 and done.headers["location"] == "/staff", done.text
        home = await c.get("/staff")
        assert home.status_code == 200 and "Dinas Pekerjaan Umum dan Penataan Ruang" in home.text
        assert (await c.get("/api/v1/me")).json()["kind"] == "employee"


async def test_oidc_provider_login_of_someone_not_in_simpeg_is_refused(
    app, client_for, city: Connected
) -> None:
    async with client_for(city.city.primary_host) as c:
        refused = await login(c, city.redirect_uri, "konsultan.tik")
        assert refused.status_code == 403 and "not_employee_unknown" in refused.text
        assert COOKIE_NAME not in c.cookies


async def test_oidc_provider_replayed_callback_is_refused(app, client_for, city: Connected) -> None:
    from staff_support import start_login

    async with client_for(city.city.primary_host) as c:
        callback = provider_hops(await start_login(c, "agus.setiawan"), city.redirect_uri)
        assert (await c.get(callback)).status_code == 303
        assert (await c.get(callback)).status_code == 400


async def test_oidc_provider_access_tokens_open_the_api(app, client_for, city: Connected, sims) -> None:
    token = npm_access_token(city, "agus.setiawan")
    async with client_for(city.city.primary_host) as c:
        me = await c.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert me.json()["via"] == "bearer" and me.json()["name"] == "Agus Setiawan"
        # The development provider's tokens (another issuer) are refused by this city.
        dev = sims.issuer("tangerang")
        now = int(time.time())
        foreign = dev.sign(
            {"iss": dev.url, "sub": "x", "aud": city.api_audience, "iat": now, "exp": now + 60}, typ="at+jwt"
        )
        r = await c.get("/api/v1/me", headers={"authorization": f"Bearer {foreign}"})
        assert r.status_code == 401
        # Tampered payload with the provider's signature kept: refused.
        head, body, sig = token.split(".")
        claims = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).replace(b'"exp":', b'"exp":9')
        tampered = f"{head}.{base64.urlsafe_b64encode(claims).rstrip(b'=').decode()}.{sig}"
        assert (await c.get("/api/v1/me", headers={"authorization": f"Bearer {tampered}"})).status_code == 401
