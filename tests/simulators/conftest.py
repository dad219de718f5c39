"""The simulators against the real app over real HTTP: the test app served by uvicorn on a loopback
port in the test loop (as tests/browser does), reached as ``<slug>.localhost``."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn


@dataclass
class LiveServer:
    port: int

    def url(self, host: str) -> str:
        return f"http://{host}:{self.port}"


@pytest.fixture(scope="session")
async def live_server(app: Any) -> AsyncIterator[LiveServer]:
    """The test app over real HTTP (its lifespan is already running in the ``app`` fixture)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        task.result()
        raise RuntimeError("uvicorn did not start")
    yield LiveServer(port)
    server.should_exit = True
    await asyncio.wait_for(task, 10)
    sock.close()
