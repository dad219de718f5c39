"""The call-taker's screen in a real browser (Chromium, phone-sized, offline: map tiles cannot load).

A call-taker has /112 open (the empty state); the telephony system rings a call and it appears,
marked ringing, without a reload; the call-taker opens it, the caller's AML arrives and shows as a
point with its accuracy circle and fills the incident form's location; choosing the type swaps the
protocol questions; the incident is opened and its page shows the same circle.
"""

from __future__ import annotations

import uuid
from typing import Any

from hotline112_calls_support import (
    aml_body,
    aml_fields,
    calltaker,
    connect_telephony,
    event,
    new_number,
    send_aml,
    send_events,
)
from playwright.async_api import expect
from support import wait_until
from test_laksa_browser import session_cookie
from test_notify_browser import listening

from kotalive import live
from kotalive.modules.hotline112.timeline import CALLS_TOPIC


async def test_a_ringing_call_its_aml_circle_and_an_incident_in_the_browser(
    app: Any,
    client_for: Any,
    database: Any,
    settings: Any,
    browser_city: Any,
    live_server: Any,
    open_context: Any,
    screenshots: Any,
    broker: Any,
) -> None:
    city = browser_city
    await connect_telephony(database, settings, city)
    base = live_server.url(f"{city.slug}.localhost")
    errors: list[str] = []
    ani = await calltaker(app, client_for, database, city)
    ctx = await open_context(base, cookie=await session_cookie(ani))
    p = await ctx.new_page()
    p.set_default_timeout(10000)
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("console", lambda m: errors.append("console:" + m.text) if m.type == "error" else None)
    await p.goto("/112")
    await expect(p.locator("#h112-empty")).to_be_visible()
    await wait_until(lambda: listening(broker, live.topic_channel(city, CALLS_TOPIC)), "stream", 10)
    await expect(p.locator("#h112-live")).to_have_text("Langsung")
    cti = client_for(city.primary_host)
    num = new_number()
    ref = "r-" + uuid.uuid4().hex[:6]
    await send_events(cti, event("offered", ref, num))
    row = p.locator("#h112-calls li", has_text=num)
    await expect(row).to_be_visible()
    await expect(row).to_have_class("h112-call is-ringing")
    assert await p.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload
    await screenshots(p, "h112-calltaker-01-ringing")
    await row.locator("a").click()
    await p.wait_for_url("**panggilan=*")
    await send_aml(cti, aml_body(aml_fields(num, lat=-6.18, lon=106.63, location_accuracy="60")))
    await expect(p.locator("#h112-location-text")).to_contain_text("-6.180000")
    n = await p.evaluate("document.querySelectorAll('#h112-map path.leaflet-interactive').length")
    assert n >= 2, n  # the point and its accuracy circle
    await expect(p.locator("#h112-map-failed")).to_be_visible()  # offline: no tiles, still usable
    assert await p.locator("#f-lat").input_value() == "-6.18"
    await p.select_option("#f-type", "medical")
    await expect(p.locator('fieldset[data-type="fire"]')).to_be_hidden()
    await expect(p.locator('fieldset[data-type="medical"]')).to_be_visible()
    await p.select_option("#q-medical-conscious", "ya")
    await screenshots(p, "h112-calltaker-02-call-with-aml")
    await p.get_by_role("button", name="Buka insiden").click()
    await p.wait_for_url("**/112/insiden/*")
    await expect(p.locator("h1")).to_contain_text("Kegawatan medis")
    n = await p.evaluate("document.querySelectorAll('#h112-map path.leaflet-interactive').length")
    assert n >= 2, n
    await screenshots(p, "h112-calltaker-03-incident")
    assert [e for e in errors if "ERR_FAILED" not in e and "net::" not in e] == [], errors
