"""Issue 7's "done when", in a real browser (Chromium, phone-sized, offline: map tiles cannot load),
with a Dramatiq worker in this process and the 112 simulators of infra/simulators over real HTTP.

In a city seeded with the 112 demo (its telephony integration, units with terminals, a call-taker
and a dispatcher): the telephony simulator rings a call; the call-taker sees it ring on /112
without a reload, opens it, and the caller's AML location arrives live (text, the coordinates in
the incident form, a marker and its accuracy circle on the map). She opens a fire incident. The
dispatcher, on /112/dispatch, sees the recommendations and sends the nearest fire engine (the one
the demo's stations put nearest); the unit simulator drives it there and it shows on scene on the
dispatcher's panel, live. The Live Room board shows the incident, on scene; the NFPA 1225 dashboard
/112/ukuran shows the call's answer and processing times.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from kotalive_simulators import telephony
from kotalive_simulators import units as unit_sim
from laksa_support import employee
from playwright.async_api import expect
from support import wait_until
from test_laksa_browser import STEP_TIMEOUT, session_cookie
from test_notify_browser import listening

from kotalive import live
from kotalive.context import use_tenant
from kotalive.events import wait_for_relays
from kotalive.modules.hotline112 import demo
from kotalive.modules.hotline112.timeline import CALLS_TOPIC, DISPATCH_TOPIC

ARRIVAL_LIMIT = 15_000  # ms: generous, so a busy machine does not fail the test
CALLER = "+6281277712345"
SCENE = (-6.1862, 106.6921)  # in Cipondoh, nearer one fire station than the others


async def test_a_call_with_aml_becomes_a_fire_incident_the_nearest_engine_drives_on_scene_and_is_measured(
    app, client_for, database, browser_city, live_server, open_context, screenshots, broker, worker
) -> None:
    city = browser_city
    host = f"{city.slug}.localhost"
    base = live_server.url(host)
    errors: list[str] = []
    with use_tenant(city):
        async with database.tenant_session(city) as session:
            seeded = await demo.seed_demo(session, "tangerang")
    assert any("demo units" in line for line in seeded), seeded
    taker = await employee(
        app, client_for, database, city, "dinkes", roles=("calltaker",), name="Ratih Penerima"
    )
    dispatcher = await employee(
        app, client_for, database, city, "damkar", roles=("dispatcher",), name="Yoga Dispatcher"
    )
    operator = await employee(
        app, client_for, database, city, "bpbd", roles=("liveroom_operator",), name="Rina Operator"
    )
    operator_api = await employee(app, client_for, database, city, "bpbd", roles=("liveroom_operator",))
    target = telephony.Target(
        base,
        secret=telephony.demo_webhook_secret("tangerang"),
        aml_hmac_key=telephony.demo_aml_key("tangerang"),
    )

    # The call-taker's screen, live.
    taker_context = await open_context(base, cookie=await session_cookie(taker))
    screen = await taker_context.new_page()
    screen.set_default_timeout(STEP_TIMEOUT)
    screen.on("pageerror", lambda exc: errors.append(str(exc)))
    await screen.goto("/112")
    await expect(screen.locator("#h112-empty")).to_be_visible()
    await expect(screen.locator("#h112-live")).to_have_text("Langsung")
    calls_channel = live.topic_channel(city, CALLS_TOPIC)
    await wait_until(lambda: listening(broker, calls_channel), "the call-taker's stream", 10)
    await screenshots(screen, "h112-01-calltaker-waiting")

    # The telephony simulator rings a call (answered two seconds later; it stays up).
    script = telephony.script_from_dict(
        [{"call_id": "kebakaran", "caller": CALLER, "answer_after_s": 2, "end_after_s": None}]
    )
    played = await telephony.play(script, target, run_tag=city.slug)
    assert not played.failed, played.text()
    row = screen.locator("#h112-calls li.h112-call", has_text=CALLER)
    await expect(row).to_be_visible(timeout=ARRIVAL_LIMIT)
    await expect(row.locator(".h112-stage")).to_have_text(re.compile("Berdering|Dijawab"))
    assert await screen.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload
    await screenshots(screen, "h112-02-call-ringing")

    # She opens the call; the handset's AML location arrives while she is on it.
    await row.locator("a").click()
    await screen.wait_for_url(re.compile(r"/112\?panggilan=\d+"))
    await expect(screen.locator("#h112-call-number")).to_have_text(CALLER)
    await expect(screen.locator("#h112-call-stage")).to_have_text("Dijawab", timeout=ARRIVAL_LIMIT)
    await expect(screen.locator("#h112-live")).to_have_text("Langsung")
    await wait_until(lambda: listening(broker, calls_channel), "the call page's stream", 10)
    sent = await telephony.send_aml(
        target, CALLER, telephony.AmlPlan(lat=SCENE[0], lon=SCENE[1], accuracy_m=15.0, source="gps")
    )
    assert sent.ok and sent.status == 200, sent
    location = screen.locator("#h112-location-text")
    await expect(location).to_contain_text(f"{SCENE[0]:.6f}, {SCENE[1]:.6f}", timeout=ARRIVAL_LIMIT)
    await expect(location).to_contain_text("15")  # the accuracy, in metres
    await expect(screen.locator("#f-lat")).to_have_value(str(SCENE[0]))
    await expect(screen.locator("#f-source")).to_have_value("aml")
    # A marker and its accuracy circle on the map (vector layers draw without tiles).
    await expect(screen.locator("#h112-map path.leaflet-interactive")).to_have_count(2)
    await screenshots(screen, "h112-03-caller-location")

    # A fire incident, from this call, at the caller's location.
    await screen.locator("#f-type").select_option("fire")
    await screen.locator("#q-fire-trapped").select_option("tidak")
    await screen.locator("#q-fire-building").select_option("rumah")
    await screen.locator("#f-summary").fill("Rumah terbakar di gang belakang pasar")
    await screen.get_by_role("button", name="Buka insiden").click()
    await screen.wait_for_url(re.compile(r"/112/insiden/\d+"))
    incident_id = int(re.search(r"/112/insiden/(\d+)", screen.url).group(1))  # type: ignore[union-attr]
    await expect(screen.locator("h1")).to_contain_text("Kebakaran")
    await screenshots(screen, "h112-04-incident-opened")

    # The dispatcher sends the recommended nearest fire engine.
    fire_engines = [u for u in unit_sim.DEMO_UNITS["tangerang"] if u.type == "fire_engine"]
    nearest = min(fire_engines, key=lambda u: unit_sim.distance_m(u.base, SCENE))
    dispatch_context = await open_context(base, cookie=await session_cookie(dispatcher))
    desk = await dispatch_context.new_page()
    desk.set_default_timeout(STEP_TIMEOUT)
    desk.on("pageerror", lambda exc: errors.append(str(exc)))
    await desk.goto(f"/112/dispatch?insiden={incident_id}")
    panel = desk.locator(f"#h112-panel-{incident_id}")
    engines = panel.locator("li.h112-rec", has=desk.locator(".h112-rec-type", has_text="Mobil pemadam"))
    await expect(engines.first).to_be_visible()
    await expect(engines.first.locator("strong")).to_have_text(nearest.call_sign)
    unit_id = int(await engines.first.get_attribute("data-unit-id") or 0)
    await desk.wait_for_function("document.getElementById('h112-live').textContent === 'Langsung'")
    await wait_until(
        lambda: listening(broker, live.topic_channel(city, DISPATCH_TOPIC)), "the dispatcher's stream", 10
    )
    await screenshots(desk, "h112-05-recommendations")
    await engines.first.locator("button[data-assign]").click()
    sent_unit = panel.locator(f'[data-h112-assigned] li[data-unit-id="{unit_id}"]')
    await expect(sent_unit.locator(".h112-status")).to_have_text("Diberangkatkan")
    await screenshots(desk, "h112-06-engine-dispatched")

    # The unit simulator drives it there (fast), and the panel follows it live to on scene.
    async with telephony.city_client(base) as client:
        driver = unit_sim.UnitDriver(
            unit_sim.Terminal(client, unit_sim.demo_terminal_token("tangerang", nearest.call_sign)),
            time_scale=200.0,
            interval_s=0.1,
            poll_s=0.1,
        )
        await asyncio.wait_for(driver.run(asyncio.Event(), trips=1), 60)
    assert not driver.errors, driver.errors
    assert [s for s, _ in driver.trips[0].statuses] == ["en_route", "on_scene"]
    assert driver.trips[0].positions >= 2
    await expect(sent_unit.locator(".h112-status")).to_have_text("Di lokasi", timeout=ARRIVAL_LIMIT)
    assert await desk.evaluate("performance.getEntriesByType('navigation').length") == 1  # live, no reload
    await screenshots(desk, "h112-07-engine-on-scene")

    # The Live Room board shows the incident, and that it is on scene.
    async def board_item() -> Any:
        await wait_for_relays()
        found = await operator_api.get(
            "/api/v1/liveroom/items", params={"kind": "incident", "source_id": incident_id}
        )
        item = found.json().get("item") if found.status_code == 200 else None
        return item if item and item.get("source_state") == "on_scene" else None

    item = await wait_until(board_item, "the board to have the incident on scene", 30)
    room_context = await open_context(base, cookie=await session_cookie(operator))
    board = await room_context.new_page()
    board.set_default_timeout(STEP_TIMEOUT)
    board.on("pageerror", lambda exc: errors.append(str(exc)))
    await board.goto("/liveroom")
    board_row = board.locator(f"#item-{item['id']}")
    await expect(board_row).to_be_visible()
    await expect(board_row.locator(".lr-kind")).to_have_text("Insiden 112")
    await expect(board_row).to_contain_text("Rumah terbakar di gang belakang pasar")
    await expect(board_row).to_have_class(re.compile(r"lr-emergency"))  # fire is P1
    await expect(board_row.locator(f'[data-unit="{nearest.call_sign}"]')).to_contain_text("di lokasi")
    await screenshots(board, "h112-08-liveroom-board")

    # The dashboard: the call's answer time and its processing time (answer -> first dispatch).
    await desk.goto("/112/ukuran")
    overall = desk.locator("table.h112-measures").first
    for measure in ("answer", "processing"):
        await expect(overall.locator(f'td[data-measure="{measure}"][data-figure="count"]')).to_have_text("1")
        await expect(overall.locator(f'td[data-measure="{measure}"][data-figure="median"]')).not_to_have_text(
            "–"
        )
    await expect(desk.locator(".h112-kpis")).to_be_visible()
    await screenshots(desk, "h112-09-measures")
    assert errors == []
