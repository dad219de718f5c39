"""What the employee and OpenID tests share: connecting a test city to the simulators (the session's
``sims`` fixture) and driving a browser-less login through our app and a real provider.

Imported by the test modules (``from staff_support import ...``); fixtures are plain functions here
and wrapped in each module, so there is no conftest.py to collide with other identity tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from kotalive.auth.crypto import Vault
from kotalive.context import TenantContext
from kotalive.db import Database
from kotalive.integrations.simulators import load as load_simulators
from kotalive.settings import Settings
from kotalive.tenants.integrations import set_integration

load_simulators()  # puts infra/simulators on sys.path

from kotalive_simulators import OidcClient, SimulatorHandle  # noqa: E402


@dataclass
class Connected:
    city: TenantContext
    demo: str  # the demo city whose Simpeg register and accounts this city uses
    issuer: str
    client_id: str
    client_secret: str
    api_audience: str

    @property
    def redirect_uri(self) -> str:
        return f"https://{self.city.primary_host}/staff/callback"


def oidc_settings(connected: Connected, **extra: Any) -> dict[str, Any]:
    return {
        "issuer": connected.issuer,
        "client_id": connected.client_id,
        "client_secret": connected.client_secret,
        "scopes": "openid profile email",
        "api_audience": connected.api_audience,
        **extra,
    }


async def set_city_integrations(
    database: Database, settings: Settings, city: TenantContext, **kinds: dict[str, Any] | None
) -> None:
    """``set_integration`` for each kind given (secrets split from plain settings)."""
    secret_names = {"api_key", "client_secret"}
    vault = Vault.from_settings(settings)
    async with database.tenant_session(city) as session:
        for kind, values in kinds.items():
            if values is None:
                continue
            config = {k: v for k, v in values.items() if k not in secret_names}
            secrets = {k: v for k, v in values.items() if k in secret_names and v}
            await set_integration(session, vault, kind, config=config, secrets=secrets)
        await session.commit()


async def connect_city(
    database: Database,
    settings: Settings,
    sims: SimulatorHandle,
    city: TenantContext,
    demo: str = "tangerang",
    *,
    simpeg: bool = True,
    oidc: bool = True,
) -> Connected:
    """Point ``city`` at the ``demo`` city's Simpeg and OpenID issuer, with a client of its own whose
    redirect URI is this city's host (the dev issuer's clients can be added while it runs)."""
    issuer = sims.issuer(demo)
    client_id = f"kotalive-{city.slug}"
    client = OidcClient(
        client_id=client_id,
        client_secret=f"{city.slug}-secret",
        redirect_uris=(f"https://{city.primary_host}/staff/callback",),
        api_audience=f"kotalive-{city.slug}-api",
    )
    issuer.clients[client_id] = client
    connected = Connected(city, demo, issuer.url, client_id, str(client.client_secret), client.api_audience)
    await set_city_integrations(
        database,
        settings,
        city,
        simpeg=sims.city_settings(demo)["simpeg"] if simpeg else None,
        oidc=oidc_settings(connected) if oidc else None,
    )
    return connected


def provider_hops(url: str, redirect_uri: str, max_hops: int = 15) -> str:
    """Follow a real provider's redirects (with its cookies) until it sends the browser to
    ``redirect_uri``; returns that URL's path and query (what the browser would ask our app for)."""
    with httpx.Client(timeout=10) as http:
        for _ in range(max_hops):
            answer = http.get(url)
            if answer.status_code not in (302, 303):
                raise AssertionError(f"no redirect from {url}: {answer.status_code} {answer.text[:500]}")
            location = str(answer.url.join(answer.headers["location"]))
            if location.startswith(redirect_uri):
                parts = urlsplit(location)
                return f"{parts.path}?{parts.query}"
            url = location
    raise AssertionError("too many redirects at the provider")


async def start_login(client: Any, username: str | None, next_path: str | None = None) -> str:
    """``GET /staff/login`` on our app; returns the provider URL it redirects to."""
    params = {k: v for k, v in (("login_hint", username), ("next", next_path)) if v}
    answer = await client.get("/staff/login" + (f"?{urlencode(params)}" if params else ""))
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


async def login(client: Any, connected_redirect_uri: str, username: str, next_path: str | None = None) -> Any:
    """A whole employee login: our app -> the provider -> our callback. Returns the callback's answer."""
    provider_url = await start_login(client, username, next_path)
    callback = provider_hops(provider_url, connected_redirect_uri)
    return await client.get(callback)


def csrf_of(page_html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page_html)
    assert match, "no CSRF token in the page"
    return match.group(1)
