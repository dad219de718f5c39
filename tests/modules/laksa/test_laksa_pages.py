"""Laksa's pages through the real app over HTTP: both languages, labels on every field, the login
redirect, the report form (errors next to the fields, values kept, photos, one complaint per
idempotency key), markup escaped on every page, nothing personal on the public side, another
city's complaint not found, the staff inbox (filters, keyset paging, triage queue) and the staff
and citizen actions as forms (303 when done, 422 next to the field, 409 when someone acted first).
"""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest
from laksa_support import CILEDUG, CIPONDOH, OUTSIDE, Person, agency_id, citizen, employee, jpeg, submit
from sqlalchemy import func, select

from kotalive.auth.models import Citizen
from kotalive.context import use_tenant
from kotalive.modules.laksa import configuration
from kotalive.modules.laksa.models import Complaint, Media
from kotalive.modules.laksa.services import Actor, ComplaintService, NewComplaint, process_pending_photos

HTML = {"accept": "text/html"}
MARKUP = '<script>alert("laksa")</script><img src=x onerror=alert(1)> <b>tebal</b>'


# ---- helpers ---------------------------------------------------------------------------------------


async def get_page(who: Person | httpx.AsyncClient, path: str, **params: str) -> httpx.Response:
    client = who.client if isinstance(who, Person) else who
    return await client.get(path, params=params or None, headers=HTML)


async def send_form(
    who: Person, path: str, data: dict[str, Any] | None = None, files: Any = None, **params: str
) -> httpx.Response:
    """A form post the way the pages send it: the CSRF token in ``_csrf_token``."""
    fields = {"_csrf_token": who.csrf, **(data or {})}
    return await who.client.post(path, data=fields, files=files, params=params or None, headers=HTML)


def links(page: httpx.Response, prefix: str) -> list[int]:
    return [int(i) for i in re.findall(rf'class="complaint-link" href="{prefix}(\d+)"', page.text)]


def error_of(page: httpx.Response, field_id: str) -> str:
    match = re.search(rf'<p id="{re.escape(field_id)}-error" class="field-error">(.*?)</p>', page.text, re.S)
    assert match, f"no error next to {field_id}"
    return html.unescape(match.group(1))


def assert_every_field_labelled(page: httpx.Response, where: str) -> None:
    for tag, attrs in re.findall(r"<(input|select|textarea)\b([^>]*)>", page.text):
        if 'type="hidden"' in attrs:
            continue
        ident = re.search(r'\bid="([^"]+)"', attrs)
        assert ident, f"{where}: a {tag} without an id: {attrs}"
        assert f'<label for="{ident.group(1)}">' in page.text, f"{where}: {ident.group(1)} has no label"


async def file_complaint(
    person: Person, description: str, point: tuple[float, float] = CIPONDOH, **more: Any
) -> int:
    r = await submit(person, description=description, lat=point[0], lon=point[1], **more)
    assert r.status_code == 201, r.text
    return int(r.json()["complaint"]["id"])


async def file_directly(
    database: Any, city: Any, person: Person, items: list[tuple[str, tuple[float, float]]]
) -> list[int]:
    """Many complaints at once through the service (no per-hour limit without Redis)."""
    ids = []
    with use_tenant(city):
        async with database.tenant_session(city) as session:
            service = ComplaintService(session)
            for text, (lat, lon) in items:
                done = await service.submit(
                    Actor.of(person.principal), NewComplaint(description=text, lat=lat, lon=lon)
                )
                ids.append(done.complaint.id)
    return ids


async def state_of(database: Any, city: Any, cid: int) -> str:
    async with database.tenant_session(city) as session:
        return str(await session.scalar(select(Complaint.state).where(Complaint.id == cid)))


# ---- every page, both languages ----------------------------------------------------------------------


async def test_every_page_renders_in_both_languages_with_a_label_on_every_field(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await file_complaint(siti, "Lampu jalan di depan gang mati #lampumati")
    pupr = await employee(app, client_for, database, city, "pupr")
    operator = await employee(app, client_for, database, city, None, roles=("liveroom_operator",))
    async with client_for(city.primary_host) as anonymous:
        pages = [
            (siti, "/lapor", {}, "Laporkan masalah", "Report a problem"),
            (siti, "/laporan-saya", {}, "Pengaduan saya", "My complaints"),
            (siti, f"/laporan/{cid}", {}, f"Pengaduan #{cid}", f"Complaint #{cid}"),
            (anonymous, f"/laporan/{cid}", {}, f"Pengaduan #{cid}", f"Complaint #{cid}"),
            (anonymous, "/peta", {}, "Peta pengaduan", "Complaints map"),
            (anonymous, "/statistik", {}, "Statistik pengaduan", "Complaint statistics"),
            (pupr, "/staff/laksa", {}, "Kotak masuk pengaduan", "Complaints inbox"),
            (pupr, f"/staff/laksa/{cid}", {}, f"Pengaduan #{cid}", f"Complaint #{cid}"),
            (operator, "/staff/laksa", {"queue": "triage"}, "Antrean verifikasi", "Triage queue"),
        ]
        for who, path, params, title_id, title_en in pages:
            for lang, title in (("id", title_id), ("en", title_en)):
                page = await get_page(who, path, **params, lang=lang)
                where = f"{path} ({lang})"
                assert page.status_code == 200, f"{where}: {page.status_code} {page.text[:500]}"
                assert page.headers["content-type"].startswith("text/html")
                assert page.headers["cache-control"] == "no-store"
                assert f'<html lang="{lang}">' in page.text, where
                assert f"<h1>{title}</h1>" in page.text, where
                assert_every_field_labelled(page, where)
                for form in re.findall(r'<form[^>]*method="post"[^>]*>(.*?)</form>', page.text, re.S):
                    assert 'name="_csrf_token"' in form, f"{where}: a form without the CSRF token"
    for person in (siti, pupr, operator):
        await person.aclose()


async def test_the_report_page_offers_the_city_s_categories_kecamatan_and_map(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    page = await get_page(siti, "/lapor")
    assert '<option value="street-lamp">Lampu jalan (PJU) mati atau rusak</option>' in page.text
    assert '<optgroup label="Darurat">' in page.text
    assert '<option value="36.71.05">Cipondoh</option>' in page.text
    assert 'data-tile-url="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in page.text
    assert 'accept="image/jpeg,image/png,image/webp"' in page.text and "multiple" in page.text
    assert 'name="attribute[size]"' in page.text  # the questions of categories that have them
    assert '<script src="/static/vendor/leaflet/leaflet.js" defer></script>' in page.text
    keys = re.findall(r'name="idempotency_key" value="([0-9a-f]{32})"', page.text)
    again = re.findall(
        r'name="idempotency_key" value="([0-9a-f]{32})"', (await get_page(siti, "/lapor")).text
    )
    assert len(keys) == 1 and keys != again  # a new key per form shown
    english = await get_page(siti, "/lapor", lang="en")
    assert '<option value="street-lamp">Street lamp out or broken</option>' in english.text
    for asset in ("/static/laksa/report.js", "/static/laksa/common.js", "/static/laksa/laksa.css"):
        assert asset in page.text
        assert (await siti.client.get(asset)).status_code == 200
    await siti.aclose()


async def test_the_people_it_is_not_for_are_sent_to_log_in_or_refused(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await file_complaint(siti, "Lampu jalan di depan gang mati #lampumati")
    async with client_for(city.primary_host) as anonymous:
        for path, login in (
            ("/lapor", "/masuk?next=/lapor"),
            ("/laporan-saya", "/masuk?next=/laporan-saya"),
            ("/staff/laksa", "/staff/login?next=/staff/laksa"),
            (f"/staff/laksa/{cid}", f"/staff/login?next=/staff/laksa/{cid}"),
        ):
            r = await get_page(anonymous, path)
            assert r.status_code == 303 and r.headers["location"] == login, (path, r.status_code)
        for path in (f"/laporan/{cid}", "/peta", "/statistik"):
            assert (await get_page(anonymous, path)).status_code == 200, path
        assert (
            (await get_page(anonymous, "/staff/laksa", queue="triage"))
            .headers["location"]
            .startswith("/staff/login?next=/staff/laksa")
        )
    pupr = await employee(app, client_for, database, city, "pupr")
    assert (await get_page(pupr, "/lapor")).status_code == 403  # staff do not file as citizens here
    assert (await get_page(siti, "/staff/laksa")).status_code == 403
    assert (await get_page(siti, f"/staff/laksa/{cid}")).status_code == 403
    # A form without its CSRF token is refused before anything happens.
    r = await siti.client.post("/lapor", data={"description": "Lampu jalan mati #lampumati"}, headers=HTML)
    assert r.status_code == 403
    await siti.aclose()
    await pupr.aclose()


# ---- the report form -----------------------------------------------------------------------------------


async def test_the_report_form_says_what_is_wrong_next_to_each_field_and_keeps_the_values(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    r = await send_form(
        siti,
        "/lapor",
        {
            "description": "Gelap <b>",
            "category": "road",
            "address": "",
            "lat": "",
            "lon": "",
            "idempotency_key": "k-1234567890",
            "anonymous": "1",
        },
    )
    assert r.status_code == 422
    assert 'role="alert"' in r.text and "Periksa kembali isian yang ditandai." in r.text
    assert error_of(r, "description") == "Ceritakan sedikit lebih jelas (paling sedikit 10 karakter)."
    assert re.search(
        r'<textarea id="description"[^>]*aria-invalid="true"[^>]*>Gelap &lt;b&gt;</textarea>', r.text
    )
    assert error_of(r, "location") == "Tandai lokasi di peta atau tuliskan alamatnya."
    assert "Seberapa besar kerusakannya?" in error_of(r, "attr-road-size")
    assert '<option value="road" selected>' in r.text
    assert 'name="idempotency_key" value="k-1234567890"' in r.text  # the same try, the same key
    assert re.search(r'<input id="anonymous" name="anonymous" type="checkbox" value="1" checked', r.text)

    # A point outside the city, an unknown kecamatan, a file that is not a photo: each said at its field.
    r = await send_form(
        siti,
        "/lapor",
        {
            "description": "Jalan berlubang besar #jalanrusak",
            "lat": str(OUTSIDE[0]),
            "lon": str(OUTSIDE[1]),
            "address": "Jl. Merdeka 1",
        },
        files=[("photos", ("catatan.txt", b"bukan foto", "text/plain"))],
    )
    assert r.status_code == 422
    assert "di luar wilayah Kota Uji Laksa" in error_of(r, "location")
    assert "bukan gambar" in error_of(r, "photos")
    assert 'value="Jl. Merdeka 1"' in r.text
    r = await send_form(
        siti,
        "/lapor",
        {
            "description": "Jalan berlubang besar #jalanrusak",
            "address": "Jl. Merdeka 1",
            "kecamatan_code": "99.99",
        },
    )
    assert r.status_code == 422 and error_of(r, "kecamatan") == "Kecamatan ini tidak dikenal di kota ini."
    r = await send_form(
        siti,
        "/lapor",
        {"description": "Jalan", "address": "Jl. Merdeka 1"},
        files=[("photos", ("jalan.jpg", jpeg(), "image/jpeg"))],
    )
    assert r.status_code == 422 and "Pilih foto Anda sekali lagi" in error_of(r, "photos")

    english = await send_form(siti, "/lapor", {"description": "Dark"}, lang="en")
    assert english.status_code == 422
    assert error_of(english, "description") == "Please describe it a little more (at least 10 characters)."
    assert error_of(english, "location") == "Mark the place on the map or type its address."
    async with database.tenant_session(city) as s:
        assert await s.scalar(select(func.count()).select_from(Complaint)) == 0
    await siti.aclose()


async def test_a_report_with_a_photo_lands_on_its_page_once(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    fields = {
        "description": "Lampu jalan di depan gang mati sejak tiga hari #lampumati",
        "category": "street-lamp",
        "attribute[pole_number]": "PJU-0042",
        "lat": str(CIPONDOH[0]),
        "lon": str(CIPONDOH[1]),
        "address": "Gang Melati",
        "idempotency_key": "laporan-siti-1",
    }
    photo = [("photos", ("lampu.jpg", jpeg(gps=True), "image/jpeg"))]
    r = await send_form(siti, "/lapor", fields, files=photo)
    assert r.status_code == 303, r.text
    match = re.fullmatch(r"/laporan/(\d+)\?pesan=terkirim", r.headers["location"])
    assert match, r.headers["location"]
    cid = int(match.group(1))
    # The same form sent twice (a double tap, a retry) is one complaint.
    again = await send_form(
        siti, "/lapor", fields, files=[("photos", ("lampu.jpg", jpeg(gps=True), "image/jpeg"))]
    )
    assert again.status_code == 303 and again.headers["location"] == r.headers["location"]
    async with database.tenant_session(city) as s:
        assert await s.scalar(select(func.count()).select_from(Complaint)) == 1
        complaint = await s.get(Complaint, cid)
        assert (
            complaint is not None
            and complaint.source == "web"
            and complaint.attributes == {"pole_number": "PJU-0042"}
        )

    page = await get_page(siti, r.headers["location"])
    assert page.status_code == 200
    assert "Terima kasih, pengaduan Anda sudah kami terima." in page.text
    assert "Lampu jalan di depan gang mati sejak tiga hari #lampumati" in page.text
    assert (
        "Diteruskan ke perangkat daerah" in page.text
        and "Dinas Pekerjaan Umum dan Penataan Ruang" in page.text
    )
    assert "Foto sedang diproses" in page.text and "Gang Melati" in page.text and "PJU-0042" in page.text
    assert re.search(r"\d\d-\d\d-\d{4} \d\d:\d\d WIB", page.text)  # the city's time zone

    with use_tenant(city):
        async with database.tenant_session(city) as s:
            assert await process_pending_photos(s, cid) == 1
            await s.commit()
            media_id = await s.scalar(select(Media.id).where(Media.complaint_id == cid))
    page = await get_page(siti, f"/laporan/{cid}")
    assert f'<img src="/api/v1/laksa/photos/{media_id}?variant=thumb"' in page.text
    thumb = await siti.client.get(f"/api/v1/laksa/photos/{media_id}", params={"variant": "thumb"})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"

    mine = await get_page(siti, "/laporan-saya")
    assert links(mine, "/laporan/") == [cid]
    assert 'class="badge state state-forwarded"' in mine.text
    await siti.aclose()


async def test_my_complaints_page_has_an_empty_state_and_pages(app, client_for, database, city) -> None:
    budi = await citizen(app, client_for, database, city, "Budi Santoso")
    empty = await get_page(budi, "/laporan-saya")
    assert "Anda belum pernah mengirim pengaduan." in empty.text and 'href="/lapor"' in empty.text
    ids = await file_directly(
        database, city, budi, [(f"Sampah menumpuk nomor {i} #sampah", CIPONDOH) for i in range(52)]
    )
    first = await get_page(budi, "/laporan-saya")
    assert links(first, "/laporan/") == sorted(ids, reverse=True)[:50]
    more = re.search(r'href="/laporan-saya\?sebelum=(\d+)" rel="next"', first.text)
    assert more
    second = await get_page(budi, "/laporan-saya", sebelum=more.group(1))
    assert links(second, "/laporan/") == sorted(ids, reverse=True)[50:]
    await budi.aclose()


# ---- what the public sees, escaped everywhere ------------------------------------------------------------


async def test_markup_in_what_people_write_is_escaped_on_every_page(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city, name='Siti <i>"Rahma"</i>')
    cid = await file_complaint(siti, f"{MARKUP} lampu mati #lampumati", address=MARKUP)
    pupr = await employee(app, client_for, database, city, "pupr")
    r = await send_form(pupr, f"/staff/laksa/{cid}/note", {"body": f"Balasan {MARKUP}", "public": "1"})
    assert r.status_code == 303, r.text
    r = await send_form(pupr, f"/staff/laksa/{cid}/note", {"body": f"Catatan {MARKUP}", "public": "0"})
    assert r.status_code == 303, r.text
    async with client_for(city.primary_host) as anonymous:
        pages = {
            "my complaints": await get_page(siti, "/laporan-saya"),
            "owner's page": await get_page(siti, f"/laporan/{cid}"),
            "public page": await get_page(anonymous, f"/laporan/{cid}"),
            "staff inbox": await get_page(pupr, "/staff/laksa"),
            "staff page": await get_page(pupr, f"/staff/laksa/{cid}"),
            "public map list": await get_page(anonymous, "/peta"),
            "the report form shown again": await send_form(
                siti, "/lapor", {"description": MARKUP, "address": MARKUP, "kecamatan_code": "99.99"}
            ),
        }
    for where, page in pages.items():
        assert page.status_code in (200, 422), where
        for raw in ("<script>alert", "<img src=x", "<b>tebal</b>", "<i>"):
            assert raw not in page.text, f"{where}: {raw!r} is not escaped"
        assert "&lt;script&gt;alert(" in page.text, f"{where}: the text is missing"
    assert "Balasan &lt;script&gt;" in pages["public page"].text
    assert (
        "Catatan &lt;script&gt;" in pages["staff page"].text
        and "Catatan &lt;" not in pages["public page"].text
    )
    await siti.aclose()
    await pupr.aclose()


async def test_the_public_page_names_nobody_who_asked_and_shows_no_phone_or_nik(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city, "Siti Rahmawati")
    async with database.tenant_session(city) as s:
        phone = await s.scalar(select(Citizen.phone).where(Citizen.id == siti.id))
    text = "Lampu mati, hubungi saya di 0812-3456-7890 atau NIK 3671014507900001 #lampumati"
    hidden = await file_complaint(siti, text, anonymous="true", address="Jl. Melati 7 rumah Bu Siti")
    named = await file_complaint(siti, "Sampah menumpuk di pinggir kali #sampah", point=CILEDUG)
    budi = await citizen(app, client_for, database, city, "Budi Santoso")
    async with client_for(city.primary_host) as anonymous:
        for who in (anonymous, budi):
            page = await get_page(who, f"/laporan/{hidden}")
            assert page.status_code == 200
            for secret in (
                "Siti",
                "Rahmawati",
                "0812-3456-7890",
                "3671014507900001",
                "Jl. Melati",
                str(phone),
            ):
                assert secret not in page.text, secret
            assert "Warga (nama disembunyikan)" in page.text and "Cipondoh" in page.text
            assert "/api/v1/laksa/photos/" not in page.text
            named_page = await get_page(who, f"/laporan/{named}")
            assert "Siti R." in named_page.text and "Rahmawati" not in named_page.text
        listing = await get_page(anonymous, "/peta")
        for secret in ("Rahmawati", "0812-3456-7890", "3671014507900001", "Jl. Melati"):
            assert secret not in listing.text, secret
    assert "Saya juga mengalami" in (await get_page(budi, f"/laporan/{hidden}")).text
    own = await get_page(siti, f"/laporan/{hidden}")
    assert "Siti Rahmawati" in own.text and "disembunyikan dari publik" in own.text
    assert "0812-3456-7890" in own.text and "Jl. Melati 7" in own.text
    assert "Saya juga mengalami" not in own.text
    await siti.aclose()
    await budi.aclose()


async def test_another_city_s_complaint_is_not_found_on_this_city_s_pages(
    app, client_for, database, city, make_city
) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await file_complaint(siti, "Lampu jalan di depan gang mati #lampumati")
    other = await make_city("laksa-lain", region_code="3275", name="Kota Lain")
    budi = await citizen(app, client_for, database, other, "Budi Santoso")
    staff = await employee(app, client_for, database, other, "pupr")
    async with client_for(other.primary_host) as anonymous:
        r = await get_page(anonymous, f"/laporan/{cid}")
        assert r.status_code == 404 and f"Pengaduan {cid} tidak ditemukan." in r.text
        assert "<h1>Tidak ditemukan</h1>" in r.text
        assert "gang mati" not in r.text
    assert (await get_page(staff, f"/staff/laksa/{cid}")).status_code == 404
    for who, path in (
        (budi, f"/laporan/{cid}/dukung"),
        (budi, f"/laporan/{cid}/tutup"),
        (staff, f"/staff/laksa/{cid}/acknowledge"),
        (staff, f"/staff/laksa/{cid}/note"),
    ):
        r = await send_form(who, path, {"body": "x"})
        assert r.status_code == 404, (path, r.status_code)
    assert await state_of(database, city, cid) == "forwarded"
    # The other city's staff inbox does not list it.
    assert cid not in links(await get_page(staff, "/staff/laksa"), "/staff/laksa/")
    for person in (siti, budi, staff):
        await person.aclose()


async def test_the_public_map_and_statistics(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    lamp = await file_complaint(siti, "Lampu jalan di depan gang mati #lampumati")
    rubbish = await file_complaint(siti, "Sampah menumpuk di pinggir kali #sampah", point=CILEDUG)
    health = await file_complaint(siti, "Ada warga demam tinggi di rumah nomor 5", category="health")
    async with client_for(city.primary_host) as anonymous:
        page = await get_page(anonymous, "/peta")
        assert set(links(page, "/laporan/")) == {lamp, rubbish, health}
        assert 'data-source="/api/v1/laksa/public/complaints"' in page.text
        assert (
            "demam tinggi" not in page.text and "lokasi kira-kira" in page.text
        )  # sensitive: no text, blurred
        filtered = await get_page(anonymous, "/peta", kategori="rubbish", status="open", kecamatan="36.71.06")
        assert links(filtered, "/laporan/") == [rubbish]
        assert (
            'data-source="/api/v1/laksa/public/complaints?status=open&amp;category=rubbish&amp;kecamatan=36.71.06"'
            in filtered.text
        )
        assert '<option value="open" selected>' in filtered.text
        empty = await get_page(anonymous, "/peta", status="closed")
        assert links(empty, "/laporan/") == [] and "Belum ada pengaduan yang cocok" in empty.text
        wrong = await get_page(anonymous, "/peta", status="kemarin")
        assert wrong.status_code == 422 and "Status harus salah satu dari: open, closed." in error_of(
            wrong, "status"
        )
        features = (
            await anonymous.get("/api/v1/laksa/public/complaints", params={"category": "rubbish"})
        ).json()
        assert [f["id"] for f in features["features"]] == [rubbish]

        stats = await get_page(anonymous, "/statistik")
        assert stats.status_code == 200
        row = re.search(
            r"<th scope=\"row\">Dinas Pekerjaan Umum dan Penataan Ruang</th>(.*?)</tr>", stats.text, re.S
        )
        assert row and re.findall(r'<td class="num">([^<]*)</td>', row.group(1)) == ["1", "1", "0", "—", "—"]
        assert 'href="/api/v1/laksa/public/complaints.csv"' in stats.text
        assert 'href="/api/v1/laksa/public/complaints.geojson"' in stats.text
        assert "Cipondoh" in stats.text and "Ciledug" in stats.text
        recent = await get_page(anonymous, "/statistik", periode="30", lang="en")
        assert '<option value="30" selected>Last 30 days</option>' in recent.text
        csv_link = re.search(r'href="(/api/v1/laksa/public/complaints\.csv\?since=[0-9-]+)"', recent.text)
        assert csv_link
        download = await anonymous.get(html.unescape(csv_link.group(1)))
        assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
        assert len(download.text.strip().splitlines()) == 4  # header + 3
    await siti.aclose()


async def test_statistics_and_the_map_of_a_city_without_complaints_say_so(make_city, client_for) -> None:
    quiet = await make_city("laksa-sepi", name="Kota Sepi")
    async with client_for(quiet.primary_host) as anonymous:
        stats = await get_page(anonymous, "/statistik")
        assert stats.status_code == 200 and stats.text.count("Belum ada data untuk periode ini.") == 2
        page = await get_page(anonymous, "/peta")
        assert page.status_code == 200 and "Belum ada pengaduan yang cocok" in page.text
        assert "data-bounds" not in page.text  # no boundaries: the script fits the markers instead


# ---- staff: the inbox ------------------------------------------------------------------------------------


async def test_the_staff_inbox_filters_pages_and_keeps_the_triage_queue_apart(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    lamps = await file_directly(
        database, city, siti, [(f"Lampu jalan mati nomor {i} #lampumati", CIPONDOH) for i in range(27)]
    )
    [ciledug] = await file_directly(
        database, city, siti, [("Lampu jalan mati di Ciledug #lampumati", CILEDUG)]
    )
    [flood] = await file_directly(
        database, city, siti, [("Banjir setinggi lutut di perumahan #banjir", CIPONDOH)]
    )
    [untagged] = await file_directly(
        database, city, siti, [("Ada kabel menjuntai rendah di atas jalan", CIPONDOH)]
    )
    pupr = await employee(app, client_for, database, city, "pupr")

    first = await get_page(pupr, "/staff/laksa")
    ids = links(first, "/staff/laksa/")
    assert len(ids) == 25 and ids == sorted(ids, reverse=True)
    assert flood not in ids and untagged not in ids
    next_link = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert next_link and "Halaman pertama" not in first.text
    second = await pupr.client.get(html.unescape(next_link.group(1)), headers=HTML)
    rest = links(second, "/staff/laksa/")
    assert sorted(ids + rest) == sorted([*lamps, ciledug]) and 'rel="next"' not in second.text
    assert 'href="/staff/laksa">Halaman pertama</a>' in second.text

    by_area = await get_page(pupr, "/staff/laksa", kecamatan="36.71.06")
    assert links(by_area, "/staff/laksa/") == [ciledug]
    assert '<option value="36.71.06" selected>Ciledug</option>' in by_area.text
    nothing = await get_page(pupr, "/staff/laksa", state="acknowledged")
    assert links(nothing, "/staff/laksa/") == [] and "Tidak ada pengaduan yang cocok." in nothing.text
    assert (await send_form(pupr, f"/staff/laksa/{lamps[0]}/acknowledge")).status_code == 303
    assert (await send_form(pupr, f"/staff/laksa/{lamps[1]}/start")).status_code == 303  # starting takes it
    assert links(await get_page(pupr, "/staff/laksa", state="acknowledged"), "/staff/laksa/") == [lamps[0]]
    assert links(await get_page(pupr, "/staff/laksa", assignee="me"), "/staff/laksa/") == [lamps[1]]
    unassigned = await get_page(pupr, "/staff/laksa", assignee="none", sort="oldest")
    assert links(unassigned, "/staff/laksa/")[:2] == [lamps[0], *lamps[2:3]]
    assert links(
        await get_page(pupr, "/staff/laksa", category="street-lamp", sla="ok", priority="normal"),
        "/staff/laksa/",
    )
    for sort in ("due", "priority", "updated"):
        page = await get_page(pupr, "/staff/laksa", sort=sort)
        assert page.status_code == 200 and len(links(page, "/staff/laksa/")) == 25, sort
        follow = re.search(r'<a href="([^"]+)" rel="next">', page.text)
        assert (
            follow
            and len(
                links(await pupr.client.get(html.unescape(follow.group(1)), headers=HTML), "/staff/laksa/")
            )
            == 3
        )
    broken = await get_page(pupr, "/staff/laksa", cursor="nonsense")
    assert broken.status_code == 422 and "Penanda halaman tidak sah" in broken.text
    assert 'name="agency"' not in first.text  # one agency: nothing to choose
    # Without the triage permission the queue is not theirs: the inbox as usual.
    not_theirs = await get_page(pupr, "/staff/laksa", queue="triage")
    assert "<h1>Kotak masuk pengaduan</h1>" in not_theirs.text and untagged not in links(
        not_theirs, "/staff/laksa/"
    )

    admin = await employee(app, client_for, database, city, None, roles=("city_admin",))
    bpbd = await agency_id(database, city, "bpbd")
    everything = await get_page(admin, "/staff/laksa", agency=str(bpbd))
    assert links(everything, "/staff/laksa/") == [flood] and 'name="agency"' in everything.text
    emergencies = await get_page(admin, "/staff/laksa", emergency="1")
    assert links(emergencies, "/staff/laksa/") == [flood]
    assert re.search(
        r'<li class="card complaint-item emergency[^"]*">\s*<p class="badges">\s*'
        rf'<a class="complaint-link" href="/staff/laksa/{flood}"',
        emergencies.text,
    )
    assert "priority-emergency" in emergencies.text
    queue = await get_page(admin, "/staff/laksa", queue="triage")
    assert "<h1>Antrean verifikasi</h1>" in queue.text and links(queue, "/staff/laksa/") == [untagged]
    operator = await employee(app, client_for, database, city, None, roles=("liveroom_operator",))
    assert links(await get_page(operator, "/staff/laksa", queue="triage"), "/staff/laksa/") == [untagged]
    assert (await get_page(pupr, "/staff/laksa", agency=str(bpbd))).status_code == 404  # not their agency
    for person in (siti, pupr, admin, operator):
        await person.aclose()


async def test_an_empty_triage_queue_says_so(app, client_for, database, city) -> None:
    operator = await employee(app, client_for, database, city, None, roles=("liveroom_operator",))
    page = await get_page(operator, "/staff/laksa", queue="triage")
    assert "Antrean verifikasi kosong" in page.text
    await operator.aclose()


# ---- staff and citizens act through the forms -------------------------------------------------------------


def forms_of(page: httpx.Response, cid: int) -> set[str]:
    return set(re.findall(rf'action="/staff/laksa/{cid}/([a-z]+)"', page.text))


async def test_staff_work_a_complaint_through_the_forms_and_a_late_second_action_is_explained(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await file_complaint(siti, "Lampu jalan di depan gang mati #lampumati")
    agus = await employee(app, client_for, database, city, "pupr", name="Agus Pratama")
    dewi = await employee(app, client_for, database, city, "pupr", name="Dewi Lestari")
    lead = await employee(
        app, client_for, database, city, "pupr", roles=("agency_supervisor",), name="Rina Kepala"
    )
    with use_tenant(city):
        async with database.tenant_session(city) as s:
            template = await configuration.save_template(
                s,
                title="Sedang dicek",
                body="Petugas kami sedang memeriksa lokasi.",
                agency_id=None,
                created_by="uji",
            )
            await s.commit()
            template_id = template.id

    page = await get_page(agus, f"/staff/laksa/{cid}")
    assert forms_of(page, cid) == {"acknowledge", "start", "resolve", "return", "duplicate", "assign", "note"}
    assert "Siti Rahmawati" in page.text and "aturan tagar \u201cpju\u201d" in page.text  # reporter, routing
    assert "Saya tangani" in page.text  # plain employees take it for themselves
    assert "transfer" in forms_of(await get_page(lead, f"/staff/laksa/{cid}"), cid)

    done = await send_form(agus, f"/staff/laksa/{cid}/acknowledge", {"note": "Kami cek besok pagi"})
    assert done.status_code == 303 and done.headers["location"] == f"/staff/laksa/{cid}?pesan=diterima"
    after = await get_page(agus, done.headers["location"])
    assert "Pengaduan diterima oleh perangkat daerah." in after.text and "acknowledge" not in forms_of(
        after, cid
    )
    # Dewi's page still showed the button: her late click is explained, nothing crashes or changes.
    late = await send_form(dewi, f"/staff/laksa/{cid}/acknowledge")
    assert late.status_code == 409
    assert (
        "Tidak dapat menerima pengaduan yang berstatus \u201cDiterima perangkat daerah\u201d"
        in html.unescape(late.text)
    )
    assert 'role="alert"' in late.text and f"<h1>Pengaduan #{cid}</h1>" in late.text
    english = await send_form(dewi, f"/staff/laksa/{cid}/acknowledge", lang="en")
    assert english.status_code == 409 and "Cannot acknowledge" in html.unescape(english.text)
    dewi.client.cookies.delete("lang")  # ?lang= is remembered; back to Indonesian

    missing = await send_form(agus, f"/staff/laksa/{cid}/resolve", {"note": " "})
    assert missing.status_code == 422
    assert error_of(missing, "resolve-note") == "Tuliskan catatan penyelesaian untuk warga."
    assert "resolve-note-error" not in re.search(
        r'action="/staff/laksa/\d+/start".*?</form>', missing.text, re.S
    ).group(0)  # type: ignore[union-attr]

    assert (
        (await send_form(agus, f"/staff/laksa/{cid}/assign", {"employee_id": "me"}))
        .headers["location"]
        .endswith("pesan=ditugaskan")
    )
    assert "Anda penanggung jawab pengaduan ini." in (await get_page(agus, f"/staff/laksa/{cid}")).text
    taken = await send_form(dewi, f"/staff/laksa/{cid}/assign", {"employee_id": str(agus.id)})
    assert taken.status_code == 403 and "penugasan ke pegawai lain oleh supervisor" in taken.text
    assigned = await send_form(lead, f"/staff/laksa/{cid}/assign", {"employee_id": str(dewi.id)})
    assert assigned.status_code == 303
    lead_page = await get_page(lead, f"/staff/laksa/{cid}")
    assert f'<option value="{dewi.id}" selected>Dewi Lestari</option>' in lead_page.text
    wrong = await send_form(lead, f"/staff/laksa/{cid}/assign", {"employee_id": "nobody"})
    assert wrong.status_code == 422 and error_of(wrong, "assign-employee_id") == "Pilih pegawai."

    # A template without scripts: an empty box sends the template; an internal note stays inside.
    noted = await send_form(
        dewi, f"/staff/laksa/{cid}/note", {"template_id": str(template_id), "body": "", "public": "0"}
    )
    assert noted.status_code == 303 and noted.headers["location"].endswith("pesan=dicatat")
    replied = await send_form(
        dewi, f"/staff/laksa/{cid}/note", {"body": "Lampu akan diganti hari ini", "public": "1"}
    )
    assert replied.headers["location"].endswith("pesan=dibalas")
    empty_note = await send_form(dewi, f"/staff/laksa/{cid}/note", {"body": ""})
    assert (
        empty_note.status_code == 422
        and error_of(empty_note, "note-body") == "Tuliskan isi catatan atau balasan."
    )
    staff_view = await get_page(dewi, f"/staff/laksa/{cid}")
    assert (
        "Petugas kami sedang memeriksa lokasi." in staff_view.text
        and 'data-body="Petugas kami sedang memeriksa lokasi."' in staff_view.text
    )
    public_view = await get_page(siti, f"/laporan/{cid}")
    assert "Lampu akan diganti hari ini" in public_view.text
    assert (
        "Petugas kami sedang memeriksa lokasi." not in public_view.text
        and "Kami cek besok pagi" in public_view.text
    )

    classified = await send_form(
        lead,
        f"/staff/laksa/{cid}/classify",
        {"category": "street-lamp", "priority": "high", "emergency": "0"},
    )
    assert classified.status_code == 303
    assert 'class="badge priority-high"' in (await get_page(lead, f"/staff/laksa/{cid}")).text

    started = await send_form(dewi, f"/staff/laksa/{cid}/start", {"note": "Tim berangkat"})
    assert started.status_code == 303
    resolved = await send_form(
        dewi,
        f"/staff/laksa/{cid}/resolve",
        {"note": "Lampu sudah diganti dengan LED baru"},
        files=[("photos", ("bukti.jpg", jpeg(color="white"), "image/jpeg"))],
    )
    assert resolved.status_code == 303 and resolved.headers["location"].endswith("pesan=selesai")
    assert await state_of(database, city, cid) == "resolved"
    final = await get_page(dewi, f"/staff/laksa/{cid}")
    assert forms_of(final, cid) == {"note"} and "Lampu sudah diganti dengan LED baru" in final.text

    # The citizen: rate (1-5), reopen with a reason, then confirm.
    page = await get_page(siti, f"/laporan/{cid}")
    for action in ("tutup", "nilai", "buka-kembali"):
        assert f'action="/laporan/{cid}/{action}"' in page.text, action
    assert "Lampu sudah diganti dengan LED baru" in page.text
    bad = await send_form(siti, f"/laporan/{cid}/nilai", {"rating": "", "comment": "Cepat"})
    assert bad.status_code == 422 and error_of(bad, "rate-rating") == "Beri nilai 1 sampai 5."
    assert ">Cepat</textarea>" in bad.text
    rated = await send_form(siti, f"/laporan/{cid}/nilai", {"rating": "4", "comment": "Cepat, terima kasih"})
    assert rated.status_code == 303 and rated.headers["location"] == f"/laporan/{cid}?pesan=dinilai"
    assert "4 dari 5" in (await get_page(siti, f"/laporan/{cid}")).text
    no_reason = await send_form(siti, f"/laporan/{cid}/buka-kembali", {"reason": ""})
    assert no_reason.status_code == 422 and error_of(no_reason, "reopen-reason") == "Tuliskan alasannya."
    reopened = await send_form(
        siti, f"/laporan/{cid}/buka-kembali", {"reason": "Lampunya mati lagi malam ini"}
    )
    assert reopened.status_code == 303 and await state_of(database, city, cid) == "reopened"
    too_soon = await send_form(siti, f"/laporan/{cid}/tutup")
    assert too_soon.status_code == 409 and "Tidak dapat menutup pengaduan" in html.unescape(too_soon.text)
    assert (
        await send_form(dewi, f"/staff/laksa/{cid}/resolve", {"note": "Kabel diperbaiki"})
    ).status_code == 303
    closed = await send_form(siti, f"/laporan/{cid}/tutup")
    assert closed.status_code == 303 and closed.headers["location"] == f"/laporan/{cid}?pesan=ditutup"
    assert await state_of(database, city, cid) == "closed"
    assert "Terima kasih, pengaduan ditutup." in (await get_page(siti, closed.headers["location"])).text
    # Someone else's complaint is not theirs to close.
    budi = await citizen(app, client_for, database, city, "Budi Santoso")
    assert (await send_form(budi, f"/laporan/{cid}/tutup")).status_code == 404
    for person in (siti, agus, dewi, lead, budi):
        await person.aclose()


async def test_return_forward_transfer_and_duplicate_through_the_forms(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    first = await file_complaint(siti, "Lampu jalan di depan gang mati #lampumati")
    second = await file_complaint(siti, "Tumpukan sampah menutup saluran #lampumati")
    agus = await employee(app, client_for, database, city, "pupr")
    operator = await employee(app, client_for, database, city, None, roles=("liveroom_operator",))
    dlh, pupr_id, dishub = [await agency_id(database, city, code) for code in ("dlh", "pupr", "dishub")]

    no_reason = await send_form(agus, f"/staff/laksa/{second}/return", {"reason": ""})
    assert no_reason.status_code == 422 and error_of(no_reason, "return-reason") == "Tuliskan alasannya."
    returned = await send_form(agus, f"/staff/laksa/{second}/return", {"reason": "Ini urusan DLH"})
    assert returned.status_code == 303 and await state_of(database, city, second) == "triage"
    assert (await get_page(agus, f"/staff/laksa/{second}")).status_code == 404  # no longer theirs

    page = await get_page(operator, f"/staff/laksa/{second}")
    assert "forward" in forms_of(page, second) and "Ini urusan DLH" in page.text
    unchosen = await send_form(operator, f"/staff/laksa/{second}/forward", {"agency_id": ""})
    assert unchosen.status_code == 422 and "forward-agency_id-error" in unchosen.text
    forwarded = await send_form(
        operator,
        f"/staff/laksa/{second}/forward",
        {"agency_id": str(dlh), "copy_agency_ids": [str(pupr_id)], "note": "Mohon diangkut"},
    )
    assert forwarded.status_code == 303 and forwarded.headers["location"].endswith("pesan=diteruskan")
    assert await state_of(database, city, second) == "forwarded"
    # PUPR has a copy: it sees the complaint but may not work it, and is told why if it tries.
    copy_page = await get_page(agus, f"/staff/laksa/{second}")
    assert copy_page.status_code == 200 and forms_of(copy_page, second) == {"note"}
    refused = await send_form(agus, f"/staff/laksa/{second}/acknowledge")
    assert refused.status_code == 403 and "hanya menerima tembusan" in refused.text

    same = await send_form(
        operator, f"/staff/laksa/{second}/transfer", {"agency_id": str(dlh), "reason": "x"}
    )
    assert same.status_code == 422 and "sudah berada di perangkat daerah ini" in error_of(
        same, "transfer-agency_id"
    )
    moved = await send_form(
        operator, f"/staff/laksa/{second}/transfer", {"agency_id": str(dishub), "reason": "Menutup jalan"}
    )
    assert moved.status_code == 303 and moved.headers["location"].endswith("pesan=dipindahkan")

    unknown = await send_form(operator, f"/staff/laksa/{second}/duplicate", {"duplicate_of": "999999"})
    assert unknown.status_code == 422 and "999999" in error_of(unknown, "duplicate-duplicate_of")
    duplicate = await send_form(operator, f"/staff/laksa/{second}/duplicate", {"duplicate_of": f"#{first}"})
    assert duplicate.status_code == 303 and await state_of(database, city, second) == "duplicate"
    public = await get_page(siti, f"/laporan/{second}")
    assert f'href="/laporan/{first}"' in public.text and "Duplikat" in public.text
    for person in (siti, agus, operator):
        await person.aclose()


async def test_a_citizen_supports_an_open_complaint_instead_of_filing_another(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await file_complaint(siti, "Lampu jalan di depan gang mati #lampumati")
    budi = await citizen(app, client_for, database, city, "Budi Santoso")
    page = await get_page(budi, f"/laporan/{cid}")
    assert f'action="/laporan/{cid}/dukung"' in page.text
    r = await send_form(budi, f"/laporan/{cid}/dukung")
    assert r.status_code == 303 and r.headers["location"] == f"/laporan/{cid}?pesan=didukung"
    after = await get_page(budi, r.headers["location"])
    assert "Dukungan Anda tercatat." in after.text and "Anda mendukung pengaduan ini." in after.text
    assert f'action="/laporan/{cid}/dukung"' not in after.text
    again = await send_form(budi, f"/laporan/{cid}/dukung")
    assert again.headers["location"] == f"/laporan/{cid}?pesan=sudah-didukung"
    own = await send_form(siti, f"/laporan/{cid}/dukung")
    assert own.status_code == 409 and "Ini pengaduan Anda sendiri." in own.text
    async with database.tenant_session(city) as s:
        assert await s.scalar(select(Complaint.support_count).where(Complaint.id == cid)) == 1
    async with client_for(city.primary_host) as anonymous:
        assert f'href="/masuk?next=/laporan/{cid}"' in (await get_page(anonymous, f"/laporan/{cid}")).text
    await siti.aclose()
    await budi.aclose()


async def test_the_ways_in_on_the_city_s_home_page_lead_to_these_pages(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    operator = await employee(app, client_for, database, city, None, roles=("liveroom_operator",))
    for who, home, expected in (
        (siti, "/", {"/lapor", "/peta", "/laporan-saya"}),
        (operator, "/staff", {"/staff/laksa", "/staff/laksa?queue=triage"}),
    ):
        page = await get_page(who, home)
        found = {
            html.unescape(p)
            for p in re.findall(r'href="(/(?:lapor|peta|laporan-saya|staff/laksa)[^"]*)"', page.text)
        }
        assert expected <= found, (home, found)
        for path in expected:
            assert (await who.client.get(path, headers=HTML)).status_code == 200, path
    await siti.aclose()
    await operator.aclose()


@pytest.mark.parametrize("path", ["/laporan/999999", "/staff/laksa/999999"])
async def test_an_unknown_complaint_is_a_not_found_page(app, client_for, database, city, path) -> None:
    admin = await employee(app, client_for, database, city, None, roles=("city_admin",))
    r = await get_page(admin, path, lang="en")
    assert r.status_code == 404 and "Complaint 999999 was not found." in r.text
    await admin.aclose()


async def test_an_upload_over_the_size_limit_gets_a_page_that_says_so(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    huge = b"\xff\xd8" + b"x" * (65 * 1024 * 1024)
    r = await send_form(
        siti,
        "/lapor",
        {"description": "Lampu mati #lampumati"},
        files=[("photos", ("a.jpg", huge, "image/jpeg"))],
    )
    assert r.status_code == 413 and "Kiriman terlalu besar (paling besar 64 MB seluruhnya)" in r.text
    async with database.tenant_session(city) as s:
        assert await s.scalar(select(func.count()).select_from(Complaint)) == 0
    await siti.aclose()


async def test_english_pages_name_categories_in_english_and_the_switch_keeps_the_query(
    app, client_for, database, city
) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await file_complaint(siti, "Lampu jalan mati di ujung gang #lampumati", category="street-lamp")
    english = await get_page(siti, f"/laporan/{cid}", lang="en")
    assert "Street lamp out or broken" in english.text and "Lampu jalan (PJU)" not in english.text
    pupr = await employee(app, client_for, database, city, "pupr")
    inbox = await get_page(pupr, "/staff/laksa", lang="en", priority="normal", sort="oldest")
    assert "Street lamp out or broken" in inbox.text
    switch = re.search(r'<a class="lang" href="([^"]+)"', inbox.text)
    assert switch
    from urllib.parse import parse_qs, urlsplit

    target = urlsplit(html.unescape(switch.group(1)))
    assert target.path == "/staff/laksa"
    assert parse_qs(target.query) == {"priority": ["normal"], "sort": ["oldest"], "lang": ["id"]}


async def test_staff_see_the_phone_of_the_citizen_who_reported(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    cid = await file_complaint(siti, "Lampu jalan mati di ujung gang #lampumati")
    async with database.tenant_session(city) as s:
        phone = await s.scalar(select(Citizen.phone).where(Citizen.id == siti.id))
    pupr = await employee(app, client_for, database, city, "pupr")
    staff = (await pupr.get(f"/api/v1/laksa/complaints/{cid}")).json()
    assert staff["contact"] == {"phone": phone}
    public = (await client_for(city.primary_host).get(f"/api/v1/laksa/complaints/{cid}")).json()
    assert public["contact"] is None and phone not in str(public)
