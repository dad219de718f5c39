"""/notifikasi/pengaturan: the form page of a person's notification preferences (quiet hours,
language, channels for every message and per message), both languages, CSRF, errors next to the
fields, and choices that mean what the dispatcher makes of them."""

from __future__ import annotations

import re
from typing import Any

from laksa_support import CIPONDOH, Person, citizen, employee, submit
from notify_support import settle, with_contact

from kotalive.notify.pages import CHANNELS

PAGE = "/notifikasi/pengaturan"
CITIZEN_MESSAGES = {"laksa.status", "laksa.resolved", "laksa.reply"}


async def get_page(person: Person, query: str = "") -> Any:
    return await person.client.get(PAGE + query, headers={"accept": "text/html"})


def boxes(html: str) -> dict[str, bool]:
    """name -> ticked, of every per-message checkbox on the page."""
    out = {}
    for tag in re.findall(r"<input[^>]*type=\"checkbox\"[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag).group(1)  # type: ignore[union-attr]
        out[name] = " checked" in tag
    return out


def form_of(html: str, **changes: Any) -> dict[str, str]:
    """What the browser would send from the page as rendered, with ``changes`` (a checkbox name
    mapped to True/False ticks or unticks it; other names set a field)."""
    data = {"_csrf_token": re.search(r'name="_csrf_token" value="([^"]*)"', html).group(1)}  # type: ignore[union-attr]
    for name in ("quiet_from", "quiet_until"):
        found = re.search(rf'name="{name}" type="time" value="([^"]*)"', html)
        data[name] = found.group(1) if found else ""
    for name in ("language", *(f"all.{c}" for c in CHANNELS)):
        select = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
        assert select, name
        chosen = re.search(r'<option value="([^"]*)" selected>', select.group(1))
        data[name] = chosen.group(1) if chosen else ""
    ticked = boxes(html)
    for name, value in changes.items():
        if name in ticked:
            ticked[name] = bool(value)
        else:
            data[name] = value
    data.update({name: "1" for name, on in ticked.items() if on})
    return data


async def send(person: Person, data: dict[str, str], query: str = "") -> Any:
    return await person.client.post(PAGE + query, data=data, headers={"accept": "text/html"})


async def stored(person: Person) -> dict[str, Any]:
    answer = await person.get("/api/v1/notifications/preferences")
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_page_shows_a_citizen_the_messages_that_concern_citizens(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    bell = await siti.client.get("/notifikasi", headers={"accept": "text/html"})
    assert 'href="/notifikasi/pengaturan"' in bell.text and "Atur cara Anda diberi tahu" in bell.text

    page = await get_page(siti)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert "<h1>Pengaturan notifikasi</h1>" in html and 'lang="id"' in html
    assert 'name="_csrf_token"' in html
    shown = {name.split(".", 1)[1].rsplit(".", 1)[0] for name in boxes(html)}
    assert shown == CITIZEN_MESSAGES  # nothing meant for staff
    assert "Pengaduan yang Anda laporkan atau dukung selesai ditangani" in html
    assert "Bawaan: Aplikasi, SMS" in html  # laksa.resolved's defaults
    # the defaults as ticks: resolved by bell and SMS, the others by bell only
    ticked = {name for name, on in boxes(html).items() if on}
    assert ticked == {
        "m.laksa.status.inapp",
        "m.laksa.resolved.inapp",
        "m.laksa.resolved.sms",
        "m.laksa.reply.inapp",
    }
    # every field has its label
    for fid in ("quiet_from", "quiet_until", "language", "all-inapp", "all-email", "all-sms"):
        assert f'<label for="{fid}">' in html and f'id="{fid}"' in html
    assert "belum menyimpan alamat e-mail Anda" in html  # a citizen has no e-mail address here
    assert "belum menyimpan nomor telepon" not in html  # but a phone

    english = await get_page(siti, "?lang=en")
    assert "<h1>Notification settings</h1>" in english.text and 'lang="en"' in english.text
    assert "A complaint you reported or support was resolved" in english.text
    assert "Default: App, SMS" in english.text and "Reset channels to the defaults" in english.text
    assert boxes(english.text) == boxes(html)


async def test_an_employee_sees_the_staff_messages(app, client_for, database, city) -> None:
    agus = await employee(app, client_for, database, city, "pupr")
    await with_contact(database, city, agus, email="agus@pupr.kota.test")
    html = (await get_page(agus)).text
    shown = {name.split(".", 1)[1].rsplit(".", 1)[0] for name in boxes(html)}
    assert "laksa.routed" in shown and "laksa.digest" in shown and not shown & CITIZEN_MESSAGES
    assert boxes(html)["m.laksa.routed.email"] is True and boxes(html)["m.laksa.triage.email"] is False
    assert "belum menyimpan alamat e-mail" not in html and "belum menyimpan nomor telepon" in html


async def test_saving_quiet_hours_language_and_channels(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    html = (await get_page(siti)).text
    data = form_of(
        html,
        quiet_from="22:00",
        quiet_until="06:00",
        language="en",
        **{"all.sms": "off", "m.laksa.reply.inapp": False},
    )
    saved = await send(siti, data)
    assert saved.status_code == 303 and saved.headers["location"] == f"{PAGE}?pesan=tersimpan"
    assert await stored(siti) == {
        "quiet_from": "22:00",
        "quiet_until": "06:00",
        "language": "en",
        "channels": {"*": {"sms": False}, "laksa.reply": {"inapp": False}},
    }
    again = await get_page(siti, "?pesan=tersimpan")
    assert "Pengaturan notifikasi Anda tersimpan." in again.text
    assert 'value="22:00"' in again.text and 'value="06:00"' in again.text
    assert '<option value="en" selected>' in again.text and '<option value="off" selected>' in again.text
    ticks = boxes(again.text)
    assert ticks["m.laksa.resolved.sms"] is False and ticks["m.laksa.reply.inapp"] is False
    assert 'data-own="0"' in again.text  # the script puts own choices back when "per message" returns

    # "every SMS on" with the boxes left as shown: no message keeps an SMS choice of its own
    everything = await send(siti, form_of(again.text, **{"all.sms": "on"}))
    assert everything.status_code == 303
    prefs = await stored(siti)
    assert prefs["channels"] == {"*": {"sms": True}, "laksa.reply": {"inapp": False}}
    # "every SMS off": a box unticked to match (as the page's script does) is no own choice, and a
    # box left ticked follows the new choice too
    html = (await get_page(siti)).text
    assert all(on for name, on in boxes(html).items() if name.endswith(".sms"))
    data = form_of(html, **{"all.sms": "off", "m.laksa.status.sms": False})
    assert (await send(siti, data)).status_code == 303
    assert (await stored(siti))["channels"] == {"*": {"sms": False}, "laksa.reply": {"inapp": False}}
    html = (await get_page(siti)).text
    assert not any(on for name, on in boxes(html).items() if name.endswith(".sms"))
    # a box ticked against "every message" is that message's own choice
    assert (await send(siti, form_of(html, **{"m.laksa.resolved.sms": True}))).status_code == 303
    assert (await stored(siti))["channels"] == {
        "*": {"sms": False},
        "laksa.reply": {"inapp": False},
        "laksa.resolved": {"sms": True},
    }

    # reset: the channels go back to the defaults, quiet hours and language stay
    html = (await get_page(siti)).text
    reset = await send(siti, form_of(html, action="reset"))
    assert reset.status_code == 303 and reset.headers["location"].endswith("?pesan=bawaan")
    prefs = await stored(siti)
    assert prefs["channels"] == {} and prefs["quiet_from"] == "22:00" and prefs["language"] == "en"
    assert "Saluran notifikasi kembali ke bawaan." in (await get_page(siti, "?pesan=bawaan")).text
    # and clearing the quiet hours
    html = (await get_page(siti)).text
    assert (await send(siti, form_of(html, quiet_from="", quiet_until=""))).status_code == 303
    assert (await stored(siti))["quiet_from"] is None


async def test_choices_the_page_does_not_show_are_kept(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    put = await siti.put(
        "/api/v1/notifications/preferences", json={"channels": {"laksa.routed": {"email": True}}}
    )
    assert put.status_code == 200, put.text
    html = (await get_page(siti)).text
    assert "m.laksa.routed.email" not in boxes(html)
    assert (await send(siti, form_of(html, **{"m.laksa.status.inapp": False}))).status_code == 303
    assert (await stored(siti))["channels"] == {
        "laksa.routed": {"email": True},
        "laksa.status": {"inapp": False},
    }


async def test_errors_stand_next_to_their_fields_and_nothing_is_saved(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    html = (await get_page(siti)).text

    bad_time = await send(siti, form_of(html, quiet_from="25:00", quiet_until="06:00"))
    assert bad_time.status_code == 422
    assert 'role="alert"' in bad_time.text and "Periksa isian yang ditandai" in bad_time.text
    assert re.search(
        r'id="quiet_from"[^>]*aria-invalid="true"[^>]*aria-describedby="quiet_from-error"', bad_time.text
    )
    assert '<p id="quiet_from-error" class="field-error">Isi jam dengan format JJ:MM' in bad_time.text
    assert 'value="25:00"' in bad_time.text  # what was typed stays
    assert "quiet_until-error" not in bad_time.text

    only_start = await send(siti, form_of(html, quiet_from="22:00", **{"m.laksa.status.inapp": False}))
    assert only_start.status_code == 422
    assert '<p id="quiet_until-error" class="field-error">Isi jam mulai dan jam selesai' in only_start.text
    assert boxes(only_start.text)["m.laksa.status.inapp"] is False  # the ticks as sent

    same = await send(siti, form_of(html, quiet_from="07:00", quiet_until="07:00"))
    assert same.status_code == 422 and "quiet_until-error" in same.text

    language = await send(siti, form_of(html, language="fr", **{"all.email": "maybe"}))
    assert language.status_code == 422
    assert '<p id="language-error" class="field-error">' in language.text
    assert '<p id="all-email-error" class="field-error">' in language.text

    english = await send(siti, form_of(html, quiet_from="9pm", quiet_until="06:00"), "?lang=en")
    assert english.status_code == 422 and "Use HH:MM, e.g. 22:00." in english.text
    assert "Not saved yet. Check the marked fields." in english.text

    assert await stored(siti) == {"quiet_from": None, "quiet_until": None, "language": None, "channels": {}}


async def test_the_form_needs_its_csrf_token_and_a_login(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    html = (await get_page(siti)).text
    data = form_of(html, quiet_from="22:00", quiet_until="06:00")
    data.pop("_csrf_token")
    refused = await siti.client.post(PAGE, data=data, headers={"accept": "text/html"})
    assert refused.status_code == 403
    assert (await stored(siti))["quiet_from"] is None

    async with client_for(city.primary_host) as anonymous:
        answer = await anonymous.get(PAGE, headers={"accept": "text/html"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/masuk?next=/notifikasi/pengaturan"


async def test_what_the_page_saves_is_what_the_dispatcher_does(
    app, client_for, database, city, smtp, broker, worker
) -> None:
    """E-mail off for new complaints, on the page: the bell still rings, no e-mail goes out."""
    agus = await employee(app, client_for, database, city, "pupr")
    await with_contact(database, city, agus, email="agus.page@pupr.kota.test")
    html = (await get_page(agus)).text
    assert (await send(agus, form_of(html, **{"m.laksa.routed.email": False}))).status_code == 303
    siti = await citizen(app, client_for, database, city)
    made = await submit(
        siti, description="Lampu jalan mati di depan gang #lampumati", lat=CIPONDOH[0], lon=CIPONDOH[1]
    )
    assert made.status_code == 201, made.text
    await settle(broker)
    items = (await agus.get("/api/v1/notifications")).json()["items"]
    assert [i["message"] for i in items] == ["laksa.routed"]
    assert smtp.mailbox.to("agus.page@pupr.kota.test") == []
