"""Issue 8's whole story in a real browser (Chromium, offline): a platform operator takes a new
partner region from MoU to a working city in the console; its first admin (the one the onboarding
invited) gives it its kecamatan boundaries, an agency and a hashtag rule in the city admin; a
citizen of that city reports with that hashtag; the complaint arrives in that agency's inbox.

Screenshots of every step go to test-artifacts/browser/ (story-*.png).
"""

from __future__ import annotations

import json
import re
from typing import Any

from city_admin_flow import create_agency_and_rule
from console_flow import (
    console_site,  # noqa: F401  (the fixture)
    desk_context,
    login_to_console,
    onboard_city_in_console,
    sign_in_city_admin,
)
from laksa_support import CIPONDOH, citizen, employee
from playwright.async_api import expect
from test_laksa_browser import STEP_TIMEOUT, session_cookie, tap_on_map

from kotalive.modules.laksa.demo import demo_boundaries


async def test_a_new_region_goes_from_mou_to_a_complaint_in_its_agencys_inbox(
    app: Any,
    client_for: Any,
    database: Any,
    browser: Any,
    console_site: Any,  # noqa: F811
    open_context: Any,
    screenshots: Any,
    tmp_path: Any,
) -> None:
    site = console_site
    errors: list[str] = []
    opened: list[Any] = []
    try:
        # The platform operator onboards the city (MoU, hosts, modules, first admin) in the console.
        desk = await desk_context(browser, site.base_url)
        opened.append(desk)
        console = await desk.new_page()
        console.set_default_timeout(STEP_TIMEOUT)
        console.on("pageerror", lambda exc: errors.append(str(exc)))
        await login_to_console(console, site, shoot=screenshots)
        city = await onboard_city_in_console(
            console, site.base_url, modules=("laksa", "liveroom"), shoot=screenshots, prefix="story-console"
        )
        assert errors == [], errors

        # Its first admin configures it: boundaries, then an agency and a rule for a hashtag.
        admin_context = await desk_context(browser, city["city_url"], width=1024, height=768)
        opened.append(admin_context)
        await sign_in_city_admin(site, admin_context, city)
        admin = await admin_context.new_page()
        admin.set_default_timeout(STEP_TIMEOUT)
        admin.on("pageerror", lambda exc: errors.append(str(exc)))
        await admin.goto(f"{city['city_url']}/admin/boundaries?lang=id")
        boundaries = tmp_path / "batas.geojson"
        boundaries.write_text(json.dumps(demo_boundaries("tangerang")))
        await admin.set_input_files("#f-file", str(boundaries))
        await expect(admin.locator("#preview-status")).to_contain_text("Pratinjau")
        await admin.get_by_role("button", name="Unggah dan ganti batas wilayah").click()
        await admin.wait_for_url(re.compile(r"/admin/boundaries\?notice="))
        await expect(admin.locator("table")).to_contain_text("Cipondoh")
        await screenshots(admin, "story-admin-00-boundaries")
        created = await create_agency_and_rule(
            admin, city["city_url"], screenshots=screenshots, prefix="story-admin"
        )
        assert errors == [], errors

        # A citizen of the new city reports with that hashtag.
        tenant = await site.app.state.directory.by_host(city["host"])
        assert tenant is not None
        siti = await citizen(app, client_for, database, tenant)
        citizen_context = await open_context(city["city_url"], cookie=await session_cookie(siti))
        report = await citizen_context.new_page()
        report.set_default_timeout(STEP_TIMEOUT)
        report.on("pageerror", lambda exc: errors.append(str(exc)))
        await report.goto("/lapor")
        await report.get_by_label("Apa masalahnya?").fill(
            f"Ayunan di taman dekat masjid patah, berbahaya untuk anak #{created.hashtag}"
        )
        await expect(report.locator("#routing-preview")).to_contain_text(
            "Dinas Pertamanan dan Kebersihan Kota"
        )
        await tap_on_map(report, "report-map", *CIPONDOH)
        await expect(report.locator("#map-status")).to_contain_text("Lokasi ditandai")
        await report.get_by_role("button", name="Kirim pengaduan").click()
        await report.wait_for_url(re.compile(r"/laporan/\d+\?pesan=terkirim$"))
        complaint_id = int(re.search(r"/laporan/(\d+)", report.url).group(1))  # type: ignore[union-attr]
        await expect(report.locator(".badges .state").first).to_have_text("Diteruskan ke perangkat daerah")
        await screenshots(report, "story-citizen-sent")

        # It arrives in the new agency's inbox.
        budi = await employee(app, client_for, database, tenant, created.agency_code, name="Budi Taman")
        staff_context = await desk_context(browser, city["city_url"], width=1024, height=768)
        opened.append(staff_context)
        name, token = await session_cookie(budi)
        await staff_context.add_cookies([{"name": name, "value": token, "url": city["city_url"] + "/"}])
        inbox = await staff_context.new_page()
        inbox.set_default_timeout(STEP_TIMEOUT)
        inbox.on("pageerror", lambda exc: errors.append(str(exc)))
        await inbox.goto("/staff/laksa")
        await expect(inbox.locator(f'a.complaint-link[href="/staff/laksa/{complaint_id}"]')).to_be_visible()
        await screenshots(inbox, "story-agency-inbox")
        assert errors == [], errors
    finally:
        for context in opened:
            await context.close()
