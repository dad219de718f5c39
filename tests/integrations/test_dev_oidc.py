"""The development OpenID provider: authorization code + PKCE end to end, and what it refuses."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from kotalive_simulators import SimulatorHandle
from oidc_flow import AuthRequest, authorize_url, follow_to_redirect_uri, new_request, verify_id_token

CITY = "tangerang"


@dataclass
class Provider:
    discovery: dict[str, Any]
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    api_audience: str

    def jwks(self) -> dict[str, Any]:
        return httpx.get(self.discovery["jwks_uri"]).json()

    def login(self, username: str = "agus.setiawan") -> tuple[str, AuthRequest]:
        req = new_request()
        with httpx.Client() as http:
            url = authorize_url(self.discovery, self.client_id, self.redirect_uri, req, login_hint=username)
            answer = follow_to_redirect_uri(http, url, self.redirect_uri)
        assert answer["state"] == req.state and answer["iss"] == self.issuer
        return answer["code"], req

    def redeem(self, code: str, verifier: str, secret: str | None = None) -> httpx.Response:
        return httpx.post(
            self.discovery["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            },
            auth=(self.client_id, secret or self.client_secret),
        )


@pytest.fixture
def op(sims: SimulatorHandle) -> Provider:
    settings = sims.city_settings(CITY)["oidc"]
    return Provider(
        discovery=httpx.get(f"{settings['issuer']}/.well-known/openid-configuration").json(),
        issuer=settings["issuer"],
        client_id=settings["client_id"],
        client_secret=settings["client_secret"],
        redirect_uri=settings["redirect_uri"],
        api_audience=settings["api_audience"],
    )


def test_discovery_describes_the_issuer(op: Provider) -> None:
    d = op.discovery
    assert d["issuer"] == op.issuer
    assert d["code_challenge_methods_supported"] == ["S256"]
    assert d["id_token_signing_alg_values_supported"] == ["RS256"]
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        assert d[key].startswith(op.issuer + "/")


def test_code_and_pkce_yield_signed_tokens_with_the_nip(op: Provider, sims: SimulatorHandle) -> None:
    code, req = op.login()
    answer = op.redeem(code, req.verifier)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    tokens = answer.json()
    jwks = op.jwks()
    claims = verify_id_token(tokens["id_token"], jwks, op.issuer, op.client_id, req.nonce)
    agus = sims.cities[CITY].employee("agus.setiawan")
    assert claims["nip"] == agus.nip
    assert claims["preferred_username"] == "agus.setiawan" and claims["name"] == agus.nama
    assert claims["email"] == agus.email
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    access = jwt.decode(tokens["access_token"], KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert access.header["typ"] == "at+jwt"
    assert access.claims["aud"] == op.api_audience and access.claims["iss"] == op.issuer
    assert access.claims["sub"] == claims["sub"] and access.claims["nip"] == agus.nip
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = httpx.get(op.discovery["userinfo_endpoint"], headers=bearer)
    assert info.status_code == 200 and info.json()["nip"] == agus.nip


def test_a_wrong_verifier_is_refused_and_burns_the_code(op: Provider) -> None:
    code, req = op.login()
    refused = op.redeem(code, new_request().verifier)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    again = op.redeem(code, req.verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_code_is_good_once_and_reuse_revokes_its_tokens(op: Provider) -> None:
    code, req = op.login()
    first = op.redeem(code, req.verifier)
    assert first.status_code == 200
    second = op.redeem(code, req.verifier)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
    assert httpx.get(op.discovery["userinfo_endpoint"], headers=bearer).status_code == 401


def test_client_authentication(op: Provider) -> None:
    code, req = op.login()
    wrong = op.redeem(code, req.verifier, secret="not-the-secret")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    code, req = op.login()
    posted = httpx.post(  # client_secret_post works too
        op.discovery["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": op.redirect_uri,
            "code_verifier": req.verifier,
            "client_id": op.client_id,
            "client_secret": op.client_secret,
        },
    )
    assert posted.status_code == 200


def test_authorization_requests_it_refuses(op: Provider) -> None:
    req = new_request()
    d, cid, redirect = op.discovery, op.client_id, op.redirect_uri
    with httpx.Client() as http:
        # No PKCE, or plain PKCE: back to the client with an error and its state.
        for extra in ({"code_challenge": ""}, {"code_challenge_method": "plain"}):
            answer = http.get(authorize_url(d, cid, redirect, req, login_hint="agus.setiawan", **extra))
            assert answer.status_code == 302
            location = answer.headers["location"]
            assert "error=invalid_request" in location and f"state={req.state}" in location
        answer = http.get(authorize_url(d, cid, redirect, req, scope="profile", login_hint="agus.setiawan"))
        assert "error=invalid_scope" in answer.headers["location"]
        # An unregistered redirect URI or client: an error page here, never a redirect.
        for url in (
            authorize_url(d, cid, "https://evil.example/cb", req, login_hint="agus.setiawan"),
            authorize_url(d, "nobody", redirect, req, login_hint="agus.setiawan"),
        ):
            answer = http.get(url)
            assert answer.status_code == 400 and "location" not in answer.headers
        # Without a login hint a person picks an account from a page.
        page = http.get(authorize_url(d, cid, redirect, req))
        assert page.status_code == 200 and "agus.setiawan" in page.text and "konsultan.tik" in page.text
        assert (
            "error=login_required"
            in http.get(authorize_url(d, cid, redirect, req, prompt="none")).headers["location"]
        )


def test_an_account_without_simpeg_record_has_no_nip(op: Provider) -> None:
    code, req = op.login("konsultan.tik")
    tokens = op.redeem(code, req.verifier).json()
    claims = verify_id_token(tokens["id_token"], op.jwks(), op.issuer, op.client_id, req.nonce)
    assert "nip" not in claims and claims["preferred_username"] == "konsultan.tik"


def test_key_rotation_publishes_both_keys_and_signs_with_the_new_one(
    op: Provider, sims: SimulatorHandle
) -> None:
    issuer = sims.issuer(CITY)
    old_kid = issuer.keys[0].kid
    old_token = issuer.sign({"iss": issuer.url, "sub": "x"})
    new_kid = httpx.post(f"{op.issuer}/_control/rotate-key", json={"keep_old": True}).json()["kid"]
    jwks = op.jwks()
    # Newest first; earlier tests of the session may have rotated this shared provider before.
    assert [k["kid"] for k in jwks["keys"]][:2] == [new_kid, old_kid]
    code, req = op.login()
    tokens = op.redeem(code, req.verifier).json()
    assert jwt.decode(tokens["id_token"], KeySet.import_key_set(jwks)).header["kid"] == new_kid
    assert jwt.decode(old_token, KeySet.import_key_set(jwks)).claims["sub"] == "x"
    # Keys persist in the state folder: a restart keeps both.
    assert issuer.key_file is not None and new_kid in issuer.key_file.read_text()
