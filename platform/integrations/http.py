"""What every outside-system adapter shares: the config shape, the errors, one JSON-over-HTTP call.

Every outside system of a city (SIAK, Simpeg, the SMS gateway) is a small JSON API behind a base URL
and an API key sent in the ``X-API-Key`` header. The adapters turn its answers into three failures a
caller can act on:

- ``NotFound``: the system answered and does not know the thing (show "not found");
- ``Unavailable``: timeout, connection refused, 5xx, a garbled answer (show "try again later");
- ``Misconfigured``: 401/403, a URL that is not the system's API (tell the city admin).

A 404 is ``NotFound`` only with the contract's body {"error": "not_found"}; any other 404 means the
base URL is wrong. A 4xx that is none of those (the system refused this input) is ``Rejected``.
GETs are retried once on a refused connection or a 502/503/504; sends are never retried (the
caller decides).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

# httpx logs every request URL at INFO, and SIAK's URL carries a NIK (personal data under UU PDP):
# its requests are never logged above WARNING.
logging.getLogger("httpx").setLevel(logging.WARNING)

API_KEY_HEADER = "X-API-Key"
USER_AGENT = "kotalive-integrations/1"
# How long a retried GET waits before its second try.
RETRY_PAUSE_SECONDS = 0.2
_RETRY_STATUSES = frozenset({502, 503, 504})


class IntegrationError(Exception):
    """Base of every failure an adapter raises; ``system`` names the outside system."""

    def __init__(self, system: str, message: str) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system
        self.message = message


class NotFound(IntegrationError):
    """The system answered and does not know the requested record."""


class Unavailable(IntegrationError):
    """The system could not be reached or failed (timeout, refused, 5xx): try again later."""


class Misconfigured(IntegrationError):
    """The city's settings for this system are wrong (key refused, URL not the system's API)."""


class Rejected(IntegrationError):
    """The system refused the request itself (e.g. an invalid phone number); ``status`` is HTTP's."""

    def __init__(self, system: str, message: str, status: int) -> None:
        super().__init__(system, message)
        self.status = status


class ConfigError(ValueError):
    """A config value is missing or invalid; ``field`` names it (e.g. ``siak.api_key``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Where a city's outside system answers: base URL (may carry a path), API key, timeout."""

    base_url: str
    api_key: str
    timeout_seconds: float = 5.0

    # Prefix for field names in ConfigError ("siak", "simpeg", "sms"); subclasses set it.
    system = "service"

    def __post_init__(self) -> None:
        self._check()

    def _check(self) -> None:
        prefix = self.system
        if not isinstance(self.base_url, str) or not self.base_url.strip():
            raise ConfigError(f"{prefix}.base_url", "is required")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{prefix}.base_url", "must be an http:// or https:// URL with a host")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ConfigError(f"{prefix}.base_url", "must not carry a query, fragment or credentials")
        if not isinstance(self.api_key, str) or not self.api_key.strip():
            raise ConfigError(f"{prefix}.api_key", "is required")
        if any(c in self.api_key for c in "\r\n"):
            raise ConfigError(f"{prefix}.api_key", "must be a single line")
        timeout = self.timeout_seconds
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not math.isfinite(timeout):
            raise ConfigError(f"{prefix}.timeout_seconds", "must be a number of seconds")
        if not 0 < timeout <= 120:
            raise ConfigError(f"{prefix}.timeout_seconds", "must be more than 0 and at most 120")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from a settings row / JSON object; unknown or missing fields raise ConfigError."""
        if not isinstance(data, Mapping):
            raise ConfigError(cls.system, "must be an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{cls.system}.{unknown[0]}", "is not a known setting")
        for f in fields(cls):
            if f.name not in data and f.default is MISSING and f.default_factory is MISSING:
                raise ConfigError(f"{cls.system}.{f.name}", "is required")
        values = dict(data)
        if "timeout_seconds" in values and isinstance(values["timeout_seconds"], str):
            try:
                values["timeout_seconds"] = float(values["timeout_seconds"])
            except ValueError:
                raise ConfigError(f"{cls.system}.timeout_seconds", "must be a number of seconds") from None
        if isinstance(values.get("base_url"), str):
            values["base_url"] = values["base_url"].strip()
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __repr__(self) -> str:  # never print the key
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key='***', timeout_seconds={self.timeout_seconds})"


class JsonApiClient:
    """One httpx.AsyncClient per adapter instance, with the error mapping of this module.

    Use as ``async with`` or call ``aclose()``; ``transport`` is for tests (httpx.MockTransport).
    """

    def __init__(
        self,
        system: str,
        config: ServiceConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        get_retries: int = 1,
    ) -> None:
        self.system = system
        self.config = config
        self.get_retries = get_retries
        base = config.base_url.rstrip("/") + "/"
        self._http = httpx.AsyncClient(
            base_url=base,
            headers={API_KEY_HEADER: config.api_key, "Accept": "application/json", "User-Agent": USER_AGENT},
            timeout=httpx.Timeout(config.timeout_seconds),
            follow_redirects=False,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        attempt = 0
        while True:
            try:
                response = await self._send("GET", path, params=params)
            except _RetryableError as exc:
                if attempt >= self.get_retries:
                    raise exc.error from exc.__cause__
                attempt += 1
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                continue
            return self._json(response)

    async def post_json(self, path: str, body: Mapping[str, Any]) -> Any:
        """A send: never retried, since the system may have acted on a request whose answer was lost."""
        try:
            response = await self._send("POST", path, json=dict(body))
        except _RetryableError as exc:
            raise exc.error from exc.__cause__
        return self._json(response)

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = path.lstrip("/")
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            # A timeout already spent the whole budget: not retried.
            raise Unavailable(self.system, f"no answer within {self.config.timeout_seconds:g} s") from exc
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            error = Unavailable(self.system, f"cannot reach {self.config.base_url} ({type(exc).__name__})")
            raise _RetryableError(error) from exc
        except httpx.InvalidURL as exc:
            raise Misconfigured(self.system, f"invalid URL {self.config.base_url!r}") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(self.system, f"{type(exc).__name__}: {exc}") from exc
        self._raise_for_status(response)
        return response

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = _error_detail(response)
        if status in (401, 403):
            raise Misconfigured(self.system, f"the API key was refused (HTTP {status}{detail})")
        if status == 404:
            if _error_code(response) == "not_found":
                raise NotFound(self.system, f"not found{detail}")
            # Any other 404 (no {"error": "not_found"} body): the base URL points somewhere else.
            raise Misconfigured(self.system, f"{response.request.url} is not this system's API (HTTP 404)")
        if status in _RETRY_STATUSES:
            raise _RetryableError(Unavailable(self.system, f"HTTP {status}{detail}"))
        if status >= 500:
            raise Unavailable(self.system, f"HTTP {status}{detail}")
        if 300 <= status < 400:
            where = response.headers.get("location", "?")
            raise Misconfigured(self.system, f"redirected to {where}: check the base URL")
        raise Rejected(self.system, f"refused (HTTP {status}{detail})", status)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            if "json" not in response.headers.get("content-type", ""):
                raise Misconfigured(self.system, f"{response.request.url} answered non-JSON") from exc
            raise Unavailable(self.system, "answered malformed JSON") from exc


class _RetryableError(Exception):
    def __init__(self, error: IntegrationError) -> None:
        super().__init__(str(error))
        self.error = error


def _is_json(response: httpx.Response) -> bool:
    return "json" in response.headers.get("content-type", "")


def _error_code(response: httpx.Response) -> str | None:
    if not _is_json(response):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def _error_detail(response: httpx.Response) -> str:
    """``: <error code>`` from a JSON error body {"error": ..., "message": ...}, else nothing."""
    if not _is_json(response):
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        text = body.get("message") or body.get("error")
        if isinstance(text, str) and text:
            return f": {text[:200]}"
    return ""


def field_error(system: str, record: str, name: str) -> Unavailable:
    """The system answered 200 with a record missing or mangling ``name``: treat as a failing system."""
    return Unavailable(system, f"malformed {record}: field {name!r} missing or invalid")
