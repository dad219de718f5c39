"""The city admin in a real browser (Chromium, tablet-sized, offline), end to end: the city's admin
creates an agency and a hashtag rule in the pages; a citizen of that city reports with that hashtag;
an employee of the new agency finds the complaint in the agency's inbox.

Screenshots of every step go to test-artifacts/browser/ (city-admin-*.png).
"""

from __future__ import annotations

import re

from city_admin_flow import create_agency_and_rule
from laksa_support import CIPONDOH, citizen, employee
from playwright.async_api import expect
from test_laksa_browser import STEP_TIMEOUT, session_cookie, tap_on_map

TABLET = {"width": 1024, "height": 768}
# As the shared phone contexts do: everything outside the test server (map tiles) is refused.
OUTSIDE = re.compile(r"^(?!http://[^/]*\.localhost:\d+/)")


async def tablet(browser, base: str, cookie: tuple[str, str], opened: list):  # type: ignore[no-untyped-def]
    """A tablet-sized context (the admin's and the agency's screens), closed by the test."""
    context = await browser.new_context(base_url=base, viewport=TABLET, locale="id-ID")
    opened.append(context)
    await context.route(OUTSIDE, lambda route: route.abort())
    await context.add_cookies([{"name": cookie[0], "value": cookie[1], "url": base + "/"}])
    return context


async def test_a_city_admin_routes_a_new_hashtag_to_a_new_agency(
    app, client_for, database, browser, browser_city, live_server, open_context, screenshots
) -> None:
    opened: list = []
    try:
        await _flow(
            app, client_for, database, browser, browser_city, live_server, open_context, screenshots, opened
        )
    finally:
        for context in opened:
            await context.close()


async def _flow(
    app, client_for, database, browser, browser_city, live_server, open_context, screenshots, opened
) -> None:  # type: ignore[no-untyped-def]
    city = browser_city
    base = live_server.url(f"{city.slug}.localhost")
    errors: list[str] = []

    admin = await employee(
        app, client_for, database, city, "diskominfo", roles=("city_admin",), name="Rina Admin"
    )
    admin_context = await tablet(browser, base, await session_cookie(admin), opened)
    page = await admin_context.new_page()
    page.set_default_timeout(STEP_TIMEOUT)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    created = await create_agency_and_rule(page, base, screenshots=screenshots, prefix="city-admin")
    assert errors == [], errors

    # A citizen of the city reports with that hashtag: the form already says where it will go.
    siti = await citizen(app, client_for, database, city)
    citizen_context = await open_context(base, cookie=await session_cookie(siti))
    report = await citizen_context.new_page()
    report.set_default_timeout(STEP_TIMEOUT)
    report.on("pageerror", lambda exc: errors.append(str(exc)))
    await report.goto("/lapor")
    text = f"Ayunan di taman dekat masjid patah, berbahaya untuk anak #{created.hashtag}"
    await report.get_by_label("Apa masalahnya?").fill(text)
    await expect(report.locator("#routing-preview")).to_contain_text("Dinas Pertamanan dan Kebersihan Kota")
    await tap_on_map(report, "report-map", *CIPONDOH)
    await expect(report.locator("#map-status")).to_contain_text("Lokasi ditandai")
    await screenshots(report, "city-admin-06-citizen-report")
    await report.get_by_role("button", name="Kirim pengaduan").click()
    await report.wait_for_url(re.compile(r"/laporan/\d+\?pesan=terkirim$"))
    complaint_id = int(re.search(r"/laporan/(\d+)", report.url).group(1))  # type: ignore[union-attr]
    await expect(report.locator(".badges .state").first).to_have_text("Diteruskan ke perangkat daerah")
    await screenshots(report, "city-admin-07-citizen-sent")

    # An employee of the new agency finds it in the agency's inbox.
    worker = await employee(app, client_for, database, city, created.agency_code, name="Budi Taman")
    staff_context = await tablet(browser, base, await session_cookie(worker), opened)
    inbox = await staff_context.new_page()
    inbox.set_default_timeout(STEP_TIMEOUT)
    inbox.on("pageerror", lambda exc: errors.append(str(exc)))
    await inbox.goto("/staff/laksa")
    link = inbox.locator(f'a.complaint-link[href="/staff/laksa/{complaint_id}"]')
    await expect(link).to_be_visible()
    await screenshots(inbox, "city-admin-08-agency-inbox")
    await link.click()
    await inbox.wait_for_url(f"**/staff/laksa/{complaint_id}")
    await expect(inbox.locator("body")).to_contain_text(created.hashtag)
    assert errors == [], errors


async def test_boundaries_are_previewed_on_the_map_before_upload(
    app, client_for, database, browser, make_city, live_server, screenshots, tmp_path
) -> None:
    """A new city without boundaries: the chosen GeoJSON shows on the map before it is sent (tiles
    cannot load offline; the map still draws), a file that is not JSON is said so at once, and the
    uploaded boundaries are listed and drawn."""
    import json

    from kotalive.modules.laksa.demo import demo_boundaries

    slug = f"adm-geo-{city_suffix()}"
    city = await make_city(slug=slug, domains=[f"{slug}.kota.test", f"{slug}.localhost"])
    base = live_server.url(f"{slug}.localhost")
    admin = await employee(app, client_for, database, city, "diskominfo", roles=("city_admin",))
    opened: list = []
    try:
        page = await (await tablet(browser, base, await session_cookie(admin), opened)).new_page()
        page.set_default_timeout(STEP_TIMEOUT)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto("/admin/boundaries")
        await expect(page.locator("#boundaries-empty")).to_be_visible()
        await page.wait_for_function("window.adminBoundaries && window.adminBoundaries.saved === 0")

        broken = tmp_path / "rusak.geojson"
        broken.write_text("{ bukan json")
        await page.set_input_files("#f-file", str(broken))
        await expect(page.locator("#preview-status")).to_contain_text("bukan JSON")

        good = tmp_path / "batas.geojson"
        good.write_text(json.dumps(demo_boundaries("tangerang")))
        await page.set_input_files("#f-file", str(good))
        await expect(page.locator("#preview-status")).to_contain_text("Pratinjau")
        await page.wait_for_function("window.adminBoundaries.preview > 10")
        await screenshots(page, "city-admin-09-boundaries-preview")
        await page.get_by_role("button", name="Unggah dan ganti batas wilayah").click()
        await page.wait_for_url(re.compile(r"/admin/boundaries\?notice="))
        await expect(page.get_by_role("status").first).to_contain_text("Batas wilayah diganti")
        await expect(page.locator("table")).to_contain_text("Cipondoh")
        await page.wait_for_function("window.adminBoundaries && window.adminBoundaries.saved > 10")
        await screenshots(page, "city-admin-10-boundaries-saved")
        assert errors == [], errors
    finally:
        for context in opened:
            await context.close()


def city_suffix() -> str:
    import uuid

    return uuid.uuid4().hex[:6]
