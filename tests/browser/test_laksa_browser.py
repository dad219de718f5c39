"""Laksa in a real browser (Chromium, phone-sized, offline: map tiles cannot load).

A signed-in citizen reports a dark street lamp: types the description with #lampumati and sees
where it will go, taps the map, is shown the open complaint nearby, attaches a photo, sends, and
lands on the complaint's page. An employee of PUPR finds it in the inbox and acknowledges it.
Without JavaScript the same form works with the address and the kecamatan. The public map puts
the complaints on the map and lists them.
"""

from __future__ import annotations

import re
from typing import Any

from laksa_support import CIPONDOH, citizen, employee, jpeg, submit
from playwright.async_api import expect

from kotalive.auth.sessions import COOKIE_NAME

STEP_TIMEOUT = 15_000  # ms


async def session_cookie(person: Any) -> tuple[str, str]:
    token = person.client.cookies.get(COOKIE_NAME)
    await person.aclose()
    assert token
    return COOKIE_NAME, token


async def tap_on_map(page: Any, map_id: str, lat: float, lon: float) -> None:
    """Tap the map where (lat, lon) is drawn, as a finger would."""
    await page.locator(f"#{map_id}").scroll_into_view_if_needed()
    x, y = await page.evaluate(
        """([id, lat, lon]) => {
            const point = window.laksaReport.map().latLngToContainerPoint([lat, lon]);
            const box = document.getElementById(id).getBoundingClientRect();
            return [box.left + point.x, box.top + point.y];
        }""",
        [map_id, lat, lon],
    )
    await page.touchscreen.tap(x, y)


async def test_a_citizen_reports_a_dark_lamp_and_pupr_acknowledges_it(
    app, client_for, database, browser_city, live_server, open_context, screenshots
) -> None:
    city = browser_city
    base = live_server.url(f"{city.slug}.localhost")
    # Someone already reported a lamp a few metres away: the form offers to support it instead.
    budi = await citizen(app, client_for, database, city, "Budi Santoso")
    earlier = await submit(
        budi,
        description="Lampu PJU mati di ujung gang, gelap sekali #lampumati",
        lat=CIPONDOH[0] + 0.0001,
        lon=CIPONDOH[1],
    )
    assert earlier.status_code == 201, earlier.text
    earlier_id = earlier.json()["complaint"]["id"]
    await budi.aclose()

    siti = await citizen(app, client_for, database, city)
    context = await open_context(base, cookie=await session_cookie(siti))
    page = await context.new_page()
    page.set_default_timeout(STEP_TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    await page.goto("/lapor")
    await expect(page.get_by_role("heading", name="Laporkan masalah")).to_be_visible()
    await expect(page.locator("#report-map")).to_be_visible()
    await screenshots(page, "01-citizen-report-form")

    await page.get_by_label("Apa masalahnya?").fill(
        "Lampu jalan di depan gang mati sejak tiga hari #lampumati"
    )
    preview = page.locator("#routing-preview")
    await expect(preview).to_contain_text("Dinas Pekerjaan Umum dan Penataan Ruang")
    await expect(preview).to_contain_text("#lampumati")
    await screenshots(page, "02-citizen-routing-preview")

    # Tiles cannot load here: the page says so, and the map still takes a tap.
    await expect(page.locator("#map-status")).to_contain_text("Peta tidak dapat dimuat")
    await tap_on_map(page, "report-map", *CIPONDOH)
    await expect(page.locator("#map-status")).to_contain_text("Lokasi ditandai")
    lat = float(await page.locator("#lat").input_value())
    lon = float(await page.locator("#lon").input_value())
    assert abs(lat - CIPONDOH[0]) < 0.002 and abs(lon - CIPONDOH[1]) < 0.002, (lat, lon)
    await expect(preview).to_contain_text("Cipondoh")
    nearby = page.locator("#nearby")
    await expect(nearby).to_contain_text("Sudah ada yang melaporkan?")
    await expect(nearby.locator(f'form[action="/laporan/{earlier_id}/dukung"] button')).to_be_visible()
    await screenshots(page, "03-citizen-point-and-nearby")

    await page.set_input_files(
        "#photos", files=[{"name": "lampu.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
    )
    await page.get_by_role("button", name="Kirim pengaduan").click()
    await page.wait_for_url(re.compile(r"/laporan/\d+\?pesan=terkirim$"))
    cid = int(re.search(r"/laporan/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    assert cid != earlier_id
    await expect(page.get_by_role("status")).to_contain_text("pengaduan Anda sudah kami terima")
    await expect(page.locator(".description")).to_have_text(
        "Lampu jalan di depan gang mati sejak tiga hari #lampumati"
    )
    await expect(page.locator(".badges .state").first).to_have_text("Diteruskan ke perangkat daerah")
    await expect(page.locator(".photos li")).to_have_count(1)
    await screenshots(page, "04-citizen-complaint-page")
    assert errors == [], errors

    pupr = await employee(app, client_for, database, city, "pupr", name="Agus Pratama")
    staff_context = await open_context(base, cookie=await session_cookie(pupr))
    staff = await staff_context.new_page()
    staff.set_default_timeout(STEP_TIMEOUT)
    staff.on("pageerror", lambda exc: errors.append(str(exc)))
    await staff.goto("/staff/laksa")
    link = staff.locator(f'a.complaint-link[href="/staff/laksa/{cid}"]')
    await expect(link).to_be_visible()
    await screenshots(staff, "05-pupr-inbox")

    await link.click()
    await staff.wait_for_url(f"**/staff/laksa/{cid}")
    await expect(staff.locator(".reporter")).to_contain_text("Siti Rahmawati")  # staff see the reporter
    await staff.get_by_role("button", name="Terima", exact=True).click()
    await staff.wait_for_url(re.compile(rf"/staff/laksa/{cid}\?pesan=diterima$"))
    await expect(staff.get_by_role("status")).to_contain_text("Pengaduan diterima oleh perangkat daerah")
    await expect(staff.locator("p.badges .state")).to_have_text("Diterima perangkat daerah")
    await expect(staff.get_by_role("button", name="Terima", exact=True)).to_have_count(0)
    await screenshots(staff, "06-pupr-acknowledged")
    assert errors == [], errors

    # The citizen sees the step on the complaint's timeline.
    await page.reload()
    await expect(page.locator(".timeline")).to_contain_text("Diterima perangkat daerah")


async def test_the_report_form_works_without_javascript(
    app, client_for, database, browser_city, live_server, open_context, screenshots
) -> None:
    city = browser_city
    base = live_server.url(f"{city.slug}.localhost")
    siti = await citizen(app, client_for, database, city)
    context = await open_context(base, cookie=await session_cookie(siti), java_script_enabled=False)
    page = await context.new_page()
    page.set_default_timeout(STEP_TIMEOUT)
    await page.goto("/lapor")
    await expect(page.locator("#report-map")).to_be_hidden()  # no script, no map: the fields remain

    await page.get_by_label("Apa masalahnya?").fill("Jalan berlubang besar di depan sekolah #jalanrusak")
    await page.get_by_label("Kategori").select_option("road")
    await page.get_by_label("Alamat atau patokan").fill("Jl. Raya Cipondoh depan SDN 3")
    await page.get_by_label("Kecamatan", exact=True).select_option(label="Cipondoh")
    await page.get_by_role("button", name="Kirim pengaduan").click()
    # The road's required question was not answered: said next to it, the rest kept.
    await expect(page.locator("#attr-road-size-error")).to_contain_text("Wajib diisi")
    await expect(page.get_by_label("Alamat atau patokan")).to_have_value("Jl. Raya Cipondoh depan SDN 3")
    await screenshots(page, "07-nojs-report-errors")

    await page.locator("#attr-road-size").select_option("large")
    await page.get_by_role("button", name="Kirim pengaduan").click()
    await page.wait_for_url(re.compile(r"/laporan/\d+\?pesan=terkirim$"))
    await expect(page.locator(".facts")).to_contain_text("Cipondoh")
    await expect(page.locator(".facts")).to_contain_text("Jl. Raya Cipondoh depan SDN 3")
    await screenshots(page, "08-nojs-complaint-page")


async def test_the_public_map_shows_complaints_with_a_list(
    app, client_for, database, browser_city, live_server, open_context, screenshots
) -> None:
    city = browser_city
    base = live_server.url(f"{city.slug}.localhost")
    siti = await citizen(app, client_for, database, city)
    for text, offset in (
        ("Sampah menumpuk di pinggir kali #sampah", 0.0),
        ("Lampu taman mati #lampumati", 0.001),
    ):
        r = await submit(siti, description=text, lat=CIPONDOH[0] + offset, lon=CIPONDOH[1])
        assert r.status_code == 201, r.text
    await siti.aclose()

    context = await open_context(base)
    page = await context.new_page()
    page.set_default_timeout(STEP_TIMEOUT)
    await page.goto("/peta?lang=en")
    await expect(page.get_by_role("heading", name="Complaints map")).to_be_visible()
    await expect(page.locator("#map-status")).to_contain_text("could not be loaded")  # no tiles offline
    await page.wait_for_function("window.laksaMap && window.laksaMap.markers === 2")
    await expect(page.locator(".leaflet-interactive")).to_have_count(2)
    await expect(page.locator("ul.complaints li")).to_have_count(2)
    await screenshots(page, "09-public-map")

    await page.locator(".leaflet-interactive").first.dispatch_event("click")
    await expect(page.locator(".leaflet-popup-content")).to_contain_text("view the complaint")
