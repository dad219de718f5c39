"""What the Open311 tests share: the real app served over real HTTP (uvicorn, in the test loop), a
city host that resolves to that server, and an Open311 client.

The client is the ``georeport`` library (GET services, services/{code}, requests, requests/{id}),
extended in its own style (``requests`` + ``xmltodict``) with what it lacks: discovery, POST
requests, tokens and mySociety's servicerequestupdates.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import pytest
import requests
import uvicorn
import xmltodict
from georeport import GeoReport
from support import wait_until

from kotalive.context import TenantContext, use_tenant
from kotalive.db import Database
from kotalive.modules.laksa import configuration


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (the test runner keeps Ctrl-C)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[int]:
    """Serve ``app`` (whose lifespan the ``app`` fixture already runs) on a free loopback port;
    yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await wait_until(lambda: server.started or task.done(), "uvicorn to start", 15)
        if task.done():
            task.result()  # raise what stopped it
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


def resolve_to_loopback(monkeypatch: pytest.MonkeyPatch, *hosts: str) -> None:
    """These host names resolve to 127.0.0.1 in this process for the test (a hosts-file entry, as
    ``curl --resolve`` does); every other name resolves as before. The server still finds the city
    from the Host header, exactly as in production."""
    names = {h.lower() for h in hosts}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.lower().rstrip(".") in names:
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


async def issue_key(database: Database, city: TenantContext, name: str = "Aplikasi Mitra") -> tuple[int, str]:
    with use_tenant(city):
        async with database.tenant_session(city) as session:
            row, key = await configuration.issue_api_key(session, name, "test")
            await session.commit()
    return row.id, key


def _as_list(value: Any) -> list[Any]:
    """xmltodict gives one child as a dict, several as a list, none as None."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class Open311Client(GeoReport):
    """georeport's client plus discovery, POST requests, tokens and servicerequestupdates."""

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> requests.Response:
        params = dict(params or {})
        if self.jurisdiction:
            params["jurisdiction_id"] = self.jurisdiction
        response = requests.get(f"{self.root_address}/{path}.{self.output_format}", params=params, timeout=30)
        response.raise_for_status()
        return response

    def get_discovery(self) -> dict[str, Any]:
        response = self._get("discovery")
        if self.output_format == "json":
            return dict(response.json())
        data = xmltodict.parse(response.content)["discovery"]
        data["endpoints"] = _as_list(data["endpoints"]["endpoint"])
        for endpoint in data["endpoints"]:
            endpoint["formats"] = _as_list(endpoint["formats"]["format"])
        return dict(data)

    def post_service_request(
        self,
        service_code: str,
        *,
        attributes: Mapping[str, str | Sequence[str]] | None = None,
        **fields: str,
    ) -> requests.Response:
        """POST requests.{format}, form-encoded; a list value of ``attributes`` goes as
        ``attribute[code][]`` once per item. Returns the raw response (errors included)."""
        body: list[tuple[str, str]] = [("service_code", service_code)]
        if self.api_key:
            body.append(("api_key", self.api_key))
        if self.jurisdiction:
            body.append(("jurisdiction_id", self.jurisdiction))
        for code, value in (attributes or {}).items():
            if isinstance(value, str):
                body.append((f"attribute[{code}]", value))
            else:
                body += [(f"attribute[{code}][]", v) for v in value]
        body += [(k, v) for k, v in fields.items()]
        return requests.post(f"{self.root_address}/requests.{self.output_format}", data=body, timeout=30)

    def created(self, response: requests.Response) -> dict[str, Any]:
        response.raise_for_status()
        if self.output_format == "json":
            return dict(response.json()[0])
        return dict(xmltodict.parse(response.content)["service_requests"]["request"])

    def get_service_request_id_from_token(self, token: str) -> dict[str, Any]:
        response = self._get(f"tokens/{token}")
        if self.output_format == "json":
            return dict(response.json()[0])
        return dict(xmltodict.parse(response.content)["service_requests"]["request"])

    def get_service_request_updates(self, **params: str) -> list[dict[str, Any]]:
        response = self._get("servicerequestupdates", params)
        if self.output_format == "json":
            return list(response.json())
        root = xmltodict.parse(response.content)["service_request_updates"]
        return _as_list(root["request_update"] if root else None)
