"""Notifications in a real browser (Chromium, phone-sized), with a Dramatiq worker in this process
and the city wired to the simulators' mail sink (SMTP) and SMS gateway.

A PUPR employee has the inbox open; a citizen reports a dark street lamp (#lampumati): the
employee's bell goes to 1, a toast says so and the inbox shows the complaint without a reload;
the e-mail is in the mail sink. A second complaint while the employee is busy with the filter form
only shows a banner, which reloads the list when asked. The employee resolves the first one on
its page; the citizen's bell rings and the SMS is in the SMS simulator. The settings page works
on a phone.

Latency is measured and printed (bell event in the page after the POST was sent); the bound
asserted is generous, never a timing target (ARCHITECTURE §9: tests never assert times).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from laksa_support import CIPONDOH, citizen, employee, submit
from playwright.async_api import expect
from sqlalchemy import update
from support import wait_until
from test_laksa_browser import STEP_TIMEOUT, session_cookie

from kotalive import live
from kotalive.auth.crypto import Vault
from kotalive.auth.models import Citizen, Employee
from kotalive.tenants.integrations import set_integration

ARRIVAL_LIMIT = 10.0  # seconds: generous, so a busy machine does not fail the test
# Every "kotalive:notification" the page hears, with the wall-clock time it arrived.
RECORD_ARRIVALS = """
document.addEventListener("kotalive:notification", function (e) {
  (window.__arrivals = window.__arrivals || []).push({ at: Date.now(), n: e.detail });
});
"""


async def wire_to_simulators(
    database: Any, settings: Any, city: Any, sims: Any, demo: str = "tangerang"
) -> None:
    """The city sends e-mail through the mail sink and SMS through the gateway simulator, with the
    demo city's logins (as `make run` wires the demo cities)."""
    vault = Vault.from_settings(settings)
    conf = sims.city_settings(demo)
    smtp, sms = dict(conf["smtp"]), dict(conf["sms"])
    async with database.tenant_session(city) as session:
        await set_integration(session, vault, "smtp", config=smtp, secrets={"password": smtp.pop("password")})
        await set_integration(session, vault, "sms", config=sms, secrets={"api_key": sms.pop("api_key")})
        await session.commit()


async def with_contact(database: Any, city: Any, person: Any, **values: str) -> None:
    model = Employee if person.principal.kind == "employee" else Citizen
    async with database.tenant_session(city) as session:
        await session.execute(update(model).where(model.id == person.id).values(**values))
        await session.commit()


async def listening(broker: Any, channel: str) -> bool:
    """True once a web process subscribed to the person's channel (their page's stream is open)."""
    import asyncio

    answer = await asyncio.to_thread(broker.client.pubsub_numsub, channel)
    return bool(answer and answer[0][1] > 0)


async def arrivals(page: Any) -> list[dict[str, Any]]:
    return list(await page.evaluate("window.__arrivals || []"))


async def test_the_inbox_hears_of_a_new_complaint_and_the_citizen_of_its_resolution(
    app,
    client_for,
    database,
    settings,
    browser_city,
    live_server,
    open_context,
    screenshots,
    sims,
    broker,
    worker,
    capsys,
) -> None:
    city = browser_city
    base = live_server.url(f"{city.slug}.localhost")
    await wire_to_simulators(database, settings, city, sims)
    tag = uuid.uuid4().hex[:6]
    agus_mail = f"agus.{tag}@pemkot-tangerang.test"
    siti_phone = "+62812" + str(uuid.uuid4().int)[:8]

    agus = await employee(app, client_for, database, city, "pupr", name="Agus Setiawan")
    await with_contact(database, city, agus, email=agus_mail)
    agus_id = agus.id
    siti = await citizen(app, client_for, database, city)
    await with_contact(database, city, siti, phone=siti_phone)
    siti_id = siti.id

    errors: list[str] = []
    staff_context = await open_context(base, cookie=await session_cookie(agus))
    await staff_context.add_init_script(RECORD_ARRIVALS)
    staff = await staff_context.new_page()
    staff.set_default_timeout(STEP_TIMEOUT)
    staff.on("pageerror", lambda exc: errors.append(str(exc)))
    await staff.goto("/staff/laksa")
    await expect(staff.locator(".bell")).to_be_visible()
    await expect(staff.locator(".bell-count")).to_be_hidden()  # nothing unread yet
    await wait_until(
        lambda: listening(broker, live.person_channel(city, "employee", agus_id)), "the bell's stream", 10
    )
    await screenshots(staff, "notify-01-pupr-inbox-before")

    # A citizen reports a dark lamp (through the API, as the app on their phone would).
    sent_at = time.time()
    made = await submit(
        siti,
        description=f"Lampu jalan mati di depan gang {tag} #lampumati",
        lat=CIPONDOH[0],
        lon=CIPONDOH[1],
    )
    answered_in = time.time() - sent_at
    assert made.status_code == 201, made.text
    cid = made.json()["complaint"]["id"]

    await expect(staff.locator(".bell-count")).to_have_text("1", timeout=ARRIVAL_LIMIT * 1000)
    toast = staff.locator(".toast").first
    await expect(toast).to_be_visible()
    await expect(toast).to_contain_text(f"Pengaduan baru #{cid}")
    await expect(toast.locator("a")).to_have_attribute("href", f"/staff/laksa/{cid}")
    heard = await arrivals(staff)
    assert [a["n"]["message"] for a in heard] == ["laksa.routed"]
    latency = heard[0]["at"] / 1000 - sent_at
    # The inbox took the complaint in without a reload.
    link = staff.locator(f'a.complaint-link[href="/staff/laksa/{cid}"]')
    await expect(link).to_be_visible()
    await expect(staff.locator("#inbox-results")).to_have_attribute("data-updates", "1")
    await expect(staff.locator("li.live-fresh")).to_have_count(1)
    await expect(staff.locator("#inbox-live")).to_be_hidden()
    assert await staff.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload
    await screenshots(staff, "notify-02-pupr-bell-toast-and-fresh-inbox")
    with capsys.disabled():
        print(
            f"\n[bell latency] complaint POST answered in {answered_in * 1000:.0f} ms; the employee's "
            f"page heard of it {latency * 1000:.0f} ms after the POST was sent "
            f"({(latency - answered_in) * 1000:.0f} ms after it answered)"
        )
    assert latency < ARRIVAL_LIMIT

    # The e-mail went to the mail sink, with the complaint in it.
    mails = await wait_until(lambda: sims.mail("tangerang", agus_mail), "the e-mail at the mail sink", 10)
    assert len(mails) == 1 and f"#{cid}" in mails[0].subject
    assert f"Lampu jalan mati di depan gang {tag}" in mails[0].text
    assert mails[0].mail_from == sims.cities["tangerang"].mail_from

    # Busy with the filters: a second complaint only shows the banner; the list stays as it is.
    await staff.locator("details.filters-box summary").click()
    await staff.locator("#priority").select_option(index=1)
    second = await submit(
        siti, description=f"Lampu taman mati juga {tag} #lampumati", lat=CIPONDOH[0], lon=CIPONDOH[1]
    )
    assert second.status_code == 201, second.text
    cid2 = second.json()["complaint"]["id"]
    await expect(staff.locator(".bell-count")).to_have_text("2", timeout=ARRIVAL_LIMIT * 1000)
    banner = staff.locator("#inbox-live")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Ada pengaduan baru")
    second_link = staff.locator(f'a.complaint-link[href="/staff/laksa/{cid2}"]')
    await expect(second_link).to_have_count(0)
    await expect(staff.locator("#inbox-results")).to_have_attribute("data-updates", "1")
    await screenshots(staff, "notify-03-pupr-busy-banner")
    await banner.get_by_role("button", name="Muat ulang daftar").click()
    await expect(second_link).to_be_visible()
    await expect(banner).to_be_hidden()
    assert await staff.locator("#priority").input_value() != ""  # what they chose is still there

    # The citizen follows the first complaint on its page; the employee resolves it.
    citizen_context = await open_context(base, cookie=await session_cookie(siti))
    await citizen_context.add_init_script(RECORD_ARRIVALS)
    mine = await citizen_context.new_page()
    mine.set_default_timeout(STEP_TIMEOUT)
    mine.on("pageerror", lambda exc: errors.append(str(exc)))
    await mine.goto(f"/laporan/{cid}")
    await wait_until(
        lambda: listening(broker, live.person_channel(city, "citizen", siti_id)), "the citizen's stream", 10
    )

    await link.click()
    await staff.wait_for_url(f"**/staff/laksa/{cid}")
    await staff.get_by_label("Catatan penyelesaian untuk warga").fill("Lampu sudah diganti baru")
    await staff.get_by_role("button", name="Tandai selesai").click()
    await staff.wait_for_url(re.compile(rf"/staff/laksa/{cid}\?pesan="))
    await expect(staff.locator("p.badges .state")).to_have_text("Selesai ditangani")
    await screenshots(staff, "notify-04-pupr-resolved")

    await expect(mine.locator(".bell-count")).to_have_text("1", timeout=ARRIVAL_LIMIT * 1000)
    await expect(mine.locator(".toast").first).to_contain_text(f"Pengaduan #{cid} selesai ditangani")
    await screenshots(mine, "notify-05-citizen-resolved-toast")
    texts = await wait_until(
        lambda: [m.text for m in sims.sms_messages("tangerang", siti_phone)], "the citizen's SMS", 10
    )
    assert any(f"#{cid}" in t and "Lampu sudah diganti baru" in t for t in texts), texts
    assert errors == [], errors


async def test_the_settings_page_on_a_phone(
    app, client_for, database, browser_city, live_server, open_context, screenshots
) -> None:
    city = browser_city
    base = live_server.url(f"{city.slug}.localhost")
    agus = await employee(app, client_for, database, city, "pupr", name="Agus Setiawan")
    await with_contact(database, city, agus, email="agus.prefs@pemkot-tangerang.test")
    context = await open_context(base, cookie=await session_cookie(agus))
    page = await context.new_page()
    page.set_default_timeout(STEP_TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    await page.goto("/notifikasi")
    await page.get_by_role("link", name="Atur cara Anda diberi tahu").click()
    await page.wait_for_url("**/notifikasi/pengaturan")
    await expect(page.get_by_role("heading", name="Pengaturan notifikasi")).to_be_visible()
    routed_email = page.locator("#m-laksa-routed-email")
    await expect(routed_email).to_be_checked()  # the default for a new complaint
    await screenshots(page, "notify-06-settings-phone")

    # The page fits a phone: nothing wider than the screen.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width

    # "E-mail off for every message": the column follows at once (the page's script).
    await page.locator("#all-email").select_option("off")
    await expect(routed_email).not_to_be_checked()
    await page.locator("#m-laksa-routed-inapp").uncheck()
    await page.get_by_label("Mulai pukul").fill("22:00")
    await page.get_by_role("button", name="Simpan").click()
    # Only the start of the quiet hours: said next to the end, the rest kept.
    await expect(page.locator("#quiet_until-error")).to_contain_text("Isi jam mulai dan jam selesai")
    await expect(page.locator("#m-laksa-routed-inapp")).not_to_be_checked()
    await screenshots(page, "notify-07-settings-error")

    await page.get_by_label("Sampai pukul").fill("06:00")
    await page.get_by_role("button", name="Simpan").click()
    await page.wait_for_url("**/notifikasi/pengaturan?pesan=tersimpan")
    await expect(page.get_by_role("status")).to_contain_text("tersimpan")
    await expect(routed_email).not_to_be_checked()
    await expect(page.locator("#m-laksa-routed-inapp")).not_to_be_checked()
    await expect(page.locator("#quiet_from")).to_have_value("22:00")
    await screenshots(page, "notify-08-settings-saved")
    prefs = await page.evaluate(
        "fetch('/api/v1/notifications/preferences', {headers: {accept: 'application/json'}}).then(r => r.json())"
    )
    assert prefs["channels"] == {"*": {"email": False}, "laksa.routed": {"inapp": False}}
    assert prefs["quiet_from"] == "22:00" and prefs["quiet_until"] == "06:00"
    assert errors == [], errors
