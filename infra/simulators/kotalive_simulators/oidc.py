"""Development OpenID Connect provider: one issuer per city at ``http://host:port/{city}``.

Authorization code flow only, PKCE (S256) required for every client; no passwords: ``/authorize``
shows the accounts to pick from, or approves at once for a known ``login_hint`` (scripted logins).
ID and access tokens are RS256 JWTs (joserfc); the access token's ``aud`` is the client's
``api_audience``. Contract and demo accounts: ../README.md. Not for production in any way.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect

from kotalive_simulators.data import DemoCity, OidcClient, OidcUser

CODE_TTL = 60
SCOPES = ("openid", "profile", "email")
PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")


@dataclass(slots=True)
class IssuerConfig:
    clients: list[OidcClient]
    users: list[OidcUser]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IssuerConfig:
        return cls(
            clients=[OidcClient.from_dict(c) for c in data.get("clients", [])],
            users=[
                OidcUser(
                    sub=str(u.get("sub") or u["username"]),
                    username=str(u["username"]),
                    name=str(u.get("name", u["username"])),
                    email=str(u.get("email", "")),
                    nip=u.get("nip"),
                    description=str(u.get("description", "")),
                )
                for u in data.get("users", [])
            ],
        )


def demo_issuers(
    cities: dict[str, DemoCity], platform_port: int = 8000, callback_path: str = "/staff/callback"
) -> dict[str, IssuerConfig]:
    return {
        slug: IssuerConfig(clients=[city.oidc_client(platform_port, callback_path)], users=city.oidc_users())
        for slug, city in cities.items()
    }


def load_issuers(path: Path) -> dict[str, IssuerConfig]:
    """A JSON file {"issuers": {"<city>": {"clients": [...], "users": [...]}}} (see ../README.md)."""
    data = json.loads(path.read_text())
    return {slug: IssuerConfig.from_dict(cfg) for slug, cfg in data["issuers"].items()}


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    user: OidcUser
    scope: str
    nonce: str | None
    expires: float
    auth_time: int
    used: bool = False
    issued_jtis: list[str] = field(default_factory=list)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    """One city's provider: keys, clients, accounts, outstanding codes. Thread-safe enough for a
    simulator (one lock around the mutable state)."""

    def __init__(
        self,
        slug: str,
        url: str,
        config: IssuerConfig,
        key_file: Path | None = None,
        id_token_ttl: int = 300,
        access_token_ttl: int = 3600,
    ) -> None:
        self.slug = slug
        self.url = url.rstrip("/")
        self.clients = {c.client_id: c for c in config.clients}
        self.users = {u.username: u for u in config.users}
        self.id_token_ttl = id_token_ttl
        self.access_token_ttl = access_token_ttl
        self.key_file = key_file
        self.keys: list[RSAKey] = self._load_keys()
        self._codes: dict[str, _Code] = {}
        self._revoked: set[str] = set()
        self._lock = threading.Lock()

    # --- keys -----------------------------------------------------------------------------------

    def _load_keys(self) -> list[RSAKey]:
        if self.key_file is not None and self.key_file.is_file():
            return [RSAKey.import_key(k) for k in json.loads(self.key_file.read_text())["keys"]]
        keys = [self._new_key()]
        self._save_keys(keys)
        return keys

    def _new_key(self) -> RSAKey:
        key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
        key.ensure_kid()
        return key

    def _save_keys(self, keys: list[RSAKey]) -> None:
        if self.key_file is not None:
            self.key_file.parent.mkdir(parents=True, exist_ok=True)
            self.key_file.write_text(json.dumps({"keys": [k.as_dict(private=True) for k in keys]}))
            self.key_file.chmod(0o600)

    def rotate_key(self, keep_old: bool = True) -> str:
        """Sign with a new key from now on; the JWKS keeps the old one unless ``keep_old`` is false."""
        key = self._new_key()
        self.keys = [key, *self.keys] if keep_old else [key]
        self._save_keys(self.keys)
        return str(key.kid)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in self.keys]}

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        """A JWT signed with the current key (tests may forge tokens the platform must refuse)."""
        key = self.keys[0]
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": typ}, claims, key)

    # --- metadata -------------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks",
            "end_session_endpoint": f"{self.url}/logout",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(SCOPES),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "name",
                "preferred_username",
                "email",
                "email_verified",
                "nip",
            ],  # fmt: skip
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
        }

    # --- the flow -------------------------------------------------------------------------------

    def new_code(
        self,
        client: OidcClient,
        redirect_uri: str,
        challenge: str,
        user: OidcUser,
        scope: str,
        nonce: str | None,
    ) -> str:
        code = secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            self._codes = {k: v for k, v in self._codes.items() if v.expires > now - 600}
            self._codes[code] = _Code(
                client_id=client.client_id,
                redirect_uri=redirect_uri,
                challenge=challenge,
                user=user,
                scope=scope,
                nonce=nonce,
                expires=now + CODE_TTL,
                auth_time=int(now),
            )
        return code

    def redeem(self, code: str, client: OidcClient, redirect_uri: str | None, verifier: str | None) -> _Code:
        """The code's grant, or TokenError. A second use of a code is refused and revokes the tokens
        the first use got (RFC 6749 §4.1.2)."""
        with self._lock:
            grant = self._codes.get(code)
            if grant is None:
                raise TokenError("invalid_grant", "unknown authorization code")
            if grant.used:
                self._revoked.update(grant.issued_jtis)
                raise TokenError("invalid_grant", "authorization code already used")
            grant.used = True
        if grant.expires < time.time():
            raise TokenError("invalid_grant", "authorization code expired")
        if grant.client_id != client.client_id:
            raise TokenError("invalid_grant", "authorization code was issued to another client")
        if redirect_uri != grant.redirect_uri:
            raise TokenError("invalid_grant", "redirect_uri differs from the authorization request")
        if not verifier or not PKCE_VERIFIER.fullmatch(verifier):
            raise TokenError("invalid_grant", "code_verifier missing or malformed")
        if not secrets.compare_digest(_b64(hashlib.sha256(verifier.encode()).digest()), grant.challenge):
            raise TokenError("invalid_grant", "code_verifier does not match the code_challenge")
        return grant

    def tokens(self, grant: _Code, client: OidcClient) -> dict[str, Any]:
        now = int(time.time())
        user, scopes = grant.user, grant.scope.split()
        jti = secrets.token_urlsafe(16)
        access_claims: dict[str, Any] = {
            "iss": self.url,
            "sub": user.sub,
            "aud": client.api_audience,
            "client_id": client.client_id,
            "scope": grant.scope,
            "iat": now,
            "nbf": now,
            "exp": now + self.access_token_ttl,
            "jti": jti,
            "preferred_username": user.username,
        }
        if user.nip:
            access_claims["nip"] = user.nip
        access_token = self.sign(access_claims, typ="at+jwt")
        digest = hashlib.sha256(access_token.encode()).digest()
        id_claims: dict[str, Any] = {
            "iss": self.url,
            "sub": user.sub,
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": now,
            "exp": now + self.id_token_ttl,
            "auth_time": grant.auth_time,
            "at_hash": _b64(digest[: len(digest) // 2]),
            **self.scoped_claims(user, scopes),
        }
        if grant.nonce:
            id_claims["nonce"] = grant.nonce
        with self._lock:
            grant.issued_jtis.append(jti)
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.access_token_ttl,
            "id_token": self.sign(id_claims),
            "scope": grant.scope,
        }

    @staticmethod
    def scoped_claims(user: OidcUser, scopes: list[str]) -> dict[str, Any]:
        every = user.claims()
        claims: dict[str, Any] = {}
        if "profile" in scopes:
            claims.update({k: every[k] for k in ("name", "preferred_username") if k in every})
        if "email" in scopes:
            claims.update({k: every[k] for k in ("email", "email_verified") if k in every})
        if "nip" in every:  # the link to Simpeg goes with every token
            claims["nip"] = every["nip"]
        return claims

    def userinfo(self, access_token: str) -> dict[str, Any]:
        try:
            token = jwt.decode(access_token, KeySet(list(self.keys)), algorithms=["RS256"])
        except (JoseError, ValueError) as exc:
            raise TokenError("invalid_token", f"cannot verify the access token ({exc})") from exc
        claims = token.claims
        if claims.get("iss") != self.url or token.header.get("typ") != "at+jwt":
            raise TokenError("invalid_token", "not an access token of this issuer")
        if int(claims.get("exp", 0)) < time.time() or claims.get("jti") in self._revoked:
            raise TokenError("invalid_token", "access token expired or revoked")
        user = next((u for u in self.users.values() if u.sub == claims.get("sub")), None)
        if user is None:
            raise TokenError("invalid_token", "unknown subject")
        return {"sub": user.sub, **self.scoped_claims(user, str(claims.get("scope", "")).split())}

    def authenticate_client(self, request_headers: Any, form: Any) -> OidcClient:
        auth = request_headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                raw = base64.b64decode(auth[6:].strip(), validate=True).decode()
                client_id, _, secret = raw.partition(":")
                client_id, secret = unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))
            except (ValueError, UnicodeDecodeError):
                raise TokenError("invalid_client", "malformed Basic credentials", 401) from None
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret")
        client = self.clients.get(client_id)
        if client is None:
            raise TokenError("invalid_client", "unknown client", 401)
        if client.client_secret is None:
            if secret:
                raise TokenError("invalid_client", "public client sent a secret", 401)
        elif not secret or not secrets.compare_digest(secret.encode(), client.client_secret.encode()):
            raise TokenError("invalid_client", "wrong client secret", 401)
        return client


class TokenError(Exception):
    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status

    def response(self) -> Response[dict[str, str]]:
        headers = {"Cache-Control": "no-store"}
        if self.status == 401:
            headers["WWW-Authenticate"] = f'Basic realm="oidc", error="{self.code}"'
        return Response(
            {"error": self.code, "error_description": self.description},
            status_code=self.status,
            headers=headers,
        )


def _page(title: str, body: str, status: int = 200) -> Response[str]:
    return Response(
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:46em;margin:2em auto}li{margin:.4em 0}"
        "small{color:#666}</style>"
        f"<h1>{html.escape(title)}</h1>{body}",
        status_code=status,
        media_type=MediaType.HTML,
    )


def _with_params(url: str, params: dict[str, str]) -> str:
    return url + ("&" if urlsplit(url).query else "?") + urlencode(params)


def oidc_app(issuers: dict[str, Issuer]) -> Litestar:
    def issuer_of(city: str) -> Issuer | None:
        return issuers.get(city)

    @get("/{city:str}/.well-known/openid-configuration")
    async def discovery(city: FromPath[str]) -> Response[Any]:
        issuer = issuer_of(city)
        if issuer is None:
            return Response({"error": "unknown issuer"}, status_code=404)
        return Response(issuer.discovery())

    @get("/{city:str}/jwks")
    async def jwks(city: FromPath[str]) -> Response[Any]:
        issuer = issuer_of(city)
        if issuer is None:
            return Response({"error": "unknown issuer"}, status_code=404)
        return Response(issuer.jwks(), headers={"Cache-Control": "max-age=60"})

    @get("/{city:str}/authorize", media_type=MediaType.HTML)
    async def authorize(request: Request[Any, Any, Any], city: FromPath[str]) -> Response[Any]:
        issuer = issuer_of(city)
        if issuer is None:
            return _page("Unknown issuer", "", 404)
        q = request.query_params
        client = issuer.clients.get(q.get("client_id", ""))
        redirect_uri = q.get("redirect_uri", "")
        # Errors before the redirect URI is trusted are shown here, never redirected (open redirect).
        if client is None:
            return _page("Login error", "<p>Unknown client_id.</p>", 400)
        if redirect_uri not in client.redirect_uris:
            return _page("Login error", "<p>redirect_uri is not registered for this client.</p>", 400)
        state = q.get("state")

        def fail(code: str, description: str) -> Response[Any]:
            params = {"error": code, "error_description": description, "iss": issuer.url}
            if state is not None:
                params["state"] = state
            return Redirect(_with_params(redirect_uri, params), status_code=302)

        if q.get("response_type") != "code":
            return fail("unsupported_response_type", "only response_type=code")
        scopes = q.get("scope", "").split()
        if "openid" not in scopes:
            return fail("invalid_scope", "scope must include openid")
        scope = " ".join(s for s in scopes if s in SCOPES)
        challenge, method = q.get("code_challenge"), q.get("code_challenge_method")
        if not challenge or method != "S256":
            return fail("invalid_request", "PKCE with code_challenge_method=S256 is required")
        if not PKCE_CHALLENGE.fullmatch(challenge):
            return fail("invalid_request", "code_challenge is not a base64url SHA-256")
        hint = q.get("login_hint")
        user = issuer.users.get(hint or "") or next(
            (u for u in issuer.users.values() if hint and hint in (u.email, u.sub)), None
        )
        if user is not None:
            code = issuer.new_code(client, redirect_uri, challenge, user, scope, q.get("nonce"))
            params = {"code": code, "iss": issuer.url}
            if state is not None:
                params["state"] = state
            return Redirect(_with_params(redirect_uri, params), status_code=302)
        if q.get("prompt") == "none":
            return fail("login_required", "no login_hint of a known account")
        # The picker: each account is a link to this same request plus its login_hint.
        base = {k: v for k, v in q.items() if k != "login_hint"}
        items = "".join(
            f'<li><a href="{html.escape(f"{issuer.url}/authorize?" + urlencode({**base, "login_hint": u.username}))}">'
            f"{html.escape(u.name)}</a> <code>{html.escape(u.username)}</code>"
            f"<br><small>{html.escape(u.description)}</small></li>"
            for u in sorted(issuer.users.values(), key=lambda u: u.username)
        )
        note = f"<p>No account {html.escape(hint)!s}.</p>" if hint else ""
        return _page(
            f"Development login: {city}",
            f"{note}<p>Pick an account to sign in to <b>{html.escape(client.client_id)}</b> "
            f"(development OpenID provider: no passwords).</p><ul>{items}</ul>",
        )

    @post("/{city:str}/token", status_code=200)
    async def token(request: Request[Any, Any, Any], city: FromPath[str]) -> Response[Any]:
        issuer = issuer_of(city)
        if issuer is None:
            return Response({"error": "unknown issuer"}, status_code=404)
        form = await request.form()
        try:
            client = issuer.authenticate_client(request.headers, form)
            if form.get("grant_type") != "authorization_code":
                raise TokenError("unsupported_grant_type", "only authorization_code")
            grant = issuer.redeem(
                form.get("code", ""), client, form.get("redirect_uri"), form.get("code_verifier")
            )
            return Response(issuer.tokens(grant, client), headers={"Cache-Control": "no-store"})
        except TokenError as exc:
            return exc.response()

    async def _userinfo(request: Request[Any, Any, Any], city: str) -> Response[Any]:
        issuer = issuer_of(city)
        if issuer is None:
            return Response({"error": "unknown issuer"}, status_code=404)
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return Response(
                {"error": "invalid_token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="oidc"'},
            )
        try:
            return Response(issuer.userinfo(auth[7:].strip()))
        except TokenError as exc:
            return Response(
                {"error": exc.code, "error_description": exc.description},
                status_code=401,
                headers={"WWW-Authenticate": f'Bearer error="{exc.code}"'},
            )

    @get("/{city:str}/userinfo")
    async def userinfo_get(request: Request[Any, Any, Any], city: FromPath[str]) -> Response[Any]:
        return await _userinfo(request, city)

    @post("/{city:str}/userinfo", status_code=200)
    async def userinfo_post(request: Request[Any, Any, Any], city: FromPath[str]) -> Response[Any]:
        return await _userinfo(request, city)

    @get("/{city:str}/logout", media_type=MediaType.HTML)
    async def logout(request: Request[Any, Any, Any], city: FromPath[str]) -> Response[Any]:
        issuer = issuer_of(city)
        if issuer is None:
            return _page("Unknown issuer", "", 404)
        target = request.query_params.get("post_logout_redirect_uri")
        allowed = {uri for c in issuer.clients.values() for uri in c.post_logout_redirect_uris}
        if target and target in allowed:
            state = request.query_params.get("state")
            return Redirect(_with_params(target, {"state": state}) if state else target, status_code=302)
        return _page("Signed out", "<p>The development provider keeps no session: you are signed out.</p>")

    @post("/{city:str}/_control/rotate-key", status_code=200)
    async def rotate(city: FromPath[str], data: JSONBody[dict[str, Any] | None] = None) -> Response[Any]:
        issuer = issuer_of(city)
        if issuer is None:
            return Response({"error": "unknown issuer"}, status_code=404)
        kid = issuer.rotate_key(keep_old=bool((data or {}).get("keep_old", True)))
        return Response({"kid": kid})

    app = Litestar(
        [discovery, jwks, authorize, token, userinfo_get, userinfo_post, logout, rotate],
        debug=False,
    )
    app.state.issuers = issuers
    return app
