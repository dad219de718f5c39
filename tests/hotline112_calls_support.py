"""What the 112 calls and incidents tests share: a city connected to a telephony system (its webhook
secret, optionally an AML HMAC key), signed telephony events, AML forms and SMS texts, call-takers.

Everything goes through the real app over ASGI with the city's Host, as the telephony system, the
handsets and the staff would reach it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from laksa_support import Person, employee

from kotalive.auth.crypto import Vault
from kotalive.context import TenantContext
from kotalive.db import Database
from kotalive.settings import Settings
from kotalive.tenants.integrations import set_integration

SECRET = "telefon-rahasia-uji"
_numbers = itertools.count(10_000_000)


def new_number() -> str:
    """A fresh Indonesian mobile number in E.164."""
    return f"+62812{next(_numbers):08d}"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def connect_telephony(
    database: Database,
    settings: Settings,
    city: TenantContext,
    *,
    secret: str = SECRET,
    aml_key: str | None = None,
) -> None:
    secrets = {"webhook_secret": secret}
    if aml_key:
        secrets["aml_hmac_key"] = aml_key
    async with database.tenant_session(city) as session:
        await set_integration(session, Vault.from_settings(settings), "telephony", config={}, secrets=secrets)
        await session.commit()


def signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event(
    kind: str, call_ref: str, caller: str | None = None, at: dt.datetime | None = None, **more: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event_id": more.pop("event_id", uuid.uuid4().hex),
        "type": kind,
        "call_id": call_ref,
        "line": more.pop("line", "112-1"),
        "at": (at or now()).isoformat(),
        **more,
    }
    if caller is not None:
        out["caller"] = caller
    return out


async def send_events(
    client: httpx.AsyncClient,
    events: Any,
    *,
    secret: str = SECRET,
    sign: bool = True,
    raw: bytes | None = None,
) -> httpx.Response:
    body = raw if raw is not None else json.dumps(events).encode()
    headers = {"content-type": "application/json"}
    if sign:
        headers["x-kotalive-signature"] = signature(body, secret)
    return await client.post("/hotline112/telephony/events", content=body, headers=headers)


def aml_fields(number: str, lat: float = -6.1781, lon: float = 106.6297, **more: Any) -> dict[str, str]:
    fields = {
        "v": "3",
        "emergency_number": "112",
        "source": "Android",
        "time": now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "location_latitude": str(lat),
        "location_longitude": str(lon),
        "location_time": str(int(now().timestamp() * 1000)),
        "location_accuracy": "25.5",
        "location_source": "gps",
        "location_confidence": "68",
        "device_number": number,
        "device_imei": "356938035643809",
        "device_imsi": "510101234567890",
        "cell_network_mcc": "510",
        "cell_network_mnc": "10",
    }
    fields.update({k: str(v) for k, v in more.items() if v is not None})
    for k in [k for k, v in more.items() if v is None]:
        fields.pop(k, None)
    return fields


def aml_body(fields: dict[str, str], key: str | None = None) -> bytes:
    body = urlencode(fields).encode()
    if key is not None:
        body += b"&hmac=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest().encode()
    return body


async def send_aml(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await client.post(
        "/hotline112/aml", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )


def sms_text(
    lat: float = -6.1781, lon: float = 106.6297, *, radius: int = 50, with_length: bool = True
) -> str:
    text = (
        f'A"ML=1;lt={lat};lg={lon};rd={radius};top={now().strftime("%Y%m%d%H%M%S")};lc=68;pm=G;'
        "si=510101234567890;ei=356938035643809;mcc=510;mnc=10"
    )
    if not with_length:
        return text
    # ml counts the whole message, its own field included.
    base = text + ";ml="
    for digits in (3, 4):
        candidate = base + str(len(base) + digits).zfill(digits)
        if len(candidate) == int(candidate.rsplit("=", 1)[1]):
            return candidate
    raise AssertionError("no consistent ml")


async def calltaker(app: Any, client_for: Any, database: Database, city: TenantContext, **kw: Any) -> Person:
    kw.setdefault("roles", ("calltaker",))
    return await employee(app, client_for, database, city, None, **kw)


class SseScreen:
    """A screen holding the app's event stream open over ASGI (httpx's ASGI transport waits for
    the whole answer; a stream never ends): every chunk the app sends is kept as it arrives."""

    def __init__(self, app: Any, host: str, path: str, cookies: dict[str, str]) -> None:
        self.app, self.host, self.path, self.cookies = app, host, path, cookies
        self.text = ""
        self.status: int | None = None
        self._gone = None
        self._task = None

    async def __aenter__(self) -> SseScreen:
        import asyncio

        self._gone = asyncio.Event()
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        path, _, query = self.path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "https",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [
                (b"host", self.host.encode()),
                (b"accept", b"text/event-stream"),
                (b"cookie", cookie.encode()),
            ],
            "client": ("127.0.0.1", 40001),
            "server": (self.host, 443),
        }
        sent_request = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": b"", "more_body": False}
            assert self._gone is not None
            await self._gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
            elif message["type"] == "http.response.body":
                self.text += message.get("body", b"").decode()

        self._task = asyncio.create_task(self.app(scope, receive, send))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        import asyncio
        import contextlib

        assert self._gone is not None and self._task is not None
        self._gone.set()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


async def patch(person: Person, path: str, body: Any) -> httpx.Response:
    return await person.client.patch(path, json=body, headers=person.headers())
