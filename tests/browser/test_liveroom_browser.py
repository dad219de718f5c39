"""The Live Room board in a real browser (Chromium, phone-sized, offline: map tiles cannot load),
with a Dramatiq worker in this process.

An operator has the board open; a citizen submits an untagged complaint through the API and it
appears on the board (list and map) without a reload; an emergency raises the banner and the
beep. The operator claims the complaint; a second operator trying to claim it is told who has
it; the first forwards it to PUPR; a PUPR employee acknowledges it through the API, and the
board's "waiting for the agency" tab shows it acknowledged, again without a reload.
"""

from __future__ import annotations

import re
from typing import Any

from laksa_support import CIPONDOH, agency_id, citizen, employee, submit
from playwright.async_api import expect
from support import wait_until
from test_laksa_browser import STEP_TIMEOUT, session_cookie
from test_notify_browser import listening

from kotalive.events import wait_for_relays
from kotalive.modules.liveroom.services import board_channel

OPERATOR = ("liveroom_operator",)
ARRIVAL_LIMIT = 15_000  # ms: generous, so a busy machine does not fail the test


async def item_of(person: Any, complaint_id: int) -> dict[str, Any] | None:
    found = await person.get(
        "/api/v1/liveroom/items", params={"kind": "complaint", "source_id": complaint_id}
    )
    return found.json()["item"] if found.status_code == 200 else None


async def test_an_operator_sees_a_complaint_arrive_claims_forwards_and_sees_pupr_acknowledge(
    app, client_for, database, browser_city, live_server, open_context, screenshots, broker, worker
) -> None:
    city = browser_city
    base = live_server.url(f"{city.slug}.localhost")
    errors: list[str] = []
    ani = await employee(app, client_for, database, city, "bpbd", roles=OPERATOR, name="Ani Operator")
    budi = await employee(app, client_for, database, city, "satpol-pp", roles=OPERATOR, name="Budi Operator")
    pupr = await employee(app, client_for, database, city, "pupr", name="Pegawai PUPR")
    ani_api = await employee(app, client_for, database, city, "bpbd", roles=OPERATOR, name="Ani API")
    siti = await citizen(app, client_for, database, city)
    pupr_id = await agency_id(database, city, "pupr")

    context = await open_context(base, cookie=await session_cookie(ani))
    board = await context.new_page()
    board.set_default_timeout(STEP_TIMEOUT)
    board.on("pageerror", lambda exc: errors.append(str(exc)))
    await board.goto("/liveroom")
    await expect(board.get_by_role("heading", name="Papan Live Room")).to_be_visible()
    await expect(board.locator("#lr-empty")).to_have_text("Tidak ada yang perlu ditangani")
    await expect(board.locator(".lr-tab[aria-current=page]")).to_contain_text("Perlu tindakan")
    await board.wait_for_function("window.liveroomBoard && window.liveroomBoard.connected")
    await expect(board.locator("#lr-live")).to_have_text("Langsung")
    await wait_until(lambda: listening(broker, board_channel(city)), "the board's stream", 10)
    await expect(board.locator("#lr-map-status")).to_contain_text("Peta tidak dapat dimuat")  # offline
    await screenshots(board, "liveroom-01-empty-board")

    # An untagged complaint: nobody's rule takes it, so it needs the room.
    made = await submit(
        siti, description="Ada lubang besar di jalan depan pasar", lat=CIPONDOH[0], lon=CIPONDOH[1]
    )
    assert made.status_code == 201, made.text
    cid = made.json()["complaint"]["id"]
    row = board.locator("#lr-list li.lr-item", has_text="Ada lubang besar di jalan depan pasar")
    await expect(row).to_be_visible(timeout=ARRIVAL_LIMIT)
    await expect(row.locator(".lr-state")).to_have_text("Baru")
    await expect(row.locator(".lr-kind")).to_have_text("Aduan")
    await expect(board.locator("#lr-empty")).to_be_hidden()
    await expect(board.locator('[data-count="action"]')).to_have_text("1")
    await board.wait_for_function("window.liveroomBoard.markers === 1")
    assert await board.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload
    item = await item_of(ani_api, cid)
    assert item is not None
    item_id = item["id"]
    await screenshots(board, "liveroom-02-complaint-arrived")

    # An emergency: the banner flashes, the beep sounds (counted), its row goes first, in red.
    fire = await submit(
        siti, description="Kebakaran rumah warga dekat pasar #kebakaran", lat=CIPONDOH[0], lon=CIPONDOH[1]
    )
    assert fire.status_code == 201, fire.text
    banner = board.locator("#lr-alert")
    await expect(banner).to_be_visible(timeout=ARRIVAL_LIMIT)
    await expect(banner).to_contain_text("Kebakaran rumah warga")
    await expect(board.locator("#lr-list li.lr-item").first).to_have_class(re.compile(r"lr-emergency"))
    assert await board.evaluate("window.liveroomBoard.beeps") >= 1
    await screenshots(board, "liveroom-03-emergency-alert")
    await board.get_by_role("button", name="Suara: nyala").click()
    await expect(board.locator("#lr-sound")).to_have_text("Suara: mati")
    await board.get_by_role("button", name="Tutup peringatan").click()
    await expect(banner).to_be_hidden()

    # Ani claims the complaint on its page.
    await row.locator("a.lr-title").click()
    await board.wait_for_url(f"**/liveroom/item/{item_id}")
    await board.get_by_role("button", name="Ambil item ini").click()
    await board.wait_for_url(re.compile(rf"/liveroom/item/{item_id}\?pesan=claim$"))
    await expect(board.get_by_role("status")).to_contain_text("Item ini sekarang Anda tangani")
    await expect(board.locator("dd.lr-claimed")).to_contain_text("Ani Operator")
    await screenshots(board, "liveroom-04-claimed")

    # Budi, on his own screen, tries to claim it too: told who has it, next to the button.
    budi_context = await open_context(base, cookie=await session_cookie(budi))
    other = await budi_context.new_page()
    other.set_default_timeout(STEP_TIMEOUT)
    other.on("pageerror", lambda exc: errors.append(str(exc)))
    await other.goto(f"/liveroom/item/{item_id}")
    await other.get_by_role("button", name="Ambil item ini").click()
    refusal = other.locator("#claim-refusal")
    await expect(refusal).to_contain_text("Item ini sedang ditangani Ani Operator sejak")
    await screenshots(other, "liveroom-05-second-operator-refused")

    # Ani forwards it to PUPR with a note.
    await board.locator(f'input[name="agency_ids"][value="{pupr_id}"]').check()
    await board.locator("#forward-note").fill("Mohon dicek segera")
    await board.get_by_role("button", name="Teruskan", exact=True).click()
    await board.wait_for_url(re.compile(rf"/liveroom/item/{item_id}\?pesan=forward$"))
    await expect(board.locator("#lr-item-state")).to_have_text("Diteruskan ruang kendali")
    await screenshots(board, "liveroom-06-forwarded")

    # Back on the board, the "waiting for the agency" tab has it.
    await board.get_by_role("link", name="Kembali ke papan").click()
    await board.locator('.lr-tab[data-view="progress"]').click()
    await board.wait_for_url("**/liveroom?view=progress")
    progress_row = board.locator(f"#item-{item_id}")
    await expect(progress_row.locator(".lr-state")).to_have_text("Diteruskan ruang kendali")
    await expect(progress_row.locator(".lr-claimed")).to_contain_text("Ani Operator")
    await board.wait_for_function("window.liveroomBoard && window.liveroomBoard.connected")
    await wait_until(lambda: listening(broker, board_channel(city)), "the board's stream", 10)

    # Laksa applies the room's request; PUPR acknowledges through the API.
    async def forwarded() -> Any:
        await wait_for_relays()
        shown = await pupr.get(f"/api/v1/laksa/complaints/{cid}")
        return shown.status_code == 200 and shown.json()["state"] == "forwarded"

    await wait_until(forwarded, "Laksa to forward the complaint to PUPR", 20)
    ack = await pupr.post(f"/api/v1/laksa/complaints/{cid}/acknowledge", json={})
    assert ack.status_code == 200, ack.text
    await expect(progress_row.locator(".lr-state")).to_have_text(
        "Diterima perangkat daerah", timeout=ARRIVAL_LIMIT
    )
    navigations = await board.evaluate("performance.getEntriesByType('navigation').length")
    assert navigations == 1 and int(await board.locator("#lr-list").get_attribute("data-updates") or 0) >= 1
    await screenshots(board, "liveroom-07-acknowledged")

    # The video wall: no actions, list and map side by side.
    await board.goto("/liveroom?view=progress&layar=besar")
    await expect(board.locator(".lr-wall")).to_be_visible()
    await expect(board.locator(f"#item-{item_id} a.lr-title")).to_have_count(0)
    await screenshots(board, "liveroom-08-wall")
    assert errors == [], errors
