"""Employees' login through each city's own OpenID provider, and the API's bearer tokens.

Per city (``integration_setting`` kind ``oidc``, see ``OidcConfig``): issuer, client id, client
secret (stored encrypted), scopes, the audience of the API's access tokens.

The login is the authorization code flow with PKCE (S256), through Authlib's httpx client:

- ``start_login`` makes state, nonce and code verifier, keeps them in Redis for ten minutes under a
  hash of the state, bound to the city and to the browser (a random value in a short-lived cookie,
  so a callback URL planted in someone else's browser logs nobody in), and returns the provider's
  authorization URL;
- ``finish_login`` takes the state record out of Redis in one step (GETDEL: a replayed callback
  finds nothing), checks the browser binding and the ``iss`` response parameter (mix-up defence),
  redeems the code with the verifier, validates the ID token (signature against the provider's
  JWKS, issuer, audience, expiry, nonce, ``azp``, ``at_hash``) and spends the nonce (a nonce is
  accepted once, whatever state carried it); claims the ID token lacks come from the userinfo
  endpoint, whose ``sub`` must be the ID token's.

Bearer access tokens (JWT, RFC 9068) are verified here too: signature via the JWKS, issuer = this
city's issuer, audience = this city's ``api_audience`` (which must differ from the client id, so an
ID token is never accepted as an access token), expiry. Any failure is ``AuthError`` -> 401.

Discovery documents and JWKS are cached per issuer (an hour); a token signed with a key id the cache
does not know makes one refresh of that JWKS (at most one per ``refresh_interval`` per issuer, so a
flood of made-up key ids cannot hammer the provider), which is how a key rotation is picked up.
Only asymmetric algorithms are accepted: never ``none``, never HMAC with a guessable secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import Key, KeySet
from joserfc.jwt import JWTClaimsRegistry

from kotalive.auth.middleware import AuthError

log = logging.getLogger(__name__)

# Asymmetric signatures only: "none" and HMAC (keyed with a shared secret) are refused outright.
SIGNING_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
LEEWAY_SECONDS = 60  # clock skew tolerated on exp / iat / nbf
STATE_TTL_SECONDS = 600  # a login must come back from the provider within ten minutes
NONCE_TTL_SECONDS = 24 * 3600  # longer than any ID token lives
METADATA_TTL_SECONDS = 3600
MAX_TOKEN_LENGTH = 16_384
BROWSER_COOKIE = "kl_oidc"
STATE_PREFIX = "kotalive:oidc:state"
NONCE_PREFIX = "kotalive:oidc:nonce"
DEFAULT_SCOPES = ("openid", "profile", "email")
CALLBACK_PATH = "/staff/callback"


class OidcConfigError(ValueError):
    """The city's OpenID settings are unusable; ``field`` names the setting."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"oidc.{field}: {message}")
        self.field = field
        self.message = message


class ProviderUnavailable(RuntimeError):
    """The provider's discovery document, JWKS, token or userinfo endpoint failed."""


class LoginFailed(Exception):
    """A login that must be refused; ``reason`` is a short code for the audit log and the page."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def is_local_host(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost") or host.startswith("127.")


def _check_url(field_name: str, value: Any, *, allow_http: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OidcConfigError(field_name, "is required")
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OidcConfigError(field_name, "must be an https:// URL with a host")
    if parts.scheme == "http" and not (allow_http or is_local_host(parts.hostname)):
        raise OidcConfigError(
            field_name, "must use https:// (plain http only for a provider on this machine)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise OidcConfigError(field_name, "must not carry a query, fragment or credentials")
    return value


@dataclass(frozen=True, slots=True)
class OidcConfig:
    """One city's OpenID provider, as stored in its ``oidc`` integration (secrets merged in)."""

    issuer: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    # ``aud`` of the access tokens the employees' app sends to the JSON API; None: no bearer tokens.
    api_audience: str | None = None
    # Where the provider sends the browser back; default: this host's /staff/callback.
    redirect_uri: str | None = None
    # The claim that carries the Simpeg NIP (the login then matches on it, else on email).
    nip_claim: str = "nip"
    timeout_seconds: float = 5.0

    KNOWN = (
        "issuer",
        "client_id",
        "client_secret",
        "scopes",
        "api_audience",
        "redirect_uri",
        "nip_claim",
        "timeout_seconds",
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, allow_http: bool = False) -> OidcConfig:
        if not isinstance(data, Mapping):
            raise OidcConfigError("(config)", "must be an object")
        unknown = sorted(set(data) - set(cls.KNOWN))
        if unknown:
            raise OidcConfigError(unknown[0], "is not a known setting")
        issuer = _check_url("issuer", data.get("issuer"), allow_http=allow_http).rstrip("/")
        client_id = data.get("client_id")
        if not isinstance(client_id, str) or not client_id.strip():
            raise OidcConfigError("client_id", "is required")
        secret = data.get("client_secret") or None
        if secret is not None and not isinstance(secret, str):
            raise OidcConfigError("client_secret", "must be text")
        raw_scopes = data.get("scopes", DEFAULT_SCOPES)
        scopes = tuple(raw_scopes.split()) if isinstance(raw_scopes, str) else tuple(raw_scopes or ())
        if "openid" not in scopes or not all(isinstance(s, str) and s.isprintable() for s in scopes):
            raise OidcConfigError("scopes", "must include 'openid'")
        audience = data.get("api_audience") or None
        if audience is not None:
            if not isinstance(audience, str):
                raise OidcConfigError("api_audience", "must be text")
            if audience == client_id:
                # Otherwise an ID token (aud = client id) would pass as an access token.
                raise OidcConfigError("api_audience", "must differ from client_id")
        redirect = data.get("redirect_uri") or None
        if redirect is not None:
            redirect = _check_url("redirect_uri", redirect, allow_http=allow_http)
        nip_claim = data.get("nip_claim") or "nip"
        if not isinstance(nip_claim, str) or not nip_claim.isidentifier():
            raise OidcConfigError("nip_claim", "must be a claim name")
        timeout = data.get("timeout_seconds", 5.0)
        try:
            timeout = float(timeout)
        except (TypeError, ValueError):
            raise OidcConfigError("timeout_seconds", "must be a number of seconds") from None
        if not 0 < timeout <= 60:
            raise OidcConfigError("timeout_seconds", "must be more than 0 and at most 60")
        return cls(
            issuer=issuer,
            client_id=client_id.strip(),
            client_secret=secret,
            scopes=scopes,
            api_audience=audience,
            redirect_uri=redirect,
            nip_claim=nip_claim,
            timeout_seconds=timeout,
        )

    def plain(self) -> dict[str, Any]:
        """The settings that are not secret (what ``set_integration`` stores as config)."""
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "scopes": list(self.scopes),
            "api_audience": self.api_audience,
            "redirect_uri": self.redirect_uri,
            "nip_claim": self.nip_claim,
            "timeout_seconds": self.timeout_seconds,
        }


# ---- discovery and keys ------------------------------------------------------------------------


@dataclass(slots=True)
class _Jwks:
    keys: KeySet
    fetched_at: float
    forced_at: float = 0.0


class ProviderCache:
    """Discovery documents and JWKS per issuer, shared by the logins and the bearer checks of every
    city in this process. A fresh HTTP client per fetch: fetches are rare, and nothing here is then
    tied to one event loop's connection pool."""

    def __init__(
        self,
        *,
        ttl_seconds: float = METADATA_TTL_SECONDS,
        refresh_interval: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.ttl = ttl_seconds
        self.refresh_interval = refresh_interval
        self.transport = transport
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}
        self._jwks: dict[str, _Jwks] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.jwks_fetches: dict[str, int] = {}  # per issuer; tests read it

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def _get_json(self, url: str, http_timeout: float) -> Any:
        try:
            async with httpx.AsyncClient(
                timeout=http_timeout, follow_redirects=False, transport=self.transport
            ) as http:
                response = await http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"cannot reach {url} ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise ProviderUnavailable(f"{url} answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderUnavailable(f"{url} answered something that is not JSON") from exc

    async def metadata(self, issuer: str, http_timeout: float = 5.0) -> dict[str, Any]:
        cached = self._metadata.get(issuer)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        async with self._lock(f"meta:{issuer}"):
            cached = self._metadata.get(issuer)
            if cached and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
            doc = await self._get_json(f"{issuer}/.well-known/openid-configuration", http_timeout)
            if not isinstance(doc, dict) or doc.get("issuer") != issuer:
                # OpenID Connect Discovery §4.3: the document must name exactly this issuer.
                raise ProviderUnavailable(f"the discovery document at {issuer} names another issuer")
            for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(doc.get(endpoint), str):
                    raise ProviderUnavailable(f"the discovery document of {issuer} has no {endpoint}")
            self._metadata[issuer] = (time.monotonic(), doc)
            return doc

    async def _fetch_keys(self, issuer: str, http_timeout: float) -> KeySet:
        meta = await self.metadata(issuer, http_timeout)
        doc = await self._get_json(meta["jwks_uri"], http_timeout)
        self.jwks_fetches[issuer] = self.jwks_fetches.get(issuer, 0) + 1
        try:
            keys = KeySet.import_key_set(doc)
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise ProviderUnavailable(f"the JWKS of {issuer} is not a key set ({exc})") from exc
        return keys

    async def signing_key(self, issuer: str, kid: str | None, alg: str, http_timeout: float = 5.0) -> Key:
        """The provider's key for ``kid``; an unknown ``kid`` refreshes the JWKS once."""
        params: dict[str, Any] = {"alg": alg, "use": "sig"}
        async with self._lock(f"jwks:{issuer}"):
            entry = self._jwks.get(issuer)
            if entry is None or time.monotonic() - entry.fetched_at >= self.ttl:
                entry = self._jwks[issuer] = _Jwks(
                    await self._fetch_keys(issuer, http_timeout), time.monotonic()
                )
            try:
                return entry.keys.get_by_kid(kid, params)  # type: ignore[arg-type]
            except (InvalidKeyIdError, ValueError):
                pass
            now = time.monotonic()
            if now - entry.forced_at < self.refresh_interval:
                raise AuthError("the token is signed with a key this provider does not publish")
            log.info("unknown key id %r for %s: refreshing its JWKS", kid, issuer)
            entry = self._jwks[issuer] = _Jwks(
                await self._fetch_keys(issuer, http_timeout), now, forced_at=now
            )
            try:
                return entry.keys.get_by_kid(kid, params)  # type: ignore[arg-type]
            except (InvalidKeyIdError, ValueError):
                raise AuthError("the token is signed with a key this provider does not publish") from None

    def forget(self, issuer: str | None = None) -> None:
        if issuer is None:
            self._metadata.clear()
            self._jwks.clear()
        else:
            self._metadata.pop(issuer, None)
            self._jwks.pop(issuer, None)


# ---- JWT checks --------------------------------------------------------------------------------


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, unverified: only to refuse early and to find the key."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise AuthError("not a token")
    if token.count(".") != 2:
        raise AuthError("not a signed JWT")
    try:
        obj = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(obj.payload)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise AuthError("not a signed JWT") from exc
    if not isinstance(claims, dict):
        raise AuthError("not a signed JWT")
    return dict(obj.headers()), claims


def _claim_error(exc: JoseError, kind: str) -> AuthError:
    if isinstance(exc, ExpiredTokenError):
        return AuthError(f"the {kind} has expired")
    names = {
        "iss": "issuer",
        "aud": "audience",
        "nonce": "nonce",
        "azp": "authorized party",
        "nbf": "start time",
    }
    if isinstance(exc, MissingClaimError):
        return AuthError(f"the {kind} lacks a required claim ({exc.claim})")
    if isinstance(exc, InvalidClaimError):
        return AuthError(f"the {kind} has the wrong {names.get(exc.claim, exc.claim)}")
    return AuthError(f"the {kind} is invalid ({exc.error})")


async def _verified(
    token: str, providers: ProviderCache, issuer: str, kind: str, http_timeout: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    header, unverified = _peek(token)
    alg = header.get("alg")
    if alg not in SIGNING_ALGORITHMS:
        raise AuthError(f"the {kind} is not signed with an accepted algorithm")
    if unverified.get("iss") != issuer:
        # Refused before any key lookup, so another provider's tokens never trigger a JWKS refresh.
        raise AuthError(f"the {kind} has the wrong issuer")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise AuthError(f"the {kind} names no usable key")
    try:
        key = await providers.signing_key(issuer, kid, alg, http_timeout)
    except ProviderUnavailable as exc:
        raise AuthError(
            "the OpenID provider cannot be reached to check the token", "temporarily_unavailable"
        ) from exc
    try:
        decoded = jwt.decode(token, key, algorithms=[alg])
    except BadSignatureError:
        raise AuthError(f"the {kind}'s signature does not verify") from None
    except (JoseError, ValueError) as exc:
        raise AuthError(f"the {kind} cannot be read") from exc
    return dict(decoded.header), dict(decoded.claims)


async def verify_access_token(
    token: str, providers: ProviderCache, *, issuer: str, audience: str, http_timeout: float = 5.0
) -> dict[str, Any]:
    """Claims of a valid access token for this issuer and audience, else ``AuthError``."""
    _, claims = await _verified(token, providers, issuer, "access token", http_timeout)
    registry = JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        sub={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise _claim_error(exc, "access token") from None
    return claims


async def verify_id_token(
    token: str,
    providers: ProviderCache,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    access_token: str | None = None,
    http_timeout: float = 5.0,
) -> dict[str, Any]:
    """Claims of a valid ID token (OpenID Connect Core §3.1.3.7), else ``AuthError``."""
    header, claims = await _verified(token, providers, issuer, "ID token", http_timeout)
    id_token = CodeIDToken(
        claims,
        header,
        options={
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": client_id},
            "sub": {"essential": True},
            "nonce": {"essential": True},
        },
        params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    try:
        id_token.validate(leeway=LEEWAY_SECONDS)
    except JoseError as exc:
        raise _claim_error(exc, "ID token") from None
    if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
        raise AuthError("the ID token has the wrong nonce")
    return claims


# ---- the login -------------------------------------------------------------------------------------


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class LoginState(msgspec.Struct):
    tenant_id: int
    nonce: str
    code_verifier: str
    redirect_uri: str
    browser: str  # sha256 of the browser-binding cookie
    next: str
    created: float


@dataclass(frozen=True, slots=True)
class LoginStart:
    url: str
    browser_value: str  # goes into the BROWSER_COOKIE


def _client(config: OidcConfig, redirect_uri: str, metadata: dict[str, Any]) -> AsyncOAuth2Client:
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if config.client_secret is None:
        auth_method = "none"
    elif "client_secret_basic" in methods:
        auth_method = "client_secret_basic"
    else:
        auth_method = "client_secret_post"
    return AsyncOAuth2Client(
        client_id=config.client_id,
        client_secret=config.client_secret,
        scope=" ".join(config.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=auth_method,
        timeout=config.timeout_seconds,
        follow_redirects=False,
    )


class OidcService:
    """The per-process OpenID machinery: provider cache, per-city config cache, bearer checks."""

    def __init__(
        self, settings: Any, *, providers: ProviderCache | None = None, config_ttl: float = 30.0
    ) -> None:
        self.settings = settings
        self.providers = providers or ProviderCache()
        self.config_ttl = config_ttl
        self._configs: dict[int, tuple[float, OidcConfig | None]] = {}

    @property
    def allow_http(self) -> bool:
        return bool(getattr(self.settings, "env", "production") != "production")

    # ---- configuration -------------------------------------------------------------------------

    async def config_for(self, tenant: Any, *, fresh: bool = False) -> OidcConfig | None:
        """The city's OpenID settings (cached ``config_ttl`` seconds), None when not connected."""
        cached = self._configs.get(tenant.id)
        if not fresh and cached and time.monotonic() - cached[0] < self.config_ttl:
            return cached[1]
        from kotalive.auth.crypto import Vault
        from kotalive.db import tenant_session
        from kotalive.tenants.integrations import get_integration

        async with tenant_session(tenant) as session:
            row = await get_integration(session, Vault.from_settings(self.settings), "oidc", required=False)
        config = None
        if row is not None:
            try:
                config = OidcConfig.from_dict(row.merged(), allow_http=self.allow_http)
            except OidcConfigError as exc:
                log.warning("%s: unusable OpenID settings: %s", tenant.slug, exc)
        self._configs[tenant.id] = (time.monotonic(), config)
        return config

    def forget_config(self, tenant_id: int | None = None) -> None:
        if tenant_id is None:
            self._configs.clear()
        else:
            self._configs.pop(tenant_id, None)

    # ---- bearer tokens -------------------------------------------------------------------------

    async def verify_bearer(self, token: str, tenant: Any) -> Any:
        """``AuthRuntime.bearer``: an employee of ``tenant`` from a valid access token."""
        from kotalive.auth.employees import bearer_principal, principal_for_token
        from kotalive.db import get_database, tenant_session

        config = await self.config_for(tenant)
        if config is None or not config.api_audience:
            raise AuthError("this city accepts no bearer tokens (no OpenID provider with an API audience)")
        claims = await verify_access_token(
            token,
            self.providers,
            issuer=config.issuer,
            audience=config.api_audience,
            http_timeout=config.timeout_seconds,
        )
        # The NIP claim in one query; tokens without it (subject or e-mail) take the fuller lookup.
        matched, principal = await bearer_principal(get_database(), tenant, claims, config.nip_claim)
        if not matched:
            async with tenant_session(tenant) as session:
                principal = await principal_for_token(session, claims, config.nip_claim)
        if principal is None:
            raise AuthError("the token's holder is not a current employee of this city")
        return principal

    # ---- the login -----------------------------------------------------------------------------

    async def start_login(
        self,
        redis: Any,
        tenant: Any,
        config: OidcConfig,
        *,
        redirect_uri: str,
        next_path: str,
        login_hint: str | None = None,
    ) -> LoginStart:
        metadata = await self.metadata(config)
        state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
        browser = secrets.token_urlsafe(32)
        record = LoginState(
            tenant_id=tenant.id,
            nonce=nonce,
            code_verifier=verifier,
            redirect_uri=redirect_uri,
            browser=_digest(browser),
            next=next_path,
            created=time.time(),
        )
        await redis.set(f"{STATE_PREFIX}:{_digest(state)}", msgspec.json.encode(record), ex=STATE_TTL_SECONDS)
        extra: dict[str, str] = {"nonce": nonce}
        if login_hint:
            extra["login_hint"] = login_hint
        async with _client(config, redirect_uri, metadata) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"], state=state, code_verifier=verifier, **extra
            )
        return LoginStart(url=url, browser_value=browser)

    async def metadata(self, config: OidcConfig) -> dict[str, Any]:
        try:
            return await self.providers.metadata(config.issuer, config.timeout_seconds)
        except ProviderUnavailable as exc:
            raise LoginFailed("provider_unavailable", str(exc)) from exc

    async def take_state(self, redis: Any, state: str | None) -> LoginState:
        """The login's record, removed in the same step (a second callback with it finds nothing)."""
        if not state or len(state) > 512:
            raise LoginFailed("state_unknown", "no state")
        raw = await redis.getdel(f"{STATE_PREFIX}:{_digest(state)}")
        if raw is None:
            raise LoginFailed("state_unknown", "expired, already used or never issued")
        return msgspec.json.decode(raw, type=LoginState)

    async def finish_login(
        self,
        redis: Any,
        tenant: Any,
        config: OidcConfig,
        record: LoginState,
        *,
        params: Mapping[str, str],
        browser_value: str | None,
    ) -> dict[str, Any]:
        """The verified identity claims of a login coming back from the provider."""
        if record.tenant_id != tenant.id:
            raise LoginFailed("wrong_city", "this login was started for another city")
        if not browser_value or not hmac.compare_digest(_digest(browser_value), record.browser):
            raise LoginFailed("wrong_browser", "this login was started in another browser")
        if params.get("error"):
            raise LoginFailed(
                "provider_error", f"{params.get('error')}: {params.get('error_description', '')}"[:300]
            )
        if "iss" in params and params["iss"] != config.issuer:
            raise LoginFailed("wrong_issuer", "the answer comes from another provider (RFC 9207)")
        code = params.get("code")
        if not code or len(code) > 2048:
            raise LoginFailed("no_code", "the provider sent no authorization code")
        metadata = await self.metadata(config)
        try:
            async with _client(config, record.redirect_uri, metadata) as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=record.code_verifier,
                    redirect_uri=record.redirect_uri,
                )
        except OAuthError as exc:
            raise LoginFailed("code_refused", f"{exc.error}: {exc.description or ''}"[:300]) from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise LoginFailed("provider_unavailable", f"token endpoint: {type(exc).__name__}") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise LoginFailed("no_id_token", "the provider answered without an ID token")
        access_token = token.get("access_token")
        try:
            claims = await verify_id_token(
                id_token,
                self.providers,
                issuer=config.issuer,
                client_id=config.client_id,
                nonce=record.nonce,
                access_token=access_token if isinstance(access_token, str) else None,
                http_timeout=config.timeout_seconds,
            )
        except AuthError as exc:
            raise LoginFailed("id_token_invalid", exc.reason) from exc
        await spend_nonce(redis, config.issuer, record.nonce)
        if isinstance(access_token, str) and not _has_identity(claims, config.nip_claim):
            claims = {**(await self._userinfo(config, metadata, access_token, claims["sub"])), **claims}
        return claims

    async def _userinfo(
        self, config: OidcConfig, metadata: dict[str, Any], access_token: str, subject: str
    ) -> dict[str, Any]:
        endpoint = metadata.get("userinfo_endpoint")
        if not isinstance(endpoint, str):
            return {}
        try:
            async with httpx.AsyncClient(
                timeout=config.timeout_seconds, transport=self.providers.transport
            ) as http:
                response = await http.get(
                    endpoint,
                    headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                )
            info = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            log.warning("userinfo of %s could not be read", config.issuer)
            return {}
        if not isinstance(info, dict) or info.get("sub") != subject:
            # OpenID Connect Core §5.3.2: a userinfo answer about someone else is discarded.
            return {}
        return {k: v for k, v in info.items() if k not in ("iss", "aud", "exp", "iat", "nonce")}


def _has_identity(claims: Mapping[str, Any], nip_claim: str) -> bool:
    return bool(claims.get(nip_claim) or claims.get("email"))


async def spend_nonce(redis: Any, issuer: str, nonce: str) -> None:
    """Accept each nonce once: a replayed ID token is refused even if it came with a fresh state."""
    fresh = await redis.set(
        f"{NONCE_PREFIX}:{_digest(issuer + ' ' + nonce)}", b"1", nx=True, ex=NONCE_TTL_SECONDS
    )
    if not fresh:
        raise LoginFailed("nonce_replayed", "this ID token's nonce was already used")


def callback_url(request_base: str) -> str:
    """``https://host[:port]`` -> the callback URL on that host."""
    return request_base.rstrip("/") + CALLBACK_PATH


__all__ = [
    "BROWSER_COOKIE",
    "CALLBACK_PATH",
    "LoginFailed",
    "LoginStart",
    "LoginState",
    "OidcConfig",
    "OidcConfigError",
    "OidcService",
    "ProviderCache",
    "ProviderUnavailable",
    "spend_nonce",
    "verify_access_token",
    "verify_id_token",
]
