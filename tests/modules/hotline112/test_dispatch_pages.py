"""The dispatcher's screen and the dispatch panel, server-rendered: empty states, incidents by
priority, units with their status, the panel needing only the incident and the language."""

from __future__ import annotations

from typing import Any

from h112_dispatch_support import CENTRE, add_incident, dispatcher, make_unit

from kotalive.context import use_tenant
from kotalive.modules.hotline112.models import Incident
from kotalive.pages import render_page


async def test_dispatch_screen_empty_then_with_incidents_and_units(
    app: Any, client_for: Any, database: Any, make_city: Any
) -> None:
    city = await make_city("h112p", region_code="3671", name="Kota Uji Layar")
    dewi = await dispatcher(app, client_for, database, city, "Dewi")
    empty = await dewi.client.get("/112/dispatch")
    assert empty.status_code == 200
    assert "Tidak ada insiden terbuka." in empty.text and "Belum ada unit." in empty.text
    low = await add_incident(database, city, type_code="hearse", priority="P4", summary="Jenazah di rumah")
    high = await add_incident(database, city, type_code="fire", priority="P1", summary="Gudang terbakar")
    await make_unit(dewi, database, city, "DMK-01", "fire_engine", "damkar", CENTRE)
    page = await dewi.client.get("/112/dispatch", params={"lang": "en"})
    assert page.status_code == 200
    text = page.text
    assert text.index(f'data-incident-id="{high}"') < text.index(f'data-incident-id="{low}"')
    assert "Gudang terbakar" in text and "DMK-01" in text and "Available" in text
    assert f'id="h112-panel-{high}"' in text  # the most urgent one is chosen first
    assert "/static/hotline112/dispatch.js" in text and "/static/vendor/leaflet/leaflet.js" in text
    chosen = await dewi.client.get("/112/dispatch", params={"insiden": low})
    assert f'id="h112-panel-{low}"' in chosen.text
    missing = await dewi.client.get("/112/dispatch", params={"insiden": 999999})
    assert missing.status_code == 404
    for path in ("/static/hotline112/dispatch.js", "/static/hotline112/dispatch.css"):
        assert (await dewi.client.get(path)).status_code == 200
    stream = await dewi.client.get("/api/v1/hotline112/dispatch/stream", params={"once": "true"})
    assert stream.status_code == 200 and "event: hello" in stream.text


async def test_the_panel_needs_only_the_incident_and_the_language(make_city: Any) -> None:
    city = await make_city("h112q", region_code="3671", name="Kota Uji Panel")
    incident = Incident(id=41, type_code="fire", priority="P1", state="open")
    with use_tenant(city):
        html = render_page("hotline112/_dispatch_panel.html", lang="en", incident=incident)
    assert 'data-incident-id="41"' in html and "Recommended nearest units" in html
    assert "&#34;rec.assign&#34;" in html  # the script's texts, escaped in the attribute
    assert render_page("hotline112/_dispatch_panel.html", lang="id", incident=None).strip() == ""
