"""The platform console's part of the end-to-end flow, as reusable steps: a platform operator logs
in to the console and onboards a new city through the wizard, up to the city being active and its
first admin invited.

The console answers on the platform host only. The test app's platform host (platform.test) is not
reachable from Chromium, so ``console_site`` serves a second app over real HTTP whose platform
host is ``platform.localhost`` (Chromium resolves every *.localhost to loopback and treats it as a
secure context, so the Secure cookies work). The same app serves the cities' hosts too
(``<slug>.localhost``), on the same database and Redis, with a real Dramatiq worker running the
console's jobs and a real SMTP server (aiosmtpd) as the platform's mail server.

Use: ``from console_flow import console_site  # noqa: F401`` (the fixture), then
``await login_to_console(page, site)`` and ``await onboard_city_in_console(page, site.base_url, ...)``.
The new city's admin is then signed in on ``city["city_url"]`` (same server) with
``await sign_in_city_admin(site, context, city)`` (a session for the employee the onboarding made,
with the roles its grants give), or through the city's OpenID provider when ``oidc=`` was given.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
import uvicorn
from notify_support import SmtpServer
from playwright.async_api import expect

from kotalive.auth.platform_staff import create_staff

PLATFORM_HOST = "platform.localhost"
# A rough outline around Kota Tangerang (GeoJSON is [longitude, latitude]).
TANGERANG_OUTLINE = {
    "type": "Polygon",
    "coordinates": [[[106.58, -6.24], [106.72, -6.24], [106.72, -6.12], [106.58, -6.12], [106.58, -6.24]]],
}
STEP_TIMEOUT = 20_000  # ms
Shoot = Callable[[Any, str], Awaitable[Any]]


@dataclass
class ConsoleSite:
    app: Any
    port: int
    smtp: SmtpServer
    staff_email: str
    staff_password: str
    totp_secret: str

    def url(self, host: str) -> str:
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url(PLATFORM_HOST)


@pytest.fixture
async def console_site(settings: Any, database: Any, modules: Any, app: Any) -> AsyncIterator[ConsoleSite]:
    """The console over real HTTP on platform.localhost, a worker for its jobs, an SMTP server, and
    a platform operator account (e-mail, password, TOTP secret)."""
    from dramatiq import Worker

    from kotalive.app import create_app
    from kotalive.jobs import create_broker, use_jobs

    smtp = SmtpServer().start()
    site_settings = settings.with_(
        platform_host=PLATFORM_HOST,
        platform_mail_url=f"smtp://127.0.0.1:{smtp.port}/?security=none&from=platform@kotalive.test&timeout=5",
    )
    email = f"operator-{uuid.uuid4().hex[:6]}@kotalive.test"
    async with database.platform_session() as session:
        made = await create_staff(
            session, settings, email=email, name="Operator Platform", roles=["platform_operator"]
        )
        await session.commit()
    console = create_app(site_settings, database=database, modules=modules)
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold_lifespan() -> None:
        async with console.lifespan():
            started.set()
            await stop.wait()

    life = asyncio.create_task(hold_lifespan())
    await asyncio.wait_for(started.wait(), 30)
    namespace = f"kotalive-test-{uuid.uuid4().hex[:10]}"
    broker = create_broker(site_settings, namespace=namespace)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(console, lifespan="off", log_level="warning", access_log=False))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        with use_jobs(site_settings, modules, broker=broker):
            worker = Worker(broker, worker_threads=1, worker_timeout=50)
            worker.start()
            try:
                for _ in range(500):
                    if server.started or serving.done():
                        break
                    await asyncio.sleep(0.01)
                assert server.started, "the console's server did not start"
                yield ConsoleSite(console, port, smtp, email, made.password, made.totp_secret)
            finally:
                await asyncio.to_thread(worker.stop, 5000)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
        sock.close()
        stop.set()
        await life
        keys = list(broker.client.scan_iter(f"{namespace}:*"))
        if keys:
            broker.client.delete(*keys)
        broker.close()
        smtp.stop()
    _ = app  # the session's app first: its lifespan (and broker) is installed under this one


async def desk_context(browser: Any, base_url: str, *, width: int = 1280, height: int = 800) -> Any:
    """A laptop-sized (or, with width=820, tablet-sized) context that refuses everything outside
    the test servers. The caller closes it."""
    context = await browser.new_context(
        base_url=base_url, viewport={"width": width, "height": height}, locale="id-ID"
    )
    await context.route(re.compile(r"^(?!http://[^/]*\.localhost:\d+/)"), lambda route: route.abort())
    return context


async def _no_shot(page: Any, name: str) -> None:
    return None


async def login_to_console(page: Any, site: ConsoleSite, *, shoot: Shoot | None = None) -> None:
    """Log in on the platform host with e-mail, password and a TOTP code; land on the console."""
    shoot = shoot or _no_shot
    await page.goto(f"{site.base_url}/console/")
    await expect(page).to_have_url(re.compile(r"/login\?next=/console"))
    await page.get_by_label("Email", exact=True).fill(site.staff_email)
    await page.get_by_label("Kata sandi").fill(site.staff_password)
    await page.get_by_label("Kode autentikator").fill(pyotp.TOTP(site.totp_secret).now())
    await shoot(page, "console-00-login")
    await page.get_by_role("button", name="Masuk").click()
    await expect(page.get_by_role("heading", name="Kota di platform")).to_be_visible(timeout=STEP_TIMEOUT)


async def onboard_city_in_console(
    page: Any,
    base_url: str,
    *,
    slug: str | None = None,
    name: str | None = None,
    region_code: str = "3671",
    admin_name: str = "Siti Rahayu",
    admin_email: str | None = None,
    admin_nip: str = "198703122010011004",
    modules: tuple[str, ...] = ("laksa",),
    oidc: dict[str, str] | None = None,
    boundary: dict[str, Any] | None = TANGERANG_OUTLINE,
    shoot: Shoot | None = None,
    prefix: str = "console",
) -> dict[str, Any]:
    """In a page signed in to the console at ``base_url`` (the platform host), onboard a new city
    through the four steps, watch it being provisioned, and return what the next steps need
    (``oidc``: the city's OpenID provider as ``issuer``, ``client_id``, ``client_secret``, so the
    admin can log in through it; e.g. the simulators' provider):
    ``slug``, ``name``, ``host`` (``<slug>.localhost``, the primary host), ``city_url``, the admin's
    ``admin_name`` / ``admin_email`` / ``admin_nip`` / ``admin_employee_id`` (the employee row
    holding the city_admin grant) and ``login_url``, and ``task_id``."""
    shoot = shoot or _no_shot
    slug = slug or f"kota-{secrets.token_hex(3)}"
    name = name or f"Kota Uji {slug}"
    admin_email = admin_email or f"admin.{slug}@kota.test"
    host = f"{slug}.localhost"
    port = re.search(r":(\d+)", base_url.split("//", 1)[1])
    city_url = f"http://{host}{':' + port.group(1) if port else ''}"

    await page.goto(f"{base_url}/console/")
    await shoot(page, f"{prefix}-01-cities")
    await page.get_by_role("link", name="Tambah kota baru").first.click()

    # step 1: the city (a wrong region code first: the message stands beside the field)
    await expect(page.get_by_role("heading", name="Kota baru")).to_be_visible()
    await page.get_by_label("Nama kota/kabupaten").fill(name)
    await page.get_by_label("Slug").fill(slug)
    await page.get_by_label("Jenis").select_option("kota")
    await page.get_by_label("Kode wilayah Kemendagri").fill("9999")
    await page.get_by_label("Zona waktu").select_option("Asia/Jakarta")
    if boundary is not None:
        await page.get_by_label("Batas wilayah (GeoJSON").fill(json.dumps(boundary))
    await page.get_by_label("Nomor MoU").fill("119/MoU/KL/2026")
    await page.get_by_label("Tanggal penandatanganan").fill("2026-01-15")
    await page.get_by_label("Berlaku sampai").fill("2029-01-14")
    await page.get_by_role("button", name="Lanjut").click()
    error = page.locator("#f-region_code-error")
    await expect(error).to_contain_text("9999 bukan kode wilayah")
    await expect(page.get_by_label("Kode wilayah Kemendagri")).to_have_attribute("aria-invalid", "true")
    await shoot(page, f"{prefix}-02-city-error")
    await page.get_by_label("Kode wilayah Kemendagri").fill(region_code)
    await shoot(page, f"{prefix}-03-city")
    await page.get_by_role("button", name="Lanjut").click()

    # step 2: the hosts, the browser-reachable one first (primary)
    domains = page.get_by_label("Host kota, satu per baris")
    await expect(domains).to_be_visible(timeout=STEP_TIMEOUT)
    await domains.fill(f"{host}\n{slug}.kota.test")
    await shoot(page, f"{prefix}-04-domains")
    await page.get_by_role("button", name="Lanjut").click()

    # step 3: the modules
    await expect(page.get_by_label("Aktifkan laksa")).to_be_visible(timeout=STEP_TIMEOUT)
    for box in await page.locator('input[name="modules"]').all():
        value = await box.get_attribute("value")
        if (value in modules) != await box.is_checked():
            await box.click()
    await shoot(page, f"{prefix}-05-modules")
    await page.get_by_role("button", name="Lanjut").click()

    # step 4: the first city admin
    await expect(page.get_by_label("Nama admin kota")).to_be_visible(timeout=STEP_TIMEOUT)
    await page.get_by_label("Nama admin kota").fill(admin_name)
    await page.get_by_label("Surel").fill(admin_email)
    await page.get_by_label("NIP", exact=True).fill(admin_nip)
    if oidc:
        await page.get_by_label("Issuer").fill(oidc["issuer"])
        await page.get_by_label("Client ID").fill(oidc["client_id"])
        await page.get_by_label("Client secret").fill(oidc.get("client_secret", ""))
    await shoot(page, f"{prefix}-06-admin")
    await page.get_by_role("button", name="Buat kota").click()

    # provisioning, shown step by step as it happens
    await expect(page).to_have_url(re.compile(r"/console/onboarding/\d+$"), timeout=STEP_TIMEOUT)
    task_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    progress = page.locator("#progress")
    await shoot(page, f"{prefix}-07-provisioning")
    await expect(progress.locator('[data-status="done"]')).to_be_visible(timeout=60_000)
    await expect(progress.locator('li.done[data-step="active"]')).to_be_visible()
    await expect(progress.locator('li[data-step="invitation"]')).to_contain_text(f"terkirim ke {admin_email}")
    link = progress.locator("[data-login-url]")
    login_url = (await link.inner_text()).strip()
    employee_id = int(await link.get_attribute("data-employee-id") or 0)
    await shoot(page, f"{prefix}-08-done")

    # the city's page in the console: active, with its hosts and modules
    await page.get_by_role("link", name="Buka halaman kota di konsol").click()
    await expect(page.get_by_role("heading", name=re.compile(re.escape(name)))).to_be_visible()
    await expect(page.locator(f'[data-host="{host}"]')).to_contain_text("utama")
    if boundary is not None:  # drawn from the GeoJSON alone: no map tiles needed
        await expect(page.locator("#boundary-map path.leaflet-interactive")).to_have_count(1)
    await shoot(page, f"{prefix}-09-city")
    return {
        "slug": slug,
        "name": name,
        "host": host,
        "city_url": city_url,
        "admin_name": admin_name,
        "admin_email": admin_email,
        "admin_nip": admin_nip,
        "admin_employee_id": employee_id,
        "login_url": login_url,
        "task_id": task_id,
    }


async def sign_in_city_admin(site: ConsoleSite, context: Any, city: dict[str, Any]) -> Any:
    """Give ``context`` a login session on the new city's host for its first admin (the employee
    the onboarding created, with the roles the city's grants give it); returns the principal."""
    from kotalive.auth.employees import employee_principal
    from kotalive.auth.models import Employee
    from kotalive.auth.sessions import COOKIE_NAME

    tenant = await site.app.state.directory.by_host(city["host"])
    assert tenant is not None, city["host"]
    async with site.app.state.db.tenant_session(tenant) as session:
        employee = await session.get(Employee, city["admin_employee_id"])
        assert employee is not None
        principal = await employee_principal(session, employee)
    token = await site.app.state.auth.sessions.create(principal)
    await context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": city["city_url"] + "/"}])
    return principal
