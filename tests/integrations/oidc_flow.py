"""A scripted OpenID Connect relying party for the tests: PKCE, the redirects, the token request,
ID token verification against the provider's JWKS (joserfc). Imported as ``oidc_flow``."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class AuthRequest:
    state: str
    nonce: str
    verifier: str
    challenge: str


def new_request() -> AuthRequest:
    verifier, challenge = pkce_pair()
    return AuthRequest(secrets.token_urlsafe(16), secrets.token_urlsafe(16), verifier, challenge)


def authorize_url(
    discovery: dict[str, Any], client_id: str, redirect_uri: str, req: AuthRequest, **extra: str
) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile email",
        "state": req.state,
        "nonce": req.nonce,
        "code_challenge": req.challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return str(httpx.URL(discovery["authorization_endpoint"], params=params))


def follow_to_redirect_uri(
    http: httpx.Client, url: str, redirect_uri: str, max_hops: int = 12
) -> dict[str, str]:
    """Follow the provider's redirects (keeping its cookies) until it sends us to ``redirect_uri``;
    returns that redirect's query parameters."""
    for _ in range(max_hops):
        answer = http.get(url)
        if answer.status_code not in (302, 303):
            raise AssertionError(f"no redirect from {url}: {answer.status_code} {answer.text[:300]}")
        location = str(answer.url.join(answer.headers["location"]))
        if location.startswith(redirect_uri):
            query = parse_qs(urlsplit(location).query)
            return {k: v[0] for k, v in query.items()}
        url = location
    raise AssertionError("too many redirects")


def verify_id_token(
    token: str, jwks: dict[str, Any], issuer: str, client_id: str, nonce: str
) -> dict[str, Any]:
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(decoded.claims)
    return decoded.claims
