"""Against an OpenID provider no one here wrote: the npm package oidc-provider, on loopback.

Authorization code + PKCE with a scripted login (login_hint), then the ID token verified against
the provider's JWKS; the access token is a JWT for the configured API audience.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from kotalive_simulators import NpmOidcHandle, OidcClient, OidcUser, start_npm_oidc_provider
from oidc_flow import authorize_url, follow_to_redirect_uri, new_request, verify_id_token

CLIENT = OidcClient(
    client_id="kotalive-test",
    client_secret="npm-provider-test-secret-0123456789",
    redirect_uris=("http://tangerang.localhost:8000/staff/callback",),
    api_audience="urn:kotalive:test:api",
)
AGUS = OidcUser(
    sub="agus-001",
    username="agus.setiawan",
    name="Agus Setiawan",
    email="agus.setiawan@pemkot-tangerang.test",
    nip="198802142012031001",
)
VENDOR = OidcUser(sub="vendor-9", username="konsultan", name="Konsultan", email="k@vendor.test", nip=None)


@pytest.fixture(scope="module")
def npm_op() -> Iterator[NpmOidcHandle]:
    with start_npm_oidc_provider(0, CLIENT, [AGUS, VENDOR], audience=CLIENT.api_audience) as handle:
        yield handle


def login_and_redeem(npm_op: NpmOidcHandle, username: str, scope: str) -> tuple[dict[str, str], str, dict]:  # type: ignore[type-arg]
    discovery = httpx.get(npm_op.discovery_url).json()
    req = new_request()
    redirect_uri = CLIENT.redirect_uris[0]
    with httpx.Client() as http:
        url = authorize_url(discovery, CLIENT.client_id, redirect_uri, req, login_hint=username, scope=scope)
        answer = follow_to_redirect_uri(http, url, redirect_uri)
        assert answer.get("state") == req.state, answer
        tokens = http.post(
            discovery["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": answer["code"],
                "redirect_uri": redirect_uri,
                "code_verifier": req.verifier,
            },
            auth=(CLIENT.client_id, CLIENT.client_secret or ""),
        )
        assert tokens.status_code == 200, tokens.text
    return tokens.json(), req.nonce, discovery


def test_code_and_pkce_yield_a_valid_id_token(npm_op: NpmOidcHandle) -> None:
    tokens, nonce, discovery = login_and_redeem(npm_op, "agus.setiawan", "openid profile email api")
    jwks = httpx.get(discovery["jwks_uri"]).json()
    claims = verify_id_token(tokens["id_token"], jwks, npm_op.issuer, CLIENT.client_id, nonce)
    assert claims["sub"] == AGUS.sub
    assert claims["nip"] == AGUS.nip and claims["email"] == AGUS.email
    access = jwt.decode(tokens["access_token"], KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert access.claims["aud"] == CLIENT.api_audience and access.claims["iss"] == npm_op.issuer


def test_pkce_is_required_and_a_wrong_verifier_refused(npm_op: NpmOidcHandle) -> None:
    discovery = httpx.get(npm_op.discovery_url).json()
    req = new_request()
    redirect_uri = CLIENT.redirect_uris[0]
    with httpx.Client() as http:
        url = authorize_url(
            discovery, CLIENT.client_id, redirect_uri, req, login_hint="agus.setiawan", code_challenge=""
        )
        answer = follow_to_redirect_uri(http, url, redirect_uri)
        assert answer["error"] == "invalid_request"
        url = authorize_url(discovery, CLIENT.client_id, redirect_uri, req, login_hint="agus.setiawan")
        code = follow_to_redirect_uri(http, url, redirect_uri)["code"]
        refused = http.post(
            discovery["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": new_request().verifier,
            },
            auth=(CLIENT.client_id, CLIENT.client_secret or ""),
        )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_an_account_without_nip(npm_op: NpmOidcHandle) -> None:
    tokens, nonce, discovery = login_and_redeem(npm_op, "konsultan", "openid profile")
    claims = verify_id_token(
        tokens["id_token"], httpx.get(discovery["jwks_uri"]).json(), npm_op.issuer, CLIENT.client_id, nonce
    )
    assert claims["sub"] == VENDOR.sub and "nip" not in claims
