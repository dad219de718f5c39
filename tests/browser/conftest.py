"""Browser tests: Playwright for Python driving Debian's Chromium against the real app, served by
uvicorn on a loopback port in the test loop.

A city answers on ``<slug>.localhost``, which Chromium resolves to 127.0.0.1 by itself; localhost
counts as a secure context, so the app's Secure cookies (login, CSRF) work over plain http there.
Chromium is required: without /usr/bin/chromium these tests fail (CI installs it, see .ci/run).
Screenshots of every step go to test-artifacts/browser/ (gitignored, removed by `make clean`).
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from laksa_support import with_boundaries

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# Phones first: the size of a common Android phone.
PHONE = {"width": 390, "height": 844}


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
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        task.result()  # the reason it did not start
        raise RuntimeError("uvicorn did not start")
    yield LiveServer(port)
    server.should_exit = True
    await asyncio.wait_for(task, 10)
    sock.close()


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; its absence fails the tests loudly (they are part of CI)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
            "(apt-get install -y --no-install-recommends chromium; .ci/run does it)",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    try:
        chromium = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
    except Exception:
        await playwright.stop()
        raise
    yield chromium
    await chromium.close()
    await playwright.stop()


@pytest.fixture
async def browser_city(make_city: Any, database: Any, new_slug: Any) -> Any:
    """A city reachable as ``<slug>.localhost`` too, with the demo boundaries of Kota Tangerang."""
    slug = new_slug("lb")
    city = await make_city(
        slug=slug,
        name="Kota Uji Peramban",
        region_code="3671",
        domains=[f"{slug}.kota.test", f"{slug}.localhost"],
    )
    await with_boundaries(database, city)
    return city


@pytest.fixture
def screenshots() -> Any:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async def shoot(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path

    return shoot


# Everything outside the test server (map tiles above all) is refused, as on a machine offline:
# the pages must stay usable without tiles.
OUTSIDE = re.compile(r"^(?!http://[^/]*\.localhost:\d+/)")


@pytest.fixture
async def open_context(browser: Any) -> AsyncIterator[Any]:
    """``await open_context(base_url, cookie=(name, value))``: a phone-sized browser context (closed
    after the test) that refuses everything outside the test server."""
    opened: list[Any] = []

    async def open_(base_url: str, cookie: tuple[str, str] | None = None, **options: Any) -> Any:
        context = await browser.new_context(
            base_url=base_url, viewport=PHONE, has_touch=True, is_mobile=True, locale="id-ID", **options
        )
        opened.append(context)
        await context.route(OUTSIDE, lambda route: route.abort())
        if cookie is not None:
            await context.add_cookies([{"name": cookie[0], "value": cookie[1], "url": base_url + "/"}])
        return context

    yield open_
    for context in opened:
        await context.close()
